#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue 12, the packet filter with real peers: hyphaed (node A) and two real
# tailscaled (B and C) join Tailscale's test control server (ts-lib.sh); the
# control server's test hook then pushes to A a PacketFilter that lets B (its
# two addresses) reach port 22 and nothing else.
#
# Checks, in order:
#   baseline: testcontrol's own filter (its packetFilterWithIngress: SrcIPs
#   "*" to "*" on every port, plus a CapGrant-only rule) is in force on A,
#   and B and C both reach A;
#   with the pushed filter: B connects to A:22 (v4 and v6); C's SYN to A:22
#   is dropped and its connect fails at once (the reject hyphaed sends back);
#   B's SYN to another port is dropped; ping from C is dropped, ping from B
#   passes (Tailscale's rule: an address with any port open to a source
#   answers that source's ICMP); a TCP flow C opened before the change keeps
#   working (TCP without SYN passes); A's own UDP to B gets B's echo back (the
#   reply of a flow we opened); `hyphaectl debug filter` shows the rule and
#   its counters moved, and a netmap delta that leaves the rules alone keeps
#   them;
#   ShieldsUp (`hyphaectl set --shields-up`): B's connect to A:22 fails, while
#   A still pings B, connects to B over TCP and gets B's UDP echo; shields
#   down: B connects again;
#   IsJailed: C pushed again as a jailed peer, with a filter letting everyone
#   reach port 22: C's connect fails, B's works, A still pings C;
#   a refused filter (a legacy SrcBits entry): deny all, said in Health.
# Exit 0 if every check passed, 1 otherwise, 77 when it cannot run (outside CI).
set -u
TS_PAIR=hyphaed:tailscaled
. "$(dirname "$0")/ts-lib.sh"
TS_NAME=ts-filter
ts_require

# The third node: a second real tailscaled, the one the filter leaves out.
TS_NS[c]=tsC$WGT_ID
TS_NAT_NS[c]=tsNC$WGT_ID
TS_HOST[c]=node-c-$WGT_ID
TS_NUM[c]=3
TS_KIND[c]=tailscaled

WAIT=60 # hang guards (s)
NET="$WGT_PY $WGT_TESTS_DIR/filter-net.py"

ts_router || ts_fatal "router namespace"
ts_derper_start || ts_fatal "derper listens on $TS_R_IP:$TS_DERPER_PORT"
ts_control_start || ts_fatal "testcontrol listens on $TS_URL"
for n in a b c; do ts_node_net "$n" || ts_fatal "node $n's namespace on the bridge"; done
wgt_pass "setup: router with testcontrol and derper, A (hyphaed), B and C (tailscaled)"

for n in a b c; do ts_node_start "$n" || ts_fatal "node $n starts"; done
for n in a b c; do ts_node_up "$n" >"$TS_DIR/$n.up.out" 2>&1 || { cat "$TS_DIR/$n.up.out" >&2; ts_fatal "node $n joins"; }; done
ts_wait "$WAIT" ts_sees a b && ts_wait "$WAIT" ts_sees a c && ts_wait "$WAIT" ts_sees b a &&
	ts_wait "$WAIT" ts_sees c a || ts_fatal "A sees B and C, B and C see A within ${WAIT} s"
A4=$(ts_ip a 4) A6=$(ts_ip a 6) B4=$(ts_ip b 4) B6=$(ts_ip b 6) C4=$(ts_ip c 4)
A_KEY=$(ts_json a self-key)
wgt_pass "A ($A4 $A6), B ($B4 $B6) and C ($C4) joined"

# on NODE CMD...: CMD in NODE's namespace.
on() { local n=$1; shift; ip netns exec "${TS_NS[$n]}" "$@"; }
# filter_out: `hyphaectl debug filter` on A, into $TS_DIR/filter.out.
filter_out() { ts_cli a debug filter >"$TS_DIR/filter.out" 2>&1; }
filter_has() { filter_out && grep -q -- "$1" "$TS_DIR/filter.out"; }
# rule_counter INDEX accepts|drops: that rule's counter in the last filter_out.
rule_counter() { sed -n "s/^rule $1: accepts \([0-9]*\) drops \([0-9]*\) .*/\1 \2/p" "$TS_DIR/filter.out" |
	awk -v w="$2" '{ print (w == "accepts") ? $1 : $2 }'; }
show_filter() { sed 's/^/    /' "$TS_DIR/filter.out" >&2; }
# bg ROLE NODE CMD...: a probe in the background, stopped at exit.
bg() { local role=$1 n=$2; shift 2; ts_bg "$role" "${TS_NS[$n]}" "$TS_DIR/$role.log" "$@"; }

# ---------------------------------------------------------------- baseline

if ts_wait 30 filter_has '^rule 0: .* from \* to \*:\* proto tcp,udp,icmp,icmpv6$' &&
	grep -q '^Packet filter: 2 rule(s) from the control server$' "$TS_DIR/filter.out"; then
	wgt_pass "baseline: testcontrol's filter on A is allow-all (rule 0: * to *:*, rule 1 CapGrant only)"
