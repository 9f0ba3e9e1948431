# SPDX-License-Identifier: MIT
# Helpers for the tests of a node that routes for the tailnet (ts-exit-serve.sh,
# ts-subnet.sh): a network behind one node's namespace, a TCP service there that
# says who connected, approval of routes at testcontrol, and looks at hyphaed's
# forwarding state. Source it after ts-lib.sh.

# serve_setup: the router with derper and testcontrol, nodes A and B on the
# bridge (what every one of these tests starts with); stops the test on failure.
serve_setup() {
	ts_router || ts_fatal "router namespace"
	ts_derper_start || ts_fatal "derper listens on $TS_R_IP:$TS_DERPER_PORT"
	ts_control_start || ts_fatal "testcontrol listens on $TS_URL"
	ts_node_net a && ts_node_net b || ts_fatal "node namespaces on the bridge"
}

# serve_join: A and B join and see each other (stops the test otherwise);
# SYSCTLS_BEFORE keeps A's forwarding switches from before hyphaed ran.
serve_join() {
	SYSCTLS_BEFORE=$(serve_sysctls a)
	ts_both_up || ts_fatal "A and B join and see each other within ${WAIT} s"
	wgt_pass "A ($TS_A4) and B ($TS_B4) joined and see each other"
}

# serve_behind NODE NS NODE_IF NODE_ADDR HOST_IF HOST_ADDR: namespace NS (made
# here) joined to NODE's namespace by a veth: NODE_IF with NODE_ADDR (CIDR) on
# NODE's side, HOST_IF with HOST_ADDR (CIDR) in NS, NS's default route via
# NODE_ADDR. NS reaches nothing but NODE.
serve_behind() {
	local n=$1 ns=$2 nif=$3 naddr=$4 hif=$5 haddr=$6
	wgt_netns_add "$ns" || return 1
	ip link add "$nif" netns "${TS_NS[$n]}" type veth peer name "$hif" netns "$ns" || return 1
	ip -n "${TS_NS[$n]}" addr add "$naddr" dev "$nif" || return 1
	ip -n "$ns" addr add "$haddr" dev "$hif" || return 1
	ip -n "${TS_NS[$n]}" link set "$nif" up && ip -n "$ns" link set "$hif" up || return 1
	ip -n "$ns" route add default via "${naddr%/*}"
}

# serve_whoami_start ROLE NS ADDR PORT: a TCP server in NS on ADDR:PORT that
# answers every connection with the address it came from, then closes it.
serve_whoami_start() {
	local role=$1 ns=$2 addr=$3 port=$4 ready=$TS_DIR/$1.ready
	rm -f "$ready"
	ts_bg "$role" "$ns" "$TS_DIR/$role.log" "$WGT_PY" -c '
import socket, sys
addr, port, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(16)
open(ready, "w").close()
while True:
    c, peer = s.accept()
    c.settimeout(5)
    try:
        c.sendall(peer[0].encode() + b"\n")
    except OSError:
        pass
    c.close()' "$addr" "$port" "$ready"
	ts_wait 10 test -e "$ready"
}

# serve_whoami NS ADDR PORT: connect from NS; prints the address the server
# saw us come from (nothing on failure).
serve_whoami() {
	timeout 20 ip netns exec "$1" "$WGT_PY" -c '
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
c.settimeout(3)
print(c.makefile().readline().strip())' "$2" "$3" 2>/dev/null
}

# serve_approve NODE ROUTES_JSON: testcontrol makes ROUTES (a JSON array) NODE's
# approved routes (its AllowedIPs and PrimaryRoutes for the peers).
serve_approve() {
	local key f=$TS_DIR/routes-$1.json
	ts_status "$1" && key=$(ts_json "$1" self-key) && [ -n "$key" ] || return 1
	printf '%s' "$2" >"$f"
	ts_hook POST "routes?node=$key" "$f" >/dev/null
}

# serve_hostinfo_routes NODE: the Hostinfo.RoutableIPs testcontrol got from
# NODE, comma-separated ("" when none).
serve_hostinfo_routes() {
	local key
	ts_status "$1" && key=$(ts_json "$1" self-key) || return 1
	ip netns exec "$TS_NS_R" "$WGT_PY" -c '
import json, sys, urllib.request
for n in json.load(urllib.request.urlopen(sys.argv[1] + "/hyphae-test/nodes", timeout=10)):
    if n.get("Key") == sys.argv[2]:
        print(",".join((n.get("Hostinfo") or {}).get("RoutableIPs") or []))' "$TS_URL" "$key"
}

# serve_peer_field NODE HOST FIELD: a field of HOST's entry in NODE's
# `status --json` (Python repr; lists joined by ",").
serve_peer_field() {
	ts_status "$1" && "$WGT_PY" -c '
import json, sys
st = json.load(open(sys.argv[1]))
for p in (st.get("Peer") or {}).values():
    if p.get("HostName") == sys.argv[2]:
        v = p.get(sys.argv[3])
        print(",".join(v) if isinstance(v, list) else v)' "$TS_DIR/$1.status.json" "${TS_HOST[$2]}" "$3"
}

# serve_netmap_allowed NODE HOST: the AllowedIPs of peer HOST in hyphaed NODE's
# netmap (`hyphaectl netmap --json`), comma-separated.
serve_netmap_allowed() {
	ts_cli "$1" netmap --json 2>/dev/null | "$WGT_PY" -c '
import json, sys
for p in json.load(sys.stdin).get("Peers") or []:
    if (p.get("Hostinfo") or {}).get("Hostname") == sys.argv[1] or p.get("Name", "").split(".")[0] == sys.argv[1]:
        print(",".join(p.get("AllowedIPs") or []))' "${TS_HOST[$2]}"
}

# serve_nft_table NODE: hyphaed's masquerade table exists in NODE's namespace.
serve_nft_table() { ip netns exec "${TS_NS[$1]}" nft list table inet hyphae >/dev/null 2>&1; }

# serve_sysctls NODE: "<ip_forward> <ipv6 all.forwarding>" in NODE's namespace.
serve_sysctls() {
	ip netns exec "${TS_NS[$1]}" sh -c 'echo "$(cat /proc/sys/net/ipv4/ip_forward) $(cat /proc/sys/net/ipv6/conf/all/forwarding)"'
}
