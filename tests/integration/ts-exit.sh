#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue 12, using an exit node: hyphaed (A) routes its internet traffic
# through real tailscaled (B), which advertises 0.0.0.0/0 and ::/0 (approved
# through testcontrol's routes hook); ts-lib.sh's router runs testcontrol and
# derper.
#
#   router 10.210.0.1 (control :9911, derper :8443), route 203.0.113.0/24 via B
#     |                         |
#   A hyphaed 10.210.0.11      B tailscaled 10.210.0.12, forwarding, masquerade
#     | lan0 192.168.77.1/24     | inet0 198.18.0.1/30, 2001:db8:18::1/64 (not
#   L "LAN" 192.168.77.2         |   masqueraded unless it came from the tunnel)
#                              I "internet" 198.18.0.2, 2001:db8:18::2; the host
#                                203.0.113.10 and 2001:db8:113::10 on lo, with a
#                                TCP listener that answers with the source it sees
#
# The internet host is not on one of B's own subnets (tailscaled keeps an exit
# node's LANs out of what it forwards), and the router also reaches it through
# B's namespace: that is "the LAN path" A falls back to. Control, DERP and
# B's endpoint are all inside 0.0.0.0/0.
#
# Checks, in order:
#   without an exit node the internet host sees A's underlay address;
#   `hyphaectl set --exit-node=B`: table 52 has the default routes, ping v4 and
#   v6 and TCP v4/v6 reach the internet host, which sees B's addresses as the
#   source, and nothing for it leaves A's underlay (nft counter 0); the LAN is
#   unreachable;
#   no loop: hyphaed's control and DERP connections carry the bypass mark
#   0x80000, a netmap change (a node added through testcontrol's node hook)
#   arrives, B stays on a direct path;
#   --exit-node-allow-lan-access: a throw route for the LAN in table 52, the
#   LAN answers, the internet still goes through B; off again: LAN unreachable;
#   --exit-node-kill-switch, tailscaled stopped: testcontrol killed and
#   restarted is polled again (its /key and upgrade dialled with /0 in table
#   52 towards a dead exit node), then control says B is offline (an
#   OnlineChange): /0 stays, the internet host is unreachable, nothing leaves
#   the underlay for it, Health says it is dropped;
#   --exit-node-kill-switch=false: the /0 routes go, the internet host answers
#   over the underlay (seeing A's underlay address), Health says so.
# Exit 0 if every check passed, 1 otherwise, 77 when it cannot run (outside CI).
set -u
TS_PAIR=hyphaed:tailscaled
. "$(dirname "$0")/ts-lib.sh"
TS_NAME=ts-exit
ts_require

WAIT=60           # hang guards (s)
NS_I=tsI$WGT_ID   # the internet
NS_L=tsL$WGT_ID   # A's LAN
B_INET=198.18.0.1 I_INET=198.18.0.2
B_INET6=2001:db8:18::1 I_INET6=2001:db8:18::2
NET_HOST=203.0.113.10 NET_HOST6=2001:db8:113::10 NET_PORT=8080
LAN_A=192.168.77.1 LAN_HOST=192.168.77.2
A_UL=10.210.0.11 B_UL=10.210.0.12
NA=${TS_NS[a]} NB=${TS_NS[b]}

# ---------------------------------------------------------------- topology

