#!/bin/bash
# SPDX-License-Identifier: MIT
# The app on a private system bus where io.github.hyphae.Mesh1 is not
# activatable (app-lib.sh: Xvfb, a private session, AT-SPI):
#   the window shows "Hyphae Service Not Installed" with how to install it and
#   a Try Again button (asserted through AT-SPI; screenshot not-installed.png);
#   the harness's stub browser receives a URL opened through GIO;
#   once the bus can activate hyphaed, clicking Try Again (AT-SPI "click")
#   makes the app start it; with no Secret Service on the session bus the
#   window says "No Keyring" (keyring-missing.png) and how to get one; once a
#   gnome-keyring runs, its Try Again (app.retry-keyring) gives the signed-out
#   state: the sign-in page. (The keyring's pages need the key agent of the
#   keys part: its placeholder never reports a keyring state.)
# hyphaed runs in a network namespace of its own. Needs root.
# Exit 0 if every check passed, 1 otherwise, 77 when it cannot run outside CI.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/app-lib.sh"
app_session "$@"

TESTS_DIR=$HERE/../integration
. "$TESTS_DIR/lib.sh"
DBL_DATA_DIR=${HYPHAE_DATA_DIR:-$HERE/../../data} DBL_DIR=$APP_T/dbus
mkdir -p "$DBL_DIR"
. "$TESTS_DIR/dbus-lib.sh"
. "$HERE/keyring-lib.sh"
NS=hyP$$
STATE=$DBL_DIR/state

finish() {
	echo "app-no-daemon: $WGT_PASSES passed, $WGT_FAILS failed"
	[ "$WGT_FAILS" = 0 ] && exit 0
	app_log_tail
	[ -s "$DBL_DIR/s/bus.log" ] && { wgt_log "--- bus.log:"; tail -n 30 "$DBL_DIR/s/bus.log" >&2; }
	exit 1
}
fatal() { wgt_fail "$*"; finish; }
cleanup_all() {
	local rc=$?
	app_stop
	keyring_stop
	dbl_cleanup
	(exit "$rc")
	wgt_cleanup
}
trap cleanup_all EXIT

wgt_require_root
[ -n "${HYPHAED:-}" ] && [ -x "$HYPHAED" ] || wgt_cannot_run "HYPHAED is not an executable hyphaed"
[ -x "$DBL_POLKITD" ] || wgt_cannot_run "no $DBL_POLKITD (package polkitd)"
command -v gnome-keyring-daemon >/dev/null 2>&1 || wgt_cannot_run "no gnome-keyring-daemon (package gnome-keyring)"

reload_bus() {
	dbl_run s gdbus call --system --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
		--method org.freedesktop.DBus.ReloadConfig >/dev/null
}
activatable() {
	dbl_run s gdbus call --system --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
		--method org.freedesktop.DBus.ListActivatableNames | grep -q "'$DBL_BUS_NAME'"
}

wgt_netns_add "$NS" || fatal "network namespace $NS"
dbl_install_policy && dbl_bus_start s "$NS" "$STATE" || fatal "private system bus with polkitd"
# The bus as a machine without hyphaed has it: no activation file.
rm -f "$DBL_DIR/s/services/$DBL_BUS_NAME.service"
reload_bus && ! activatable || fatal "$DBL_BUS_NAME is not activatable"

# No keyring yet: the daemon's page comes first all the same.
app_start "$(dbl_addr s)"
wgt_check "the window says the service is not installed, how to install it, and offers Try Again" \
	atspi wait "Hyphae Service Not Installed" label "re:sudo apt install hyphae" label "Try Again" "push button"
wgt_check "screenshot not-installed.png shows the window" app_screenshot not-installed
wgt_check "the app is still running" app_alive

app_stub_browser
URL=http://hyphae.invalid/auth/1
browser_got() { [ "$(cat "$APP_BROWSER_OUT")" = "$1" ]; }
wgt_check "the stub browser is the http handler (gio open → \$APP_BROWSER_OUT)" \
	eval 'gio open "$URL" && app_wait 30 browser_got "$URL"'

dbl_service_file s "$STATE" --uapi-dir "$DBL_DIR/s/uapi"
reload_bus && activatable || fatal "$DBL_BUS_NAME is activatable again"
wgt_check "Try Again (AT-SPI click) reaches the daemon the bus starts; with no Secret Service: No Keyring" \
	eval 'atspi click "Try Again" "push button" &&
		atspi wait "No Keyring" label "re:sudo apt install gnome-keyring" label "Try Again" "push button"'
wgt_check "the daemon was started by the app's call" eval '[ -n "$(dbl_daemon_pid s)" ]'
wgt_check "screenshot keyring-missing.png" app_screenshot keyring-missing
KEYRING_LOG=$APP_T/keyring.log keyring_start || fatal "a keyring on the session bus"
wgt_check "a keyring started, Try Again (app.retry-keyring): signed out, the sign-in page" \
	eval 'atspi click "Try Again" "push button" &&
		atspi wait "Sign In to a Tailnet" label "Sign In" "push button"'
wgt_check "Try Again is gone" atspi wait-gone "Try Again" "push button"
finish
