#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue 12, hyphaed as an exit node for a real tailscaled: node A (hyphaed) and
# node B (tailscaled) join testcontrol (ts-lib.sh); an "internet" namespace
# hangs off A's namespace only, by a /30 link, with its host addresses on its
# loopback and no route back to anything but that link:
#
#   B (tailscaled) --tunnel-- A (hyphaed) up0 203.0.113.1/30 2001:db8:ff::1/64
#                                 |
#                             internet: wan0 203.0.113.2/30 2001:db8:ff::2/64,
#                             lo 198.51.100.7 2001:db8:100::7 (A routes those there)
#
# Checks, in order:
#   B cannot reach the internet host before; `hyphaectl set --advertise-routes`
#   refuses a prefix with host bits (exit 2) and changes nothing;
#   `hyphaectl set --advertise-exit-node`: Prefs.AdvertiseRoutes is
#   0.0.0.0/0 + ::/0, `hyphaectl status` says "offers exit node" for A,
#   testcontrol gets them as Hostinfo.RoutableIPs, A's namespace has
#   forwarding on and the `inet hyphae` table;
#   approved at testcontrol, B sees A as an exit node and `tailscale set
#   --exit-node=A`: ping v4 and v6 and TCP from B reach the internet host,
#   which sees A's link address as the source (masquerade: it has no route
#   back to the tailnet);
#   `--advertise-exit-node=false`: the table is gone, the sysctls are back to
#   what they were, B no longer gets through; advertised again, then
#   `hyphaectl down`: the same; up again: back; hyphaed killed with -9 leaves
#   them, the restarted one undoes them at start, sets them up again and,
#   stopping, puts back the values from before the crash; after another kill
#   -9, `hyphaed --cleanup` undoes them; SIGTERM: gone.
# Exit 0 if every check passed, 1 otherwise, 77 when it cannot run (outside CI).
set -u
TS_PAIR=hyphaed:tailscaled      # A must be hyphaed, B the real peer
. "$(dirname "$0")/ts-lib.sh"
. "$(dirname "$0")/ts-serve-lib.sh"
TS_NAME=ts-exit-serve
ts_require

WAIT=60
NS_I=tsI$WGT_ID
INET4=198.51.100.7
INET6=2001:db8:100::7
LINK4=203.0.113.1
LINK6=2001:db8:ff::1
PORT=8080

serve_setup
serve_behind a "$NS_I" up0 "$LINK4/30" wan0 203.0.113.2/30 &&
	ip -n "${TS_NS[a]}" addr add "$LINK6/64" dev up0 nodad &&
	ip -n "$NS_I" addr add 2001:db8:ff::2/64 dev wan0 nodad &&
	ip -n "$NS_I" addr add "$INET4/32" dev lo &&
	ip -n "$NS_I" addr add "$INET6/128" dev lo &&
	ip -n "${TS_NS[a]}" route add 198.51.100.0/24 via 203.0.113.2 &&
	ip -n "${TS_NS[a]}" -6 route add 2001:db8:100::/64 via 2001:db8:ff::2 ||
	ts_fatal "the internet namespace behind A"
serve_whoami_start whoami4 "$NS_I" "$INET4" "$PORT" && serve_whoami_start whoami6 "$NS_I" "$INET6" "$PORT" ||
	ts_fatal "the internet host's TCP service"
wgt_pass "setup: testcontrol, derper, A (hyphaed) with the internet $INET4 $INET6 behind it, B (tailscaled)"

serve_join
wgt_check "before: B cannot reach the internet host" eval '! ts_ping_any b "$INET4"'

# ---------------------------------------------------------------- advertise

out=$(ts_cli a set --advertise-routes=10.0.0.1/24 2>&1); rc=$?
wgt_check "set --advertise-routes=10.0.0.1/24 is refused with exit 2 ('$out')" \
	eval '[ "$rc" = 2 ] && [[ "$out" == *"non-address bits"* ]]'
wgt_check "refused: nothing forwarded, no nft table" eval '! serve_nft_table a && [ "$(serve_sysctls a)" = "$SYSCTLS_BEFORE" ]'

wgt_check "hyphaectl set --advertise-exit-node" ts_cli a set --advertise-exit-node
prefs=$(ts_cli a status 2>&1 | head -n1)
wgt_check "hyphaectl status says A offers an exit node ('$prefs')" eval '[[ "$prefs" == *"offers exit node"* ]]'
wgt_check "testcontrol gets Hostinfo.RoutableIPs 0.0.0.0/0,::/0 from A" \
	ts_wait "$WAIT" eval '[ "$(serve_hostinfo_routes a)" = "0.0.0.0/0,::/0" ]'
wgt_check "A's namespace: forwarding on ($(serve_sysctls a)), table inet hyphae in place" \
	eval 'serve_nft_table a && [ "$(serve_sysctls a)" = "1 1" ]'

# ---------------------------------------------------------------- use it

serve_approve a '["0.0.0.0/0","::/0"]' || ts_fatal "testcontrol approves A's exit routes"
wgt_check "B sees A as an exit node (ExitNodeOption)" ts_wait "$WAIT" eval '[ "$(serve_peer_field b a ExitNodeOption)" = True ]'
ts_cli b set --exit-node="$TS_A4" || ts_fatal "tailscale set --exit-node=$TS_A4 on B"
wgt_check "B reaches the internet host $INET4 through A (ping)" ts_wait "$WAIT" ts_ping_any b "$INET4"
wgt_check "ping v4 B->$INET4 (3 replies)" ts_ping b "$INET4"
wgt_check "ping v6 B->$INET6 through A" ts_wait "$WAIT" ts_ping_any b "$INET6"
who=$(serve_whoami "${TS_NS[b]}" "$INET4" "$PORT")
wgt_check "TCP B->$INET4:$PORT: the internet host sees A's link address ('$who', want $LINK4: masquerade)" [ "$who" = "$LINK4" ]
who=$(serve_whoami "${TS_NS[b]}" "$INET6" "$PORT")
wgt_check "TCP B->[$INET6]:$PORT: the internet host sees A's link address ('$who', want $LINK6)" [ "$who" = "$LINK6" ]