# internet_net: I behind B (transit 198.18.0.0/30), the host addresses on I's
# lo, forwarding in B and masquerade of what comes out of B's tunnel; the
# router's route to the host through B (the underlay path).
internet_net() {
	wgt_netns_add "$NS_I" || return 1
	ip link add inet0 netns "$NB" type veth peer name up0 netns "$NS_I" || return 1
	ip -n "$NB" addr add "$B_INET/30" dev inet0 && ip -n "$NB" addr add "$B_INET6/64" dev inet0 nodad &&
		ip -n "$NB" link set inet0 up || return 1
	ip -n "$NS_I" addr add "$I_INET/30" dev up0 && ip -n "$NS_I" addr add "$I_INET6/64" dev up0 nodad &&
		ip -n "$NS_I" link set up0 up || return 1
	ip -n "$NS_I" addr add "$NET_HOST/32" dev lo && ip -n "$NS_I" addr add "$NET_HOST6/128" dev lo || return 1
	ip -n "$NS_I" route add default via "$B_INET" && ip -n "$NS_I" -6 route add default via "$B_INET6" || return 1
	ip -n "$NB" route add 203.0.113.0/24 via "$I_INET" && ip -n "$NB" -6 route add 2001:db8:113::/64 via "$I_INET6" ||
		return 1
	ip -n "$TS_NS_R" route add 203.0.113.0/24 via "$B_UL" || return 1
	ip netns exec "$TS_NS_R" sysctl -qw net.ipv4.ip_forward=1 || return 1
	ip netns exec "$NB" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 || return 1
	# tailscaled runs with --netfilter-mode=off: its exit traffic is ours to NAT.
	ip netns exec "$NB" nft -f - <<EOF
table inet ts_exit_nat {
	chain post {
		type nat hook postrouting priority srcnat;
		iifname "$TS_IF" oifname "inet0" masquerade
	}
}
EOF
}

# lan_net: the LAN namespace on A's lan0.
lan_net() {
	wgt_netns_add "$NS_L" || return 1
	ip link add lan0 netns "$NA" type veth peer name eth0 netns "$NS_L" || return 1
	ip -n "$NA" addr add "$LAN_A/24" dev lan0 && ip -n "$NA" link set lan0 up || return 1
	ip -n "$NS_L" addr add "$LAN_HOST/24" dev eth0 && ip -n "$NS_L" link set eth0 up
}

# listener_start: on the internet host, TCP :8080 (v4 and v6) answers each
# connection with the source address it sees, then closes.
listener_start() {
	ts_bg listener "$NS_I" "$TS_DIR/listener.log" "$WGT_PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", int(sys.argv[1])))
s.listen(16)
while True:
    c, a = s.accept()
    ip = a[0][7:] if a[0].startswith("::ffff:") else a[0]
    print("from", ip, flush=True)
    c.sendall((ip + "\n").encode())
    c.close()' "$NET_PORT"
	ts_wait 20 ts_tcp_open "$NS_I" "$NET_HOST" "$NET_PORT"
}

# source_seen ADDR: the source address the internet host sees for a TCP
# connection from A to ADDR (empty when it cannot connect within 3 s).
source_seen() {
	ip netns exec "$NA" "$WGT_PY" -c '
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
    print(c.makefile().readline().strip())
except OSError:
    pass' "$1" "$NET_PORT"
}

# underlay_watch_start / underlay_sent: count A's packets leaving eth0 (the
# underlay) for the internet host, from now on.
underlay_watch_start() {
	ip netns exec "$NA" nft delete table inet ts_exit_watch 2>/dev/null
	ip netns exec "$NA" nft -f - <<EOF
table inet ts_exit_watch {
	chain out {
		type filter hook output priority 0;
		oifname "eth0" ip daddr 203.0.113.0/24 counter
		oifname "eth0" ip6 daddr 2001:db8:113::/64 counter
	}
}
EOF
}
underlay_sent() {
	ip netns exec "$NA" nft list table inet ts_exit_watch 2>/dev/null |
		awk '/counter packets/ { for (i = 1; i <= NF; i++) if ($i == "packets") s += $(i + 1) } END { print s + 0 }'
}

# table52_default: A's table 52 holds the IPv4 and IPv6 default routes.
table52_default() {
	ip -n "$NA" route show table 52 | grep -q '^default' && ip -n "$NA" -6 route show table 52 | grep -q '^default'
}
table52_no_default() {
	! ip -n "$NA" route show table 52 | grep -q '^default' && ! ip -n "$NA" -6 route show table 52 | grep -q '^default'
}

# ping_a ADDR: three answers within 10 s. ping_a_fails ADDR: none of 3 within 4 s.
ping_a() { ip netns exec "$NA" ping -n -q -c 3 -i 0.2 -w 10 "$1" >/dev/null 2>&1; }
ping_a_fails() { ! ip netns exec "$NA" ping -n -q -c 3 -i 0.2 -w 4 "$1" >/dev/null 2>&1; }

