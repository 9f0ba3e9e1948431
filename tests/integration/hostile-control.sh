#!/bin/bash
# SPDX-License-Identifier: MIT
# A hostile control server (issue 8 rows 1-3, deliverable 10): two hyphaed join
# the Go control server's tailnet (tests/ts2021/control.go), then the server is
# switched at run time (POST /debug/hostile?mode=M: it ends the map streams, so
# the daemons reconnect into it) into each mode below, and back to normal.
#
#   HYPHAED=… HYPHAECTL=… HYPHAED_RELEASE=… tests/integration/hostile-control.sh
#
# Topology and helpers: mesh-lib.sh (a hub with the server, nodes A and B, each
# with a private system bus, a real polkitd and a hyphaed the bus activates on
# the first `hyphaectl up --login-server … --auth-key …`). A runs $HYPHAED (the
# ASan+UBSan build: a crash or sanitizer report shows); B runs $HYPHAED_RELEASE
# (built without sanitizers by release-hyphaed.sh), on which the memory bound is
# checked: the bound is the release build's contract, and ASan's quarantine,
# redzones and shadow make the sanitized daemon's RSS measure something else
# (A's VmHWM is printed for information only).
#
# Modes (HOSTILE_MODES="m1 m2 …" runs only those): json-comment-key,
# json-comment-early, json-comment-register, json-comment-map (`/*"*/` +
# 300 000 `[` as the early payload and a MapResponse; as the /key answer and
# the RegisterResponse, 65 431 and 262 039 `[`, to fit our caps on them), map-zstd-bomb and
# map-zstd-bomb-declared (a zstd frame of 1 GiB, without and with a declared
# content size), addr-wide (the node gets 10.200.0.1/16 + fd00:200::1/64, its
# peer 0.0.0.0/0 + ::/0, and a new peer appears). For each, on both nodes:
#   the server served the payload (its "HOSTILE <mode> <ip> <node>" line), and
#   (but addr-wide) served it again: the daemon came back for more, so it has
#   dealt with the first one;
#   hyphaed is the same process, answers `status --json`, is Running, and its
#   netmap (self and peers: ID, Name, Key, Addresses, AllowedIPs) is the one it
#   had before;
#   bombs: B's VmHWM (/proc/PID/status) stays under 64 MiB;
#   addr-wide: the new peer IS applied (netmap and WireGuard), but hyphae0 has
#   no 10.200.0.1/16 or fd00:200::1/64 (exactly the addresses it had), the main
#   table no route for them, and no WireGuard peer has 0.0.0.0/0 or ::/0 (the
#   peer has exactly the allowed IPs it had); the netmap itself may record
#   what the server sent;
#   back to normal: Running, the server sees a live map stream, netmap as before.
# A daemon that died is activated again (`hyphaectl up`) so the next mode still
# runs. Every wait is a deadline on an event, never a delay.
# Exit 0 if every check passed, 1 otherwise, 77 when it cannot run (outside CI).
set -u
. "$(dirname "$0")/mesh-lib.sh"

mesh_require
# meson test sets MALLOC_PERTURB_: glibc would then write every byte malloc
# hands out, so B's RSS would count pages the daemon itself never touches.
unset MALLOC_PERTURB_
WAIT_UP=60          # hang guards (s)
WAIT_SERVED=60
WAIT_BACK=90
MEM_LIMIT_KB=$((64 << 10))
ALL_MODES="json-comment-key json-comment-early json-comment-register json-comment-map"
ALL_MODES+=" map-zstd-bomb map-zstd-bomb-declared addr-wide"
read -ra MODES <<<"${HOSTILE_MODES:-$ALL_MODES}"
declare -A NODE_IP=([a]=$MESH_IP_A [b]=$MESH_IP_B) DPID=() NM0=() TUN0=() WG0=()
T0=$(date +%s)

finish() { mesh_finish hostile-control "$T0"; }
fatal() { wgt_fail "$*"; wgt_log "stopping: the remaining checks depend on this one"; finish; }

# hostile MODE: switch the server (from the hub, plain HTTP).
hostile() {
	ip netns exec "$MESH_NS_HUB" "$WGT_PY" -c '
import sys, urllib.request
r = urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/debug/hostile?mode=" + sys.argv[2],
                           method="POST"), timeout=10)
