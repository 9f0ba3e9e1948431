#!/bin/bash
# SPDX-License-Identifier: MIT
# The app beside the window (app-lib.sh: Xvfb, a private session, AT-SPI),
# against a real hyphaed (mesh-lib.sh: node A signed in with hyphaectl, the
# Go control server giving node keys 120 h, so the key-expiry banner shows
# whenever the app sees Running: the test's barrier for "the app saw it"):
#   the window opens at the size GSettings window-width/-height give it
#   (xwininfo);
#   Preferences (app.preferences): each switch shows its GSettings key, and
#   toggling Show Tray Icon, Notifications and Start at Login (AT-SPI
#   "toggle") changes the key (read back with gsettings on the keyfile);
#   Start at Login writes $XDG_CONFIG_HOME/autostart/io.github.hyphae.Hyphae.desktop
#   (Exec … --hide-window, X-GNOME-Autostart-enabled=true);
#   with start at login, closing the window (its Close button) hides it and
#   the app keeps running; a size given to the window (XResizeWindow, as a
#   window manager would) is in GSettings after;
#   notifications (a test-owned org.freedesktop.Notifications, which
#   GNotification uses outside GNOME): `hyphaectl down` while the window is
#   hidden gives exactly one, "Disconnected"; shown again (app.show-window),
#   up and down give none; hidden again, `up` gives "Connected": the log holds
#   those two connection Notify calls, in order (one bus connection keeps
#   order, so a notification sent while shown would sit between them);
#   Start at Login off removes the entry; app.about shows the About window,
#   with the version `hyphae --version` says; closing the main window then
#   quits the app (exit status 0): no tray (the tray part's placeholder never
#   registers), nothing keeps it;
#   `hyphae --hide-window` (as the autostart entry starts it; rate limit 1 h,
#   its debug log the barrier): no window, runs; the first state is no
#   change (no notification), the expiring key is told once (the test server
#   gives each `up` a new expiry: that one is held back too); down notifies
#   "Disconnected"; up right after is held back by the rate limit;
#   app.show-window then makes the window at the saved size, and app.quit
#   (no close) saves a new one.
# The first run sets HYPHAE_NOTIFY_INTERVAL=0 (no rate limit), so only the
# window's state keeps notifications back there.
# Exit 0 if every check passed, 1 otherwise, 77 when it cannot run outside CI.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/app-lib.sh"
app_session "$@"

TESTS_DIR=$HERE/../integration
. "$TESTS_DIR/mesh-lib.sh"
T0=$(date +%s)
NOTES=$APP_T/notifications.jsonl
AUTOSTART=$XDG_CONFIG_HOME/autostart/io.github.hyphae.Hyphae.desktop
finish() {
	[ "$WGT_FAILS" = 0 ] || { app_log_tail; [ -s "$NOTES" ] && sed 's/^/    notification: /' "$NOTES" >&2; }
	mesh_finish app-background "$T0"
}
fatal() { wgt_fail "$*"; finish; }
cleanup_all() {
	local rc=$?
	app_stop
	app_notifications_stop
	(exit "$rc")
	mesh_cleanup
}
trap cleanup_all EXIT

