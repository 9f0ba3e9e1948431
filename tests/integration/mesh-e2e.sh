#!/bin/bash
# SPDX-License-Identifier: MIT
# End to end (issue 3 item 7): two hyphaed join a tailnet run by the Go control
# server (tests/ts2021/control.go) and talk to each other through it.
#
#   HYPHAED=… HYPHAECTL=… tests/integration/mesh-e2e.sh      (meson sets both)
#
# Topology (mesh-lib.sh): a hub namespace with a bridge and the control server,
# two node namespaces A and B, each with its own private system bus, a real
# polkitd and a hyphaed that the bus activates on the first hyphaectl call.
#
# Checks, in order:
#   hyphaectl up on both at once (auth key) -> each sees the other (polled, bounded);
#   both have a WireGuard session before any traffic (no crossed initiations);
#   addresses: `hyphaectl ip -4` = Self's, 100.64.0.0/10 and fd7a:115c:a1e0::/48,
#   both on the tunnel interface; ping v4 and v6 both ways; 16 MiB TCP A->B with a
#   matching sha256; `status --json` on each has the other (HostName, TailscaleIPs
#   equal to the other's Self, Online true);
#   disco (no DERP map from this server: direct only): `hyphaectl ping B` on A
#   answers "pong from b (B's IP) via B's eth0 address:port", `status` shows
#   "direct ADDR" and `status --json` CurAddr for B; a ping to an unknown peer
#   fails with exit 1;
#   uid 65534: `status --json` works (read-only), `down` is refused with the
#   not-authorized exit code and changes nothing;
#   control server SIGKILLed: pings keep working both ways, the peer stays listed;
#   server restarted on the same address and key, with no memory of the nodes
#   (it keeps no disk state): both nodes register again by themselves and are
#   Running and see each other again; ping works on the addresses they have now;
#   `hyphaectl down` on A: Stopped, no tailnet address left on A's tunnel;
#   `hyphaectl up` on A again: Running, sees B, ping A->B;
#   both daemons still the processes the bus first activated; each exits on
#   SIGTERM and removes its tunnel; no sanitizer report (LSan runs at that exit).
# Exit 0 if every check passed, 1 otherwise, 77 when it cannot run (outside CI).
set -u
. "$(dirname "$0")/mesh-lib.sh"

mesh_require

XFER=$WGT_TESTS_DIR/wg-xfer.py
MIB=16
BYTES=$((MIB << 20))
WAIT_UP=60          # hang guards (s): first join, rejoin after the restart, state changes
WAIT_REJOIN=90
WAIT_STATE=30
T0=$(date +%s)

finish() { mesh_finish mesh-e2e "$T0"; }
# fatal MSG: a check everything after depends on failed.
fatal() { wgt_fail "$*"; wgt_log "stopping: the remaining checks depend on this one"; finish; }

# tunnel_addrs NODE: the global addresses on NODE's tunnel interface, one a line.
tunnel_addrs() {
	ip -n "${MESH_NS[$1]}" -o addr show dev "$MESH_IF" scope global 2>/dev/null |
		awk '{ sub(/\/.*/, "", $4); print $4 }'
}

# tunnel_exact NODE: NODE's tunnel carries its status' Self addresses and no
# other global address (a stale one would swallow traffic meant for a peer).
tunnel_exact() {
	local want have
	want=$(printf '%s\n' "$(mesh_json "$1" self4)" "$(mesh_json "$1" self6)" | sort)
	have=$(tunnel_addrs "$1" | sort)
	[ -n "$have" ] && [ "$have" = "$want" ]
}

# in_tailnet4 / in_tailnet6 ADDR: in 100.64.0.0/10 / fd7a:115c:a1e0::/48.
in_tailnet4() {
	local IFS=. o1 o2 o3 o4
	read -r o1 o2 o3 o4 <<<"$1"
	[ "$o1" = 100 ] && [ "${o2:-0}" -ge 64 ] 2>/dev/null && [ "$o2" -le 127 ] && [ -n "$o4" ]
}
in_tailnet6() { case $1 in fd7a:115c:a1e0:*) return 0 ;; esac; return 1; }

