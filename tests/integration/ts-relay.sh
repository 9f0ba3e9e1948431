#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue 11, real peers over DERP only: node A and node B (TS_PAIR, default
# hyphaed:tailscaled) on one bridge, but every UDP datagram between them is
# dropped by nftables in their namespaces (STUN to the router still works),
# so they reach each other only through a DERP server (ts-lib.sh).
#
# Checks, in order:
#   both join; ping both ways; each side's disco ping gets its pong via
#   DERP(derper) and its status shows no direct address; 16 MiB TCP both ways
#   with matching sha256; the block dropped datagrams (it was in the way);
#   derper SIGKILLed in the middle of a paced transfer and started again 2 s
#   later: the transfer completes with the right sha256, ping both ways;
#   derper stopped, hyphae-derp started and made the only region (test hook):
#   disco pongs via DERP(hyphae) both ways, ping and 16 MiB TCP both ways.
# Exit 0 if every check passed, 1 otherwise, 77 when it cannot run (outside CI).
set -u
. "$(dirname "$0")/ts-lib.sh"
TS_NAME=ts-relay
ts_require

BYTES=$((16 << 20))
WAIT=60           # hang guards (s)

ts_router || ts_fatal "router namespace"
ts_derper_start || ts_fatal "derper listens on $TS_R_IP:$TS_DERPER_PORT"
ts_control_start || ts_fatal "testcontrol listens on $TS_URL"
ts_node_net a && ts_node_net b || ts_fatal "node namespaces on the bridge"
ts_udp_block a && ts_udp_block b || ts_fatal "nftables drops UDP between the nodes"
wgt_pass "setup: router with testcontrol and derper, nodes A (${TS_KIND[a]}) and B (${TS_KIND[b]}), UDP between them dropped"

ts_both_up || ts_fatal "A and B join and see each other within ${WAIT} s"
wgt_pass "A ($TS_A4) and B ($TS_B4) joined and see each other"

# ts_disco_via NODE OTHER REGION: NODE's disco ping answered via DERP(REGION).
ts_disco_via() { [ "$(ts_disco_ping "$1" "$2" 2>/dev/null)" = "derp $3" ]; }

# relayed REGION: ping, disco pongs via REGION, no direct path, transfers; both ways.
relayed() {
	local r=$1 p path
	ts_wait "$WAIT" ts_ping_any a "$TS_B4" && ts_wait "$WAIT" ts_ping_any b "$TS_A4" ||
		{ wgt_fail "first ping A->B and B->A over DERP($r) within ${WAIT} s"; return 1; }
	wgt_check "DERP($r): ping A->B" ts_ping a "$TS_B4"
	wgt_check "DERP($r): ping B->A" ts_ping b "$TS_A4"
	for p in "a b" "b a"; do
		set -- $p
		if ts_wait "$WAIT" ts_disco_via "$1" "$2" "$r"; then
			wgt_pass "${1^^} (${TS_KIND[$1]}) disco ping: pong from ${2^^} via DERP($r)"
		else
			wgt_fail "${1^^} (${TS_KIND[$1]}) disco ping: pong from ${2^^} via DERP($r) within ${WAIT} s (last: $(ts_disco_ping "$1" "$2"))"
		fi
		path=$(ts_path "$1" "$2")
		wgt_check "${1^^}'s status has no direct path to ${2^^} ('$path')" [ "${path%% *}" = relay ]
	done
	ts_check_xfer a b "$TS_B4" "$BYTES"
	ts_check_xfer b a "$TS_A4" "$BYTES"
}

relayed derper
dropped="A $(ts_udp_dropped a), B $(ts_udp_dropped b)"
wgt_check "the nftables block dropped UDP between the nodes ($dropped datagrams)" \
	eval '[ "$(ts_udp_dropped a)" -gt 0 ] && [ "$(ts_udp_dropped b)" -gt 0 ]'

# ---------------------------------------------------------------- derper restart

ts_relay_restart_check derper derper ts_derper_start "$BYTES"

# ---------------------------------------------------------------- hyphae-derp

if ! ts_require_hyderp; then
	if [ -n "${CI:-}" ]; then
		wgt_fail "hyphae-derp: HYPHAE_DERP is not an executable ('${HYPHAE_DERP:-}') or no openssl"
	else
		echo "SKIP hyphae-derp part: HYPHAE_DERP is not an executable ('${HYPHAE_DERP:-}') or no openssl"
	fi
	ts_finish "$TS_NAME"
fi
ts_stop derper
ts_hyderp_start || ts_fatal "hyphae-derp listens on $TS_R_IP:$TS_HYDERP_PORT"
ts_set_derpmap "$(ts_derpmap hyphae)" || ts_fatal "testcontrol sends the DERP map with only hyphae-derp"
wgt_pass "derper stopped; hyphae-derp is the only DERP region"
relayed hyphae

ts_finish "$TS_NAME"