else
	wgt_fail "baseline: testcontrol's allow-all filter in force on A"; show_filter
fi
wgt_check "baseline: ping B->A" ts_wait "$WAIT" ts_ping_any b "$A4"
wgt_check "baseline: ping C->A" ts_wait "$WAIT" ts_ping_any c "$A4"

bg echo22 a $NET tcp-echo 22 "$TS_DIR/echo22.ready"
bg echo8080 a $NET tcp-echo 8080 "$TS_DIR/echo8080.ready"
bg echoB b $NET tcp-echo 8081 "$TS_DIR/echoB.ready"
bg udpB b $NET udp-echo "$B4" 7777 "$TS_DIR/udpB.ready"
ts_wait 10 test -e "$TS_DIR/echo22.ready" -a -e "$TS_DIR/echo8080.ready" -a -e "$TS_DIR/echoB.ready" \
	-a -e "$TS_DIR/udpB.ready" || ts_fatal "the echo servers listen"
wgt_check "baseline: C connects to A:22" on c $NET connect "$A4" 22 10
# C's flow opened while the old filter allowed it: it must survive the change.
bg hold c $NET hold "$A4" 22 "$TS_DIR/hold.go" "$TS_DIR/hold.out"
ts_wait 30 test -e "$TS_DIR/hold.out.up" || ts_fatal "C's long-lived connection to A:22 is up"

# ---------------------------------------------------------------- the pushed filter

cat >"$TS_DIR/filter.json" <<EOF
{"PacketFilter":[{"SrcIPs":["$B4","$B6"],"DstPorts":[{"IP":"*","Ports":{"First":22,"Last":22}}]}]}
EOF
ts_hook POST "map-response?node=$A_KEY" "$TS_DIR/filter.json" >/dev/null || ts_fatal "testcontrol pushes the filter to A"
if ts_wait 30 filter_has '^Packet filter: 1 rule(s) from the control server$'; then
	wgt_pass "A runs the pushed filter: $(grep '^rule 0' "$TS_DIR/filter.out")"
else
	show_filter; ts_fatal "A runs the pushed filter within 30 s"
fi

wgt_check "B connects to A:22 (v4)" on b $NET connect "$A4" 22 10
wgt_check "B connects to A:22 (v6)" on b $NET connect "$A6" 22 10
r=$(on c $NET connect "$A4" 22 5)
case $r in
refused*) wgt_pass "C's SYN to A:22 is dropped and its connect fails at once ($r: the reject A sends)" ;;
*) wgt_fail "C's SYN to A:22 is dropped and its connect fails at once (got '$r')" ;;
esac
r=$(on b $NET connect "$A4" 8080 5)
wgt_check "B's SYN to A:8080 (no rule) is dropped ($r)" [ "${r%% *}" != ok ]
wgt_check "ping C->A is dropped" eval '! ts_ping_any c "$A4"'
wgt_check "ping B->A passes (a port open to B opens ICMP to B)" ts_wait "$WAIT" ts_ping_any b "$A4"
touch "$TS_DIR/hold.go"
ts_wait 30 test -e "$TS_DIR/hold.out"
wgt_check "C's TCP flow opened before the change still passes ($(cat "$TS_DIR/hold.out" 2>/dev/null))" \
	grep -qx ok "$TS_DIR/hold.out"
wgt_check "A's UDP to B:7777 gets B's echo (the reply of our own flow)" on a $NET udp-ask "$B4" 7777 20

filter_out
acc=$(rule_counter 0 accepts) drops=$(rule_counter 0 drops)
if [ "${acc:-0}" -ge 2 ] && [ "${drops:-0}" -ge 1 ] && grep -q '^Dropped: .*rule [0-9]' "$TS_DIR/filter.out" &&
	grep -q '^Rejects sent: [1-9]' "$TS_DIR/filter.out"; then
	wgt_pass "the counters moved: rule 0 accepted $acc and dropped $drops; $(grep '^Dropped' "$TS_DIR/filter.out"); $(grep '^Rejects' "$TS_DIR/filter.out")"
else
	wgt_fail "the counters moved (rule 0: accepts ≥ 2, drops ≥ 1; Dropped by rule; Rejects sent ≥ 1)"; show_filter
fi

