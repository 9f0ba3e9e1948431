#!/bin/bash
# SPDX-License-Identifier: MIT
# keyring-run.sh available|missing PROGRAM [ARGS…]: PROGRAM in a private session
# bus without a display, with a real headless gnome-keyring (available) or no
# Secret Service at all (missing: nothing on the bus can provide
# org.freedesktop.secrets), a throw-away HOME, and KEYRING_MODE set to the mode.
# Exit: PROGRAM's; 77 when gnome-keyring or dbus-run-session is missing (outside CI).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/keyring-lib.sh"

cannot_run() {
	if [ -n "${CI:-}" ]; then echo "FAIL cannot run in CI: $*"; exit 1; fi
	echo "SKIP $*"; exit 77
}

if [ -z "${KEYRING_RUN_INSIDE:-}" ]; then
	for c in dbus-run-session gdbus gnome-keyring-daemon secret-tool; do
		command -v "$c" >/dev/null || cannot_run "missing command: $c"
	done
	t=$(mktemp -d /tmp/hyphae-keyring.XXXXXX) || exit 1
	mkdir -p "$t/home" "$t/run" && chmod 700 "$t/run" || exit 1
	# The GUI tests' session: only org.a11y.Bus activatable (no keyring, no prompter).
	. "$HERE/app-lib.sh"
	app_write_session_conf "$t" || exit 1
	env -u DISPLAY -u WAYLAND_DISPLAY HOME="$t/home" XDG_DATA_HOME="$t/home/.local/share" \
		XDG_CONFIG_HOME="$t/home/.config" XDG_CACHE_HOME="$t/home/.cache" XDG_RUNTIME_DIR="$t/run" \
		KEYRING_RUN_INSIDE=1 KEYRING_LOG="$t/keyring.log" \
		dbus-run-session --config-file="$t/session.conf" -- bash "$0" "$@"
	rc=$?
	[ "$rc" = 0 ] || [ ! -s "$t/keyring.log" ] || { echo "--- gnome-keyring-daemon:" >&2; cat "$t/keyring.log" >&2; }
	rm -rf "$t"
	exit "$rc"
fi

mode=$1; shift
case $mode in
available) keyring_start || { echo "FAIL gnome-keyring-daemon did not come up"; exit 1; } ;;
missing) ;;
*) echo "usage: keyring-run.sh available|missing PROGRAM [ARGS…]" >&2; exit 2 ;;
esac
KEYRING_MODE=$mode "$@"
rc=$?
keyring_stop
exit "$rc"