sys.exit(0 if r.status == 200 else 1)' "$MESH_URL" "$1"
}

# served_count MODE NODE SINCE: HOSTILE lines for MODE to NODE after line SINCE of the server's stdout.
served_count() {
	tail -n +"$(($3 + 1))" "$MESH_SERVER_OUT" | grep -c "^HOSTILE $1 ${NODE_IP[$2]} "
}
out_lines() { wc -l <"$MESH_SERVER_OUT"; }

# wait_served MODE NODE SINCE COUNT: COUNT HOSTILE lines, or the daemon gone (then 1).
wait_served() {
	local end=$(($(date +%s) + WAIT_SERVED))
	while [ "$(served_count "$1" "$2" "$3")" -lt "$4" ]; do
		[ "$4" -gt 1 ] && ! kill -0 "${DPID[$2]}" 2>/dev/null && return 1
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.2
	done
}

# nm_summary NODE: what must not change: self and peers (ID Name Key Addresses
# AllowedIPs), one line each, peers by ID; nothing but the exit status on error.
nm_summary() {
	mesh_ctl "$1" netmap --json 2>/dev/null | "$WGT_PY" -c '
import json, sys
nm = json.load(sys.stdin)
def line(tag, n):
    return " ".join([tag, str(n.get("ID")), str(n.get("Name")), str(n.get("Key")),
                     ",".join(n.get("Addresses") or []), ",".join(n.get("AllowedIPs") or [])])
print(line("self", nm["Self"]))
for p in sorted(nm.get("Peers") or [], key=lambda p: p.get("ID", 0)):
    print(line("peer", p))'
}

# tunnel_addrs NODE: the global addresses on NODE's tunnel, sorted, one a line.
tunnel_addrs() {
	ip -n "${MESH_NS[$1]}" -o addr show dev "$MESH_IF" scope global 2>/dev/null | awk '{ print $4 }' | sort
}

# The WireGuard peers' allowed IPs of NODE (UAPI get), one "pubhex prefix" a line.
wg_allowed() {
	mesh_uapi_get "$1" | awk -F= '$1 == "public_key" { k = $2 } $1 == "allowed_ip" { print k, $2 }'
}

vmhwm() { wgt_mem "$1" VmHWM; }

# alive NODE WHAT: same pid, status --json answers, Running.
check_alive() {
	local n=$1 what=$2 pid
	pid=$(mesh_daemon_pid "$n")
	wgt_check "$what: ${n^^}'s hyphaed is alive, the same process (was ${DPID[$n]}, now ${pid:-none})" \
		[ "$pid" = "${DPID[$n]}" ] || return 1
	wgt_check "$what: ${n^^} answers status --json and is Running ('$(mesh_status "$n"; mesh_json "$n" state)')" \
		eval 'mesh_status "$n" && mesh_is_running "$n"'
}

# revive NODE: a daemon that died is activated again and brought up.
revive() {
	local n=$1
	kill -0 "${DPID[$n]}" 2>/dev/null && return 0
	wgt_log "${n^^}: hyphaed ${DPID[$n]} is gone; activating a new one for the next mode"
	mesh_up "$n" >/dev/null 2>&1
	mesh_wait "$n" "$WAIT_UP" mesh_is_running "$n" || fatal "${n^^} comes back Running after its daemon died"
	DPID[$n]=$(mesh_daemon_pid "$n") || fatal "a new hyphaed runs in ${n^^}"
}

# normal_again NODE: Running, the server has a live map stream for it, netmap as at the start.
normal_again() {
	mesh_is_running "$1" && [ "$(nm_summary "$1")" = "${NM0[$1]}" ] &&
		mesh_server_nodes 2>/dev/null | grep -q "^${MESH_HOST[$1]} nodekey:[0-9a-f]* True$"
}

# ---------------------------------------------------------------- bring-up

if [ -n "${HYPHAED_RELEASE:-}" ] && [ -x "$HYPHAED_RELEASE" ]; then
	# Named hyphaed, so that mesh_daemon_pid finds it by its comm.
	mkdir -p "$MESH_DIR/release" && install -m 755 "$HYPHAED_RELEASE" "$MESH_DIR/release/hyphaed" ||
		fatal "copy of the release hyphaed"
	HYPHAED_B=$MESH_DIR/release/hyphaed