# status_q NODE PYEXPR: evaluate PYEXPR over NODE's fresh `status --json` (st),
# with b = B's peer entry there; prints the value.
status_q() {
	ts_status "$1" || return 1
	"$WGT_PY" -c '
import json, sys
st = json.load(open(sys.argv[1]))
b = next((p for p in (st.get("Peer") or {}).values() if p.get("HostName") == sys.argv[2]), {})
print(eval(sys.argv[3]))' "$TS_DIR/$1.status.json" "${TS_HOST[b]}" "$2"
}
a_sees_exit_option() { [ "$(status_q a 'b.get("ExitNodeOption")')" = True ]; }
a_sees_b_offline() { [ "$(status_q a 'b.get("Online")')" = False ]; }
a_peer_count() { status_q a 'len(st.get("Peer") or {})'; }
a_health_has() { ts_cli a status 2>/dev/null | grep -q -- "$1"; }

# control_node FIELD: B's node in testcontrol (Key, ID).
control_node() {
	ip netns exec "$TS_NS_R" "$WGT_PY" -c '
import json, sys, urllib.request
for n in json.load(urllib.request.urlopen(sys.argv[1] + "/hyphae-test/nodes", timeout=10)):
    if (n.get("Hostinfo") or {}).get("Hostname") == sys.argv[2]:
        print(n.get(sys.argv[3]))' "$TS_URL" "${TS_HOST[b]}" "$1"
}

# marked_to PORT: every established TCP connection of A to the router's PORT
# (there is at least one) carries the bypass mark.
marked_to() {
	local out
	out=$(ip netns exec "$NA" ss -Htne state established "( dst $TS_R_IP and dport = :$1 )")
	[ -n "$out" ] && ! printf '%s\n' "$out" | grep -v -q 'fwmark:0x80000'
}

# ---------------------------------------------------------------- setup

ts_router || ts_fatal "router namespace"
ts_derper_start || ts_fatal "derper listens on $TS_R_IP:$TS_DERPER_PORT"
ts_control_start || ts_fatal "testcontrol listens on $TS_URL"
ts_node_net a && ts_node_net b || ts_fatal "node namespaces on the bridge"
internet_net || ts_fatal "the internet namespace behind B"
lan_net || ts_fatal "the LAN namespace on A"
listener_start || ts_fatal "the internet host listens on $NET_HOST:$NET_PORT"
wgt_pass "setup: router with testcontrol and derper, A (hyphaed) with a LAN, B (tailscaled) in front of the internet"

ts_both_up || ts_fatal "A and B join and see each other within ${WAIT} s"
wgt_pass "A ($TS_A4) and B ($TS_B4) joined and see each other"

ts_cli b set --advertise-exit-node >"$TS_DIR/b.set.out" 2>&1 || ts_fatal "tailscale set --advertise-exit-node: $(cat "$TS_DIR/b.set.out")"
B_KEY=$(control_node Key) B_ID=$(control_node ID)
[ -n "$B_KEY" ] && [ -n "$B_ID" ] || ts_fatal "testcontrol knows B (key '$B_KEY', id '$B_ID')"
echo '["0.0.0.0/0","::/0"]' >"$TS_DIR/exit-routes.json"
ts_hook POST "routes?node=$B_KEY" "$TS_DIR/exit-routes.json" >/dev/null || ts_fatal "testcontrol approves B's exit routes"
ts_wait "$WAIT" a_sees_exit_option || ts_fatal "A sees B offer to be an exit node within ${WAIT} s"
wgt_pass "B advertises 0.0.0.0/0 and ::/0, approved; A sees it as an exit node option"

# ---------------------------------------------------------------- without an exit node

ts_wait "$WAIT" ts_ping_any a "$TS_B4" || ts_fatal "ping A->B within ${WAIT} s"
seen=$(source_seen "$NET_HOST")
wgt_check "no exit node: the internet host answers over the underlay and sees A's underlay address ('$seen')" \
	[ "$seen" = "$A_UL" ]
wgt_check "no exit node: no default route in A's table 52" table52_no_default

# ---------------------------------------------------------------- exit node in use

