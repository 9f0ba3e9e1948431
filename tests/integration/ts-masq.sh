#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue 12, masquerade addresses (capver 59/77/104) against a real tailscaled:
# node A (hyphaed) and node B (tailscaled) join testcontrol (ts-lib.sh); then
# testcontrol says A is known to B as 100.99.1.1 (its masquerade hook,
# SetMasqueradeAddresses): A's netmap gets SelfNodeV4MasqAddrForThisPeer on
# B, B's netmap lists A at 100.99.1.1 only.
#
# Checks: B's status shows A at the masquerade address; B's ping to it is
# answered (A rewrites the destination to its own address on the way in and
# its source back on the way out, checksums fixed, or B's kernel or
# tailscaled would drop the replies); TCP B->A at that address (A sees B's own
# address) and A->B (B sees A's masquerade address, not A's own); the
# masquerade cleared: A's own address works again both ways.
# Exit 0 if every check passed, 1 otherwise, 77 when it cannot run (outside CI).
set -u
TS_PAIR=hyphaed:tailscaled
. "$(dirname "$0")/ts-lib.sh"
. "$(dirname "$0")/ts-serve-lib.sh"
TS_NAME=ts-masq
ts_require

WAIT=60
MASQ=100.99.1.1
PORT=8080

serve_setup
wgt_pass "setup: testcontrol, derper, A (hyphaed), B (tailscaled)"
serve_join
wgt_check "before: ping B->A at its own address" ts_wait "$WAIT" ts_ping_any b "$TS_A4"

serve_whoami_start whoamiA "${TS_NS[a]}" 0.0.0.0 "$PORT" && serve_whoami_start whoamiB "${TS_NS[b]}" 0.0.0.0 "$PORT" ||
	ts_fatal "TCP services on A and B"

ts_status a && ts_status b || ts_fatal "status of A and B"
KA=$(ts_json a self-key) KB=$(ts_json b self-key)
printf '[{"Node":"%s","Peer":"%s","NodeMasqueradesAs":"%s"}]' "$KA" "$KB" "$MASQ" >"$TS_DIR/masq.json"
ts_hook POST masquerade "$TS_DIR/masq.json" >/dev/null || ts_fatal "testcontrol's masquerade hook"

wgt_check "B's status lists A at $MASQ" ts_wait "$WAIT" eval '[ "$(ts_status b && ts_json b peer "${TS_HOST[a]}" | cut -d" " -f1)" = "$MASQ" ]'
wgt_check "ping B->A at $MASQ answered" ts_wait "$WAIT" ts_ping_any b "$MASQ"
wgt_check "ping B->A at $MASQ (3 replies)" ts_ping b "$MASQ"
who=$(serve_whoami "${TS_NS[b]}" "$MASQ" "$PORT")
wgt_check "TCP B->$MASQ:$PORT: A sees B's own address ('$who', want $TS_B4)" [ "$who" = "$TS_B4" ]
who=$(serve_whoami "${TS_NS[a]}" "$TS_B4" "$PORT")
wgt_check "TCP A->$TS_B4:$PORT: B sees A's masquerade address ('$who', want $MASQ)" [ "$who" = "$MASQ" ]
wgt_check "ping A->B answered (its replies come back to $MASQ)" ts_ping a "$TS_B4"

echo '[]' >"$TS_DIR/masq.json"
ts_hook POST masquerade "$TS_DIR/masq.json" >/dev/null || ts_fatal "testcontrol clears the masquerade"
wgt_check "cleared: B lists A at $TS_A4 again" ts_wait "$WAIT" eval '[ "$(ts_status b && ts_json b peer "${TS_HOST[a]}" | cut -d" " -f1)" = "$TS_A4" ]'
wgt_check "cleared: ping B->A at $TS_A4" ts_wait "$WAIT" ts_ping_any b "$TS_A4"
who=$(ts_wait "$WAIT" serve_whoami "${TS_NS[a]}" "$TS_B4" "$PORT" >/dev/null; serve_whoami "${TS_NS[a]}" "$TS_B4" "$PORT")
wgt_check "cleared: TCP A->B: B sees A's own address ('$who', want $TS_A4)" [ "$who" = "$TS_A4" ]

ts_finish "$TS_NAME"
