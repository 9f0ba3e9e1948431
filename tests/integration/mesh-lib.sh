# SPDX-License-Identifier: MIT
# Shared helpers for a local tailnet in network namespaces: tests/integration/mesh-e2e.sh
# and tests/demo.sh source it (from bash).  It sources lib.sh (PASS/FAIL lines,
# namespace bookkeeping, the cleanup trap) and adds:
#
#   netns $MESH_NS_HUB: bridge br0 10.203.0.1/24, the Go control server
#                       (tests/ts2021/control.go) on http://10.203.0.1:$MESH_PORT
#   netns $MESH_NS_A:   eth0 10.203.0.2/24 (veth to br0), a private system bus with
#                       a real polkitd, hyphaed activated on it, tunnel $MESH_IF
#   netns $MESH_NS_B:   the same with 10.203.0.3
#
# The nodes reach each other directly over the bridge (no DERP yet), and reach
# control only over it.  Each node's bus, state dir and logs live in
# $MESH_DIR/<node>/ (dbus-lib.sh; bus.log has the activated hyphaed's stderr).
# Everything is removed on exit, whatever the exit path.
#
# Environment (meson sets them; tests/demo.sh sets them from its build dir):
#   HYPHAED                hyphaed
#   HYPHAECTL              hyphaectl
#   HYPHAE_TS2021_CONTROL  the built Go control server (built here when unset)
#   HYPHAE_DATA_DIR        data/ of the source tree (bus policy, polkit actions)

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MESH_NS_HUB=hyH$WGT_ID
MESH_NS_A=$WGT_NS_A
MESH_NS_B=$WGT_NS_B
MESH_IF=${MESH_IF:-hyphae0}           # the daemon's tunnel (its own namespace each)
MESH_HUB_IP=10.203.0.1
MESH_IP_A=10.203.0.2
MESH_IP_B=10.203.0.3
MESH_PORT=8080                        # control, inside the hub namespace only
MESH_URL=http://$MESH_HUB_IP:$MESH_PORT
MESH_AUTHKEY=tskey-mesh-$WGT_ID
MESH_BUS_NAME=io.github.hyphae.Mesh1
MESH_DATA_DIR=${HYPHAE_DATA_DIR:-$(cd "$WGT_TESTS_DIR/../../data" && pwd)}
# hyphaectl's exit code for "not authorized" (`hyphaectl --help`, src/cli/hyphaectl.h).
MESH_EXIT_NOT_AUTHORIZED=4

MESH_DIR=$(mktemp -d /tmp/hyphae-mesh.XXXXXX)
# dbus-lib.sh keeps each node's bus in $MESH_DIR/<node>/ and removes $MESH_DIR.
DBL_DIR=$MESH_DIR DBL_DATA_DIR=$MESH_DATA_DIR DBL_KEEP_TMP=${WGT_KEEP_TMP:-}
. "$WGT_TESTS_DIR/dbus-lib.sh"
MESH_SERVER_PID=
MESH_SERVER_RUN=0
MESH_SERVER_OUT=
MESH_SERVER_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
declare -A MESH_NS=([a]=$MESH_NS_A [b]=$MESH_NS_B)
declare -A MESH_HOST=([a]=node-a-$WGT_ID [b]=node-b-$WGT_ID)

# ---------------------------------------------------------------- cleanup

# mesh_teardown: stop the server, daemons, polkitds and buses, restore the policy
# file, delete our namespaces (killing what is left in them) and $MESH_DIR.
# Safe to call twice; the demo calls it itself, the exit trap always does.
mesh_teardown() {
	local ns
	[ -n "$MESH_SERVER_PID" ] && wgt_kill_pid "$MESH_SERVER_PID"
	MESH_SERVER_PID=
	dbl_cleanup
	for ns in "${WGT_MY_NETNS[@]}"; do wgt_del_netns "$ns"; done
	WGT_MY_NETNS=()
}
mesh_cleanup() {
	local rc=$?
	mesh_teardown
	(exit "$rc")
	wgt_cleanup      # lib.sh's: the rest, then exit with rc
}
trap mesh_cleanup EXIT

# ---------------------------------------------------------------- requirements

