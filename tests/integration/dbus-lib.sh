# SPDX-License-Identifier: MIT
# A private system bus with activation and a real polkitd, one per hyphaed
# (dbus-daemon(1): a bus config of our own, see dbl_write_conf).
# Source it from bash; it starts nothing by itself.  Needs root.
#
# polkitd 122 reads actions only from /usr/share/polkit-1/actions. Rather than
# installing our .policy there (shared by every test running at the same time,
# and left behind by a killed test), each polkitd runs in its own mount
# namespace where that directory is a bind mount of $DBL_DIR/actions: the
# system's actions plus ours (polkit 122 reads only /usr/share/polkit-1).
#
#   dbl_install_policy [DATA_DIR]     stage DATA_DIR/io.github.hyphae.policy (default
#                                     DBL_DATA_DIR) in $DBL_DIR/actions
#   dbl_bus_start NAME NS STATE [ARGS…]
#                                     bus NAME inside netns NS ("" = this one) whose
#                                     service file runs `$HYPHAED --state-dir STATE ARGS…`
#                                     (plus --uapi-dir $DBL_DIR/NAME/uapi unless ARGS
#                                     has one: the host's /var/run/wireguard stays
#                                     untouched), and polkitd on it; the bus policy is
#                                     DBL_DATA_DIR's io.github.hyphae.Mesh1.conf
#   dbl_addr NAME                     its address, for DBUS_SYSTEM_BUS_ADDRESS
#   dbl_run NAME CMD…                 CMD in NAME's netns with NAME's bus as system bus
#   dbl_run_nobody NAME CMD…          the same as uid/gid 65534 without groups
#   dbl_daemon_pid NAME               pid owning io.github.hyphae.Mesh1 on NAME, or ""
#   dbl_daemon_stop NAME              SIGTERM the daemon, wait (≤10 s) until it is gone
#   dbl_polkit_stop NAME              stop NAME's polkitd (callers then get denials)
#   dbl_polkit_start NAME             start it again
#   dbl_bus_stop NAME                 stop daemon, polkitd and bus
#   dbl_bus_restart NAME              start NAME's bus again (same files; no polkitd)
#   dbl_cleanup                       stop everything, remove DBL_DIR
#
# Each bus keeps its files in $DBL_DIR/NAME (mode 755: polkitd drops to user
# polkitd and must reach the socket): bus.conf, services/, system.d/, bus.log
# (the bus's and the activated daemon's stderr), polkitd.log.
# Environment: HYPHAED (the daemon), DBL_DATA_DIR (data/ of the source tree;
# defaults to ../../data from here), DBL_RESOLV_CONF (the resolv.conf hyphaed's
# OS DNS may write: HYPHAE_RESOLV_CONF; default $DBL_DIR/NAME/resolv.conf).