ts_cli a set --exit-node="${TS_HOST[b]}" || ts_fatal "hyphaectl set --exit-node=${TS_HOST[b]}"
ts_wait "$WAIT" table52_default || ts_fatal "A's table 52 gets 0.0.0.0/0 and ::/0 within ${WAIT} s"
wgt_pass "hyphaectl set --exit-node: 0.0.0.0/0 and ::/0 in A's table 52"
underlay_watch_start || ts_fatal "nft counter on A's underlay"
ts_wait "$WAIT" ping_a "$NET_HOST" || wgt_fail "exit node: ping v4 $NET_HOST within ${WAIT} s"
wgt_check "exit node: ping v4 $NET_HOST" ping_a "$NET_HOST"
wgt_check "exit node: ping v6 $NET_HOST6" ts_wait "$WAIT" ping_a "$NET_HOST6"
seen=$(source_seen "$NET_HOST")
wgt_check "exit node: TCP v4 reaches the internet host, which sees B's address ('$seen', want $B_INET)" [ "$seen" = "$B_INET" ]
seen=$(source_seen "$NET_HOST6")
wgt_check "exit node: TCP v6 reaches the internet host, which sees B's address ('$seen', want $B_INET6)" [ "$seen" = "$B_INET6" ]
sent=$(underlay_sent)
wgt_check "exit node: nothing for the internet host left A's underlay ($sent packets)" [ "$sent" = 0 ]
wgt_check "exit node, no allow-LAN: the LAN host $LAN_HOST is unreachable" ping_a_fails "$LAN_HOST"
if ts_cli a status >"$TS_DIR/a.status.txt" 2>&1 && grep -q "# Exit node: .*kill switch off, LAN access blocked" "$TS_DIR/a.status.txt"; then
	wgt_pass "hyphaectl status shows the exit node, kill switch off, LAN access blocked"
else
	wgt_fail "hyphaectl status shows the exit node, kill switch off, LAN access blocked: $(cat "$TS_DIR/a.status.txt")"
fi

# ---------------------------------------------------------------- no loop

wgt_check "no loop: A's control connection ($TS_R_IP:$TS_CONTROL_PORT) carries the bypass mark 0x80000" \
	ts_wait "$WAIT" marked_to "$TS_CONTROL_PORT"
wgt_check "no loop: A's DERP connection ($TS_R_IP:$TS_DERPER_PORT) is up and carries the bypass mark 0x80000" \
	ts_wait "$WAIT" marked_to "$TS_DERPER_PORT"
peers=$(a_peer_count)
"$WGT_PY" -c '
import json, os, sys
hexkey = lambda: os.urandom(32).hex()
print(json.dumps({"ID": 4242, "StableID": "exit-test-extra", "Key": "nodekey:" + hexkey(),
    "Machine": "mkey:" + hexkey(), "DiscoKey": "discokey:" + hexkey(),
    "Addresses": ["100.64.42.42/32"], "AllowedIPs": ["100.64.42.42/32"],
    "MachineAuthorized": True, "Hostinfo": {"Hostname": "extra"}}))' >"$TS_DIR/extra-node.json"
ts_hook POST node "$TS_DIR/extra-node.json" >/dev/null || wgt_fail "testcontrol adds a node"
wgt_check "no loop: a netmap change (a new node, $peers -> $((peers + 1)) peers) reaches A through control" \
	ts_wait "$WAIT" eval '[ "$(a_peer_count)" = $((peers + 1)) ]'
wgt_check "no loop: B stays on a direct path ('$(ts_path a b)')" ts_wait "$WAIT" ts_is_direct a b
wgt_check "no loop: A's disco ping to B is answered directly" ts_wait "$WAIT" ts_disco_direct a b

# ---------------------------------------------------------------- allow LAN

ts_cli a set --exit-node-allow-lan-access || wgt_fail "hyphaectl set --exit-node-allow-lan-access"
wgt_check "allow-LAN: a throw route for 192.168.77.0/24 in A's table 52" \
	ts_wait "$WAIT" eval "ip -n '$NA' route show table 52 | grep -q '^throw 192.168.77.0/24'"
wgt_check "allow-LAN: the LAN host $LAN_HOST answers" ts_wait "$WAIT" ping_a "$LAN_HOST"
seen=$(source_seen "$NET_HOST")
wgt_check "allow-LAN: the internet still goes through B ('$seen')" [ "$seen" = "$B_INET" ]
ts_cli a set --exit-node-allow-lan-access=false || wgt_fail "hyphaectl set --exit-node-allow-lan-access=false"
wgt_check "allow-LAN off again: the throw route is gone" \
	ts_wait "$WAIT" eval "! ip -n '$NA' route show table 52 | grep -q '^throw'"
