# SPDX-License-Identifier: MIT
# A real gnome-keyring-daemon (secrets component only) on the current session
# bus, for the keyring tests. Source it from bash inside a session whose bus
# config activates nothing but what the test provides: Debian's gnome-keyring
# ships a session activation file for org.freedesktop.secrets, and under the
# stock session.conf libsecret would start an empty keyring waiting for a
# "new keyring password" prompt; app-lib.sh's config (keyring-run.sh uses it
# too) has no such file, so without keyring_start there is no Secret Service.
# No prompter is activatable either: an unlock prompt fails at once, as a
# dismissed one does (the caller sees its items stay locked).
#
#   keyring_start            gnome-keyring-daemon --foreground, the login keyring
#                            made and unlocked with a test password; waits (≤ 10 s)
#                            until org.freedesktop.secrets is on the bus
#   keyring_stop             stop it (only the one keyring_start started)
#   keyring_lock             lock the login collection (org.freedesktop.Secret.Service.Lock)
#   keyring_count ATTR VAL…  "UNLOCKED LOCKED": how many items match the attributes
#                            (SearchItems: counts locked items without unlocking)
#   keyring_secret ATTR VAL… the secret of the matching item (secret-tool lookup)
#   keyring_attrs ATTR VAL…  "name = value" lines of each matching item (secret-tool search --all)
#
# Environment: a session bus (DBUS_SESSION_BUS_ADDRESS), HOME / XDG_DATA_HOME of
# the test's own (the keyring files go to $XDG_DATA_HOME/keyrings).

KEYRING_PID=
KEYRING_SECRETS=org.freedesktop.secrets
KEYRING_SCHEMA=io.github.hyphae.Key

keyring_start() {
	command -v gnome-keyring-daemon >/dev/null || { echo "no gnome-keyring-daemon (package gnome-keyring)" >&2; return 1; }
	printf %s "hyphae-test-password" |
		gnome-keyring-daemon --foreground --unlock --components=secrets >"${KEYRING_LOG:-/dev/null}" 2>&1 &
	KEYRING_PID=$!
	gdbus wait --session --timeout 10 "$KEYRING_SECRETS"
}

keyring_stop() {
	[ -n "$KEYRING_PID" ] || return 0
	kill -TERM "$KEYRING_PID" 2>/dev/null
	wait "$KEYRING_PID" 2>/dev/null
	KEYRING_PID=
}

keyring_lock() {
	gdbus call --session --dest "$KEYRING_SECRETS" --object-path /org/freedesktop/secrets \
		--method org.freedesktop.Secret.Service.Lock "['/org/freedesktop/secrets/collection/login']" >/dev/null
}

# The attributes as a GVariant a{ss} text, our schema included.
keyring_attr_text() {
	local out="'xdg:schema': '$KEYRING_SCHEMA'"
	while [ $# -ge 2 ]; do out="$out, '$1': '$2'"; shift 2; done
	printf '{%s}' "$out"
}

keyring_count() {
	gdbus call --session --dest "$KEYRING_SECRETS" --object-path /org/freedesktop/secrets \
		--method org.freedesktop.Secret.Service.SearchItems "$(keyring_attr_text "$@")" |
		/usr/bin/python3 -c '
import re, sys
lists = re.findall(r"\[([^\]]*)\]", sys.stdin.read())
print(*(len(re.findall(r"/org/freedesktop/secrets/", l)) for l in lists))'
}

keyring_secret() { secret-tool lookup xdg:schema "$KEYRING_SCHEMA" "$@"; }
keyring_attrs() { secret-tool search --all xdg:schema "$KEYRING_SCHEMA" "$@" 2>&1; }
