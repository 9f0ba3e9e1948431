# SPDX-License-Identifier: MIT
# Shared by the state-page tests (app-sign-in.sh, app-browser.sh): source it
# after app-lib.sh's app_session; it sources mesh-lib.sh (the tailnet) and
# keyring-lib.sh (the keyring the app keeps its keys in, started here).
#
#   states_begin NAME [SERVER-ARGS…]   the exit trap, then the tailnet (hub, the
#                            control server started with SERVER-ARGS, A's and B's
#                            buses) and the keyring; the test ends if one fails
#   states_finish            the summary (app and tailnet logs on a failure), exit
#   states_fatal MESSAGE     a failed check, then states_finish
#   states_app_start         the app on node A's bus
#   states_main_view         wait for the main view (the page shown while Running)
#   states_running HOST      `hyphaectl status --json` on A says Running (≤ 60 s),
#                            and Self's HostName is HOST (when given)
#   states_backend STATE     A's BackendState is STATE (≤ 60 s)
#   states_server_get URL [POST]    GET (or POST) URL from the hub: the control server
#   states_clipboard         the text on the display's clipboard (GTK 4 from Python)
#   states_profile_is NAME   hyphaed's Profile on A is NAME

TESTS_DIR=$(dirname "${BASH_SOURCE[0]}")/../integration
. "$TESTS_DIR/mesh-lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/keyring-lib.sh"
STATES_NAME=
STATES_T0=

states_begin() {
	STATES_NAME=$1
	shift
	STATES_T0=$(date +%s)
	trap states_cleanup EXIT
	mesh_require
	mesh_topology || states_fatal "topology: hub bridge and two node namespaces"
	mesh_server_start "$@" || states_fatal "control server ($*) starts in the hub on $MESH_URL"
	mesh_buses || states_fatal "polkit actions installed; a private system bus and polkitd in A and in B"
	command -v gnome-keyring-daemon >/dev/null 2>&1 || app_cannot_run "no gnome-keyring-daemon (package gnome-keyring)"
	KEYRING_LOG=$APP_T/keyring.log keyring_start || states_fatal "a keyring on the session bus"
}

states_finish() {
	[ "$WGT_FAILS" = 0 ] || app_log_tail
	mesh_finish "$STATES_NAME" "$STATES_T0"
}

states_fatal() {
	wgt_fail "$*"
	states_finish
}

states_cleanup() {
	local rc=$?
	app_stop
	keyring_stop
	(exit "$rc")
	mesh_cleanup
}

states_app_start() { app_start "$(dbl_addr a)"; }

# The main view's own widget: its AT-SPI name is its type name.
states_main_view() { atspi wait HyphaeMainView filler; }

states_running() {
	local host=${1:-}
	mesh_wait a 60 mesh_is_running a || return 1
	[ -z "$host" ] && return 0
	"$WGT_PY" -c '
import json, sys
st = json.load(open(sys.argv[1]))
sys.exit(0 if (st.get("Self") or {}).get("HostName") == sys.argv[2] else 1)' "$MESH_DIR/a.status.json" "$host"
}

states_is_backend() { [ "$(mesh_json a state)" = "$1" ]; }
states_backend() { mesh_wait a 60 states_is_backend "$1"; }

states_server_get() {
	ip netns exec "$MESH_NS_HUB" "$WGT_PY" -c '
import sys, urllib.request
data = b"" if len(sys.argv) > 2 else None
sys.stdout.write(urllib.request.urlopen(sys.argv[1], data=data, timeout=10).read().decode())' "$@"
}

states_clipboard() {
	GDK_BACKEND=x11 "$APP_PY" -c '
import gi
gi.require_version("Gdk", "4.0")
gi.require_version("Gtk", "4.0")
from gi.repository import GLib, Gtk
Gtk.init()
loop, out = GLib.MainLoop(), []
clipboard = Gtk.Label().get_display().get_clipboard()
def done(c, result):
    out.append(c.read_text_finish(result) or "")
    loop.quit()
clipboard.read_text_async(None, done)
GLib.timeout_add_seconds(10, loop.quit)  # a hang guard: no owner answered
loop.run()
print(out[0] if out else "")'
}

states_profile_is() {
	[ "$(DBUS_SYSTEM_BUS_ADDRESS=$(dbl_addr a) gdbus call --system --dest "$MESH_BUS_NAME" \
		--object-path /io/github/hyphae/Mesh1 --method org.freedesktop.DBus.Properties.Get \
		"$MESH_BUS_NAME" Profile 2>/dev/null)" = "(<'$1'>,)" ]
}