elif [ -n "${CI:-}" ]; then
	fatal "HYPHAED_RELEASE (a hyphaed without sanitizers, for the memory bound) is missing in CI"
else
	wgt_log "no HYPHAED_RELEASE: B runs the sanitized hyphaed and the memory bound is not checked"
	HYPHAED_B=
fi

mesh_topology || fatal "topology: hub bridge and two node namespaces"
mesh_server_start || fatal "control server starts in the hub on $MESH_URL"
dbl_install_policy "$MESH_DATA_DIR" || fatal "polkit actions installed"
HYPHAED_A=$HYPHAED
for n in a b; do
	mkdir -p "$MESH_DIR/$n/uapi" || fatal "uapi dir"
	HYPHAED=$HYPHAED_A   # dbl_bus_start writes it into the bus's activation file
	[ "$n" = b ] && [ -n "$HYPHAED_B" ] && HYPHAED=$HYPHAED_B
	dbl_bus_start "$n" "${MESH_NS[$n]}" "$MESH_DIR/$n/state" --ifname "$MESH_IF" \
		--uapi-dir "$MESH_DIR/$n/uapi" || fatal "a private system bus and polkitd in ${n^^}"
done
HYPHAED=$HYPHAED_A
wgt_pass "setup: hub + server, buses and polkitd in A (sanitized hyphaed) and B (${HYPHAED_B:-sanitized} hyphaed)"

for n in a b; do
	mesh_up "$n" >"$MESH_DIR/$n.up.out" 2>&1 || fatal "hyphaectl up on ${n^^}: $(cat "$MESH_DIR/$n.up.out")"
done
mesh_wait a "$WAIT_UP" mesh_sees a b || fatal "A is Running and sees B"
mesh_wait b "$WAIT_UP" mesh_sees b a || fatal "B is Running and sees A"
# settled NODE OTHER: NODE's tunnel carries its addresses, its WireGuard has OTHER's.
settled() {
	tunnel_addrs "$1" | grep -qxF "$(mesh_json "$1" self4)/32" &&
		tunnel_addrs "$1" | grep -qxF "$(mesh_json "$1" self6)/128" &&
		wg_allowed "$1" | grep -q " $(mesh_json "$2" self4)/32$"
}
mesh_status a && mesh_status b || fatal "status --json on A and B"
mesh_wait a "$WAIT_UP" settled a b || fatal "A's tunnel and WireGuard carry the netmap"
mesh_wait b "$WAIT_UP" settled b a || fatal "B's tunnel and WireGuard carry the netmap"
for n in a b; do
	DPID[$n]=$(mesh_daemon_pid "$n") || fatal "hyphaed runs in ${n^^}"
	NM0[$n]=$(nm_summary "$n") || fatal "${n^^}: hyphaectl netmap --json"
	TUN0[$n]=$(tunnel_addrs "$n")
	WG0[$n]=$(wg_allowed "$n" | sort)
done
wgt_pass "A and B are Running and see each other (hyphaed A ${DPID[a]}, B ${DPID[b]})"
printf '    netmap of A at the start:\n%s\n' "${NM0[a]}" | sed 's/^/    /'
[ -n "$HYPHAED_B" ] && echo "INFO B (release) VmHWM before any hostile mode: $(vmhwm "${DPID[b]}") kB"

# ---------------------------------------------------------------- the modes

