# SPDX-License-Identifier: MIT
# Shared helpers for the WireGuard netns tests (tests/integration/*.sh), the demo
# (tests/demo.sh) and bench/wg-throughput.  Source it from bash; it sets nothing
# up by itself except a temporary directory and the cleanup trap.
#
# Topology made by wgt_topology (names carry $WGT_ID, so parallel runs and other
# users of /var/run/wireguard never collide):
#
#   netns $WGT_NS_A                               netns $WGT_NS_B
#   +-----------------------------+              +-----------------------------+
#   | $WGT_IF_A (TUN, WireGuard)  |              | $WGT_IF_B (TUN, WireGuard)  |
#   |   10.201.0.1/24 fd00:201::1 |  ~~tunnel~~  |   10.201.0.2/24 fd00:201::2 |
#   |   udp :51820                |              |   udp :51821                |
#   | va 10.200.0.1/24            |--- veth -----| vb 10.200.0.2/24            |
#   |    fd00:200::1/64           |              |    fd00:200::2/64           |
#   +-----------------------------+              +-----------------------------+
#
# Implementations ("impl" below) are started in the foreground, one per end:
#   wireguard-go  ->  ip netns exec NS wireguard-go -f IF
#   hyphaed       ->  ip netns exec NS $HYPHAED --wireguard IF --foreground
#   /path/to/prog ->  ip netns exec NS /path/to/prog -f IF   (wireguard-go convention)
# Every implementation must serve the cross-platform UAPI on
# /var/run/wireguard/IF.sock and is configured with the stock `wg` tool.

set -u

WGT_ID=${WGT_ID:-$$}
WGT_NS_A=hyA$WGT_ID
WGT_NS_B=hyB$WGT_ID
WGT_IF_A=hya$WGT_ID
WGT_IF_B=hyb$WGT_ID
WGT_PORT_A=51820
WGT_PORT_B=51821
WGT_UL_A=10.200.0.1  WGT_UL_B=10.200.0.2        # underlay (veth) addresses
WGT_UL6_A=fd00:200::1 WGT_UL6_B=fd00:200::2
WGT_IN_A=10.201.0.1  WGT_IN_B=10.201.0.2        # inner (tunnel) addresses
WGT_IN6_A=fd00:201::1 WGT_IN6_B=fd00:201::2
WGT_UAPI_DIR=/var/run/wireguard
WGT_TESTS_DIR=${TESTS_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
WGT_PY=/usr/bin/python3          # Debian's interpreter (never a pyenv shim)

WGT_TMP=$(mktemp -d /tmp/hyphae-wgt.XXXXXX)
WGT_FAILS=0
WGT_PASSES=0
WGT_RUN=0                        # bumped by wgt_pair_up: one set of log files per pair
declare -a WGT_MY_NETNS=() WGT_MY_IFS=()
declare -A WGT_PID=()            # ifname -> pid of the implementation serving it
declare -A WGT_LOG=()            # ifname -> log file

wgt_log() { printf '%s\n' "$*" >&2; }

# PASS/FAIL lines: one per check, on stdout.
wgt_pass() { WGT_PASSES=$((WGT_PASSES + 1)); printf 'PASS %s\n' "$*"; }
wgt_fail() { WGT_FAILS=$((WGT_FAILS + 1)); printf 'FAIL %s\n' "$*"; }
# wgt_check NAME CMD...: PASS if CMD succeeds.
wgt_check() {
	local name=$1; shift
	if "$@"; then wgt_pass "$name"; return 0; fi
	wgt_fail "$name"; return 1
}

# Exit for "cannot run here": a failure in CI (CI is root and has every package),
# otherwise the automake skip code 77.
wgt_cannot_run() {
	if [ -n "${CI:-}" ]; then
		echo "FAIL cannot run in CI: $*"; exit 1
	fi
	echo "SKIP $*"; exit 77
}

wgt_require_root() {
	[ "$(id -u)" = 0 ] || wgt_cannot_run "needs root (network namespaces, TUN)"
	[ -c /dev/net/tun ] || wgt_cannot_run "no /dev/net/tun"
	ip netns list >/dev/null 2>&1 || wgt_cannot_run "ip netns does not work"
}

wgt_require_cmds() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || wgt_cannot_run "missing command: $c"
	done
}

# Turn an impl name into something runnable, or fail.
wgt_impl_ok() {
	case $1 in
	hyphaed)
		[ -n "${HYPHAED:-}" ] && [ -x "$HYPHAED" ] || {
			wgt_log "HYPHAED is not set to an executable hyphaed (got '${HYPHAED:-}')"; return 1; }
		;;
	wireguard-go) command -v wireguard-go >/dev/null || { wgt_log "wireguard-go not installed"; return 1; } ;;
	*) [ -x "$1" ] || { wgt_log "implementation '$1' is not an executable"; return 1; } ;;
	esac
}

# ---------------------------------------------------------------- cleanup

wgt_kill_pid() {   # TERM, wait up to 3 s, then KILL; only pids we started
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 30); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