# addrs NODE: sets SELF4/SELF6 from NODE's last status.
addrs() { SELF4=$(mesh_json "$1" self4); SELF6=$(mesh_json "$1" self6); }

# pings4 / pings6 SRC DST_NODE: ping between the addresses both nodes have now.
ping_to() { wgt_ping "${MESH_NS[$1]}" "$2"; }

# xfer SRC DST_ADDR DST_NODE: 16 MiB TCP with sha256 (wg-xfer.py), both ends bounded.
xfer() {
	local src=$1 addr=$2 dst=$3 i s r rpid
	rm -f "$MESH_DIR"/xfer.*
	timeout 90 ip netns exec "${MESH_NS[$dst]}" "$WGT_PY" "$XFER" recv "$addr" 5001 "$MESH_DIR/xfer.ready" \
		>"$MESH_DIR/xfer.recv" 2>&1 &
	rpid=$!
	for i in $(seq 100); do [ -e "$MESH_DIR/xfer.ready" ] && break; sleep 0.1; done
	timeout 90 ip netns exec "${MESH_NS[$src]}" "$WGT_PY" "$XFER" send "$addr" 5001 "$BYTES" \
		>"$MESH_DIR/xfer.send" 2>&1
	wait "$rpid"
	s=$(tail -n1 "$MESH_DIR/xfer.send"); r=$(tail -n1 "$MESH_DIR/xfer.recv")
	XFER_DETAIL="sent '$s', received '$r'"
	[ -n "$s" ] && [ "$s" = "$r" ] && [ "${s%% *}" = "$BYTES" ]
}

# check_peer LABEL NODE OTHER: NODE's last status lists OTHER (by HostName) with
# the addresses OTHER's own status gives itself, and Online true.
check_peer() {
	local p want
	p=$(mesh_json "$2" peer "${MESH_HOST[$3]}")
	want="$(mesh_json "$3" self4) $(mesh_json "$3" self6) True"
	wgt_check "$1 (v4 v6 Online: got '$p', want '$want')" [ "$p" = "$want" ]
}

# ---------------------------------------------------------------- bring-up

mesh_topology || fatal "topology: hub bridge and two node namespaces"
mesh_server_start || fatal "control server starts in the hub on $MESH_URL"
wgt_check "control server answers /key from A and from B" \
	eval 'mesh_key_ok "$MESH_NS_A" && mesh_key_ok "$MESH_NS_B"'
mesh_buses || fatal "polkit actions installed; a private system bus and polkitd in A and in B"
wgt_pass "setup: hub + server, buses and polkitd in A and B (${MESH_NS_HUB}, $MESH_NS_A, $MESH_NS_B)"

mesh_up_both
for n in a b; do
	rc=${MESH_UP_RC[$n]}
	sed 's/^/    /' "$MESH_DIR/$n.up.out"
	[ "$rc" = 0 ] || fatal "hyphaectl up on ${n^^} (exit $rc)"
	wgt_pass "hyphaectl up on ${n^^} (hostname ${MESH_HOST[$n]})"
done
DPID_A=$(mesh_daemon_pid a) && DPID_B=$(mesh_daemon_pid b) ||
	fatal "hyphaed was activated in both namespaces (A '${DPID_A:-}', B '${DPID_B:-}')"

mesh_wait a "$WAIT_UP" mesh_sees a b || fatal "A is Running and sees B within ${WAIT_UP} s (state '$(mesh_json a state)')"
mesh_wait b "$WAIT_UP" mesh_sees b a || fatal "B is Running and sees A within ${WAIT_UP} s (state '$(mesh_json b state)')"
wgt_pass "A and B are Running and see each other ($(($(date +%s) - T0)) s after start)"

addrs a; A4=$SELF4 A6=$SELF6
addrs b; B4=$SELF4 B6=$SELF6
wgt_check "tailnet addresses: A $A4 $A6, B $B4 $B6 (100.64.0.0/10, fd7a:115c:a1e0::/48, distinct)" \
	eval 'in_tailnet4 "$A4" && in_tailnet4 "$B4" && in_tailnet6 "$A6" && in_tailnet6 "$B6" && [ "$A4" != "$B4" ]'