# ---------------------------------------------------------------- stop

wgt_check "hyphaectl set --advertise-exit-node=false" ts_cli a set --advertise-exit-node=false
wgt_check "no longer advertising: table gone, sysctls back to '$SYSCTLS_BEFORE' ($(serve_sysctls a))" \
	eval '! serve_nft_table a && [ "$(serve_sysctls a)" = "$SYSCTLS_BEFORE" ]'
wgt_check "testcontrol gets an empty RoutableIPs" ts_wait "$WAIT" eval '[ -z "$(serve_hostinfo_routes a)" ]'
wgt_check "no longer advertising: B's ping to the internet host gets no reply" eval '! ts_ping_any b "$INET4"'

wgt_check "advertised again" ts_cli a set --advertise-exit-node
wgt_check "advertised again: B reaches the internet host" ts_wait "$WAIT" ts_ping_any b "$INET4"
wgt_check "hyphaectl down" ts_cli a down
wgt_check "down: table gone, sysctls back to '$SYSCTLS_BEFORE' ($(serve_sysctls a))" \
	eval '! serve_nft_table a && [ "$(serve_sysctls a)" = "$SYSCTLS_BEFORE" ]'
wgt_check "hyphaectl up (still advertising)" ts_node_up a
wgt_check "up again: forwarding and the table back" ts_wait "$WAIT" eval 'serve_nft_table a && [ "$(serve_sysctls a)" = "1 1" ]'
wgt_check "up again: B reaches the internet host" ts_wait "$WAIT" ts_ping_any b "$INET4"

# kill_a: hyphaed on A killed with -9; what it set up stays behind.
kill_a() {
	local pid
	pid=$(dbl_daemon_pid a)
	kill -KILL "$pid" 2>/dev/null
	wgt_check "hyphaed killed (-9): gone" ts_wait 10 eval '! kill -0 "$pid" 2>/dev/null'
	wgt_check "killed: table and forwarding left behind" eval 'serve_nft_table a && [ "$(serve_sysctls a)" = "1 1" ]'
}
# restart_a: hyphaed activated again. testcontrol wants the auth key on every
# register, a restart's too: its own start (WantRunning) is refused first.
restart_a() {
	ts_cli a status >/dev/null 2>&1
	wgt_check "restarted: its own start ends (refused by testcontrol: NeedsLogin)" \
		ts_wait "$WAIT" eval 'ts_status a; case $(ts_json a state) in NeedsLogin | Stopped | Running) true ;; *) false ;; esac'
}

# The restarted hyphaed undoes what the killed one left at start, sets it up
# again for the exit node it still is, and the values it puts back when it
# stops advertising are those from before the crash, not the "1 1" it found.
kill_a
restart_a
wgt_check "restarted, not running yet: the crash's table and sysctls undone at start ($(serve_sysctls a))" \
	eval '! serve_nft_table a && [ "$(serve_sysctls a)" = "$SYSCTLS_BEFORE" ]'
wgt_check "restarted: hyphaectl up" ts_node_up a
wgt_check "restarted: B reaches the internet host through A again" ts_wait "$WAIT" ts_ping_any b "$INET4"
wgt_check "restarted, then --advertise-exit-node=false" ts_cli a set --advertise-exit-node=false
wgt_check "sysctls back to what they were before the crash ('$SYSCTLS_BEFORE', now $(serve_sysctls a)), no table" \
	eval '! serve_nft_table a && [ "$(serve_sysctls a)" = "$SYSCTLS_BEFORE" ]'
wgt_check "advertised again" ts_cli a set --advertise-exit-node
wgt_check "advertised again: table and forwarding" ts_wait "$WAIT" eval 'serve_nft_table a && [ "$(serve_sysctls a)" = "1 1" ]'

# `hyphaed --cleanup` (the unit's ExecStopPost) after a kill -9 does the same.
kill_a
wgt_check "hyphaed --cleanup" ip netns exec "${TS_NS[a]}" "$HYPHAED" --cleanup --state-dir "$(ts_node_dir a)/state"
wgt_check "--cleanup: table gone, sysctls back to '$SYSCTLS_BEFORE' ($(serve_sysctls a))" \
	eval '! serve_nft_table a && [ "$(serve_sysctls a)" = "$SYSCTLS_BEFORE" ]'

# The daemon's exit (SIGTERM) removes them as well.
restart_a
wgt_check "restarted again: hyphaectl up" ts_node_up a
wgt_check "restarted again: table and forwarding" ts_wait "$WAIT" eval 'serve_nft_table a && [ "$(serve_sysctls a)" = "1 1" ]'
dbl_daemon_stop a
wgt_check "hyphaed exited (SIGTERM): table gone, sysctls back to '$SYSCTLS_BEFORE' ($(serve_sysctls a))" \
	eval '! serve_nft_table a && [ "$(serve_sysctls a)" = "$SYSCTLS_BEFORE" ]'

ts_finish "$TS_NAME"
