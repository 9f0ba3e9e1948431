#!/bin/bash
# SPDX-License-Identifier: MIT
# The window's banner (app-lib.sh: Xvfb, a private session, AT-SPI) against
# a real hyphaed (mesh-lib.sh): node A signed in with hyphaectl; the Go
# control server approves routes and gives node keys 120 h; an exit-node
# candidate (the Go map client advertising 0.0.0.0/0 and ::/0) in the hub.
#   Running, key expiring in under 7 days (GSettings key-expiry-warning-days):
#   the banner says in how many days, with Reauthenticate;
#   key-expiry-warning-days 3 (gsettings, the keyfile the app reads): the
#   banner goes; 7 again: it is back;
#   the candidate chosen as exit node (`hyphaectl set --exit-node`), then
#   stopped (SIGKILL: control marks it offline): the banner says the exit
#   node is offline, with Disable Exit Node: it comes before the key (one
#   banner, the most important); it says the LAN carries the traffic, and
#   that it is blocked once `hyphaectl set --exit-node-kill-switch` is on;
#   Disable Exit Node (AT-SPI click) clears Prefs ExitNodeID on the daemon
#   (Mesh1 Prefs read with gdbus), and the key banner shows again; nothing
#   was notified meanwhile (a test-owned org.freedesktop.Notifications: the
#   window showed);
#   the window hidden (start at login on, closed), another candidate chosen
#   and stopped: a notification "Exit Node Offline" naming it, with the button
#   app.set-exit-node(''); cleared with hyphaectl, the app withdraws it
#   (CloseNotification); chosen again, offline, a second one, whose button,
#   invoked by the server (ActionInvoked), clears ExitNodeID.
# Screenshot: banner-exit-node-offline.png.
# Exit 0 if every check passed, 1 otherwise, 77 when it cannot run outside CI.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/app-lib.sh"
app_session "$@"

TESTS_DIR=$HERE/../integration
. "$TESTS_DIR/mesh-lib.sh"
T0=$(date +%s)
EXIT_HOST=exit-$WGT_ID
EXIT_PID=
NOTES=$APP_T/notifications.jsonl
finish() {
	[ "$WGT_FAILS" = 0 ] || { app_log_tail; [ -s "$NOTES" ] && sed 's/^/    notification: /' "$NOTES" >&2; }
	mesh_finish app-banner "$T0"
}
fatal() { wgt_fail "$*"; finish; }
cleanup_all() {
	local rc=$?
	app_stop
	[ -n "$EXIT_PID" ] && kill -KILL "$EXIT_PID" 2>/dev/null && wait "$EXIT_PID" 2>/dev/null
	app_notifications_stop
	(exit "$rc")
	mesh_cleanup
}
trap cleanup_all EXIT

frames() { "$APP_PY" "$HERE/atspi-frames.py" "$@"; }
# exit_node_id_is REGEX: Mesh1 Prefs ExitNodeID on A's daemon matches.
exit_node_id_is() {
	DBUS_SYSTEM_BUS_ADDRESS=$(dbl_addr a) gdbus call --system --dest io.github.hyphae.Mesh1 \
		--object-path /io/github/hyphae/Mesh1 --method org.freedesktop.DBus.Properties.Get \
		io.github.hyphae.Mesh1 Prefs | grep -q "'ExitNodeID': <'$1'>"
}
exit_peer_online() { [ "$(mesh_json a peer "$EXIT_HOST" | awk '{ print $3 }')" = "$1" ]; }
# exit_node_start: the Go map client as $EXIT_HOST, offering to be an exit node.
exit_node_start() {
	ip netns exec "$MESH_NS_HUB" "$(mesh_server_bin)" -role mapclient -url "$MESH_URL" -auth-key "$MESH_AUTHKEY" \
		-hostname "$EXIT_HOST" -endpoints "$MESH_HUB_IP:41999" -routes 0.0.0.0/0,::/0 -timeout 600s \
		>>"$MESH_DIR/exit.out" 2>&1 </dev/null &
	EXIT_PID=$!
}
exit_node_stop() { kill -KILL "$EXIT_PID" && wait "$EXIT_PID" 2>/dev/null; EXIT_PID=; }
# note id|actions|closed SUMMARY: the first Notify with that summary: its id,
# its actions (one per line), or whether a CloseNotification for it followed.
note() {
	"$APP_PY" - "$NOTES" "$@" <<'EOF'
import json, sys
calls = [json.loads(line) for line in open(sys.argv[1])]
n = next((c for c in calls if c["call"] == "Notify" and c["summary"] == sys.argv[3]), None)
if n is None:
    sys.exit(1)
if sys.argv[2] == "id":
    print(n["id"])
elif sys.argv[2] == "body":
    print(n["body"])
elif sys.argv[2] == "actions":
    print("\n".join(n["actions"]))
elif sys.argv[2] == "closed":
    sys.exit(0 if any(c["call"] == "CloseNotification" and c["id"] == n["id"] for c in calls) else 1)
EOF
}
KEY_BANNER=("re:^This device’s key expires in [0-9]+ days?$" label "Reauthenticate" "push button")

mesh_require
mesh_topology || fatal "topology: hub bridge and two node namespaces"
mesh_server_start -approve-routes -key-expiry 120h || fatal "control server (routes approved, keys for 120 h)"
mesh_buses || fatal "polkit actions installed; a private system bus and polkitd in A and in B"
mesh_up a >"$MESH_DIR/a.up.out" 2>&1 || fatal "hyphaectl up on A: $(cat "$MESH_DIR/a.up.out")"
exit_node_start
mesh_wait a 30 exit_peer_online True || fatal "A sees the exit-node candidate $EXIT_HOST online"
app_notifications_start "$NOTES" || fatal "the test's notification server owns its name"