for n in a b; do
	s4=$(mesh_json "$n" self4)
	ip4=$(mesh_ctl "$n" ip -4 2>&1)
	wgt_check "hyphaectl ip -4 on ${n^^} prints Self's address ('$ip4')" [ "$ip4" = "$s4" ]
	s6=$(mesh_json "$n" self6)
	got=$(tunnel_addrs "$n" | tr '\n' ' ')
	wgt_check "${n^^}'s $MESH_IF carries exactly $s4 and $s6 (has: $got)" tunnel_exact "$n"
done

# ---------------------------------------------------------------- data plane

# Both nodes learnt of each other at the same moment. ipn lets only the side
# with the lower public key initiate at once (two initiations that cross leave
# both sides responders without a usable session until WireGuard's 5 s retry),
# and the initiator confirms with a keepalive: so without any traffic from the
# test both sides come to show a handshake. Bounded wait, no timing assumption.
handshaken() {   # handshaken NODE: a peer with a non-zero last handshake
	mesh_uapi_get "$1" | grep -qE '^last_handshake_time_sec=[1-9]'
}
for n in a b; do
	end=$(($(date +%s) + WAIT_UP))
	until handshaken "$n" || [ "$(date +%s)" -ge "$end" ]; do sleep 0.2; done
	echo "INFO ${n^^} before the first packet: $(mesh_uapi_get "$n" | grep -E '^(last_handshake_time_sec|tx_bytes|rx_bytes)=' | tr '\n' ' ')"
	wgt_check "${n^^} has a WireGuard session with the other before any traffic" handshaken "$n"
done
first=$(ip netns exec "$MESH_NS_A" ping -n -c 1 -w 10 "$B4" 2>&1 | sed -n 's/.*icmp_seq=1 .*time=\([0-9.]*\) ms.*/\1/p')
echo "INFO first packet A->B answered in ${first:-(no reply)} ms"
wgt_check "ping IPv4 A->B ($B4)" ping_to a "$B4"
wgt_check "ping IPv4 B->A ($A4)" ping_to b "$A4"
wgt_check "ping IPv6 A->B ($B6)" ping_to a "$B6"
wgt_check "ping IPv6 B->A ($A6)" ping_to b "$A6"
t0=$(date +%s.%N)
if xfer a "$B4" b; then
	wgt_pass "$MIB MiB TCP A->B over the tailnet, sha256 matches ($(awk -v a="$t0" -v b="$(date +%s.%N)" \
		-v n="$BYTES" 'BEGIN { printf "%.2f s, %.0f Mbit/s", b - a, n * 8 / (b - a) / 1e6 }'))"
else
	wgt_fail "$MIB MiB TCP A->B over the tailnet, sha256 matches: $XFER_DETAIL"
fi

# ---------------------------------------------------------------- status --json

mesh_status a; mesh_status b
check_peer "status --json on A: Peer has B's HostName, TailscaleIPs, Online" a b
check_peer "status --json on B: Peer has A's HostName, TailscaleIPs, Online" b a

# ---------------------------------------------------------------- disco ping and path

# The server sends both nodes' disco keys but no DERP map: the path machine
# pings B's endpoints, and the pong says which address answered.
out=$(mesh_ctl a ping -c 5 "${MESH_HOST[b]}" 2>&1); rc=$?
echo "    hyphaectl ping ${MESH_HOST[b]} -> exit $rc: $out"
wgt_check "hyphaectl ping B on A: a direct pong from B's underlay address (exit $rc)" \
	eval '[ "$rc" = 0 ] && printf "%s\n" "$out" | grep -qE "^pong from ${MESH_HOST[b]} \\($B4\\) via $MESH_IP_B:[0-9]+ in [0-9.]+m?s$"'
out=$(mesh_ctl a status 2>&1)
wgt_check "hyphaectl status on A shows B's path: direct $MESH_IP_B:PORT" \
	eval 'printf "%s\n" "$out" | grep -E "^$B4 " | grep -qE "direct $MESH_IP_B:[0-9]+"'
