#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue 12, MagicDNS: hyphaed (node A) and a real tailscaled (node B) on
# Tailscale's testcontrol (ts-lib.sh); the nodes get MagicDNS names under
# tail$WGT_ID.ts.test (testcontrol's node hook), then A gets a DNSConfig
# (the map-response hook) with MagicDNS on, a split route to a small
# resolver in the router namespace (dns-upstream.py, port 53), a zone
# answered locally (corp.test, no resolvers), an ExtraRecord and the search
# domains. From A's namespace, `dig` against 100.100.100.100 and
# fd7a:115c:a1e0::53 (nothing listens on port 53 there: the runner takes
# the query off the TUN):
#   B's FQDN: A = B's 100.x, AAAA: none until control sets magicdns-aaaa on
#   A, then B's fd7a (tailscaled's rule); A's own name; B's bare name (as
#   asked, and with dig +domain=SUFFIX); PTR of B's 100.x and fd7a; an
#   unknown name under the suffix: NXDOMAIN; a name with no route and no
#   resolver: SERVFAIL; the split route: the resolver's answer, and for a
#   name it truncates over UDP the TCP answer (its log shows the TCP query);
#   the ExtraRecord; an unknown name in the local zone: NXDOMAIN; the same
#   over IPv6 to fd7a:115c:a1e0::53; malformed and oversized queries
#   (dns-junk.py, raw sockets too): FORMERR or nothing, and answers after;
#   `set --accept-dns=false`: names still answered, the split route not
#   (SERVFAIL), as tailscaled; back on: forwarded again; B made an exit node
#   (advertised, approved by the routes hook) and used by A: every name not
#   answered locally goes to B's peerapi DoH (http://B:peerapi4/dns-query,
#   as tailscaled does), and B asks the resolver B's resolv.conf names (our
#   resolver, through /etc/netns/NS/resolv.conf): the resolver sees B's
#   address, also for a name no route of A's covers (SERVFAIL: refused there);
#   without the exit node, A asks the split route's resolver itself again.
# Exit 0 if every check passed, 1 otherwise, 77 when it cannot run (outside CI).
set -u
. "$(dirname "$0")/ts-lib.sh"
TS_NAME=ts-magicdns
TS_PAIR=hyphaed:tailscaled
TS_KIND[a]=hyphaed
TS_KIND[b]=tailscaled
ts_require
wgt_require_cmds dig

WAIT=60 # hang guards (s)
SUFFIX=tail$WGT_ID.ts.test
SPLIT=split.test
Q4=100.100.100.100
Q6=fd7a:115c:a1e0::53
UP_LOG=$TS_DIR/dns-upstream.log

# B's resolv.conf (ip netns exec mounts it over /etc/resolv.conf): tailscaled
# as an exit node answers DoH with the nameserver it finds there.
NETNS_ETC=/etc/netns/${TS_NS[b]}
mdns_cleanup() {
	local rc=$?
	rm -rf "$NETNS_ETC"
	(exit "$rc")
	ts_cleanup
}
trap mdns_cleanup EXIT
mkdir -p "$NETNS_ETC" && echo "nameserver $TS_R_IP" >"$NETNS_ETC/resolv.conf" || ts_fatal "$NETNS_ETC/resolv.conf"

ts_router || ts_fatal "router namespace"
ts_derper_start || ts_fatal "derper listens on $TS_R_IP:$TS_DERPER_PORT"
ts_control_start || ts_fatal "testcontrol listens on $TS_URL"
ts_node_net a && ts_node_net b || ts_fatal "node namespaces on the bridge"
ts_bg upstream "$TS_NS_R" "$TS_DIR/dns-upstream.out" "$WGT_PY" "$WGT_TESTS_DIR/dns-upstream.py" \
	"$TS_R_IP" 53 "$SPLIT" "$UP_LOG" "$TS_DIR/dns-upstream.ready"
ts_wait 20 test -e "$TS_DIR/dns-upstream.ready" || ts_fatal "the split-DNS resolver listens on $TS_R_IP:53"
wgt_pass "setup: router with testcontrol, derper and a resolver for $SPLIT, nodes A (hyphaed) and B (tailscaled)"

ts_both_up || ts_fatal "A and B join and see each other within ${WAIT} s"
wgt_pass "A ($TS_A4 $TS_A6) and B ($TS_B4 $TS_B6) joined and see each other"
A_NAME=${TS_HOST[a]}.$SUFFIX
B_NAME=${TS_HOST[b]}.$SUFFIX

# ---------------------------------------------------------------- names and DNSConfig