DBL_BUS_NAME=io.github.hyphae.Mesh1
DBL_POLKITD=${DBL_POLKITD:-/usr/lib/polkit-1/polkitd}
DBL_SYSTEM_ACTIONS=/usr/share/polkit-1/actions
DBL_DATA_DIR=${DBL_DATA_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../data" && pwd)}
DBL_DIR=${DBL_DIR:-$(mktemp -d /tmp/hyphae-dbus.XXXXXX)}
chmod 755 "$DBL_DIR"
DBL_ACTIONS=$DBL_DIR/actions     # what our polkitds see as /usr/share/polkit-1/actions
declare -A DBL_NS=() DBL_BUS_PID=() DBL_POLKIT_PID=()

dbl_log() { printf '%s\n' "$*" >&2; }

# TERM, wait up to 5 s, then KILL (only pids we started).
dbl_kill() {
	local pid=$1 i
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

dbl_install_policy() {
	local src=${1:-$DBL_DATA_DIR}/io.github.hyphae.policy
	[ -f "$src" ] || { dbl_log "no $src"; return 1; }
	dbl_stage_actions && install -m 644 "$src" "$DBL_ACTIONS/io.github.hyphae.policy"
}

dbl_stage_actions() {
	[ -d "$DBL_ACTIONS" ] && return 0
	mkdir -p "$DBL_ACTIONS" && chmod 755 "$DBL_ACTIONS" || return 1
	[ -d "$DBL_SYSTEM_ACTIONS" ] || { dbl_log "no $DBL_SYSTEM_ACTIONS (is polkitd installed?)"; return 1; }
	cp -rp "$DBL_SYSTEM_ACTIONS"/. "$DBL_ACTIONS"/
}

dbl_addr() { printf 'unix:path=%s/%s/system_bus_socket' "$DBL_DIR" "$1"; }

dbl_nsexec() {   # dbl_nsexec NAME CMD…: CMD inside NAME's namespace (if any)
	local ns=${DBL_NS[$1]:-}; shift
	if [ -n "$ns" ]; then ip netns exec "$ns" "$@"; else "$@"; fi
}

# "ip netns exec NS" for NAME, or nothing. Background processes are started as
# `"${DBL_PREFIX[@]}" cmd … &` (a simple command, never a function), so that $!
# is the process itself and killing it by pid works.
dbl_prefix() {
	local ns=${DBL_NS[$1]:-}
	DBL_PREFIX=()
	[ -n "$ns" ] && DBL_PREFIX=(ip netns exec "$ns")
	return 0
}

dbl_run() {
	local n=$1; shift
	dbl_nsexec "$n" env DBUS_SYSTEM_BUS_ADDRESS="$(dbl_addr "$n")" "$@"
}

dbl_run_nobody() {
	local n=$1; shift
	dbl_nsexec "$n" setpriv --reuid=65534 --regid=65534 --clear-groups \
		env DBUS_SYSTEM_BUS_ADDRESS="$(dbl_addr "$n")" "$@"
}

# The bus configuration (dbus-daemon(1)): system.conf's default-deny policy, the
# PolicyKit1 policy, then our own policy dir (included after, so it wins).
dbl_write_conf() {
	local d=$1
	cat >"$d/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$d/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$d/services</servicedir>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"
          send_member="UpdateActivationEnvironment"/>
  </policy>
  <include>/usr/share/dbus-1/system.d/org.freedesktop.PolicyKit1.conf</include>
  <includedir>$d/system.d</includedir>
</busconfig>
EOF
}

# dbl_service_file NAME STATE [ARGS…]: (re)write the activation file.
dbl_service_file() {
	local n=$1 state=$2 d=$DBL_DIR/$1; shift 2
	# No User=: without a servicehelper the bus ignores it (runs as root).
	printf '[D-BUS Service]\nName=%s\nExec=%s --state-dir %s%s\n' \
		"$DBL_BUS_NAME" "$HYPHAED" "$state" "${*:+ $*}" >"$d/services/$DBL_BUS_NAME.service"
}

dbl_bus_start() {
	local n=$1 ns=$2 state=$3 d=$DBL_DIR/$1 i; shift 3
	[ -n "${HYPHAED:-}" ] && [ -x "$HYPHAED" ] || { dbl_log "HYPHAED is not an executable"; return 1; }
	DBL_NS[$n]=$ns
	mkdir -p "$d/services" "$d/system.d" "$state" && chmod 755 "$d" && chmod 700 "$state" || return 1
	cp "$DBL_DATA_DIR/io.github.hyphae.Mesh1.conf" "$d/system.d/" || return 1
	dbl_write_conf "$d"
	case " $* " in
	*" --uapi-dir "*) ;;
	*) mkdir -p "$d/uapi" && set -- "$@" --uapi-dir "$d/uapi" ;;
	esac
	dbl_service_file "$n" "$state" "$@"
	# The activated hyphaed inherits the bus's environment and its stderr.
	dbl_bus_restart "$n" && dbl_polkit_start "$n"
}

