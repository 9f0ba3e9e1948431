#!/bin/bash
# SPDX-License-Identifier: MIT
# HyphaeClient (src/common/hyphae-client.h, the app's only D-Bus code) against a
# real hyphaed on a private system bus with polkitd (dbus-lib.sh) and the Go
# control server, inside a network namespace made here and removed on exit.
# test-client-object.c does the checks (see there): daemon-state NOT_INSTALLED →
# FAILED → RUNNING when hyphaectl activates the daemon; AuthURLReady reaches the
# client that called Up (interactive server); properties equal `hyphaectl
# status --json`; state notifies in order while hyphaectl down/up runs; pref
# notifies; error kinds (InvalidArgument; NotAuthorized as uid 65534); a peer
# going offline is updated in place; daemon-restarted when hyphaed restarts.
#
#   HYPHAED=build/daemon/service/hyphaed HYPHAECTL=build/src/cli/hyphaectl \
#   HYPHAE_TS2021_CONTROL=build/tests/ts2021/ts2021-control \
#   HYPHAE_CLIENT_TEST=build/tests/integration/test-client-object tests/integration/client.sh
#
# Exit 0 if every check passed, 1 otherwise, 77 when it cannot run outside CI.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/dbus-lib.sh"

NS=hyC$$
FAILS=0
CONTROL_PIDS=()

cannot_run() {
	if [ -n "${CI:-}" ]; then echo "FAIL cannot run in CI: $*"; exit 1; fi
	echo "SKIP $*"; exit 77
}

cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	for pid in "${CONTROL_PIDS[@]}"; do dbl_kill "$pid"; done
	if [ "$FAILS" -gt 0 ] || [ "$rc" != 0 ]; then
		dbl_dump_logs "$DBL_DIR"/s/bus.log "$DBL_DIR"/s/polkitd.log "$DBL_DIR"/control*.err
	fi
	dbl_cleanup
	ip netns del "$NS" 2>/dev/null
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ "$(id -u)" = 0 ] || cannot_run "needs root (network namespace, polkitd)"
for c in ip dbus-daemon gdbus setpriv unshare mount timeout "$DBL_POLKITD"; do
	command -v "$c" >/dev/null 2>&1 || cannot_run "missing command: $c"
done
for v in HYPHAED HYPHAECTL HYPHAE_TS2021_CONTROL HYPHAE_CLIENT_TEST; do
	[ -n "${!v:-}" ] && [ -x "${!v}" ] || cannot_run "$v is not an executable"
done
[ -c /dev/net/tun ] || cannot_run "no /dev/net/tun"
ip netns add "$NS" || cannot_run "ip netns does not work"
ip -n "$NS" link set lo up

export G_SLICE=always-malloc G_DEBUG=gc-friendly

STATE=$DBL_DIR/state
UAPI=$DBL_DIR/uapi
mkdir -p "$UAPI"
dbl_install_policy || { echo "FAIL stage the polkit policy"; exit 1; }
dbl_bus_start s "$NS" "$STATE" --ifname hyphae0 --uapi-dir "$UAPI" || { echo "FAIL private bus + polkitd"; exit 1; }
# The test starts without a service file (daemon not installed) and writes it back.
SERVICE_FILE=$DBL_DIR/s/services/$DBL_BUS_NAME.service
SERVICE_TEXT=$(cat "$SERVICE_FILE")
rm -f "$SERVICE_FILE"

# control_start NAME ARGS…: the Go control server in the namespace; its URL in CONTROL_URL_OUT.
control_start() {
	local name=$1 i; shift
	ip netns exec "$NS" "$HYPHAE_TS2021_CONTROL" -listen 127.0.0.1:0 -timeout 600s "$@" \
		>"$DBL_DIR/$name.out" 2>"$DBL_DIR/$name.err" </dev/null &
	CONTROL_PIDS+=($!)
	for i in $(seq 100); do grep -q '^LISTEN ' "$DBL_DIR/$name.out" 2>/dev/null && break; sleep 0.1; done
	CONTROL_URL_OUT=http://$(sed -n 's/^LISTEN //p' "$DBL_DIR/$name.out")
	[ "$CONTROL_URL_OUT" != http:// ]
}
control_start control -auth-key tskey-right -approve-routes || { echo "FAIL control server"; exit 1; }
CONTROL_URL=$CONTROL_URL_OUT
control_start control-interactive -interactive || { echo "FAIL interactive control server"; exit 1; }
INTERACTIVE_URL=$CONTROL_URL_OUT

# uid 65534 runs a copy where it can reach it (the build tree may not be).
mkdir -p "$DBL_DIR/bin" && install -m 755 "$HYPHAE_CLIENT_TEST" "$DBL_DIR/bin/test-client-object" ||
	cannot_run "cannot copy the test program"

BUS_ADDR=$(dbl_addr s)
if ! timeout 300 ip netns exec "$NS" env DBUS_SYSTEM_BUS_ADDRESS="$BUS_ADDR" SERVICE_FILE="$SERVICE_FILE" SERVICE_TEXT="$SERVICE_TEXT" \
	CONTROL_URL="$CONTROL_URL" INTERACTIVE_URL="$INTERACTIVE_URL" "$HYPHAE_CLIENT_TEST" --verbose; then
	FAILS=$((FAILS + 1))
	echo "FAIL test-client-object"
fi
if ! timeout 120 ip netns exec "$NS" setpriv --reuid=65534 --regid=65534 --clear-groups \
	env DBUS_SYSTEM_BUS_ADDRESS="$BUS_ADDR" "$DBL_DIR/bin/test-client-object" --not-authorized; then
	FAILS=$((FAILS + 1))
	echo "FAIL test-client-object --not-authorized"
fi
[ "$FAILS" = 0 ] && echo "PASS client"
[ "$FAILS" = 0 ]
