#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue 11, real peers behind NATs: node A and node B (TS_PAIR, default
# hyphaed:tailscaled) each behind its own NAT namespace that masquerades onto
# the router's bridge; their LAN addresses are unreachable to each other, so a
# direct path exists only through the NATs' mappings (ts-lib.sh).
#
#   1. Endpoint-independent mapping (Linux masquerade keeps the source port):
#      both join; a pinger A->B runs from the first reply until both sides'
#      disco pings get direct pongs from the other's NAT address (they start
#      on DERP: reported), and its lost pings are counted (at most 2 allowed:
#      one may be in flight when the path changes); 16 MiB TCP both ways.
#   2. Address-and-port-dependent mapping on both sides (masquerade
#      fully-random), a fresh control server and fresh nodes: ping works both
#      ways (over DERP), and after 20 s of traffic and disco pings neither
#      side has a direct path.
# Exit 0 if every check passed, 1 otherwise, 77 when it cannot run (outside CI).
set -u
. "$(dirname "$0")/ts-lib.sh"
TS_NAME=ts-nat
ts_require

BYTES=$((16 << 20))
WAIT=60           # hang guards (s)
MAX_LOST=2

ts_router || ts_fatal "router namespace"
ts_derper_start || ts_fatal "derper listens on $TS_R_IP:$TS_DERPER_PORT"

# nodes NAT: control (re)started, both nodes behind NAT kind NAT, joined.
nodes() {
	ts_control_start || ts_fatal "testcontrol listens on $TS_URL"
	ts_node_net a "$1" && ts_node_net b "$1" || ts_fatal "nodes behind $1 NATs"
	ts_both_up || ts_fatal "$1: A and B join and see each other within ${WAIT} s"
	wgt_pass "$1: A ($TS_A4, ${TS_KIND[a]}) behind $(ts_nat_wan a), B ($TS_B4, ${TS_KIND[b]}) behind $(ts_nat_wan b) joined"
}

# direct_via_nat NODE OTHER: NODE's disco ping gets a direct pong from OTHER's NAT address.
direct_via_nat() {
	local r
	r=$(ts_disco_ping "$1" "$2" 2>/dev/null) && [ "${r%%:*}" = "direct $(ts_nat_wan "$2")" ]
}

# ---------------------------------------------------------------- EIM

nodes eim
ts_wait "$WAIT" ts_ping_any a "$TS_B4" || ts_fatal "eim: first ping A->B within ${WAIT} s"
first_path=$(ts_path a b)
ts_pinger_start a "$TS_B4"
if ts_wait "$WAIT" direct_via_nat a b && ts_wait "$WAIT" direct_via_nat b a; then
	wgt_pass "eim: direct pongs both ways through the NATs (A: $(ts_disco_ping a b 2>/dev/null), B: $(ts_disco_ping b a 2>/dev/null); A's first path was '$first_path')"
else
	wgt_fail "eim: direct pongs both ways through the NATs within ${WAIT} s (A: $(ts_disco_ping a b), B: $(ts_disco_ping b a))"
fi
# a few more pings on the direct path before counting
ts_ping a "$TS_B4" 5 >/dev/null
read -r sent got <<<"$(ts_pinger_stop)"
lost=$((${sent:-0} - ${got:-0}))
echo "INFO eim: pinger A->B from the first reply to the direct path: $got of $sent answered, $lost lost"
wgt_check "eim: traffic throughout the move to direct: $lost of $sent pings lost (<= $MAX_LOST)" \
	eval '[ "${sent:-0}" -gt 0 ] && [ "$lost" -le "$MAX_LOST" ]'
ts_check_xfer a b "$TS_B4" "$BYTES"
ts_check_xfer b a "$TS_A4" "$BYTES"

# ---------------------------------------------------------------- APDM

ts_node_stop a; ts_node_stop b; ts_stop control
for n in a b; do wgt_del_netns "${TS_NS[$n]}"; wgt_del_netns "${TS_NAT_NS[$n]}"; rm -rf "${TS_DIR:?}/$n"; done
rm -f "$TS_CONTROL_STATE"     # a new control server for new nodes
nodes apdm
ts_wait "$WAIT" ts_ping_any a "$TS_B4" && ts_wait "$WAIT" ts_ping_any b "$TS_A4" ||
	ts_fatal "apdm: first ping A->B and B->A (over DERP) within ${WAIT} s"
wgt_pass "apdm: ping both ways"
# 20 s of traffic and disco pings both ways: a direct path would show by then
# (both sides try every endpoint on each disco round and on call-me-maybe).
end=$(($(date +%s) + 20)) direct=
while [ "$(date +%s)" -lt "$end" ]; do
	ts_ping_any a "$TS_B4"; ts_ping_any b "$TS_A4"
	for p in "a b" "b a"; do
		r=$(ts_disco_ping ${p} 2>/dev/null)
		[ "${r%% *}" = direct ] && direct="$direct ${p% *}->${p#* }: $r;"
	done
done
wgt_check "apdm: no direct path in 20 s (${direct:-disco pings all via DERP})" [ -z "$direct" ]
for p in "a b" "b a"; do
	set -- $p
	path=$(ts_path "$1" "$2")
	wgt_check "apdm: ${1^^}'s status has ${2^^} relayed ('$path')" [ "${path%% *}" = relay ]
done
wgt_check "apdm: ping A->B" ts_ping a "$TS_B4"
wgt_check "apdm: ping B->A" ts_ping b "$TS_A4"

ts_finish "$TS_NAME"
