#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue 11, the daemon glue (HyphaeMagicsock, netcheck, Mesh1.Ping): two
# hyphaed join Tailscale's testcontrol with the real derper as the only DERP
# region (ts-lib.sh). A sits behind a masquerading NAT namespace
# (endpoint-independent mapping), B on the router's bridge; every UDP
# datagram between them is dropped by nftables in their namespaces (STUN to
# the router still answers).
#
# Checks, in order:
#   both join; testcontrol has, from each node's lite updates, HomeDERP 1
#   (NetInfo.PreferredDERP from netcheck) and A's endpoints include its NAT's
#   address (the STUN-reflexive endpoint, EndpointType 2);
#   over DERP only: ping both ways, `hyphaectl ping` answers
#   "via DERP(derper)", `hyphaectl status` shows relay "derper", Mesh1.Ping
#   gives Path "derp", DERPRegion 1, DERPRegionCode "derper", GetPeers gives
#   Path "derp" and DERPRegion 1; 16 MiB TCP both ways with matching sha256;
#   Mesh1.Ping's errors: an unknown peer is NotFound, a bad option
#   InvalidArgument;
#   UDP allowed again: `hyphaectl ping` on both sides reports a direct pong
#   (A's from B's address, B's from A's NAT address), status shows direct,
#   GetPeers Path "direct"; 16 MiB TCP both ways.
# Exit 0 if every check passed, 1 otherwise, 77 when it cannot run (outside CI).
set -u
export TS_PAIR=hyphaed:hyphaed
. "$(dirname "$0")/ts-lib.sh"
TS_NAME=mesh-derp
ts_require

BYTES=$((16 << 20))
WAIT=60           # hang guards (s)

ts_router || ts_fatal "router namespace"
ts_derper_start || ts_fatal "derper listens on $TS_R_IP:$TS_DERPER_PORT"
ts_control_start || ts_fatal "testcontrol listens on $TS_URL"
ts_node_net a eim && ts_node_net b || ts_fatal "node namespaces: A behind a NAT, B on the bridge"
ts_udp_block a && ts_udp_block b || ts_fatal "nftables drops UDP between the nodes"
wgt_pass "setup: testcontrol and derper, A behind NAT $(ts_nat_wan a), B on the bridge, UDP between them dropped"
ts_both_up || ts_fatal "A and B join and see each other within ${WAIT} s"
wgt_pass "A ($TS_A4) and B ($TS_B4) joined and see each other"

# ---------------------------------------------------------------- NetInfo and endpoints

# control_has NODE HOMEDERP ENDPOINT_RE: testcontrol's record of NODE.
control_has() {
	ts_control_nodes | awk -v h="${TS_HOST[$1]}" -v d="$2" -v re="$3" \
		'$1 == h && $3 == d && $4 ~ re { found = 1 } END { exit !found }'
}
wan_a=$(ts_nat_wan a)
wgt_check "testcontrol has A's home DERP 1 and its STUN endpoint $wan_a:PORT" \
	ts_wait "$WAIT" control_has a 1 "(^|,)${wan_a//./\\.}:[0-9]+(,|$)"
wgt_check "testcontrol has B's home DERP 1 and its endpoint 10.210.0.12:$TS_WG_PORT" \
	ts_wait "$WAIT" control_has b 1 "(^|,)10\\.210\\.0\\.12:$TS_WG_PORT(,|$)"
echo "INFO testcontrol's nodes: $(ts_control_nodes | tr '\n' ';')"

# ---------------------------------------------------------------- over DERP

# mesh1 NODE METHOD ARGS...: a Mesh1 call on NODE's bus (gdbus's text form).
mesh1() {
	local n=$1 m=$2; shift 2
	ip netns exec "${TS_NS[$n]}" env DBUS_SYSTEM_BUS_ADDRESS="$(dbl_addr "$n")" timeout 30 \
		gdbus call --system --dest io.github.hyphae.Mesh1 --object-path /io/github/hyphae/Mesh1 \
		--method "io.github.hyphae.Mesh1.$m" "$@" 2>&1
}
# gv_str TEXT KEY STRING / gv_int TEXT KEY INT: gdbus's printed a{sv} has it.
gv_str() { grep -qF "'$2': <'$3'>" <<<"$1"; }
gv_int() { grep -qF "'$2': <$3>" <<<"$1"; }
# peer_entry NODE OTHER: OTHER's dictionary in NODE's GetPeers.
peer_entry() { mesh1 "$1" GetPeers | tr '{' '\n' | grep -F "'${TS_HOST[$2]}'"; }
ts_disco_via() { [ "$(ts_disco_ping "$1" "$2" 2>/dev/null)" = "derp $3" ]; }

