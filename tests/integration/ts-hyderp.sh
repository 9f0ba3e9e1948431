#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue 11, deliverable 5: hyphae-derp is the relay real Tailscale uses. Two
# real tailscaled (whatever TS_PAIR says) join testcontrol, whose DERP map
# has hyphae-derp as its only region; every UDP datagram between them is
# dropped (STUN to the router still works), so all their traffic goes through
# hyphae-derp (ts-lib.sh's router namespace).
#
# Checks: both join; ping both ways; `tailscale ping` gets its pong via
# DERP(hyphae) both ways and status shows no direct path; 16 MiB TCP both ways
# with matching sha256; hyphae-derp SIGKILLed mid-transfer and started again
# (same key file): the transfer completes, ping both ways; SIGTERM ends it
# with status 0.
set -u
TS_PAIR=tailscaled:tailscaled
. "$(dirname "$0")/ts-lib.sh"
TS_NAME=ts-hyderp
ts_require
ts_require_hyderp || wgt_cannot_run "HYPHAE_DERP is not an executable ('${HYPHAE_DERP:-}'), or no openssl"

BYTES=$((16 << 20))
WAIT=60           # hang guards (s)

ts_router || ts_fatal "router namespace"
ts_hyderp_start || ts_fatal "hyphae-derp listens on $TS_R_IP:$TS_HYDERP_PORT"
ts_control_start "$(ts_derpmap hyphae)" || ts_fatal "testcontrol listens on $TS_URL"
ts_node_net a && ts_node_net b || ts_fatal "node namespaces on the bridge"
ts_udp_block a && ts_udp_block b || ts_fatal "nftables drops UDP between the nodes"
wgt_pass "setup: router with testcontrol and hyphae-derp (the only DERP region), two tailscaled, UDP between them dropped"

ts_both_up || ts_fatal "A and B join and see each other within ${WAIT} s"
wgt_pass "A ($TS_A4) and B ($TS_B4) joined and see each other"

ts_wait "$WAIT" ts_ping_any a "$TS_B4" && ts_wait "$WAIT" ts_ping_any b "$TS_A4" ||
	ts_fatal "first ping A->B and B->A through hyphae-derp within ${WAIT} s"
wgt_check "ping A->B" ts_ping a "$TS_B4"
wgt_check "ping B->A" ts_ping b "$TS_A4"
disco_via_hyphae() { [ "$(ts_disco_ping "$1" "$2" 2>/dev/null)" = "derp hyphae" ]; }
for p in "a b" "b a"; do
	set -- $p
	if ts_wait "$WAIT" disco_via_hyphae "$1" "$2"; then
		wgt_pass "${1^^}: tailscale ping: pong from ${2^^} via DERP(hyphae)"
	else
		wgt_fail "${1^^}: tailscale ping: pong from ${2^^} via DERP(hyphae) within ${WAIT} s (last: $(ts_disco_ping "$1" "$2"))"
	fi
	path=$(ts_path "$1" "$2")
	wgt_check "${1^^}'s status has no direct path to ${2^^} ('$path')" [ "${path%% *}" = relay ]
done
ts_check_xfer a b "$TS_B4" "$BYTES"
ts_check_xfer b a "$TS_A4" "$BYTES"
wgt_check "the nftables block dropped UDP between the nodes" \
	[ "$(ts_udp_dropped a)" -gt 0 ] && [ "$(ts_udp_dropped b)" -gt 0 ]

# hyphae-derp dies mid-transfer and comes back with its key: the clients reconnect.
ts_relay_restart_check hyderp hyphae-derp ts_hyderp_start "$BYTES"

pid=${TS_PID[hyderp]}
kill -TERM "$pid"
ts_wait 20 eval "! kill -0 $pid 2>/dev/null"
wait "$pid" 2>/dev/null; rc=$?
unset "TS_PID[hyderp]"
wgt_check "hyphae-derp: SIGTERM: exit status 0 (got $rc)" [ "$rc" = 0 ] ||
	{ ts_log "end of hyphae-derp's log:"; tail -n 60 "$TS_DIR/hyphae-derp.log" | sed 's/^/    /' >&2; }
if grep -qE 'ERROR|runtime error' "$TS_DIR/hyphae-derp.log"; then
	wgt_fail "hyphae-derp: sanitizer or assertion reports"
	grep -A20 -E 'ERROR|runtime error' "$TS_DIR/hyphae-derp.log" | head -60 >&2
fi

ts_finish "$TS_NAME"
