#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue 12, subnet routers both ways: node A (hyphaed) and node B (tailscaled)
# join testcontrol (ts-lib.sh); each has a LAN namespace behind it:
#
#   LAN A: host 10.212.1.7/24 --- A (hyphaed) lan0 10.212.1.1/24
#          (no route beyond its /24: only A's masquerade makes replies return)
#   LAN B: host 10.213.2.7/24 --- B (tailscaled) lan0 10.213.2.1/24
#          (route to 100.64.0.0/10 via B: tailscaled runs --netfilter-mode=off,
#          so it forwards without masquerading; the test turns forwarding on)
#
# Checks, in order:
#   hyphaed advertises 10.212.1.0/24 (`hyphaectl set --advertise-routes`):
#   status shows it, testcontrol gets it as RoutableIPs; approved, B with
#   --accept-routes reaches host A (ping, TCP; the host sees A's LAN address);
#   B advertises 10.213.2.0/24 (approved): A without --accept-routes does not
#   reach host B (no route, not in the peer's AllowedIPs), with
#   `hyphaectl set --accept-routes` it does (ping, TCP from A's tailnet
#   address), and with --accept-routes=false again it no longer does;
#   `hyphaectl set` combines --advertise-routes and --advertise-exit-node as
#   `tailscale set` does, and with nothing left advertised the table is gone.
# Exit 0 if every check passed, 1 otherwise, 77 when it cannot run (outside CI).
set -u
TS_PAIR=hyphaed:tailscaled
. "$(dirname "$0")/ts-lib.sh"
. "$(dirname "$0")/ts-serve-lib.sh"
TS_NAME=ts-subnet
ts_require

WAIT=60
NS_LA=tsLA$WGT_ID
NS_LB=tsLB$WGT_ID
HOST_A=10.212.1.7
HOST_B=10.213.2.7
PORT=8080

serve_setup
serve_behind a "$NS_LA" lan0 10.212.1.1/24 eth0 "$HOST_A/24" || ts_fatal "LAN A behind A"
serve_behind b "$NS_LB" lan0 10.213.2.1/24 eth0 "$HOST_B/24" &&
	ip -n "$NS_LB" route add 100.64.0.0/10 via 10.213.2.1 &&
	ip netns exec "${TS_NS[b]}" sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward' || ts_fatal "LAN B behind B"
serve_whoami_start whoamiA "$NS_LA" "$HOST_A" "$PORT" && serve_whoami_start whoamiB "$NS_LB" "$HOST_B" "$PORT" ||
	ts_fatal "the LAN hosts' TCP services"
wgt_pass "setup: testcontrol, derper, A (hyphaed) with LAN 10.212.1.0/24, B (tailscaled) with LAN 10.213.2.0/24"

serve_join

# ---------------------------------------------------------------- A routes for B

wgt_check "hyphaectl set --advertise-routes=10.212.1.0/24" ts_cli a set --advertise-routes=10.212.1.0/24
line=$(ts_cli a status 2>&1 | head -n1)
wgt_check "hyphaectl status shows A's route ('$line')" eval '[[ "$line" == *"routes 10.212.1.0/24"* ]]'
wgt_check "testcontrol gets Hostinfo.RoutableIPs 10.212.1.0/24 from A" \
	ts_wait "$WAIT" eval '[ "$(serve_hostinfo_routes a)" = 10.212.1.0/24 ]'
serve_approve a '["10.212.1.0/24"]' || ts_fatal "testcontrol approves A's route"
ts_cli b set --accept-routes || ts_fatal "tailscale set --accept-routes on B"
wgt_check "B (accept-routes) reaches host $HOST_A behind A (ping)" ts_wait "$WAIT" ts_ping_any b "$HOST_A"
who=$(serve_whoami "${TS_NS[b]}" "$HOST_A" "$PORT")
wgt_check "TCP B->$HOST_A:$PORT: the host sees A's LAN address ('$who', want 10.212.1.1: masquerade)" [ "$who" = 10.212.1.1 ]

# ---------------------------------------------------------------- B routes for A

ts_cli b set --advertise-routes=10.213.2.0/24 || ts_fatal "tailscale set --advertise-routes on B"
serve_approve b '["10.213.2.0/24"]' || ts_fatal "testcontrol approves B's route"
wgt_check "A's netmap has B's route in B's AllowedIPs" \
	ts_wait "$WAIT" eval '[[ "$(serve_netmap_allowed a b)" == *10.213.2.0/24* ]]'
wgt_check "A without --accept-routes: no route to $HOST_B through the tunnel" \
	eval '[ "$(ip -n "${TS_NS[a]}" -o route get "$HOST_B" 2>&1 | grep -c "dev $TS_IF")" = 0 ]'
wgt_check "A without --accept-routes does not reach host $HOST_B" eval '! ts_ping_any a "$HOST_B"'
wgt_check "hyphaectl set --accept-routes" ts_cli a set --accept-routes
wgt_check "A (accept-routes) reaches host $HOST_B behind B (ping)" ts_wait "$WAIT" ts_ping_any a "$HOST_B"
who=$(serve_whoami "${TS_NS[a]}" "$HOST_B" "$PORT")
wgt_check "TCP A->$HOST_B:$PORT from A's tailnet address ('$who', want $TS_A4)" [ "$who" = "$TS_A4" ]
wgt_check "hyphaectl set --accept-routes=false" ts_cli a set --accept-routes=false
wgt_check "accept-routes off: A no longer reaches host $HOST_B" eval '! ts_ping_any a "$HOST_B"'
wgt_check "accept-routes off: A's own subnet still served to B" ts_ping_any b "$HOST_A"

# ---------------------------------------------------------------- the CLI's arithmetic

# self_status: the Status column of A's own row in `hyphaectl status`.
self_status() { ts_cli a status 2>/dev/null | head -n1 | sed 's/.*  linux  //'; }
check_self() {
	local got
	ts_cli a set "$1" >/dev/null 2>&1 || { wgt_fail "hyphaectl set $1"; return; }
	got=$(self_status)
	wgt_check "set $1: A's status says '$2' ('$got')" [ "$got" = "$2" ]
}
check_self --advertise-exit-node "offers exit node; routes 10.212.1.0/24"
check_self --advertise-routes=10.212.9.0/24,10.212.1.0/24 "offers exit node; routes 10.212.1.0/24, 10.212.9.0/24"
check_self --advertise-exit-node=false "routes 10.212.1.0/24, 10.212.9.0/24"
check_self --advertise-routes= "-"
wgt_check "nothing advertised: no table, forwarding as before ($(serve_sysctls a))" \
	eval '! serve_nft_table a && [ "$(serve_sysctls a)" = "$SYSCTLS_BEFORE" ]'

ts_finish "$TS_NAME"