ts_wait "$WAIT" ts_ping_any a "$TS_B4" && ts_wait "$WAIT" ts_ping_any b "$TS_A4" ||
	wgt_fail "first ping A->B and B->A over DERP within ${WAIT} s"
wgt_check "over DERP: ping A->B" ts_ping a "$TS_B4"
wgt_check "over DERP: ping B->A" ts_ping b "$TS_A4"
for p in "a b" "b a"; do
	me=${p% *} other=${p#* } host=${TS_HOST[${p#* }]}
	wgt_check "${me^^}: hyphaectl ping ${other^^} answers via DERP(derper)" \
		ts_wait "$WAIT" ts_disco_via "$me" "$other" derper
	out=$(ts_cli "$me" status 2>&1)
	wgt_check "${me^^}: hyphaectl status shows ${other^^} relayed: relay \"derper\"" \
		eval 'printf "%s\n" "$out" | grep -F "$host" | grep -qF "relay \"derper\""'
	ip=$(ts_json "$other" self4)
	out=$(mesh1 "$me" Ping "$ip" "{}")
	echo "    Mesh1.Ping $me->$other: $out"
	wgt_check "${me^^}: Mesh1.Ping ${other^^}: Path derp, DERPRegion 1, DERPRegionCode derper" \
		eval 'gv_str "$out" Path derp && gv_int "$out" DERPRegion 1 && gv_str "$out" DERPRegionCode derper'
	out=$(peer_entry "$me" "$other")
	wgt_check "${me^^}: GetPeers has ${other^^} with Path derp and DERPRegion 1" \
		eval 'gv_str "$out" Path derp && gv_int "$out" DERPRegion 1'
done
ts_check_xfer a b "$TS_B4" "$BYTES"
ts_check_xfer b a "$TS_A4" "$BYTES"
wgt_check "the nftables block dropped UDP between the nodes (A $(ts_udp_dropped a), B $(ts_udp_dropped b))" \
	[ "$(ts_udp_dropped a)" -gt 0 ]

out=$(mesh1 a Ping no-such-peer "{}")
wgt_check "Mesh1.Ping of an unknown peer: NotFound ($out)" grep -qF io.github.hyphae.Mesh1.Error.NotFound <<<"$out"
out=$(mesh1 a Ping "$TS_B4" "{'Timeout': <'soon'>}")
wgt_check "Mesh1.Ping with a mistyped option: InvalidArgument ($out)" \
	grep -qF io.github.hyphae.Mesh1.Error.InvalidArgument <<<"$out"

# ---------------------------------------------------------------- UDP back: direct

ts_udp_unblock a && ts_udp_unblock b || wgt_fail "nftables block removed"
wgt_check "UDP allowed: A's hyphaectl ping reaches B directly" ts_wait "$WAIT" ts_disco_direct a b
wgt_check "UDP allowed: B's hyphaectl ping reaches A directly" ts_wait "$WAIT" ts_disco_direct b a
r=$(ts_disco_ping a b 2>/dev/null)
wgt_check "A's direct pong comes from B's address ('$r')" eval '[[ "$r" =~ ^direct\ 10\.210\.0\.12:[0-9]+$ ]]'
r=$(ts_disco_ping b a 2>/dev/null)
wgt_check "B's direct pong comes from A's NAT address ('$r')" eval '[[ "$r" =~ ^direct\ ${wan_a//./\\.}:[0-9]+$ ]]'
wgt_check "A's status has B on a direct path" ts_wait "$WAIT" ts_is_direct a b
out=$(peer_entry a b)
wgt_check "A: GetPeers has B with Path direct and DERPRegion 0" \
	eval 'gv_str "$out" Path direct && gv_int "$out" DERPRegion 0'
ts_check_xfer a b "$TS_B4" "$BYTES"
ts_check_xfer b a "$TS_A4" "$BYTES"

ts_finish "$TS_NAME"
