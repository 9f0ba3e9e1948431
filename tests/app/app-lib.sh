# SPDX-License-Identifier: MIT
# The GUI test harness: the app in a session of its own, driven through AT-SPI.
# Source it from bash before anything else and call `app_session "$@"` first:
# it re-runs the test script inside
#
#   xvfb-run -a (1280x800x24, no TCP)   a private X display
#   dbus-run-session --config-file=$APP_T/session.conf
#                                       a private session bus whose only
#                                       activatable service is org.a11y.Bus (a copy
#                                       of the system's file: without it GTK runs
#                                       without accessibility and AT-SPI sees
#                                       nothing; nothing else, so no keyring,
#                                       portal or notification daemon starts
#                                       unless a test provides one)
#
# with HOME, XDG_{CONFIG,DATA,CACHE,STATE}_HOME and XDG_RUNTIME_DIR (0700) under
# $APP_T, so nothing is read from or written to the real user's files.
# Then, inside:
#
#   app_start SYSTEM_BUS_ADDRESS [ARGS…]  the app (HYPHAE_APP) in the background on
#                                     that system bus: GDK_BACKEND=x11,
#                                     GSK_RENDERER=cairo, GTK_A11Y unset (AT-SPI),
#                                     GIO_USE_VFS=local,
#                                     GSETTINGS_BACKEND=keyfile, the build's schema
#                                     (HYPHAE_APP_SCHEMA_DIR), G_DEBUG=fatal-criticals,
#                                     and detect_leaks=0 added to ASAN_OPTIONS for this
#                                     process only (GTK, fontconfig and type
#                                     registrations flood LeakSanitizer; leaks are
#                                     checked in the display-less tests); its output
#                                     goes to $APP_T/app.log
#   app_stop                          SIGTERM the app, wait for it
#   app_alive                         the app is still running
#   app_log_tail                      the end of its log, on stderr
#   atspi ARGS…                       tests/app/atspi.py (wait, click, set-text,
#                                     screenshot, dump): see its header
#   app_screenshot STEM               atspi screenshot STEM; $APP_ARTIFACTS/STEM.png
#   app_wait SECONDS CMD…             CMD until it succeeds, polling every 50 ms, at
#                                     most SECONDS (a bound, never a delay)
#   app_stub_browser                  make stub-browser.sh the http(s) handler; each
#                                     URL it is asked to open is a line of
#                                     $APP_BROWSER_OUT
#   app_gsettings ARGS…               gsettings on the app's settings (its keyfile,
#                                     the build's schema)
#   app_notifications_start FILE      a test-owned org.freedesktop.Notifications
#                                     (notification-server.py: each call a JSON
#                                     line of FILE), which GNotification uses
#                                     outside GNOME; app_notifications_stop ends it
#
# Screenshots go to $ARTIFACTS (CI keeps it), else $HYPHAE_APP_ARTIFACTS (meson sets
# it under the build dir), else nowhere.
# Environment: HYPHAE_APP (the app), HYPHAE_APP_SCHEMA_DIR (build/data/app).

APP_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
APP_PY=/usr/bin/python3
APP_PID=

app_log() { printf '%s\n' "$*" >&2; }
app_cannot_run() {
	if [ -n "${CI:-}" ]; then echo "FAIL cannot run in CI: $*"; exit 1; fi
	echo "SKIP $*"; exit 77
}

# The session bus configuration: the stock session policy, our service dir only.
app_write_session_conf() {
	local t=$1 a11y=/usr/share/dbus-1/services/org.a11y.Bus.service
	[ -f "$a11y" ] || app_cannot_run "no $a11y (package at-spi2-core)"
	mkdir -p "$t/services" && cp "$a11y" "$t/services/" || return 1
	cat >"$t/session.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:dir=$t/run</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$t/services</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
}

# app_session "$@": re-run the calling script inside its own display and session
# (once); returns only inside it.
app_session() {
	local t rc
	[ -n "${APP_T:-}" ] && return 0
	local c
	for c in xvfb-run Xvfb xauth dbus-run-session import identify "$APP_PY"; do
		command -v "$c" >/dev/null 2>&1 || app_cannot_run "missing command: $c"
	done
	"$APP_PY" -c 'import gi; gi.require_version("Atspi", "2.0"); from gi.repository import Atspi' 2>/dev/null ||
		app_cannot_run "no AT-SPI for Python (packages python3-pyatspi, gir1.2-atspi-2.0)"
	[ -n "${HYPHAE_APP:-}" ] && [ -x "$HYPHAE_APP" ] || app_cannot_run "HYPHAE_APP is not the built app"
	[ -f "${HYPHAE_APP_SCHEMA_DIR:-}/gschemas.compiled" ] ||
		app_cannot_run "HYPHAE_APP_SCHEMA_DIR has no compiled schema"
	t=$(mktemp -d /tmp/hyphae-app.XXXXXX) && chmod 755 "$t" || exit 1
	mkdir -p "$t/home" "$t/config" "$t/data" "$t/cache" "$t/state" "$t/run" && chmod 700 "$t/run" || exit 1
	app_write_session_conf "$t" || exit 1
	# A random first display: xvfb-run -a sees only this /tmp's lock files, but
	# X's abstract sockets belong to the network namespace, so a :99 of another
	# mount namespace (a chroot sharing the host's network) would take our
	# clients and their cookie would not fit ("cannot open display").
	HOME=$t/home XDG_CONFIG_HOME=$t/config XDG_DATA_HOME=$t/data XDG_CACHE_HOME=$t/cache \
		XDG_STATE_HOME=$t/state XDG_RUNTIME_DIR=$t/run APP_T=$t \
		xvfb-run -a -n $((100 + RANDOM % 800)) -s "-screen 0 1280x800x24 -nolisten tcp" \
		dbus-run-session --config-file="$t/session.conf" -- bash "$0" "$@"
	rc=$?
	if [ -n "${APP_KEEP_TMP:-}" ]; then app_log "kept $t"; else rm -rf "$t"; fi
	exit "$rc"
}

