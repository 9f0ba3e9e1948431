# SPDX-License-Identifier: MIT
# What os-dns-direct.sh and os-dns-resolved.sh share. Source it first: it runs
# the test again inside a private mount namespace (unshare -m: its bind mounts
# over /etc files and /run/systemd die with it, the host never sees them),
# then sources mesh-lib.sh (node A on its private bus, the Go control server)
# and adds:
#   check NAME CMD…          wgt_check
#   wait_for SECONDS CMD…    poll until CMD holds (a hang guard, not a delay)
#   osdns_kill9              kill -9 node A's hyphaed and wait until it is gone
#   osdns_self_name          A's MagicDNS name, without the final dot

if [ -z "${OSDNS_MNTNS:-}" ]; then
	[ "$(id -u)" = 0 ] || { [ -n "${CI:-}" ] && { echo "FAIL cannot run in CI: needs root"; exit 1; }
		echo "SKIP needs root"; exit 77; }
	exec unshare -m --propagation private env OSDNS_MNTNS=1 bash "$0" "$@"
fi

. "$(dirname "${BASH_SOURCE[0]}")/mesh-lib.sh"
mesh_require

check() { wgt_check "$@"; }
wait_for() {
	local end=$(($(date +%s) + $1)); shift
	until "$@"; do [ "$(date +%s)" -ge "$end" ] && return 1; sleep 0.2; done
}
osdns_not_alive() { ! kill -0 "$1" 2>/dev/null; }
osdns_kill9() {
	local pid
	pid=$(mesh_daemon_pid a) || return 1
	kill -KILL "$pid" && wait_for 10 osdns_not_alive "$pid"
}
osdns_self_name() {
	mesh_status a && "$WGT_PY" -c 'import json, sys
print(json.load(open(sys.argv[1]))["Self"]["DNSName"].rstrip("."))' "$MESH_DIR/a.status.json"
}