mesh_require() {
	wgt_require_root
	wgt_require_cmds ip ping timeout setpriv dbus-daemon gdbus "$WGT_PY"
	[ -x "$DBL_POLKITD" ] || wgt_cannot_run "no $DBL_POLKITD (package polkitd)"
	[ -n "${HYPHAED:-}" ] && [ -x "$HYPHAED" ] || wgt_cannot_run "HYPHAED is not an executable ('${HYPHAED:-}')"
	[ -n "${HYPHAECTL:-}" ] && [ -x "$HYPHAECTL" ] || wgt_cannot_run "HYPHAECTL is not an executable ('${HYPHAECTL:-}')"
	[ -f "$(mesh_data_file policy)" ] || wgt_cannot_run "no polkit actions file in $MESH_DATA_DIR"
	[ -f "$(mesh_data_file conf)" ] || wgt_cannot_run "no D-Bus policy file in $MESH_DATA_DIR"
}

# mesh_data_file policy|conf: the polkit actions / bus policy file in data/.
mesh_data_file() {
	case $1 in
	policy) echo "$MESH_DATA_DIR/io.github.hyphae.policy" ;;
	conf) echo "$MESH_DATA_DIR/$MESH_BUS_NAME.conf" ;;
	esac
}

# ---------------------------------------------------------------- topology

# Hub with a bridge; A and B each joined to it by a veth.
mesh_topology() {
	local n ns ip
	wgt_netns_add "$MESH_NS_HUB" || return 1
	ip -n "$MESH_NS_HUB" link add br0 type bridge || return 1
	ip -n "$MESH_NS_HUB" addr add "$MESH_HUB_IP/24" dev br0 || return 1
	ip -n "$MESH_NS_HUB" link set br0 up || return 1
	for n in a b; do
		ns=${MESH_NS[$n]}
		if [ "$n" = a ]; then ip=$MESH_IP_A; else ip=$MESH_IP_B; fi
		wgt_netns_add "$ns" || return 1
		ip link add eth0 netns "$ns" type veth peer name "p$n" netns "$MESH_NS_HUB" || return 1
		ip -n "$MESH_NS_HUB" link set "p$n" master br0 up || return 1
		ip -n "$ns" addr add "$ip/24" dev eth0 || return 1
		ip -n "$ns" link set eth0 up || return 1
	done
}

# ---------------------------------------------------------------- control server

# Path of the Go control server; built offline into $MESH_DIR when meson did not.
mesh_server_bin() {
	if [ -n "${HYPHAE_TS2021_CONTROL:-}" ] && [ -x "$HYPHAE_TS2021_CONTROL" ]; then
		echo "$HYPHAE_TS2021_CONTROL"; return 0
	fi
	local src=$WGT_TESTS_DIR/../ts2021 bin=$MESH_DIR/ts2021-control
	if [ ! -x "$bin" ]; then
		command -v go >/dev/null || { wgt_log "no go compiler (package golang-go)"; return 1; }
		env GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$MESH_DIR/gocache" GOFLAGS= \
			GOENV=off GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0 HOME="$MESH_DIR" \
			go build -o "$bin" "$src/control.go" "$src/cbase.go" >&2 || return 1
		rm -rf "$MESH_DIR/gocache"
	fi
	echo "$bin"
}

# mesh_server_line KEY: value of the server's first "KEY value" line on stdout.
mesh_server_line() {
	awk -v k="$1" '$1 == k { sub(/^[^ ]+ /, ""); print; exit }' "$MESH_SERVER_OUT" 2>/dev/null
}

# mesh_server_start: start the control server in the hub (same key and port every
# time, so a restart looks like the same server to the nodes) and wait ≤ 20 s
# for its LISTEN line.
mesh_server_start() {
	local bin i
	bin=$(mesh_server_bin) || return 1
	MESH_SERVER_RUN=$((MESH_SERVER_RUN + 1))
	MESH_SERVER_OUT=$MESH_DIR/control.$MESH_SERVER_RUN.out
	: >"$MESH_SERVER_OUT"
	ip netns exec "$MESH_NS_HUB" "$bin" -listen "$MESH_HUB_IP:$MESH_PORT" -key "$MESH_SERVER_KEY" \
		-auth-key "$MESH_AUTHKEY" -timeout 1h "$@" \
		>"$MESH_SERVER_OUT" 2>"$MESH_DIR/control.$MESH_SERVER_RUN.err" &
	MESH_SERVER_PID=$!
	for i in $(seq 200); do
		[ -n "$(mesh_server_line LISTEN)" ] && return 0
		kill -0 "$MESH_SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	wgt_log "control server did not start:"
	sed 's/^/    /' "$MESH_DIR/control.$MESH_SERVER_RUN.err" >&2
	return 1
}