wgt_check "allow-LAN off again: the LAN host is unreachable" ping_a_fails "$LAN_HOST"

# ---------------------------------------------------------------- kill switch on

ts_cli a set --exit-node-kill-switch || wgt_fail "hyphaectl set --exit-node-kill-switch"
ts_node_stop b
wgt_pass "kill switch on; tailscaled (B) stopped"
# Control again, with /0 in table 52 towards a dead exit node: only marked
# sockets (/key, the upgrade) reach it.
ts_stop control KILL
ts_control_start || ts_fatal "testcontrol restarts"
wgt_check "kill switch, B down: A dials the restarted testcontrol (/key, upgrade) and polls it" \
	ts_wait "$WAIT" ts_control_polled a
wgt_check "kill switch, B down: the new control connection carries the bypass mark" \
	ts_wait "$WAIT" marked_to "$TS_CONTROL_PORT"
# The restarted testcontrol kept B but not its approved routes.
ts_hook POST "routes?node=$B_KEY" "$TS_DIR/exit-routes.json" >/dev/null || wgt_fail "testcontrol approves B's exit routes again"
wgt_check "kill switch, B down: the restarted control's netmap reaches A (B offers /0 again)" \
	ts_wait "$WAIT" a_sees_exit_option
echo "{\"OnlineChange\":{\"$B_ID\":false}}" >"$TS_DIR/offline.json"
ts_hook POST "map-response?node=$(ts_json a self-key)" "$TS_DIR/offline.json" >/dev/null ||
	wgt_fail "testcontrol tells A that B is offline"
ts_wait "$WAIT" a_sees_b_offline || ts_fatal "A sees B offline within ${WAIT} s"
wgt_pass "control says B is offline (OnlineChange)"
wgt_check "kill switch: 0.0.0.0/0 and ::/0 stay in A's table 52" table52_default
underlay_watch_start
wgt_check "kill switch: ping v4 $NET_HOST gets no answer" ping_a_fails "$NET_HOST"
wgt_check "kill switch: ping v6 $NET_HOST6 gets no answer" ping_a_fails "$NET_HOST6"
seen=$(source_seen "$NET_HOST")
wgt_check "kill switch: TCP to the internet host fails ('$seen')" [ -z "$seen" ]
sent=$(underlay_sent)
wgt_check "kill switch: nothing for the internet host left A's underlay ($sent packets)" [ "$sent" = 0 ]
wgt_check "kill switch: Health says internet traffic is dropped" a_health_has "is offline: internet traffic is dropped"
ts_cli a status >"$TS_DIR/a.status.txt" 2>&1
wgt_check "hyphaectl status: kill switch on" grep -q "# Exit node: .*kill switch on" "$TS_DIR/a.status.txt"

# ---------------------------------------------------------------- kill switch off

ts_cli a set --exit-node-kill-switch=false || wgt_fail "hyphaectl set --exit-node-kill-switch=false"
wgt_check "kill switch off, B offline: the default routes leave A's table 52" ts_wait "$WAIT" table52_no_default
underlay_watch_start
wgt_check "kill switch off: ping v4 $NET_HOST answered over the underlay" ts_wait "$WAIT" ping_a "$NET_HOST"
seen=$(source_seen "$NET_HOST")
wgt_check "kill switch off: the internet host sees A's underlay address ('$seen')" [ "$seen" = "$A_UL" ]
sent=$(underlay_sent)
wgt_check "kill switch off: the traffic went out A's underlay ($sent packets)" [ "$sent" -gt 0 ]
wgt_check "kill switch off: Health says traffic goes out through the local network" \
	a_health_has "is offline: internet traffic goes out through the local network"
ts_cli a status >"$TS_DIR/a.status.txt" 2>&1
wgt_check "hyphaectl status: kill switch off" grep -q "# Exit node: .*kill switch off" "$TS_DIR/a.status.txt"

ts_finish "$TS_NAME"
