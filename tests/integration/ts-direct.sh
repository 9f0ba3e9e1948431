#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue 11, real peers on a direct path: node A and node B (TS_PAIR, default
# hyphaed:tailscaled) join Tailscale's test control server with real derper as
# the DERP region, on one bridge (ts-lib.sh).
#
# Checks, in order:
#   both join and see each other; each one's `status --json` lists the other
#   with the addresses the other gives itself, Online, and OS linux;
#   ICMP v4 and v6 both ways; each side's disco ping (`tailscale ping`,
#   `hyphaectl ping`) gets a pong over a direct path, and each status shows
#   the other at a direct address; 64 MiB TCP both ways with matching sha256;
#   derper SIGKILLed in the middle of a paced transfer: it completes over the
#   direct path, ping both ways and a transfer B->A without derper;
#   testcontrol SIGKILLed: ping both ways; restarted with its saved state
#   (keys, nodes): hyphaed polls it again, transfers and ping both ways, the
#   addresses unchanged.
# Exit 0 if every check passed, 1 otherwise, 77 when it cannot run (outside CI).
set -u
. "$(dirname "$0")/ts-lib.sh"
TS_NAME=ts-direct
ts_require

BYTES=$((64 << 20))
SMALL=$((4 << 20))
WAIT=60           # hang guards (s)

ts_router || ts_fatal "router namespace"
ts_derper_start || ts_fatal "derper listens on $TS_R_IP:$TS_DERPER_PORT"
ts_control_start || ts_fatal "testcontrol listens on $TS_URL"
ts_node_net a && ts_node_net b || ts_fatal "node namespaces on the bridge"
wgt_pass "setup: router with testcontrol and derper, nodes A (${TS_KIND[a]}) and B (${TS_KIND[b]})"

ts_both_up || ts_fatal "A and B join and see each other within ${WAIT} s"
wgt_pass "A ($TS_A4 $TS_A6) and B ($TS_B4 $TS_B6) joined and see each other"

# ---------------------------------------------------------------- status

# check_listed NODE OTHER: NODE's status lists OTHER with OTHER's own
# addresses, Online, OS linux.
check_listed() {
	local got want
	ts_status "$1" && ts_status "$2"
	got="$(ts_json "$1" peer "${TS_HOST[$2]}") $(ts_json "$1" peer-os "${TS_HOST[$2]}")"
	want="$(ts_json "$2" self4) $(ts_json "$2" self6) True linux"
	wgt_check "${1^^}'s status --json lists ${2^^} (${TS_KIND[$2]}): got '$got', want '$want'" [ "$got" = "$want" ]
}
check_listed a b
check_listed b a

# ---------------------------------------------------------------- direct path

ts_wait "$WAIT" ts_ping_any a "$TS_B4" && ts_wait "$WAIT" ts_ping_any b "$TS_A4" ||
	ts_fatal "first ping A->B and B->A within ${WAIT} s"
wgt_check "ping v4 A->B" ts_ping a "$TS_B4"
wgt_check "ping v4 B->A" ts_ping b "$TS_A4"
wgt_check "ping v6 A->B" ts_ping a "$TS_B6"
wgt_check "ping v6 B->A" ts_ping b "$TS_A6"

# check_direct NODE OTHER: NODE's disco ping gets a direct pong from OTHER
# (polled: the first pongs may come over DERP), and NODE's status agrees.
check_direct() {
	local path
	if ts_wait "$WAIT" ts_disco_direct "$1" "$2"; then
		wgt_pass "${1^^} (${TS_KIND[$1]}) disco ping: direct pong from ${2^^} ($(ts_disco_ping "$1" "$2" 2>/dev/null))"
	else
		wgt_fail "${1^^} (${TS_KIND[$1]}) disco ping: direct pong from ${2^^} within ${WAIT} s (last: $(ts_disco_ping "$1" "$2"))"
	fi
	path=$(ts_path "$1" "$2")
	wgt_check "${1^^}'s status has ${2^^} on a direct path ('$path')" [ "${path%% *}" = direct ]
}
check_direct a b
check_direct b a

ts_check_xfer a b "$TS_B4" "$BYTES"
ts_check_xfer b a "$TS_A4" "$BYTES"

# ---------------------------------------------------------------- derper gone

ts_xfer_start a b "$TS_B4" "$SMALL" 6
ts_wait 30 ts_xfer_connected b && ts_stop derper KILL
if ts_xfer_wait; then
	wgt_pass "derper SIGKILLed mid-transfer: 4 MiB A->B complete over the direct path, sha256: $TS_XFER_DETAIL"
else
	wgt_fail "derper SIGKILLed mid-transfer: 4 MiB A->B: $TS_XFER_DETAIL (derper $(ts_alive derper && echo still running || echo gone))"
fi
wgt_check "derper gone: ping A->B still answered" ts_ping a "$TS_B4"
wgt_check "derper gone: ping B->A still answered" ts_ping b "$TS_A4"
ts_check_xfer b a "$TS_A4" "$SMALL"
ts_derper_start || wgt_fail "derper restarts"

# ---------------------------------------------------------------- control gone

ts_stop control KILL
wgt_check "testcontrol killed: ping A->B still answered" ts_ping a "$TS_B4"
wgt_check "testcontrol killed: ping B->A still answered" ts_ping b "$TS_A4"
ts_control_start || ts_fatal "testcontrol restarts"
# It comes back with its keys and nodes (-state); each hyphaed polls it again
# and gets a full netmap from it, which must leave the tunnel alone.
# (tailscaled may take longer to come back: reported, not checked.)
for n in a b; do
	if [ "${TS_KIND[$n]}" = hyphaed ]; then
		wgt_check "${n^^} (hyphaed) polls the restarted testcontrol within ${WAIT} s" ts_wait "$WAIT" ts_control_polled "$n"
	elif ts_control_polled "$n"; then
		echo "INFO ${n^^} (${TS_KIND[$n]}) polled the restarted testcontrol already"
	fi
done
ts_check_xfer a b "$TS_B4" "$SMALL"
ts_check_xfer b a "$TS_A4" "$SMALL"
wgt_check "testcontrol restarted: ping A->B" ts_ping a "$TS_B4"
wgt_check "testcontrol restarted: ping B->A" ts_ping b "$TS_A4"
ts_status a && ts_status b
wgt_check "testcontrol restarted: A and B keep their addresses (A $(ts_ip a 4), B $(ts_ip b 4))" \
	eval '[ "$(ts_ip a 4)" = "$TS_A4" ] && [ "$(ts_ip b 4)" = "$TS_B4" ]'

ts_finish "$TS_NAME"