# mesh_server_kill: SIGKILL, as a crash would.
mesh_server_kill() {
	[ -n "$MESH_SERVER_PID" ] || return 1
	kill -KILL "$MESH_SERVER_PID" 2>/dev/null
	wait "$MESH_SERVER_PID" 2>/dev/null
	MESH_SERVER_PID=
}

# mesh_key_ok NS: the control server answers /key from inside NS (python: no curl here).
mesh_key_ok() {
	ip netns exec "$1" "$WGT_PY" -c '
import json, sys, urllib.request
k = json.load(urllib.request.urlopen(sys.argv[1] + "/key?v=130", timeout=10))
sys.exit(0 if k.get("publicKey", "").startswith("mkey:") else 1)' "$MESH_URL"
}

# mesh_server_nodes: "<Hostname> <NodeKey> <Online>" per node the running server
# knows (its GET /debug/nodes, asked from the hub).
mesh_server_nodes() {
	ip netns exec "$MESH_NS_HUB" "$WGT_PY" -c '
import json, sys, urllib.request
for n in json.load(urllib.request.urlopen(sys.argv[1] + "/debug/nodes", timeout=10)):
    print(n["Hostname"], n["NodeKey"], n["Online"])' "$MESH_URL"
}

# mesh_server_has_online HOST...: every HOST is registered and has a live map stream.
mesh_server_has_online() {
	local nodes h
	nodes=$(mesh_server_nodes 2>/dev/null) || return 1
	for h in "$@"; do
		grep -q "^$h nodekey:[0-9a-f]* True$" <<<"$nodes" || return 1
	done
}

# ---------------------------------------------------------------- node buses

# mesh_buses: the polkit actions installed, then for each node a private system
# bus inside its namespace that activates `hyphaed --state-dir $MESH_DIR/NODE/state
# --ifname $MESH_IF`, with a real polkitd on it (dbus-lib.sh).
mesh_buses() {
	local n
	dbl_install_policy "$MESH_DATA_DIR" || return 1
	for n in a b; do
		# Each daemon its own UAPI dir: the default /var/run/wireguard/$MESH_IF.sock
		# is one path for every namespace.
		mkdir -p "$MESH_DIR/$n/uapi" || return 1
		dbl_bus_start "$n" "${MESH_NS[$n]}" "$MESH_DIR/$n/state" --ifname "$MESH_IF" \
			--uapi-dir "$MESH_DIR/$n/uapi" || return 1
	done
}

# ---------------------------------------------------------------- hyphaectl

# mesh_ctl NODE ARGS...: hyphaectl as root inside NODE's namespace, on NODE's bus.
mesh_ctl() {
	local n=$1; shift
	timeout 90 ip netns exec "${MESH_NS[$n]}" env DBUS_SYSTEM_BUS_ADDRESS="$(dbl_addr "$n")" \
		"$HYPHAECTL" "$@"
}

# mesh_ctl_nobody NODE ARGS...: the same as uid/gid 65534 with no groups.  It runs
# a copy in $MESH_DIR (mode 755): the build tree may sit where uid 65534 cannot
# reach (a checkout under /root).
mesh_ctl_nobody() {
	local n=$1 bin=$MESH_DIR/bin/hyphaectl; shift
	if [ ! -x "$bin" ]; then
		mkdir -p "$MESH_DIR/bin" && install -m 755 "$HYPHAECTL" "$bin" || return 1
	fi
	timeout 90 ip netns exec "${MESH_NS[$n]}" setpriv --reuid=65534 --regid=65534 --clear-groups \
		env DBUS_SYSTEM_BUS_ADDRESS="$(dbl_addr "$n")" "$bin" "$@"
}

# mesh_up NODE [ARGS...]: `hyphaectl up` against the hub's control server.
mesh_up() {
	local n=$1; shift
	mesh_ctl "$n" up --login-server "$MESH_URL" --auth-key "$MESH_AUTHKEY" \
		--hostname "${MESH_HOST[$n]}" "$@"
}