wgt_del_netns() {
	local ns=$1 pid
	ip netns list 2>/dev/null | grep -qw "^$ns" || return 0
	# Anything still running inside one of *our* namespaces was started by us
	# (daemonized implementations, iperf3 servers, capture helpers).
	for pid in $(ip netns pids "$ns" 2>/dev/null); do wgt_kill_pid "$pid"; done
	ip netns del "$ns" 2>/dev/null
}

wgt_cleanup() {
	local rc=$? ifn ns
	trap - EXIT INT TERM
	for ifn in "${!WGT_PID[@]}"; do wgt_kill_pid "${WGT_PID[$ifn]}"; done
	for ns in "${WGT_MY_NETNS[@]}"; do wgt_del_netns "$ns"; done
	for ifn in "${WGT_MY_IFS[@]}"; do rm -f "$WGT_UAPI_DIR/$ifn.sock"; done
	if [ -n "${WGT_KEEP_TMP:-}" ]; then wgt_log "kept $WGT_TMP"; else rm -rf "$WGT_TMP"; fi
	exit "$rc"
}
trap wgt_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- topology

wgt_netns_add() {
	ip netns add "$1" || return 1
	WGT_MY_NETNS+=("$1")
	ip -n "$1" link set lo up
}

# Two namespaces joined by a veth pair, IPv4 + IPv6 underlay addresses.
wgt_topology() {
	wgt_netns_add "$WGT_NS_A" && wgt_netns_add "$WGT_NS_B" || return 1
	ip link add va netns "$WGT_NS_A" type veth peer name vb netns "$WGT_NS_B" || return 1
	# Secondary addresses survive the deletion of the primary (roaming test).
	# (/proc/sys/net is per namespace: no need for procps' sysctl)
	ip netns exec "$WGT_NS_A" sh -c 'echo 1 >/proc/sys/net/ipv4/conf/va/promote_secondaries' || return 1
	ip netns exec "$WGT_NS_B" sh -c 'echo 1 >/proc/sys/net/ipv4/conf/vb/promote_secondaries' || return 1
	ip -n "$WGT_NS_A" addr add "$WGT_UL_A/24" dev va
	ip -n "$WGT_NS_B" addr add "$WGT_UL_B/24" dev vb
	ip -n "$WGT_NS_A" addr add "$WGT_UL6_A/64" dev va nodad
	ip -n "$WGT_NS_B" addr add "$WGT_UL6_B/64" dev vb nodad
	ip -n "$WGT_NS_A" link set va up
	ip -n "$WGT_NS_B" link set vb up
}

wgt_topology_down() {
	local ns
	for ns in "$WGT_NS_A" "$WGT_NS_B"; do wgt_del_netns "$ns"; done
}

# ---------------------------------------------------------------- keys

# wgt_keys NAME: writes $WGT_TMP/NAME.key and NAME.pub (fresh `wg genkey`).
wgt_keys() {
	(umask 077; wg genkey >"$WGT_TMP/$1.key") && wg pubkey <"$WGT_TMP/$1.key" >"$WGT_TMP/$1.pub"
}
wgt_pub() { cat "$WGT_TMP/$1.pub"; }

# ---------------------------------------------------------------- implementations

wgt_sock_ready() { [ -S "$WGT_UAPI_DIR/$1.sock" ] && wg show "$1" >/dev/null 2>&1; }

# wgt_start NS IMPL IF: start IMPL in the foreground serving IF inside NS and wait
# (≤10 s) until its UAPI socket answers.  Sets WGT_PID[IF].
wgt_start() {
	local ns=$1 impl=$2 ifn=$3 log="$WGT_TMP/$3.$WGT_RUN.log" pid i
	wgt_impl_ok "$impl" || return 1
	case " ${WGT_MY_IFS[*]} " in *" $ifn "*) ;; *) WGT_MY_IFS+=("$ifn") ;; esac
	if [ -e "$WGT_UAPI_DIR/$ifn.sock" ]; then wgt_log "stale $WGT_UAPI_DIR/$ifn.sock"; rm -f "$WGT_UAPI_DIR/$ifn.sock"; fi
	echo "=== start $impl $ifn in $ns ($(date +%T.%N))" >>"$log"
	case $impl in
	hyphaed) ip netns exec "$ns" "$HYPHAED" --wireguard "$ifn" --foreground >>"$log" 2>&1 & ;;
	wireguard-go) ip netns exec "$ns" env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 \
		wireguard-go -f "$ifn" >>"$log" 2>&1 & ;;
	*) ip netns exec "$ns" "$impl" -f "$ifn" >>"$log" 2>&1 & ;;
	esac
	pid=$!
	WGT_PID[$ifn]=$pid
	WGT_LOG[$ifn]=$log
	for i in $(seq 100); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"; wgt_log "$impl ($ifn) exited with status $? before serving UAPI"
			unset "WGT_PID[$ifn]"; return 1
		fi
		wgt_sock_ready "$ifn" && return 0
		sleep 0.1
	done
	wgt_log "$impl ($ifn): no UAPI socket $WGT_UAPI_DIR/$ifn.sock after 10 s"
	return 1
}