# node_json HOST: testcontrol's tailcfg.Node of HOST.
node_json() {
	ts_hook GET nodes | "$WGT_PY" -c '
import json, sys
for n in json.load(sys.stdin):
    if (n.get("Hostinfo") or {}).get("Hostname") == sys.argv[1]:
        print(json.dumps(n)); break' "$1"
}

# rename HOST: the node's Name becomes HOST.$SUFFIX. (every node is told).
rename() {
	node_json "$1" | "$WGT_PY" -c '
import json, sys
n = json.load(sys.stdin); n["Name"] = sys.argv[1] + "." + sys.argv[2] + "."; print(json.dumps(n))' \
		"$1" "$SUFFIX" >"$TS_DIR/node-$1.json" && ts_hook POST node "$TS_DIR/node-$1.json" >/dev/null
}
rename "${TS_HOST[a]}" && rename "${TS_HOST[b]}" || ts_fatal "testcontrol renames the nodes under $SUFFIX"

# mdig ARGS...: dig in A's namespace, one try of 5 s.
mdig() { timeout 30 ip netns exec "${TS_NS[a]}" dig +time=5 +tries=1 "$@" 2>&1; }
# status SERVER NAME [TYPE]: the answer's status (NOERROR, NXDOMAIN, ...).
status() { mdig "@$1" "$2" "${3:-A}" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'; }
# short SERVER NAME [TYPE]: the answer's records, sorted, on one line.
short() { mdig +short "@$1" "$2" "${3:-A}" | sort | tr '\n' ' ' | sed 's/ $//'; }
# answers SERVER NAME TYPE WANT: short gives WANT (for ts_wait).
answers() { [ "$(short "$1" "$2" "$3")" = "$4" ]; }

ts_wait "$WAIT" answers "$Q4" "$B_NAME" A "$TS_B4" ||
	ts_fatal "A's MagicDNS answers B's new name $B_NAME within ${WAIT} s (last: '$(short "$Q4" "$B_NAME" A)')"
wgt_pass "A's MagicDNS at $Q4 answers B's name $B_NAME with $TS_B4 (from the netmap, before any DNSConfig)"

A_KEY=$(ts_status a && ts_json a self-key)
cat >"$TS_DIR/dnsconfig.json" <<EOF
{"DNSConfig": {"Proxied": true, "Domains": ["$SUFFIX", "corp.test"],
  "Routes": {"$SPLIT.": [{"Addr": "$TS_R_IP"}], "corp.test": []},
  "ExtraRecords": [{"Name": "web.corp.test", "Value": "10.9.8.7"}]}}
EOF
ts_hook POST "map-response?node=$A_KEY" "$TS_DIR/dnsconfig.json" >/dev/null ||
	ts_fatal "testcontrol sends A the DNSConfig"
ts_wait "$WAIT" answers "$Q4" web.corp.test A 10.9.8.7 ||
	ts_fatal "A's MagicDNS takes the DNSConfig within ${WAIT} s (ExtraRecord web.corp.test: '$(short "$Q4" web.corp.test A)')"
wgt_pass "A got the DNSConfig: ExtraRecord web.corp.test = 10.9.8.7"

# ---------------------------------------------------------------- local answers

# check_answer LABEL SERVER NAME TYPE WANT
check_answer() {
	local got
	got=$(short "$2" "$3" "$4")
	wgt_check "$1: $4 $3 @$2 = '$got', want '$5'" [ "$got" = "$5" ]
}
# check_status LABEL SERVER NAME TYPE WANT
check_status() {
	local got
	got=$(status "$2" "$3" "$4")
	wgt_check "$1: $4 $3 @$2 is $got, want $5" [ "$got" = "$5" ]
}

# ptr SERVER ADDR: the PTR answer for ADDR.
ptr() { mdig +short "@$1" -x "$2" | tr '\n' ' ' | sed 's/ $//'; }

for q in "$Q4" "$Q6"; do
	check_answer "B's FQDN" "$q" "$B_NAME" A "$TS_B4"
	check_answer "A's own FQDN" "$q" "$A_NAME" A "$TS_A4"
	check_answer "B's FQDN, upper case and a trailing dot" "$q" "${B_NAME^^}." A "$TS_B4"
	check_status "B's FQDN, AAAA without magicdns-aaaa" "$q" "$B_NAME" AAAA NOERROR
	check_answer "B's FQDN, AAAA without magicdns-aaaa: no records (tailscaled's magicDNSAddrs)" "$q" "$B_NAME" AAAA ""
	check_answer "B's bare name" "$q" "${TS_HOST[b]}" A "$TS_B4"
	got=$(ptr "$q" "$TS_B4")
	wgt_check "PTR of B's $TS_B4 @$q = '$got', want '$B_NAME.'" [ "$got" = "$B_NAME." ]
	got=$(ptr "$q" "$TS_B6")
	wgt_check "PTR of B's $TS_B6 @$q = '$got', want '$B_NAME.'" [ "$got" = "$B_NAME." ]
	check_status "an unknown name under the MagicDNS suffix" "$q" "nobody.$SUFFIX" A NXDOMAIN
	check_status "PTR of an unknown tailnet address" "$q" 77.0.64.100.in-addr.arpa PTR NXDOMAIN
	check_status "a name with no route and no resolver" "$q" example.com A SERVFAIL
	check_answer "the split route's resolver" "$q" "host.$SPLIT" A 192.0.2.10
	check_answer "the ExtraRecord" "$q" web.corp.test A 10.9.8.7
	check_status "an unknown name in the local zone corp.test" "$q" nothing.corp.test A NXDOMAIN
done
got=$(mdig +short +domain="$SUFFIX" "@$Q4" "${TS_HOST[b]}" A)
wgt_check "dig +domain=$SUFFIX (search list) ${TS_HOST[b]} = '$got', want '$TS_B4'" [ "$got" = "$TS_B4" ]

# ---------------------------------------------------------------- split route: TC, then TCP

tcp_before=$(grep -c "^tcp big.$SPLIT" "$UP_LOG")
out=$(mdig "@$Q4" "big.$SPLIT" A)
got=$(printf '%s\n' "$out" | awk '$1 == "big.'"$SPLIT"'." && $4 == "A" { print $5 }')
wgt_check "a name the resolver truncates over UDP: answered from its TCP answer ('$got', want 192.0.2.99)" \
	[ "$got" = 192.0.2.99 ]
wgt_check "... and the answer has no TC flag" eval '! printf "%s\n" "$out" | grep -q "flags:.* tc"'
tcp_after=$(grep -c "^tcp big.$SPLIT" "$UP_LOG")
wgt_check "... the resolver saw the UDP query and then a TCP one ($tcp_before -> $tcp_after TCP queries)" \
	[ "$tcp_after" -gt "$tcp_before" ] && grep -q "^udp big.$SPLIT" "$UP_LOG"

# ---------------------------------------------------------------- AAAA with magicdns-aaaa

node_json "${TS_HOST[a]}" | "$WGT_PY" -c '
import json, sys
n = json.load(sys.stdin)
n.setdefault("CapMap", {})["magicdns-aaaa"] = None
print(json.dumps({"Node": n}))' >"$TS_DIR/node-aaaa.json"
if ts_hook POST "map-response?node=$A_KEY" "$TS_DIR/node-aaaa.json" >/dev/null &&
	ts_wait "$WAIT" answers "$Q4" "$B_NAME" AAAA "$TS_B6"; then
	wgt_pass "with magicdns-aaaa in A's CapMap: AAAA $B_NAME = $TS_B6"
else
	wgt_fail "with magicdns-aaaa in A's CapMap: AAAA $B_NAME = '$(short "$Q4" "$B_NAME" AAAA)', want $TS_B6"
fi
check_answer "... and over IPv6" "$Q6" "$B_NAME" AAAA "$TS_B6"
check_answer "... A still answered" "$Q4" "$B_NAME" A "$TS_B4"

# ---------------------------------------------------------------- malformed queries

# only LIST RE: LIST (comma-separated, not empty) has nothing but RE's words.
only() {
	local r
	[ -n "$1" ] || return 1
	for r in ${1//,/ }; do [[ $r =~ ^($2)$ ]] || return 1; done
}

for q in "$Q4" "$Q6"; do
	src=$TS_A4
	[ "$q" = "$Q6" ] && src=$TS_A6
	if ! timeout 120 ip netns exec "${TS_NS[a]}" "$WGT_PY" "$WGT_TESTS_DIR/dns-junk.py" "$q" "$src" \
		>"$TS_DIR/junk.out" 2>"$TS_DIR/junk.err"; then
		wgt_fail "dns-junk.py against $q ran: $(tail -n 3 "$TS_DIR/junk.err")"
		continue
	fi
	sed "s/^/    junk @$q: /" "$TS_DIR/junk.out" >&2
	while read -r case res; do
		case $case in
		badq | huge-count) want="FORMERR" ;;
		random-*) want="FORMERR|NOTIMP|none" ;;
		*) want="FORMERR|none" ;;
		esac
		wgt_check "malformed @$q: $case answered $res (want $want)" only "$res" "$want"
	done <"$TS_DIR/junk.out"
	check_answer "after the malformed queries, MagicDNS still answers" "$q" "$B_NAME" A "$TS_B4"