# No rate limit: the second notification of a topic is not held back.
HYPHAE_NOTIFY_INTERVAL=0 app_start "$(dbl_addr a)"
wgt_check "Running, the key expiring in 5 days: the banner says so, with Reauthenticate" atspi wait "${KEY_BANNER[@]}"
wgt_check "key-expiry-warning-days 3: no banner" \
	eval 'app_gsettings set io.github.hyphae.Hyphae key-expiry-warning-days 3 && atspi wait-gone Reauthenticate "push button"'
wgt_check "key-expiry-warning-days 7: the banner again" \
	eval 'app_gsettings set io.github.hyphae.Hyphae key-expiry-warning-days 7 && atspi wait "${KEY_BANNER[@]}"'

mesh_ctl a set --exit-node "$EXIT_HOST" >/dev/null 2>&1 || wgt_fail "hyphaectl set --exit-node $EXIT_HOST on A"
wgt_check "$EXIT_HOST is A's exit node (Prefs ExitNodeID)" app_wait 30 exit_node_id_is '[^'"'"']\+'
exit_node_stop
wgt_check "the exit node stopped: A's status has it offline" mesh_wait a 60 exit_peer_online False
wgt_check "… and the banner says the exit node is offline, with Disable Exit Node (before the key)" \
	eval 'atspi wait "re:^Exit node “$EXIT_HOST” is offline" label "Disable Exit Node" "push button" &&
		atspi wait-gone Reauthenticate "push button"'
wgt_check "… the local network carries the traffic (no kill switch)" \
	atspi wait "re:^Exit node “$EXIT_HOST” is offline: internet traffic uses your local network" label
mesh_ctl a set --exit-node-kill-switch >/dev/null 2>&1 || wgt_fail "hyphaectl set --exit-node-kill-switch on A"
wgt_check "… with the kill switch on, it says the traffic is blocked" \
	atspi wait "re:^Exit node “$EXIT_HOST” is offline: internet traffic is blocked" label
mesh_ctl a set --exit-node-kill-switch=false >/dev/null 2>&1 || wgt_fail "hyphaectl set --exit-node-kill-switch=false on A"
wgt_check "screenshot banner-exit-node-offline.png shows it" app_screenshot banner-exit-node-offline
wgt_check "Disable Exit Node clears Prefs ExitNodeID on the daemon" \
	eval 'atspi click "Disable Exit Node" "push button" && app_wait 30 exit_node_id_is ""'
wgt_check "… and the key banner shows again" \
	eval 'atspi wait "${KEY_BANNER[@]}" && atspi wait-gone "Disable Exit Node" "push button"'

# The same while the window is hidden (start at login keeps the app): a
# notification instead, whose button does what the banner's does.
wgt_check "shown, nothing was notified" eval '! grep -q "\"Notify\"" "$NOTES"'
app_gsettings set io.github.hyphae.Hyphae start-at-login true || wgt_fail "gsettings start-at-login true"
wgt_check "with start at login, closing the window hides it" \
	eval 'frames do Hyphae Close "push button" click && frames gone Hyphae && app_alive'
# Another candidate: the stopped one stays in the map, offline, under its name.
EXIT_HOST=exit2-$WGT_ID
exit_node_start
mesh_wait a 30 exit_peer_online True || wgt_fail "A sees $EXIT_HOST online"
mesh_ctl a set --exit-node "$EXIT_HOST" >/dev/null 2>&1 || wgt_fail "hyphaectl set --exit-node $EXIT_HOST on A"
app_wait 30 exit_node_id_is '[^'"'"']\+' || wgt_fail "$EXIT_HOST is A's exit node"
exit_node_stop
wgt_check "hidden window, the exit node stopped: a notification \"Exit Node Offline\" naming it" \
	eval 'app_wait 30 note id "Exit Node Offline" >/dev/null && note body "Exit Node Offline" | grep -q "“$EXIT_HOST”"'
ACTION=$(note actions "Exit Node Offline" | grep "^app\.set-exit-node")
wgt_check "… its button is app.set-exit-node('') ($ACTION)" [ "$ACTION" = "app.set-exit-node('')" ]
mesh_ctl a set --exit-node= >/dev/null 2>&1 || wgt_fail "hyphaectl set --exit-node= on A"
wgt_check "exit node cleared by hyphaectl: the notification is withdrawn (CloseNotification)" \
	app_wait 30 note closed "Exit Node Offline"
mesh_ctl a set --exit-node "$EXIT_HOST" >/dev/null 2>&1 || wgt_fail "hyphaectl set --exit-node $EXIT_HOST (offline) on A"
wgt_check "the offline node chosen again: a second \"Exit Node Offline\"" \
	app_wait 30 eval '[ "$(grep -c "\"summary\": \"Exit Node Offline\"" "$NOTES")" = 2 ]'
gdbus call --session --dest org.freedesktop.Notifications --object-path /org/freedesktop/Notifications \
	--method io.github.hyphae.Test.Notifications.InvokeAction "$(tail -n 1 "$NOTES" | sed 's/.*"id": \([0-9]*\).*/\1/')" \
	"$ACTION" >/dev/null || wgt_fail "the test's server emits ActionInvoked"
wgt_check "… its button (ActionInvoked) clears Prefs ExitNodeID on the daemon" app_wait 30 exit_node_id_is ""
wgt_check "the app is still running" app_alive
finish
