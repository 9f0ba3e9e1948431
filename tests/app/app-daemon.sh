#!/bin/bash
# SPDX-License-Identifier: MIT
# The app against a real hyphaed (app-lib.sh: Xvfb, a private session,
# AT-SPI): the tailnet of mesh-lib.sh (the Go control server in a hub
# namespace, node A's private system bus with polkitd activating hyphaed in
# A's namespace); the app runs in this namespace on A's bus (a socket file).
#   the window shows hyphaed's state before login (Signed Out, NoState or
#   NeedsLogin);
#   after `hyphaectl up --auth-key` on A it shows Running (Connected) without
#   any action in the window (PropertiesChanged reaches it; screenshot
#   connected.png);
#   after `hyphaectl down`, Stopped (Disconnected).
# Exit 0 if every check passed, 1 otherwise, 77 when it cannot run outside CI.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/app-lib.sh"
app_session "$@"

TESTS_DIR=$HERE/../integration
. "$TESTS_DIR/mesh-lib.sh"
T0=$(date +%s)
finish() {
	[ "$WGT_FAILS" = 0 ] || app_log_tail
	mesh_finish app-daemon "$T0"
}
fatal() { wgt_fail "$*"; finish; }
cleanup_all() {
	local rc=$?
	app_stop
	(exit "$rc")
	mesh_cleanup
}
trap cleanup_all EXIT

mesh_require
mesh_topology || fatal "topology: hub bridge and two node namespaces"
mesh_server_start || fatal "control server starts in the hub on $MESH_URL"
mesh_buses || fatal "polkit actions installed; a private system bus and polkitd in A and in B"

app_start "$(dbl_addr a)"
wgt_check "before login the window shows hyphaed's state: Signed Out (NoState or NeedsLogin)" \
	atspi wait "Signed Out" label "re:^Service state: (NoState|NeedsLogin)$" label
mesh_up a >"$MESH_DIR/a.up.out" 2>&1 || fatal "hyphaectl up on A: $(cat "$MESH_DIR/a.up.out")"
wgt_check "after hyphaectl up the window shows Connected (Running)" \
	atspi wait "Connected" label "Service state: Running" label
wgt_check "screenshot connected.png shows the window" app_screenshot connected
mesh_ctl a down >/dev/null 2>&1 || wgt_fail "hyphaectl down on A"
wgt_check "after hyphaectl down the window shows Disconnected (Stopped)" \
	atspi wait "Disconnected" label "Service state: Stopped" label
wgt_check "the app is still running" app_alive
finish