# wgt_stop IF: SIGTERM the implementation; returns 0 only if it exited within 5 s
# and removed its UAPI socket (the contract of wireguard-go and hyphaed).
wgt_stop() {
	local ifn=$1 pid=${WGT_PID[$1]:-} i
	[ -n "$pid" ] || return 1
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		wgt_log "$ifn: pid $pid still running 5 s after SIGTERM"; wgt_kill_pid "$pid"
		unset "WGT_PID[$ifn]"; return 1
	fi
	wait "$pid" 2>/dev/null
	unset "WGT_PID[$ifn]"
	for i in $(seq 20); do [ -e "$WGT_UAPI_DIR/$ifn.sock" ] || return 0; sleep 0.1; done
	wgt_log "$ifn: $WGT_UAPI_DIR/$ifn.sock left behind after exit"
	rm -f "$WGT_UAPI_DIR/$ifn.sock"
	return 1
}

wgt_alive() { local p=${WGT_PID[$1]:-}; [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

wgt_dump_log() {   # last lines of an implementation's log, indented, to stderr
	local f=${WGT_LOG[$1]:-}
	[ -n "$f" ] && [ -s "$f" ] || return 0
	wgt_log "--- last lines of $1 log ($f):"
	# (without wireguard-go's "kernel has first class support" box)
	grep -v '[│┌└]' "$f" | tail -n "${2:-25}" | sed 's/^/    /' >&2
}

# wgt_configure NS IF KEYNAME PORT PEERKEYNAME PEER_ENDPOINT PEER_IN4 PEER_IN6 MY_IN4 MY_IN6
# `wg set` the device, give the TUN its inner addresses and bring it up.
# PEER_ENDPOINT may be "" (no endpoint).
wgt_configure() {
	local ns=$1 ifn=$2 key=$3 port=$4 peer=$5 ep=$6 p4=$7 p6=$8 m4=$9 m6=${10}
	local epargs=()
	[ -n "$ep" ] && epargs=(endpoint "$ep")
	ip netns exec "$ns" wg set "$ifn" private-key "$WGT_TMP/$key.key" listen-port "$port" \
		peer "$(wgt_pub "$peer")" "${epargs[@]}" allowed-ips "$p4/32,$p6/128" || return 1
	ip -n "$ns" addr add "$m4/24" dev "$ifn" || return 1
	ip -n "$ns" addr add "$m6/64" dev "$ifn" nodad || return 1
	ip -n "$ns" link set "$ifn" up || return 1
}

wgt_configure_a() {
	wgt_configure "$WGT_NS_A" "$WGT_IF_A" a "$WGT_PORT_A" b "${1-$WGT_UL_B:$WGT_PORT_B}" \
		"$WGT_IN_B" "$WGT_IN6_B" "$WGT_IN_A" "$WGT_IN6_A"
}
wgt_configure_b() {
	wgt_configure "$WGT_NS_B" "$WGT_IF_B" b "$WGT_PORT_B" a "${1-$WGT_UL_A:$WGT_PORT_A}" \
		"$WGT_IN_A" "$WGT_IN6_A" "$WGT_IN_B" "$WGT_IN6_B"
}

# wgt_pair_up IMPL_A IMPL_B: topology, fresh keys, both ends started and configured
# (each end has the other's endpoint).
wgt_pair_up() {
	WGT_RUN=$((WGT_RUN + 1))
	wgt_topology || { wgt_log "topology failed"; return 1; }
	wgt_keys a && wgt_keys b || return 1
	wgt_start "$WGT_NS_A" "$1" "$WGT_IF_A" || { wgt_dump_log "$WGT_IF_A"; return 1; }
	wgt_start "$WGT_NS_B" "$2" "$WGT_IF_B" || { wgt_dump_log "$WGT_IF_B"; return 1; }
	wgt_configure_a || { wgt_log "configuring $1 ($WGT_IF_A) failed"; return 1; }
	wgt_configure_b || { wgt_log "configuring $2 ($WGT_IF_B) failed"; return 1; }
}

wgt_pair_down() {
	local ifn
	for ifn in "$WGT_IF_A" "$WGT_IF_B"; do
		[ -n "${WGT_PID[$ifn]:-}" ] && { wgt_kill_pid "${WGT_PID[$ifn]}"; unset "WGT_PID[$ifn]"; }
		rm -f "$WGT_UAPI_DIR/$ifn.sock"
	done
	wgt_topology_down
}

# ---------------------------------------------------------------- probes

# wgt_ping NS DEST [COUNT]: COUNT (3) replies within 10 s.
wgt_ping() {
	ip netns exec "$1" ping -n -q -c "${3:-3}" -i 0.2 -w 10 "$2" >/dev/null 2>&1
}

# wgt_wg_field NS IF FIELD: value of `wg show IF FIELD` for the only peer
# (fields: latest-handshakes, endpoints, transfer -> "rx tx").
wgt_wg_field() {
	ip netns exec "$1" wg show "$2" "$3" 2>/dev/null | awk -F'\t' 'NR==1 { $1=""; sub(/^ /, ""); print }'
}

# VmRSS / RssAnon (kB) of a pid.
wgt_mem() {   # wgt_mem PID FIELD
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null
}