# A netmap delta that leaves the rules alone (C goes offline in A's map)
# keeps the filter and so its counters.
c_id=$(ip netns exec "$TS_NS_R" "$WGT_PY" -c '
import json, sys, urllib.request
nodes = json.load(urllib.request.urlopen(sys.argv[1] + "/hyphae-test/nodes", timeout=10))
print([n for n in nodes if (n.get("Hostinfo") or {}).get("Hostname") == sys.argv[2]][0]["ID"])' "$TS_URL" "${TS_HOST[c]}")
echo "{\"OnlineChange\":{\"$c_id\":false}}" >"$TS_DIR/offline.json"
c_offline() { ts_status a && [ "$(ts_json a peer "${TS_HOST[c]}" | awk '{ print $3 }')" = False ]; }
if ts_hook POST "map-response?node=$A_KEY" "$TS_DIR/offline.json" >/dev/null && ts_wait 30 c_offline; then
	filter_out
	acc2=$(rule_counter 0 accepts)
	wgt_check "a netmap delta without filter change keeps the counters (rule 0 accepts: $acc before, ${acc2:-none} after)" \
		[ "${acc2:-0}" -ge "${acc:-1}" ]
else
	wgt_fail "A's map has C offline within 30 s after an OnlineChange"
fi
echo "{\"OnlineChange\":{\"$c_id\":true}}" >"$TS_DIR/online.json"
ts_hook POST "map-response?node=$A_KEY" "$TS_DIR/online.json" >/dev/null || wgt_fail "C back online in A's map"

# ---------------------------------------------------------------- shields up

ts_cli a set --shields-up || wgt_fail "hyphaectl set --shields-up"
ts_wait 30 filter_has '^Packet filter: .*, shields up$' || { wgt_fail "A's filter has shields up within 30 s"; show_filter; }
r=$(on b $NET connect "$A4" 22 5)
wgt_check "shields up: B's connect to A:22 fails ($r)" [ "${r%% *}" != ok ]
wgt_check "shields up: ping C->A is dropped" eval '! ts_ping_any c "$A4"'
wgt_check "shields up: ping A->B still works" ts_wait "$WAIT" ts_ping_any a "$B4"
wgt_check "shields up: A connects to B:8081 (outbound TCP)" on a $NET connect "$B4" 8081 10
wgt_check "shields up: A's UDP to B gets the echo" on a $NET udp-ask "$B4" 7777 20
filter_out
wgt_check "shields up: counted as shields-up drops" grep -q '^Dropped: .*shields-up [1-9]' "$TS_DIR/filter.out"

ts_cli a set --shields-up=false || wgt_fail "hyphaectl set --shields-up=false"
ts_wait 30 filter_has '^Packet filter: 1 rule(s) from the control server$' || wgt_fail "shields down within 30 s"
wgt_check "shields down: B connects to A:22 again" ts_wait 30 on b $NET connect "$A4" 22 5

# ---------------------------------------------------------------- IsJailed

# C comes back as a jailed peer (capver 94), with a filter that would let
# everyone reach port 22: C may still answer A, but not start a flow.
ip netns exec "$TS_NS_R" "$WGT_PY" -c '
import json, sys, urllib.request
nodes = json.load(urllib.request.urlopen(sys.argv[1] + "/hyphae-test/nodes", timeout=10))
c = [n for n in nodes if (n.get("Hostinfo") or {}).get("Hostname") == sys.argv[2]][0]
c["IsJailed"] = True
print(json.dumps({"PeersChanged": [c], "PacketFilter": [{"SrcIPs": ["*"],
    "DstPorts": [{"IP": "*", "Ports": {"First": 22, "Last": 22}}]}]}))' "$TS_URL" "${TS_HOST[c]}" \
	>"$TS_DIR/jailed.json" || ts_fatal "C's node from testcontrol"
ts_hook POST "map-response?node=$A_KEY" "$TS_DIR/jailed.json" >/dev/null || ts_fatal "testcontrol pushes jailed C to A"
ts_wait 30 filter_has '^rule 0: .* from \* to \*:22 ' || { show_filter; ts_fatal "A runs the allow-22 filter with C jailed within 30 s"; }
r=$(on c $NET connect "$A4" 22 5)
wgt_check "jailed: C's connect to A:22 fails although a rule allows it ($r)" [ "${r%% *}" != ok ]
wgt_check "jailed: B connects to A:22" on b $NET connect "$A4" 22 10
wgt_check "jailed: ping A->C still works" ts_wait "$WAIT" ts_ping_any a "$C4"
filter_out
wgt_check "jailed: counted as jailed drops" grep -q '^Dropped: .*jailed [1-9]' "$TS_DIR/filter.out"

# ---------------------------------------------------------------- a refused filter

# A legacy SrcBits entry: Tailscale refuses the whole filter, so do we, and
# then nothing new comes in (not even what the rule meant to allow).
cat >"$TS_DIR/refused.json" <<EOF
{"PacketFilter":[{"SrcIPs":["*"],"SrcBits":[32],"DstPorts":[{"IP":"*","Ports":{"First":22,"Last":22}}]}]}
EOF
ts_hook POST "map-response?node=$A_KEY" "$TS_DIR/refused.json" >/dev/null || ts_fatal "testcontrol pushes a refused filter to A"
if ts_wait 30 filter_has '^Deny all: .*SrcBits'; then
	wgt_pass "refused filter: $(grep '^Deny all' "$TS_DIR/filter.out")"
else
	wgt_fail "A refuses a filter with SrcBits within 30 s"; show_filter
fi
r=$(on b $NET connect "$A4" 22 5)
wgt_check "refused filter: B's connect to A:22 fails ($r)" [ "${r%% *}" != ok ]
health_says_filter() { ts_status a && grep -q 'packet filter is refused' "$TS_DIR/a.status.json"; }
wgt_check "refused filter: A's status --json Health says so" ts_wait 10 health_says_filter

ts_finish "$TS_NAME"