mesh_status a
cur=$("$WGT_PY" -c 'import json,sys; st=json.load(open(sys.argv[1])); print([p.get("CurAddr","") for p in st["Peer"].values() if p.get("HostName")==sys.argv[2]][0])' \
	"$MESH_DIR/a.status.json" "${MESH_HOST[b]}" 2>&1)
wgt_check "status --json on A: B's CurAddr is its underlay address ('$cur')" eval '[[ "$cur" =~ ^$MESH_IP_B:[0-9]+$ ]]'
out=$(mesh_ctl a ping -c 1 no-such-peer 2>&1); rc=$?
wgt_check "hyphaectl ping of an unknown peer fails with exit 1 ($out)" [ "$rc" = 1 ]

# ---------------------------------------------------------------- polkit

out=$(mesh_ctl_nobody a status --json 2>&1 >/dev/null)
wgt_check "uid 65534 may read status --json (read-only) ${out:+($out)}" \
	eval 'mesh_ctl_nobody a status --json >/dev/null 2>&1'
out=$(mesh_ctl_nobody a down 2>&1)
rc=$?
echo "    uid 65534: hyphaectl down -> exit $rc: $out"
wgt_check "uid 65534: hyphaectl down is refused with the not-authorized exit code $MESH_EXIT_NOT_AUTHORIZED (got $rc)" \
	[ "$rc" = "$MESH_EXIT_NOT_AUTHORIZED" ]
wgt_check "uid 65534: the refusal says 'not authorized' in plain text" \
	eval 'grep -q "not authorized" <<<"$out" && ! LC_ALL=C grep -q "[^[:print:][:space:]]" <<<"$out"'
mesh_status a
wgt_check "after the refused down A is still Running ('$(mesh_json a state)') and its tunnel works" \
	eval 'mesh_is_running a && tunnel_addrs a | grep -qxF "$A4" && ping_to a "$B4"'

# ---------------------------------------------------------------- control outage

KEYS_BEFORE=$(mesh_server_nodes | awk '{ print $1, $2 }' | sort)
mesh_server_kill
wgt_pass "control server SIGKILLed"
wgt_check "without control: ping IPv4 A->B" ping_to a "$B4"
wgt_check "without control: ping IPv4 B->A" ping_to b "$A4"
wgt_check "without control: ping IPv6 A->B" ping_to a "$B6"
mesh_status a
wgt_check "without control: A still lists B (previous netmap kept)" eval '[ -n "$(mesh_json a peer "${MESH_HOST[b]}")" ]'

# Same address, same Noise key, empty memory: the nodes' map polls are answered
# 403 "node not registered", so each node must register again by itself with the
# auth key it was given and its persisted node key (the server answers a
# registration without a key with an AuthURL) and open a new map stream.  Until
# then the nodes keep their netmap and stay Running, so what is waited for is
# the server seeing both nodes online again, then each node seeing the other.
mesh_server_start || fatal "control server restarts on $MESH_URL with the same key"
wgt_pass "control server restarted (same address and key, no memory of the nodes)"
end=$(($(date +%s) + WAIT_REJOIN))
until mesh_server_has_online "${MESH_HOST[a]}" "${MESH_HOST[b]}"; do
	[ "$(date +%s)" -ge "$end" ] && fatal "after the restart both nodes registered again and polled the map within ${WAIT_REJOIN} s (server knows: $(mesh_server_nodes 2>&1 | tr '\n' ';'))"
	sleep 0.2
done
wgt_pass "after the restart both nodes registered again and have a live map stream ($(($(date +%s) - end + WAIT_REJOIN)) s)"
keys_now=$(mesh_server_nodes | awk '{ print $1, $2 }' | sort)
wgt_check "after the restart the nodes came back with the node keys they had (persisted in their state dirs)" \
	[ "$keys_now" = "$KEYS_BEFORE" ]
mesh_wait a "$WAIT_STATE" mesh_sees a b ||
	fatal "after the restart A is Running and sees B (state '$(mesh_json a state)')"
mesh_wait b "$WAIT_STATE" mesh_sees b a ||
	fatal "after the restart B is Running and sees A (state '$(mesh_json b state)')"