done

# ---------------------------------------------------------------- CorpDNS off and on

if ts_cli a set --accept-dns=false >"$TS_DIR/set.out" 2>&1; then
	check_answer "accept-dns off: B's name still answered (as tailscaled)" "$Q4" "$B_NAME" A "$TS_B4"
	check_answer "accept-dns off: the ExtraRecord still answered" "$Q4" web.corp.test A 10.9.8.7
	check_status "accept-dns off: the split route is not used" "$Q4" "host.$SPLIT" A SERVFAIL
	check_status "accept-dns off: the suffix is no zone of ours (not NXDOMAIN)" "$Q4" "nobody.$SUFFIX" A SERVFAIL
	ts_cli a set --accept-dns=true >>"$TS_DIR/set.out" 2>&1 || wgt_fail "set --accept-dns=true: $(cat "$TS_DIR/set.out")"
	check_answer "accept-dns on again: the split route answers" "$Q4" "host.$SPLIT" A 192.0.2.10
else
	wgt_fail "hyphaectl set --accept-dns=false: $(cat "$TS_DIR/set.out")"
fi

# ---------------------------------------------------------------- through an exit node

# upstream_saw NAME SRC: the resolver logged a query for NAME from SRC.
upstream_saw() { grep -q " $1 1 $2\$" "$UP_LOG"; }