# dbl_bus_restart NAME: start (again) NAME's dbus-daemon with its existing files.
dbl_bus_restart() {
	local n=$1 d=$DBL_DIR/$1 i
	rm -f "$d/system_bus_socket" "$d/bus.addr"
	dbl_prefix "$n"
	# hyphaed in direct DNS mode writes resolv.conf: never the host's, unless a
	# test asks for it (DBL_RESOLV_CONF, inside its own mount namespace).
	"${DBL_PREFIX[@]}" env HYPHAE_RESOLV_CONF="${DBL_RESOLV_CONF:-$d/resolv.conf}" \
		dbus-daemon --config-file="$d/bus.conf" --nofork --print-address=1 \
		>"$d/bus.addr" 2>>"$d/bus.log" </dev/null &
	DBL_BUS_PID[$n]=$!
	for i in $(seq 100); do
		[ -s "$d/bus.addr" ] && [ -S "$d/system_bus_socket" ] && return 0
		kill -0 "${DBL_BUS_PID[$n]}" 2>/dev/null || { dbl_log "bus $n died:"; cat "$d/bus.log" >&2; return 1; }
		sleep 0.1
	done
	dbl_log "bus $n: no socket after 10 s"
	return 1
}

dbl_polkit_start() {
	local n=$1 d=$DBL_DIR/$1
	dbl_stage_actions || return 1
	dbl_prefix "$n"
	# Its own mount namespace (unshare -m: private propagation) with our actions
	# dir over the system's; ip, env, unshare and sh all exec, so $! is polkitd.
	"${DBL_PREFIX[@]}" env DBUS_SYSTEM_BUS_ADDRESS="$(dbl_addr "$n")" \
		unshare -m sh -c 'mount --bind "$1" "$2" && exec "$3" --no-debug' sh \
		"$DBL_ACTIONS" "$DBL_SYSTEM_ACTIONS" "$DBL_POLKITD" >>"$d/polkitd.log" 2>&1 </dev/null &
	DBL_POLKIT_PID[$n]=$!
	dbl_run "$n" gdbus wait --system --timeout 20 org.freedesktop.PolicyKit1 || {
		dbl_log "bus $n: polkitd did not appear"; cat "$d/polkitd.log" >&2; return 1; }
}

dbl_polkit_stop() {
	dbl_kill "${DBL_POLKIT_PID[$1]:-}"
	unset "DBL_POLKIT_PID[$1]"
}

dbl_daemon_pid() {
	dbl_run "$1" gdbus call --system --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
		--method org.freedesktop.DBus.GetConnectionUnixProcessID "$DBL_BUS_NAME" 2>/dev/null |
		sed -n 's/^(uint32 \([0-9]*\),)$/\1/p'
}

# The daemon was started by the bus (not by us): stop it by the pid that owns
# the name, and wait until it has released the name and exited.
dbl_daemon_stop() {
	local pid i
	pid=$(dbl_daemon_pid "$1")
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	dbl_log "bus $1: hyphaed $pid still running 10 s after SIGTERM"
	kill -KILL "$pid" 2>/dev/null
	return 1
}

dbl_bus_stop() {
	local n=$1
	dbl_daemon_stop "$n"
	dbl_polkit_stop "$n"
	dbl_kill "${DBL_BUS_PID[$n]:-}"
	unset "DBL_BUS_PID[$n]"
}

dbl_dump_logs() {   # dbl_dump_logs FILE…: the last 40 lines of each non-empty one, on stderr
	local f
	for f in "$@"; do
		[ -s "$f" ] || continue
		echo "--- last lines of $f:" >&2
		tail -n 40 "$f" | sed 's/^/    /' >&2
	done
}

dbl_cleanup() {
	local n
	for n in "${!DBL_BUS_PID[@]}"; do dbl_bus_stop "$n"; done
	for n in "${!DBL_POLKIT_PID[@]}"; do dbl_polkit_stop "$n"; done
	if [ -n "${DBL_KEEP_TMP:-}" ]; then dbl_log "kept $DBL_DIR"; else rm -rf "$DBL_DIR"; fi
}