addrs a; A4=$SELF4 A6=$SELF6
addrs b; B4=$SELF4 B6=$SELF6
# The new server numbers nodes in the order they registered again, so the
# addresses may have changed: what each node has now must agree everywhere.
check_peer "after the restart: A's entry for B" a b
check_peer "after the restart: B's entry for A" b a
for n in a b; do
	t0=$(date +%s.%N)
	if mesh_wait "$n" 10 tunnel_exact "$n"; then
		wgt_pass "after the restart ${n^^}'s $MESH_IF carries exactly its addresses now ($(mesh_json "$n" self4) $(mesh_json "$n" self6); $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s after its status said so)"
	else
		wgt_fail "after the restart ${n^^}'s $MESH_IF carries exactly its addresses now (Self: $(mesh_json "$n" self4) $(mesh_json "$n" self6); $MESH_IF has: $(tunnel_addrs "$n" | tr '\n' ' '))"
	fi
done
# The node that registered first got a full map without the other one (the
# server did not know it yet), so it removed that WireGuard peer and its
# session; the other node kept its session and what it sends is dropped until
# it handshakes again, either when the first node sends (it has no session, so
# it initiates at once) or by WireGuard's own timer (no reply within 15 s).
# So: both directions at once, each with a deadline past that timer.
ping_both() {   # ping_both ADDR_OF_B ADDR_OF_A
	local pa rb
	ip netns exec "$MESH_NS_A" ping -n -q -c 3 -i 0.2 -w 30 "$1" >/dev/null 2>&1 &
	pa=$!
	ip netns exec "$MESH_NS_B" ping -n -q -c 3 -i 0.2 -w 30 "$2" >/dev/null 2>&1
	rb=$?
	wait "$pa" && [ "$rb" = 0 ]
}
wgt_check "after the restart: ping IPv4 A->B ($B4) and B->A ($A4) at once" ping_both "$B4" "$A4"
wgt_check "after the restart: ping IPv6 A->B ($B6) and B->A ($A6) at once" ping_both "$B6" "$A6"
[ "$WGT_FAILS" = 0 ] || { mesh_diag a; mesh_diag b; }

# ---------------------------------------------------------------- down / up

mesh_ctl a down >"$MESH_DIR/a.down.out" 2>&1
rc=$?
wgt_check "hyphaectl down on A (exit $rc: $(tr '\n' ' ' <"$MESH_DIR/a.down.out"))" [ "$rc" = 0 ]
wgt_check "after down A is Stopped within ${WAIT_STATE} s" \
	mesh_wait a "$WAIT_STATE" eval '[ "$(mesh_json a state)" = Stopped ]'
left=$(tunnel_addrs a | tr '\n' ' ')
wgt_check "after down no tailnet address is left on A's $MESH_IF (has: '$left')" \
	eval '! tunnel_addrs a | grep -qxF -e "$A4" -e "$A6"'
mesh_up a >"$MESH_DIR/a.up2.out" 2>&1
rc=$?
wgt_check "hyphaectl up on A again (exit $rc)" [ "$rc" = 0 ]
wgt_check "A is Running and sees B again within ${WAIT_UP} s" mesh_wait a "$WAIT_UP" mesh_sees a b
addrs a
wgt_check "after up again: ping IPv4 A->B ($B4)" ping_to a "$B4"
wgt_check "after up again: ping IPv4 B->A (${SELF4:-?})" ping_to b "${SELF4:-0.0.0.0}"

# ---------------------------------------------------------------- daemons' health

wgt_check "both hyphaed are the processes first activated (A $DPID_A, B $DPID_B)" \
	eval '[ "$(mesh_daemon_pid a)" = "$DPID_A" ] && [ "$(mesh_daemon_pid b)" = "$DPID_B" ]'
for n in a b; do
	wgt_check "${n^^}: hyphaed exits on SIGTERM within 10 s and takes $MESH_IF with it" \
		eval 'dbl_daemon_stop "$n" && ! ip -n "${MESH_NS[$n]}" link show "$MESH_IF" >/dev/null 2>&1'
done
wgt_check "no sanitizer report (ASan, LSan at exit, UBSan) in the daemons' logs" \
	eval '! grep -l -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$MESH_DIR"/[ab]/bus.log'
finish