for mode in "${MODES[@]}"; do
	echo "== $mode"
	for n in a b; do revive "$n"; done
	since=$(out_lines)
	hostile "$mode" || fatal "POST /debug/hostile?mode=$mode"
	for n in a b; do
		wgt_check "$mode: the server served it to ${n^^}" wait_served "$mode" "$n" "$since" 1 || continue
		if [ "$mode" != addr-wide ]; then
			# A second one: the daemon reconnected, so it has dealt with the first.
			wgt_check "$mode: ${n^^} came back for another (it refused the first and reconnected)" \
				wait_served "$mode" "$n" "$since" 2
		fi
	done
	for n in a b; do
		check_alive "$n" "$mode" || continue
		if [ "$mode" = addr-wide ]; then
			wgt_check "addr-wide: ${n^^} applied the good part (the new peer addr-wide-peer is in its netmap)" \
				mesh_wait "$n" "$WAIT_SERVED" eval 'nm_summary "$n" | grep -q "^peer 65534 addr-wide-peer\."'
			ns=${MESH_NS[$n]}
			wgt_check "addr-wide: ${n^^}'s WireGuard has the new peer (100.64.255.254/32)" \
				eval 'wg_allowed "$n" | grep -q " 100.64.255.254/32$"'
			have=$(ip -n "$ns" -o addr show dev "$MESH_IF" | awk '{ print $4 }' | tr '\n' ' ')
			wgt_check "addr-wide: ${n^^}'s $MESH_IF has no 10.200.0.1/16 nor fd00:200::1/64 (has: $have)" \
				eval '! grep -qE "(^| )(10\.200\.0\.1|fd00:200::1)/" <<<"$have"'
			routes=$( { ip -n "$ns" route show table main; ip -n "$ns" -6 route show table main; } | tr '\n' ';')
			wgt_check "addr-wide: ${n^^}'s main table has no route for 10.200.0.0/16 or fd00:200::/64" \
				eval '! grep -qE "(^|;)(10\.200\.0\.0/16|fd00:200::/64) " <<<"$routes"'
			wide=$(wg_allowed "$n" | awk '$2 == "0.0.0.0/0" || $2 == "::/0"' | tr '\n' ' ')
			wgt_check "addr-wide: no WireGuard peer of ${n^^} has 0.0.0.0/0 or ::/0 (found: '$wide')" [ -z "$wide" ]
			# The netmap may keep what the server sent; what counts is what
			# reaches the kernel and WireGuard.
			now=$(tunnel_addrs "$n")
			wgt_check "addr-wide: ${n^^}'s $MESH_IF carries exactly the tailnet addresses it had" \
				[ "$now" = "${TUN0[$n]}" ]
			now=$(wg_allowed "$n" | grep -v " 100.64.255.254/32$\| fd7a:115c:a1e0::fffe/128$" | sort)
			wgt_check "addr-wide: ${n^^}'s WireGuard peer has exactly the allowed IPs it had" \
				[ "$now" = "${WG0[$n]}" ] || printf '%s\n' "$now" | sed 's/^/    now: /'
		else
			now=$(nm_summary "$n")
			wgt_check "$mode: ${n^^} kept the netmap it had" [ "$now" = "${NM0[$n]}" ] ||
				printf '%s\n' "$now" | sed 's/^/    now: /'
		fi
	done
	case $mode in
	map-zstd-bomb*)
		echo "INFO A (sanitized) VmHWM after $mode: $(vmhwm "${DPID[a]}") kB"
		if [ -n "$HYPHAED_B" ] && kill -0 "${DPID[b]}" 2>/dev/null; then
			hwm=$(vmhwm "${DPID[b]}")
			wgt_check "$mode: B's (release) hyphaed peak RSS stayed under 64 MiB (VmHWM ${hwm:-?} kB)" \
				[ "${hwm:-999999999}" -lt "$MEM_LIMIT_KB" ]
		fi
		;;
	esac
	hostile none || fatal "POST /debug/hostile?mode=none"
	for n in a b; do
		revive "$n"
		wgt_check "after $mode: ${n^^} is back to normal (Running, a live map stream, the netmap it had)" \
			mesh_wait "$n" "$WAIT_BACK" normal_again "$n"
	done
done

# ---------------------------------------------------------------- the end

wgt_check "the daemons are still alive (A ${DPID[a]}, B ${DPID[b]})" \
	eval '[ "$(mesh_daemon_pid a)" = "${DPID[a]}" ] && [ "$(mesh_daemon_pid b)" = "${DPID[b]}" ]'
for n in a b; do
	wgt_check "${n^^}: hyphaed exits on SIGTERM within 10 s" dbl_daemon_stop "$n"
done
wgt_check "no sanitizer report (ASan, LSan at exit, UBSan) in the daemons' logs" \
	eval '! grep -l -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$MESH_DIR"/[ab]/bus.log'
finish