frames() { "$APP_PY" "$HERE/atspi-frames.py" "$@"; }
setting_is() { [ "$(app_gsettings get io.github.hyphae.Hyphae "$1")" = "$2" ]; }
app_action() {
	gdbus call --session --dest io.github.hyphae.Hyphae --object-path /io/github/hyphae/Hyphae \
		--method org.gtk.Actions.Activate "$1" '[]' '{}' >/dev/null
}
# The main window's X id and size ("WIDTHxHEIGHT"), from xwininfo.
window_id() { xwininfo -root -tree | awk '/"Hyphae": \("hyphae"/ { print $1; exit }'; }
window_size_is() {
	local id
	id=$(window_id) && [ -n "$id" ] || return 1
	xwininfo -id "$id" | awk '/Width:/ { w = $2 } /Height:/ { h = $2 } END { print w "x" h }' | grep -qx "$1"
}
# XResizeWindow, as a window manager would on the user's drag (libX11 by ctypes).
window_resize() {
	"$APP_PY" - "$(window_id)" "$1" "$2" <<'EOF'
import ctypes, sys
x = ctypes.CDLL("libX11.so.6")
x.XOpenDisplay.restype = ctypes.c_void_p
d = x.XOpenDisplay(None)
x.XResizeWindow(ctypes.c_void_p(d), ctypes.c_ulong(int(sys.argv[1], 16)), int(sys.argv[2]), int(sys.argv[3]))
x.XSync(ctypes.c_void_p(d), 0)
x.XCloseDisplay(ctypes.c_void_p(d))
EOF
}
# key_notes: how many "Key Expires Soon" so far.
key_notes() { grep -c '"summary": "Key Expires Soon"' "$NOTES"; }
# notes_are TOPIC SUMMARY...: the Notify calls so far whose summary is one of
# the TOPIC's (connection: Connected, Disconnected; key: Key Expires Soon) had
# exactly these summaries, in this order.
notes_are() {
	[ "$("$APP_PY" -c 'import json, sys
topic = {"connection": ("Connected", "Disconnected"), "key": ("Key Expires Soon",)}[sys.argv[2]]
print(" ".join(n["summary"] for n in map(json.loads, open(sys.argv[1]))
               if n["call"] == "Notify" and n["summary"] in topic))' "$NOTES" "$1")" = "${*:2}" ]
}
entry_has() { grep -qx "$1" "$AUTOSTART"; }
KEY_BANNER=("re:^This device’s key expires in [0-9]+ days?$" label "Reauthenticate" "push button")

mesh_require
command -v xwininfo >/dev/null || wgt_cannot_run "no xwininfo (package x11-utils)"
mesh_topology || fatal "topology: hub bridge and two node namespaces"
mesh_server_start -key-expiry 120h || fatal "control server (node keys for 120 h) in the hub on $MESH_URL"
mesh_buses || fatal "polkit actions installed; a private system bus and polkitd in A and in B"
mesh_up a >"$MESH_DIR/a.up.out" 2>&1 || fatal "hyphaectl up on A: $(cat "$MESH_DIR/a.up.out")"

app_notifications_start "$NOTES" || fatal "the test's notification server owns its name"
app_gsettings set io.github.hyphae.Hyphae window-width 900 &&
	app_gsettings set io.github.hyphae.Hyphae window-height 640 ||
	fatal "gsettings (keyfile) sets the window size"

# No rate limit: whatever the window's state, each change could notify.
HYPHAE_NOTIFY_INTERVAL=0 app_start "$(dbl_addr a)"
wgt_check "Running with a key expiring in 5 days: the banner says so, with Reauthenticate" atspi wait "${KEY_BANNER[@]}"
wgt_check "the window has the size GSettings gave it (900x640)" app_wait 20 window_size_is 900x640

app_action preferences || wgt_fail "app.preferences"
wgt_check "app.preferences opens Preferences, its switches showing the settings (tray on, login off, notifications on)" \
	eval 'frames showing Preferences &&
		frames checked Preferences "Show Tray Icon" "check box" yes &&
		frames checked Preferences "Start at Login" "check box" no &&
		frames checked Preferences "Notifications" "check box" yes'
wgt_check "screenshot preferences.png shows it" app_screenshot preferences
wgt_check "Show Tray Icon off reaches GSettings show-tray-icon" \
	eval 'frames do Preferences "Show Tray Icon" "check box" toggle && app_wait 20 setting_is show-tray-icon false'
wgt_check "Notifications off, then on again, reach GSettings notifications" \
	eval 'frames do Preferences Notifications "check box" toggle && app_wait 20 setting_is notifications false &&
		frames do Preferences Notifications "check box" toggle && app_wait 20 setting_is notifications true'
wgt_check "Start at Login on reaches GSettings start-at-login" \
	eval 'frames do Preferences "Start at Login" "check box" toggle && app_wait 20 setting_is start-at-login true'
wgt_check "… and writes the autostart entry: this app with --hide-window, X-GNOME-Autostart-enabled" \
	eval 'app_wait 20 test -f "$AUTOSTART" && entry_has "Exec=$HYPHAE_APP --hide-window" &&
		entry_has "X-GNOME-Autostart-enabled=true" && entry_has "Type=Application" &&
		desktop-file-validate "$AUTOSTART"'
wgt_check "Preferences closes with its Close button" \
	eval 'frames do Preferences Close "push button" click && frames gone Preferences'

window_resize 1000 700 || wgt_fail "XResizeWindow the main window"
wgt_check "the window takes the size it is given (1000x700)" app_wait 20 window_size_is 1000x700
wgt_check "with start at login, closing the window hides it and the app keeps running" \
	eval 'frames do Hyphae Close "push button" click && frames gone Hyphae && app_alive'
wgt_check "… and its size is in GSettings (window-width 1000, window-height 700, not maximized)" \
	eval 'setting_is window-width 1000 && setting_is window-height 700 && setting_is window-maximized false'

mesh_ctl a down >/dev/null 2>&1 || wgt_fail "hyphaectl down on A"
wgt_check "hidden window, hyphaectl down: one notification, \"Disconnected\"" \
	eval 'app_wait 30 notes_are connection Disconnected && notes_are key'

app_action show-window || wgt_fail "app.show-window"
wgt_check "app.show-window shows the window again, with no banner while Stopped" \
	eval 'frames showing Hyphae && atspi wait-gone Reauthenticate "push button"'
mesh_ctl a up >/dev/null 2>&1 || wgt_fail "hyphaectl up on A"
wgt_check "shown window, up: the app sees Running (the key banner)" atspi wait "${KEY_BANNER[@]}"
mesh_ctl a down >/dev/null 2>&1 || wgt_fail "hyphaectl down on A"
wgt_check "shown window, down: the app sees it (the banner goes)" atspi wait-gone Reauthenticate "push button"
wgt_check "closing hides it again" eval 'frames do Hyphae Close "push button" click && frames gone Hyphae'
mesh_ctl a up >/dev/null 2>&1 || wgt_fail "hyphaectl up on A"
wgt_check "hidden again, up: \"Connected\"; nothing was notified while the window showed" \
	app_wait 30 notes_are connection Disconnected Connected

app_action show-window || wgt_fail "app.show-window"
app_action preferences || wgt_fail "app.preferences"
wgt_check "Start at Login off reaches GSettings and removes the autostart entry" \
	eval 'frames do Preferences "Start at Login" "check box" toggle && app_wait 20 setting_is start-at-login false &&
		app_wait 20 test ! -e "$AUTOSTART"'
frames do Preferences Close "push button" click && frames gone Preferences || wgt_fail "Preferences closes"
VERSION=$(ASAN_OPTIONS=detect_leaks=0 "$HYPHAE_APP" --version | awk '{ print $2 }')
wgt_check "app.about shows About with the name and version ($VERSION)" \
	eval 'app_action about && frames showing About && atspi wait Hyphae label "$VERSION" label'
wgt_check "no tray, no start at login: closing the window quits the app (status 0), About open or not" \
	eval 'frames do Hyphae Close "push button" click && app_wait 30 eval "! app_alive" &&
		wait "$APP_PID"; rc=$?; APP_PID=; [ "$rc" = 0 ]'

# Started at login: no window at all, and the rate limit an hour; its debug
# log is the barrier for what it saw.
mesh_ctl a up >/dev/null 2>&1 || wgt_fail "hyphaectl up on A"
: >"$APP_T/app.log"
KEYS_BEFORE=$(key_notes)
G_MESSAGES_DEBUG=hyphae-notifier HYPHAE_NOTIFY_INTERVAL=3600 app_start "$(dbl_addr a)" --hide-window
logged() { grep -q "$1" "$APP_T/app.log"; }
wgt_check "--hide-window: no window, the app runs and sees Running first (no notification for that)" \
	eval 'app_wait 30 logged "first state: running" && app_alive && notes_are connection Disconnected Connected &&
		! frames --timeout 1 showing Hyphae 2>/dev/null'
wgt_check "… the key expiring: told once at this start, the window absent" \
	app_wait 30 eval '[ "$(key_notes)" = $((KEYS_BEFORE + 1)) ]'
mesh_ctl a down >/dev/null 2>&1 || wgt_fail "hyphaectl down on A"
wgt_check "… down: \"Disconnected\" (the window is absent)" \
	app_wait 30 notes_are connection Disconnected Connected Disconnected
mesh_ctl a up >/dev/null 2>&1 || wgt_fail "hyphaectl up on A"
wgt_check "… up again within the rate limit: \"Connected\" held back, not sent" \
	eval 'app_wait 30 logged "notification connection held back: connected" &&
		notes_are connection Disconnected Connected Disconnected && [ "$(key_notes)" = $((KEYS_BEFORE + 1)) ]'
wgt_check "… the app is still running" app_alive
app_action show-window || wgt_fail "app.show-window"
wgt_check "app.show-window makes the window, at the size saved last (1000x700)" \
	eval 'frames showing Hyphae && app_wait 20 window_size_is 1000x700'
window_resize 1100 720 || wgt_fail "XResizeWindow the main window"
wgt_check "app.quit (no close) ends the app with status 0 and keeps the window's new size (1100x720)" \
	eval 'app_wait 20 window_size_is 1100x720 && app_action quit && app_wait 30 eval "! app_alive" &&
		wait "$APP_PID"; rc=$?; APP_PID=; [ "$rc" = 0 ] && setting_is window-width 1100 && setting_is window-height 720'
finish