APP_ARTIFACTS=${ARTIFACTS:-${HYPHAE_APP_ARTIFACTS:-}}
export ARTIFACTS=$APP_ARTIFACTS

atspi() { "$APP_PY" "$APP_LIB_DIR/atspi.py" "$@"; }

app_start() {
	local bus=$1; shift
	env -u GTK_A11Y DBUS_SYSTEM_BUS_ADDRESS="$bus" GDK_BACKEND=x11 GSK_RENDERER=cairo GIO_USE_VFS=local \
		GSETTINGS_BACKEND=keyfile GSETTINGS_SCHEMA_DIR="$HYPHAE_APP_SCHEMA_DIR" G_DEBUG=fatal-criticals \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		"$HYPHAE_APP" "$@" >>"$APP_T/app.log" 2>&1 </dev/null &
	APP_PID=$!
}

app_wait() {
	local deadline=$((SECONDS + $1)); shift
	until "$@"; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.05
	done
}

app_alive() { [ -n "$APP_PID" ] && kill -0 "$APP_PID" 2>/dev/null; }

app_stop() {
	local i
	[ -n "$APP_PID" ] || return 0
	kill -TERM "$APP_PID" 2>/dev/null
	for i in $(seq 50); do kill -0 "$APP_PID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$APP_PID" 2>/dev/null
	wait "$APP_PID" 2>/dev/null
	APP_PID=
}

app_log_tail() {
	local rc
	if [ -n "$APP_PID" ] && ! kill -0 "$APP_PID" 2>/dev/null; then
		wait "$APP_PID"; rc=$?
		app_log "the app (pid $APP_PID) has exited with status $rc"
	fi
	[ -s "$APP_T/app.log" ] || return 0
	app_log "--- last lines of the app's log:"
	tail -n "${1:-40}" "$APP_T/app.log" | sed 's/^/    /' >&2
}

# app_screenshot STEM: the screen now, as $APP_ARTIFACTS/STEM.png; fails if the
# file is missing or one flat colour (nothing was drawn).
app_screenshot() {
	local f colours
	[ -n "$APP_ARTIFACTS" ] || return 0
	atspi screenshot "$1" || return 1
	f=$APP_ARTIFACTS/$1.png
	colours=$(identify -format '%k' "$f" 2>/dev/null) || return 1
	[ "${colours:-0}" -gt 16 ] || { app_log "$f has $colours colours"; return 1; }
}

app_stub_browser() {
	APP_BROWSER_OUT=$APP_T/browser.out
	: >"$APP_BROWSER_OUT"
	mkdir -p "$XDG_DATA_HOME/applications" || return 1
	cat >"$XDG_DATA_HOME/applications/hyphae-test-browser.desktop" <<DESKTOP
[Desktop Entry]
Type=Application
Name=Hyphae Test Browser
Exec=env STUB_BROWSER_OUT=$APP_BROWSER_OUT $APP_LIB_DIR/stub-browser.sh %u
MimeType=x-scheme-handler/http;x-scheme-handler/https;
NoDisplay=true
DESKTOP
	cat >"$XDG_CONFIG_HOME/mimeapps.list" <<MIME
[Default Applications]
x-scheme-handler/http=hyphae-test-browser.desktop
x-scheme-handler/https=hyphae-test-browser.desktop
MIME
}

app_gsettings() {
	env GSETTINGS_BACKEND=keyfile GSETTINGS_SCHEMA_DIR="$HYPHAE_APP_SCHEMA_DIR" gsettings "$@"
}

APP_NOTIFICATIONS_PID=
app_notifications_start() {
	: >"$1" || return 1
	"$APP_PY" "$APP_LIB_DIR/notification-server.py" "$1" 2>>"$APP_T/notification-server.log" &
	APP_NOTIFICATIONS_PID=$!
	gdbus wait --session --timeout 20 org.freedesktop.Notifications
}
app_notifications_stop() {
	[ -n "$APP_NOTIFICATIONS_PID" ] || return 0
	kill "$APP_NOTIFICATIONS_PID" 2>/dev/null
	wait "$APP_NOTIFICATIONS_PID" 2>/dev/null
	APP_NOTIFICATIONS_PID=
}