B_KEY=$(ts_status b && ts_json b self-key)
echo '["0.0.0.0/0", "::/0"]' >"$TS_DIR/exit-routes.json"
# A's map stream takes only what the hook pushes since the DNSConfig (testcontrol
# stops automatic map responses to a node that got a raw one): B as A sees it
# now, with the approved routes in AllowedIPs as testcontrol would send them.
node_json "${TS_HOST[b]}" | "$WGT_PY" -c '
import json, sys
n = json.load(sys.stdin)
routes = ["0.0.0.0/0", "::/0"]
n["AllowedIPs"] = list(n.get("Addresses") or []) + routes
n["PrimaryRoutes"] = routes
n["Online"] = True
print(json.dumps({"PeersChanged": [n]}))' >"$TS_DIR/exit-peer.json"
if ts_cli b set --advertise-exit-node >"$TS_DIR/exit.out" 2>&1 &&
	ts_hook POST "routes?node=$B_KEY" "$TS_DIR/exit-routes.json" >/dev/null &&
	ts_hook POST "map-response?node=$A_KEY" "$TS_DIR/exit-peer.json" >/dev/null &&
	ts_wait "$WAIT" ts_cli a set --exit-node "$TS_B4" --exit-node-allow-lan-access >>"$TS_DIR/exit.out" 2>&1; then
	wgt_pass "B advertises an exit node, control approves it, A uses it (allow LAN access)"
	if ts_wait "$WAIT" answers "$Q4" "exit1.$SPLIT" A 192.0.2.10 && upstream_saw "exit1.$SPLIT" 10.210.0.12; then
		wgt_pass "with B as exit node: exit1.$SPLIT answered through B's peerapi DoH (the resolver saw B's 10.210.0.12)"
	else
		wgt_fail "with B as exit node: exit1.$SPLIT = '$(short "$Q4" "exit1.$SPLIT" A)' through B (resolver log: $(grep exit1 "$UP_LOG" | tr '\n' ';'))"
	fi
	# Refused by the resolver B asks: tailscaled turns that into a failure.
	check_status "with B as exit node: a name B's resolver refuses" "$Q4" refused.example A SERVFAIL
	wgt_check "... it went to B's resolver through B (no route of A's own would take it)" \
		upstream_saw refused.example 10.210.0.12
	check_answer "with B as exit node: B's name still answered locally" "$Q4" "$B_NAME" A "$TS_B4"
	if ts_cli a set --exit-node "" >>"$TS_DIR/exit.out" 2>&1 && ts_wait "$WAIT" answers "$Q4" "exit2.$SPLIT" A 192.0.2.10 &&
		upstream_saw "exit2.$SPLIT" 10.210.0.11 && ! upstream_saw "exit2.$SPLIT" 10.210.0.12; then
		wgt_pass "without the exit node: A asks the split route's resolver itself again (it saw 10.210.0.11)"
	else
		wgt_fail "without the exit node: exit2.$SPLIT from A (resolver log: $(grep exit2 "$UP_LOG" | tr '\n' ';'))"
	fi
	check_status "without the exit node: no route, no resolver" "$Q4" example.com A SERVFAIL
else
	wgt_fail "B as exit node for A: $(tail -n 5 "$TS_DIR/exit.out")"
fi

wgt_check "hyphaed is alive and Running" eval 'ts_status a && [ "$(ts_json a state)" = Running ]'
ts_finish "$TS_NAME"