# mesh_up_both: `hyphaectl up` on A and B at once, as two machines started
# together would; each one's output in $MESH_DIR/NODE.up.out, its exit code in
# MESH_UP_RC[NODE].
declare -A MESH_UP_RC=()
mesh_up_both() {
	local n
	local -A pid=()
	for n in a b; do
		mesh_up "$n" >"$MESH_DIR/$n.up.out" 2>&1 &
		pid[$n]=$!
	done
	for n in a b; do
		wait "${pid[$n]}"
		MESH_UP_RC[$n]=$?
	done
}

# mesh_status NODE: `hyphaectl status --json` into $MESH_DIR/NODE.status.json.
mesh_status() {
	mesh_ctl "$1" status --json >"$MESH_DIR/$1.status.json" 2>"$MESH_DIR/$1.status.err"
}

# mesh_json NODE QUERY [HOST]: a value from NODE's last status JSON
# (status-query.py: state, self4, self6, peer HOST -> "<v4> <v6> <Online>", ...).
mesh_json() { "$WGT_PY" "$WGT_TESTS_DIR/status-query.py" "$MESH_DIR/$1.status.json" "${@:2}"; }

# mesh_wait NODE SECONDS CONDITION...: poll NODE's status until CONDITION (a shell
# command run after each poll) holds; a hang guard, not a delay: polling stops as
# soon as it holds.
mesh_wait() {
	local n=$1 secs=$2 end; shift 2
	end=$(($(date +%s) + secs))
	while :; do
		mesh_status "$n" && "$@" && return 0
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.2
	done
}

mesh_is_running() { [ "$(mesh_json "$1" state)" = Running ]; }
mesh_sees() {   # mesh_sees NODE OTHER: Running, and OTHER is a peer with addresses
	local p
	mesh_is_running "$1" || return 1
	p=$(mesh_json "$1" peer "${MESH_HOST[$2]}")
	[ -n "$p" ] && [ "${p%% *}" != "" ]
}

# mesh_uapi_get NODE: the daemon's WireGuard state as `wg` would read it (UAPI get=1).
mesh_uapi_get() {
	"$WGT_PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(b"get=1\n\n")
out = b""
while not out.endswith(b"\n\n"):
    b = s.recv(65536)
    if not b:
        break
    out += b
print(out.decode(errors="replace").strip())' "$MESH_DIR/$1/uapi/$MESH_IF.sock"
}

# mesh_diag NODE: addresses, rules, routes and WireGuard state of NODE (stderr).
mesh_diag() {
	local ns=${MESH_NS[$1]}
	{
		echo "--- node ${1^^} ($ns):"
		ip -n "$ns" -br addr
		ip -n "$ns" rule
		ip -n "$ns" route show table all | grep -v -e '^local' -e '^broadcast' -e '^multicast' -e 'fe80::' -e 'ff00::'
		mesh_uapi_get "$1" | grep -v -e private_key -e preshared_key
	} 2>&1 | sed 's/^/    /' >&2
}

# mesh_daemon_pid NODE: the hyphaed the bus activated in NODE's namespace (found
# by /proc, without a bus call that could activate another).
mesh_daemon_pid() {
	local pid
	for pid in $(ip netns pids "${MESH_NS[$1]}"); do
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = hyphaed ] && { echo "$pid"; return 0; }
	done
	return 1
}

# mesh_finish NAME T0: the summary line; on a failure the end of the nodes' and
# the server's logs; exit 0 if every check passed, else 1.
mesh_finish() {
	local n b
	echo "$1: $WGT_PASSES passed, $WGT_FAILS failed in $(($(date +%s) - $2)) s"
	[ "$WGT_FAILS" = 0 ] && exit 0
	for n in a b; do mesh_dump "$n"; done
	for b in "$MESH_DIR"/control.*.err; do
		[ -s "$b" ] && { wgt_log "--- end of $b:"; tail -n 30 "$b" | sed 's/^/    /' >&2; }
	done
	exit 1
}

# mesh_dump NODE: the end of NODE's logs (bus + activated hyphaed, polkitd).
mesh_dump() {
	local d=$MESH_DIR/$1 f
	for f in "$d/bus.log" "$d/polkitd.log" "$d.status.err"; do
		[ -s "$f" ] || continue
		wgt_log "--- last lines of $f:"
		tail -n "${2:-30}" "$f" | sed 's/^/    /' >&2
	done
}
