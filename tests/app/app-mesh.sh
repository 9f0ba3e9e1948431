# SPDX-License-Identifier: MIT
# What the main view's tests (app-peers.sh, app-settings.sh) share: source it
# from bash after app-lib.sh's `app_session "$@"`, with APP_MESH_NAME set to
# the test's name. It sources mesh-lib.sh and sets up:
#
#   finish, fatal MSG        the summary (with the app's log tail on a failure)
#   the exit trap            stops the app and the exit node, then mesh_cleanup
#   app_mesh_start           topology, the control server approving routes,
#                            the node buses
#   app_mesh_exit_node       starts HOST_X (zz-exit-$WGT_ID): a Go map client
#                            in the hub offering 0.0.0.0/0 and ::/0, so an exit
#                            node candidate (its pid in APP_MESH_EXIT_PID)
#   app_mesh_sees_x          A's `hyphaectl status` has HOST_X online
#   dns KEY, dns_is KEY VALUE  a field of A's Mesh1 DNS property (a list as the
#                            app shows it: joined with ", ", "None" when empty)
TESTS_DIR=$APP_LIB_DIR/../integration
. "$TESTS_DIR/mesh-lib.sh"
APP_MESH_T0=$(date +%s)
APP_MESH_EXIT_PID=
HOST_X=zz-exit-$WGT_ID

finish() {
	[ "$WGT_FAILS" = 0 ] || app_log_tail
	mesh_finish "$APP_MESH_NAME" "$APP_MESH_T0"
}
fatal() { wgt_fail "$*"; finish; }
app_mesh_cleanup() {
	local rc=$?
	app_stop
	[ -n "$APP_MESH_EXIT_PID" ] && wgt_kill_pid "$APP_MESH_EXIT_PID"
	(exit "$rc")
	mesh_cleanup
}
trap app_mesh_cleanup EXIT

app_mesh_start() {
	mesh_require
	mesh_topology || fatal "topology: hub bridge and two node namespaces"
	mesh_server_start -approve-routes || fatal "control server starts in the hub on $MESH_URL"
	mesh_buses || fatal "polkit actions installed; a private system bus and polkitd in A and in B"
}

app_mesh_exit_node() {
	ip netns exec "$MESH_NS_HUB" "$(mesh_server_bin)" -role mapclient -url "$MESH_URL" \
		-auth-key "$MESH_AUTHKEY" -hostname "$HOST_X" -routes 0.0.0.0/0,::/0 >"$MESH_DIR/exit.out" 2>&1 &
	APP_MESH_EXIT_PID=$!
}

app_mesh_sees_x() { [ "$(mesh_json a peer "$HOST_X" | awk '{print $3}')" = True ]; }

# dns KEY: a field of A's DNS property (a list joined as the app shows it:
# ", ", "None" when empty).
dns() {
	"$WGT_PY" - "$(dbl_addr a)" "$1" <<'PY'
import sys
from gi.repository import Gio, GLib
bus = Gio.DBusConnection.new_for_address_sync(sys.argv[1],
    Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
reply = bus.call_sync("io.github.hyphae.Mesh1", "/io/github/hyphae/Mesh1", "org.freedesktop.DBus.Properties",
    "Get", GLib.Variant("(ss)", ("io.github.hyphae.Mesh1", "DNS")), None, Gio.DBusCallFlags.NONE, 10000, None)
v = reply.unpack()[0].get(sys.argv[2], "")
print(", ".join(v) or "None" if isinstance(v, list) else v)
PY
}
dns_is() { [ "$(dns "$1")" = "$2" ]; }
