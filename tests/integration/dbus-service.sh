#!/bin/bash
# SPDX-License-Identifier: MIT
# The D-Bus service io.github.hyphae.Mesh1 and hyphaectl on a private system bus
# with activation and a real polkitd (dbus-lib.sh), inside a fresh network
# namespace made here and removed on exit. Needs root (namespaces, polkitd; our
# .policy is seen by polkitd through a bind mount over
# /usr/share/polkit-1/actions in polkitd's own mount namespace, dbus-lib.sh).
#
#   HYPHAED=build/daemon/service/hyphaed HYPHAECTL=build/src/cli/hyphaectl \
#   HYPHAE_TS2021_CONTROL=build/tests/ts2021/ts2021-control tests/integration/dbus-service.sh
#
# Checks: activation by the first hyphaectl call; introspection equals
# data/io.github.hyphae.Mesh1.xml; status --json before login; polkit (uid 65534
# refused with NotAuthorized / exit 4, root allowed, no polkitd = refused);
# Prefs changes arrive as PropertiesChanged; wrong a{sv} types and unknown keys
# are InvalidArgument; SetKeys never echoes a key; against the Go control
# server: wrong auth key (exit 6), interactive login prints the URL (exit 7),
# right key → Running (status [--json], ip, netmap --json; SIGTERM removes the
# tunnel and the node comes back by itself; down; logout), SIGTERM during an Up
# on a silent server; unreachable control server (exit 5); a restart keeps the
# prefs; the daemon leaves when the bus goes away; no daemon (exit 3).
# Local users (issue 8): the login URL reaches the caller of up and root, never
# uid 65534 (Properties, PropertiesChanged, status --json, GetAuthURL); an
# engine that cannot start (UAPI socket taken) fails up at once (exit 8) with
# the reason in Health; hyphaed runs with CAP_NET_ADMIN only and is not
# dumpable; a state dir left 0755 is 0700 again after a start; a flood of
# calls from uid 65534 gets at most 16 polkit checks and TooManyRequests
# (exit 9) for the rest, and each check ends after the polkit timeout.
# Key owners (dbus-keys-owner.py plays the app): KeysOwner "" → daemon (hyphaectl
# up) → "" (logout) → client (SetKeys, by PropertiesChanged); an Up with
# Unattended false before SetKeys is NeedsLogin "SetKeys first" and writes no
# keys; KeysRotated reaches only the owner, with SetKeys' Profile; a rotation
# while the owner is gone reaches the next SetKeys with the replaced key; the
# same keys again change nothing; other keys mid-session are a new node
# (dropped session, fresh login, the control server and status --json show the
# new key); uid 65534 cannot SetKeys and sees no key anywhere.
# Exit 0 if every check passed, 1 otherwise, 77 when it cannot run outside CI.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/dbus-lib.sh"

PY=/usr/bin/python3
NS=hyS$$
FAILS=0
PASSES=0
CONTROL_PID=

# Exit codes of hyphaectl (src/cli/hyphaectl.h, `hyphaectl --help`).
EXIT_USAGE=2 EXIT_NO_DAEMON=3 EXIT_NOT_AUTHORIZED=4 EXIT_UNREACHABLE=5
EXIT_BAD_AUTH_KEY=6 EXIT_NEEDS_LOGIN=7 EXIT_ENGINE=8 EXIT_TOO_MANY=9

pass() { PASSES=$((PASSES + 1)); printf 'PASS %s\n' "$*"; }
fail() { FAILS=$((FAILS + 1)); printf 'FAIL %s\n' "$*"; }
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name"; fi; }
cannot_run() {
	if [ -n "${CI:-}" ]; then echo "FAIL cannot run in CI: $*"; exit 1; fi
	echo "SKIP $*"; exit 77
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[ -n "$CONTROL_PID" ] && dbl_kill "$CONTROL_PID"
	if [ "$FAILS" -gt 0 ] || [ "$rc" != 0 ]; then
		dbl_dump_logs "$DBL_DIR"/s/bus.log "$DBL_DIR"/s/polkitd.log "$DBL_DIR"/control.err
	fi
	dbl_cleanup
	ip netns del "$NS" 2>/dev/null
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ "$(id -u)" = 0 ] || cannot_run "needs root (network namespace, polkitd, /usr/share/polkit-1/actions)"
for c in ip dbus-daemon gdbus setpriv unshare mount timeout "$PY" "$DBL_POLKITD"; do
	command -v "$c" >/dev/null 2>&1 || cannot_run "missing command: $c"
done
[ -n "${HYPHAED:-}" ] && [ -x "$HYPHAED" ] || cannot_run "HYPHAED is not an executable hyphaed"
[ -n "${HYPHAECTL:-}" ] && [ -x "$HYPHAECTL" ] || cannot_run "HYPHAECTL is not an executable hyphaectl"
[ -n "${HYPHAE_TS2021_CONTROL:-}" ] && [ -x "$HYPHAE_TS2021_CONTROL" ] ||
	cannot_run "HYPHAE_TS2021_CONTROL is not the built Go control server"
"$PY" -c 'import gi; gi.require_version("Gio", "2.0")' 2>/dev/null || cannot_run "no python3-gi (Gio for Python)"
[ -c /dev/net/tun ] || cannot_run "no /dev/net/tun"
ip netns add "$NS" || cannot_run "ip netns does not work"
ip -n "$NS" link set lo up

# GLib's slice allocator hides leaked GVariants and GObjects from LeakSanitizer;
# plain malloc lets it see hyphaed's (and hyphaectl's) leaks.
export G_SLICE=always-malloc G_DEBUG=gc-friendly

STATE=$DBL_DIR/state
UAPI=$DBL_DIR/uapi
mkdir -p "$UAPI"
BUS_ADDR=$(dbl_addr s)

# Everything below runs inside the namespace with our bus as the system bus;
# `timeout` is the hang guard of each call.
ctl() { timeout 120 ip netns exec "$NS" env DBUS_SYSTEM_BUS_ADDRESS="$BUS_ADDR" "$HYPHAECTL" "$@"; }
# uid 65534 runs a copy of hyphaectl in $DBL_DIR (mode 755, as polkitd needs):
# the build tree may sit where it cannot go (a clone under a 0700 mktemp dir).
NOBODY_CTL=$DBL_DIR/bin/hyphaectl
mkdir -p "$DBL_DIR/bin" && install -m 755 "$HYPHAECTL" "$NOBODY_CTL" ||
	cannot_run "cannot copy hyphaectl to $NOBODY_CTL"
ctl_nobody() {
	timeout 120 ip netns exec "$NS" setpriv --reuid=65534 --regid=65534 --clear-groups \
		env DBUS_SYSTEM_BUS_ADDRESS="$BUS_ADDR" "$NOBODY_CTL" "$@"
}
gd() { timeout 60 ip netns exec "$NS" env DBUS_SYSTEM_BUS_ADDRESS="$BUS_ADDR" gdbus "$@"; }
gd_nobody() {
	timeout 60 ip netns exec "$NS" setpriv --reuid=65534 --regid=65534 --clear-groups \
		env DBUS_SYSTEM_BUS_ADDRESS="$BUS_ADDR" gdbus "$@"
}
mesh_call() {   # mesh_call METHOD ARGS…: a raw method call as root, output to $OUT, rc kept
	gd call --system --dest io.github.hyphae.Mesh1 --object-path /io/github/hyphae/Mesh1 \
		--method "io.github.hyphae.Mesh1.$1" "${@:2}" >"$OUT" 2>&1
}
get_prop() {
	gd call --system --dest io.github.hyphae.Mesh1 --object-path /io/github/hyphae/Mesh1 \
		--method org.freedesktop.DBus.Properties.Get io.github.hyphae.Mesh1 "$1"
}
not() { ! "$@"; }
prop_has() { get_prop "$1" | grep -q "$2"; }   # prop_has NAME REGEX
has_owner() {
	gd call --system --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
		--method org.freedesktop.DBus.NameHasOwner io.github.hyphae.Mesh1 | grep -q true
}
# expect_rc NAME WANT CMD…: CMD's exit status is WANT (its output in $OUT).
expect_rc() {
	local name=$1 want=$2 rc; shift 2
	"$@" >"$OUT" 2>&1
	rc=$?
	if [ "$rc" = "$want" ]; then pass "$name"; return 0; fi
	fail "$name (exit $rc, want $want)"; sed 's/^/    /' "$OUT" >&2; return 1
}
OUT=$DBL_DIR/out

dbl_install_policy || { fail "stage the polkit policy"; exit 1; }
# Our own UAPI dir: the namespace's hyphae0 must not touch the host's /var/run/wireguard.
dbl_bus_start s "$NS" "$STATE" --ifname hyphae0 --uapi-dir "$UAPI" || { fail "private bus + polkitd"; exit 1; }

# ------------------------------------------------------------ activation

check "not running before the first call" not has_owner
if ctl status --json >"$DBL_DIR/status0.json" 2>"$OUT"; then pass "status --json activates hyphaed"
else fail "status --json activates hyphaed"; cat "$OUT" >&2; fi
check "hyphaed owns io.github.hyphae.Mesh1 after activation" has_owner
PID1=$(dbl_daemon_pid s)
check "the owner is our hyphaed" grep -qa -- "$STATE" "/proc/${PID1:-0}/cmdline"

check "status --json before login: BackendState NeedsLogin or NoState, no Self" "$PY" - "$DBL_DIR/status0.json" <<'EOF'
import json, sys
st = json.load(open(sys.argv[1]))
assert st["BackendState"] in ("NeedsLogin", "NoState"), st["BackendState"]
for k in ("Version", "AuthURL", "TailscaleIPs", "Self", "Peer", "Health", "MagicDNSSuffix", "CurrentTailnet"):
    assert k in st, k
assert st["Self"] is None and not st["Peer"], st
EOF

# ------------------------------------------------------------ introspection

gd introspect --system --dest io.github.hyphae.Mesh1 --object-path /io/github/hyphae/Mesh1 --xml \
	>"$DBL_DIR/live.xml" 2>"$OUT"
check "introspection equals data/io.github.hyphae.Mesh1.xml" "$PY" - "$DBL_DATA_DIR/io.github.hyphae.Mesh1.xml" "$DBL_DIR/live.xml" <<'EOF'
import sys, xml.etree.ElementTree as ET
def shape(path):
    for iface in ET.parse(path).getroot().iter("interface"):
        if iface.get("name") != "io.github.hyphae.Mesh1":
            continue
        out = set()
        for el in iface:
            args = tuple((a.get("type"), a.get("direction", "in" if el.tag == "method" else "")) for a in el.iter("arg"))
            out.add((el.tag, el.get("name"), el.get("type"), el.get("access"), args))
        return out
    sys.exit("no interface in " + path)
want, got = shape(sys.argv[1]), shape(sys.argv[2])
if want != got:
    print("missing:", sorted(want - got, key=str), "\nextra:", sorted(got - want, key=str))
    sys.exit(1)
EOF
check "the bus policy lets anyone introspect and read" gd_nobody call --system \
	--dest io.github.hyphae.Mesh1 --object-path /io/github/hyphae/Mesh1 \
	--method org.freedesktop.DBus.Properties.Get io.github.hyphae.Mesh1 State >/dev/null

# ------------------------------------------------------------ polkit

expect_rc "uid 65534: set --shields-up is refused (exit $EXIT_NOT_AUTHORIZED)" $EXIT_NOT_AUTHORIZED \
	ctl_nobody set --shields-up
check "… with a message saying so" grep -q "not authorized" "$OUT"
expect_rc "uid 65534: down is refused" $EXIT_NOT_AUTHORIZED ctl_nobody down
gd_nobody call --system --dest io.github.hyphae.Mesh1 --object-path /io/github/hyphae/Mesh1 \
	--method io.github.hyphae.Mesh1.SetPrefs "{'ShieldsUp': <true>}" >"$OUT" 2>&1
check "uid 65534: raw SetPrefs gets io.github.hyphae.Mesh1.Error.NotAuthorized" \
	grep -q "io.github.hyphae.Mesh1.Error.NotAuthorized" "$OUT"
# polkit itself decided (allow_any=auth_admin: a challenge nobody answers), not an
# error about an unknown action.
check "… because polkit asked for authentication (action known)" \
	grep -q "io.github.hyphae.Mesh1.set-prefs (authentication required" "$OUT"
gd_nobody call --system --dest io.github.hyphae.Mesh1 --object-path /io/github/hyphae/Mesh1 \
	--method io.github.hyphae.Mesh1.SetDebug "['all']" >"$OUT" 2>&1
check "uid 65534: SetDebug gets NotAuthorized from polkit's io.github.hyphae.Mesh1.set-debug" \
	grep -q "io.github.hyphae.Mesh1.Error.NotAuthorized.*io.github.hyphae.Mesh1.set-debug" "$OUT"
expect_rc "uid 65534: hyphaectl debug all is refused (exit $EXIT_NOT_AUTHORIZED)" $EXIT_NOT_AUTHORIZED \
	ctl_nobody debug all
gd call --system --dest org.freedesktop.PolicyKit1 --object-path /org/freedesktop/PolicyKit1/Authority \
	--method org.freedesktop.PolicyKit1.Authority.EnumerateActions "" >"$DBL_DIR/actions.list" 2>&1
check "polkitd knows the 9 actions of data/io.github.hyphae.policy" test "$(grep -o \
	"'io\.github\.hyphae\.Mesh1\.\(up\|down\|login\|logout\|set-prefs\|set-exit-node\|set-keys\|get-auth-url\|set-debug\)'" \
	"$DBL_DIR/actions.list" | sort -u | wc -l)" = 9
expect_rc "uid 65534 may still read: status --json" 0 ctl_nobody status --json
# Ping is read-only (no polkit): uid 65534 gets an answer, here NotFound (no
# peer of that name), not NotAuthorized; a mistyped option is InvalidArgument.
gd_nobody call --system --dest io.github.hyphae.Mesh1 --object-path /io/github/hyphae/Mesh1 \
	--method io.github.hyphae.Mesh1.Ping no-such-peer "{}" >"$OUT" 2>&1
check "uid 65534: Ping needs no polkit: an unknown peer is io.github.hyphae.Mesh1.Error.NotFound" \
	grep -q "io.github.hyphae.Mesh1.Error.NotFound" "$OUT"
gd_nobody call --system --dest io.github.hyphae.Mesh1 --object-path /io/github/hyphae/Mesh1 \
	--method io.github.hyphae.Mesh1.Ping no-such-peer "{'Timeout': <uint32 0>}" >"$OUT" 2>&1
check "Ping with Timeout 0: io.github.hyphae.Mesh1.Error.InvalidArgument" \
	grep -q "io.github.hyphae.Mesh1.Error.InvalidArgument" "$OUT"
expect_rc "uid 65534: hyphaectl ping of an unknown peer fails with exit 1" 1 ctl_nobody ping -c 1 no-such-peer
check "the refused change did not happen" prop_has Prefs "'ShieldsUp': <false>"

# PropertiesChanged: a monitor sees the root's change arrive.
timeout 60 ip netns exec "$NS" env DBUS_SYSTEM_BUS_ADDRESS="$BUS_ADDR" \
	gdbus monitor --system --dest io.github.hyphae.Mesh1 >"$DBL_DIR/monitor" 2>&1 &
MON=$!
for i in $(seq 100); do grep -q "Monitoring" "$DBL_DIR/monitor" 2>/dev/null && break; sleep 0.1; done
expect_rc "root: set --shields-up succeeds" 0 ctl set --shields-up
for i in $(seq 100); do grep -q "PropertiesChanged.*'ShieldsUp': <true>" "$DBL_DIR/monitor" && break; sleep 0.1; done
check "Prefs change arrives as PropertiesChanged" grep -q "PropertiesChanged.*'ShieldsUp': <true>" "$DBL_DIR/monitor"
check "Prefs property shows it" prop_has Prefs "'ShieldsUp': <true>"
expect_rc "root: set --accept-routes=true --accept-dns=false" 0 ctl set --accept-routes=true --accept-dns=false
for i in $(seq 100); do grep -q "PropertiesChanged.*'RouteAll': <true>" "$DBL_DIR/monitor" && break; sleep 0.1; done
check "… arrives too" grep -q "PropertiesChanged.*'CorpDNS': <false>.*'RouteAll': <true>" "$DBL_DIR/monitor"
dbl_kill "$MON"

expect_rc "set --exit-node with an unknown peer is a usage error" $EXIT_USAGE ctl set --exit-node nosuchpeer
expect_rc "set --shields-up=maybe is a usage error" $EXIT_USAGE ctl set --shields-up=maybe

# Without polkitd every unprivileged call is refused; root is allowed without it.
dbl_polkit_stop s
expect_rc "no polkitd: uid 65534 is refused" $EXIT_NOT_AUTHORIZED ctl_nobody set --shields-up=false
expect_rc "no polkitd: root is allowed" 0 ctl set --shields-up
dbl_polkit_start s || fail "restart polkitd"

# ------------------------------------------------------------ argument validation

mesh_call SetExitNode "'nosuchnode'"
check "SetExitNode with an unknown peer: InvalidArgument" grep -q "Mesh1.Error.InvalidArgument" "$OUT"
mesh_call SetPrefs "{'ShieldsUp': <'yes'>}"
check "SetPrefs with a wrongly typed value: InvalidArgument" grep -q "Mesh1.Error.InvalidArgument" "$OUT"
mesh_call SetPrefs "{'NoSuchPref': <true>}"
check "SetPrefs with an unknown key: InvalidArgument" grep -q "Mesh1.Error.InvalidArgument" "$OUT"
mesh_call Up "{'AuthKey': <int32 5>}"
check "Up with a wrongly typed AuthKey: InvalidArgument" grep -q "Mesh1.Error.InvalidArgument" "$OUT"
mesh_call Login "{'Frobnicate': <true>}"
check "Login with an unknown key: InvalidArgument" grep -q "Mesh1.Error.InvalidArgument" "$OUT"
SECRET=privkey:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeX
mesh_call SetKeys "{'MachineKey': <'$SECRET'>, 'NodeKey': <'$SECRET'>}"
check "SetKeys with a malformed key: InvalidArgument" grep -q "Mesh1.Error.InvalidArgument" "$OUT"
check "… and the key is not echoed" not grep -q 0123456789abcdef "$OUT"
mesh_call SetKeys "{'NodeKey': <'$SECRET'>}"
check "SetKeys without MachineKey: InvalidArgument" grep -q "Mesh1.Error.InvalidArgument" "$OUT"
check "Prefs never carry keys" not prop_has Prefs "[Kk]ey'"
WELLFORMED=privkey:$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
mesh_call SetKeys "{'MachineKey': <'$WELLFORMED'>, 'NodeKey': <'$WELLFORMED'>, 'Profile': <''>}"
check "SetKeys with an empty Profile: InvalidArgument" grep -q "Mesh1.Error.InvalidArgument" "$OUT"

# The app's Up (Unattended false) before its SetKeys: refused, and no
# daemon-owned keys are made behind its back.
KEYS_FILE=$STATE/profiles/default/keys
check "KeysOwner is \"\" before any login" prop_has KeysOwner "<''>"
mesh_call Up "{'ControlURL': <'http://127.0.0.1:1'>, 'AuthKey': <'tskey-x'>, 'Unattended': <false>}"
check "Up with Unattended false before SetKeys: NeedsLogin" grep -q "Mesh1.Error.NeedsLogin" "$OUT"
check "… saying SetKeys first" grep -q "SetKeys first" "$OUT"
check "… Health says SetKeys first" prop_has Health "SetKeys first"
check "… no keys file was written" not test -e "$KEYS_FILE"
check "… KeysOwner still \"\"" prop_has KeysOwner "<''>"
check "… and the ControlURL did not change" not prop_has Prefs "127.0.0.1:1"

# ------------------------------------------------------------ control server errors

expect_rc "up against a closed port: unreachable (exit $EXIT_UNREACHABLE)" $EXIT_UNREACHABLE \
	ctl up --login-server http://127.0.0.1:1 --auth-key tskey-x --timeout 60
check "… with a message saying so" grep -q "cannot reach the control server" "$OUT"
check "hyphaectl up (unattended) made daemon-owned keys as before" test -s "$KEYS_FILE"
check "… KeysOwner daemon" prop_has KeysOwner "<'daemon'>"
check "… and Health no longer says SetKeys first" not prop_has Health "SetKeys first"

# The Go control server (tests/ts2021/control.go) inside the namespace.
ip netns exec "$NS" "$HYPHAE_TS2021_CONTROL" -listen 127.0.0.1:0 -auth-key tskey-right -approve-routes -timeout 600s \
	>"$DBL_DIR/control.out" 2>"$DBL_DIR/control.err" </dev/null &
CONTROL_PID=$!
for i in $(seq 100); do grep -q '^LISTEN ' "$DBL_DIR/control.out" 2>/dev/null && break; sleep 0.1; done
CONTROL_URL=http://$(sed -n 's/^LISTEN //p' "$DBL_DIR/control.out")
if [ "$CONTROL_URL" = http:// ]; then
	fail "Go control server started"
else
	expect_rc "up --auth-key wrong: bad auth key (exit $EXIT_BAD_AUTH_KEY)" $EXIT_BAD_AUTH_KEY \
		ctl up --login-server "$CONTROL_URL" --auth-key wrong --timeout 60
	check "… with a message saying so" grep -q "refused the auth key" "$OUT"
	check "… and Health says why" prop_has Health "control: "
	check "… and the key is not logged" not grep -q "wrong" "$DBL_DIR/s/bus.log"
	# uid 65534 watches everything the daemon broadcasts while root logs in.
	timeout 60 ip netns exec "$NS" setpriv --reuid=65534 --regid=65534 --clear-groups \
		env DBUS_SYSTEM_BUS_ADDRESS="$BUS_ADDR" gdbus monitor --system --dest io.github.hyphae.Mesh1 \
		>"$DBL_DIR/monitor-nobody" 2>&1 &
	MON3=$!
	for i in $(seq 100); do grep -q "Monitoring" "$DBL_DIR/monitor-nobody" 2>/dev/null && break; sleep 0.1; done
	expect_rc "up without a key: browser login needed (exit $EXIT_NEEDS_LOGIN after --timeout)" \
		$EXIT_NEEDS_LOGIN ctl up --login-server "$CONTROL_URL" --timeout 5
	check "… prints the URL as tailscale does" grep -qP '^To authenticate, visit:$|^\thttps?://' "$OUT"
	LOGIN_URL=$(sed -n 's/^\t\(http.*\)$/\1/p' "$OUT" | head -n 1)
	check "… State NeedsLogin" prop_has State "'NeedsLogin'"
	mesh_call GetAuthURL
	check "root (not sent to polkit) gets the URL with GetAuthURL" grep -qF "('$LOGIN_URL',)" "$OUT"
	check "there is no AuthURL property" not prop_has AuthURL "http"
	gd_nobody call --system --dest io.github.hyphae.Mesh1 --object-path /io/github/hyphae/Mesh1 \
		--method org.freedesktop.DBus.Properties.GetAll io.github.hyphae.Mesh1 >"$OUT" 2>&1
	# (ControlURL in Prefs is an http:// URL too: look for the login URL itself.)
	no_login_url() { test -n "$LOGIN_URL" && grep -q NeedsLogin "$1" && ! grep -qF "$LOGIN_URL" "$1"; }
	check "uid 65534: GetAll has no URL" no_login_url "$OUT"
	gd_nobody call --system --dest io.github.hyphae.Mesh1 --object-path /io/github/hyphae/Mesh1 \
		--method io.github.hyphae.Mesh1.GetAuthURL >"$OUT" 2>&1
	check "uid 65534: GetAuthURL is NotAuthorized" grep -q "Mesh1.Error.NotAuthorized" "$OUT"
	check "… by polkit's get-auth-url action" grep -q "io.github.hyphae.Mesh1.get-auth-url" "$OUT"
	expect_rc "uid 65534: status --json" 0 ctl_nobody status --json
	check "… BackendState NeedsLogin and AuthURL empty" "$PY" -c 'import json, sys
st = json.load(open(sys.argv[1]))
assert st["BackendState"] == "NeedsLogin" and st["AuthURL"] == "", st' "$OUT"
	ctl_nobody status >"$OUT" 2>&1
	check "uid 65534: status says logged out, without the URL" \
		sh -c "grep -q 'Logged out' '$OUT' && ! grep -qF '$LOGIN_URL' '$OUT'"
	expect_rc "root: status shows the URL to log in" $EXIT_NEEDS_LOGIN ctl status
	check "… as Log in at: URL" grep -qF "Log in at: $LOGIN_URL" "$OUT"
	dbl_kill "$MON3"
	# (State was NeedsLogin already: the login may change nothing broadcast.)
	check "uid 65534's monitor of PropertiesChanged and signals saw no URL" sh -c \
		"test -n '$LOGIN_URL' && grep -q Monitoring '$DBL_DIR/monitor-nobody' && ! grep -qF '$LOGIN_URL' '$DBL_DIR/monitor-nobody'"

	# Another daemon holds our UAPI socket (as a second hyphaed would): up
	# fails within its own call, with the reason, and Health keeps it.
	"$PY" -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
print("LISTENING", flush=True); time.sleep(600)' "$UAPI/hyphae0.sock" >"$DBL_DIR/uapi-holder.out" 2>&1 &
	HOLDER=$!
	for i in $(seq 100); do grep -q LISTENING "$DBL_DIR/uapi-holder.out" 2>/dev/null && break; sleep 0.1; done
	expect_rc "UAPI socket taken: up fails (exit $EXIT_ENGINE)" $EXIT_ENGINE \
		ctl up --login-server "$CONTROL_URL" --auth-key tskey-right --timeout 60
	check "… saying why" grep -q "cannot start: Cannot start the WireGuard engine: Address already in use" "$OUT"
	check "… Health says so too" prop_has Health "Cannot start the WireGuard engine: Address already in use"
	check "… State Stopped" prop_has State "'Stopped'"
	check "… no tunnel left behind" not ip -n "$NS" link show hyphae0 2>/dev/null
	dbl_kill "$HOLDER"
	rm -f "$UAPI/hyphae0.sock"
fi

# ------------------------------------------------------------ a node that runs

wait_state() {   # wait_state STATE: the State property becomes STATE within 60 s
	local i
	for i in $(seq 600); do prop_has State "'$1'" && return 0; sleep 0.1; done
	return 1
}
if [ "$CONTROL_URL" != http:// ]; then
	expect_rc "up --auth-key (right key): Running" 0 \
		ctl up --login-server "$CONTROL_URL" --auth-key tskey-right --hostname dbus-node --timeout 60
	expect_rc "status --json while Running" 0 ctl status --json
	cp "$OUT" "$DBL_DIR/status1.json"
	check "status --json: tailscale's fields, Running, Self with addresses and node key" \
		"$PY" - "$DBL_DIR/status1.json" <<'EOF2'
import json, sys
st = json.load(open(sys.argv[1]))
assert st["BackendState"] == "Running", st["BackendState"]
me = st["Self"]
for k in ("ID", "PublicKey", "HostName", "DNSName", "OS", "TailscaleIPs", "Online", "ExitNode",
          "ExitNodeOption", "CurAddr", "Relay", "RxBytes", "TxBytes", "LastSeen"):
    assert k in me, k
assert me["HostName"] == "dbus-node", me["HostName"]
assert me["PublicKey"].startswith("nodekey:") and len(me["PublicKey"]) == 8 + 64, me["PublicKey"]
assert me["TailscaleIPs"] and st["TailscaleIPs"] == me["TailscaleIPs"], st["TailscaleIPs"]
assert me["DNSName"].startswith("dbus-node."), me["DNSName"]
assert st["CurrentTailnet"]["MagicDNSSuffix"] == st["MagicDNSSuffix"] != ""
assert isinstance(st["Peer"], dict)
print(next(ip for ip in me["TailscaleIPs"] if ":" not in ip), file=open(sys.argv[1] + ".v4", "w"))
EOF2
	check "… laid out as Go's json.MarshalIndent (scripts that grep it keep working)" \
		grep -qx '  "BackendState": "Running",' "$DBL_DIR/status1.json"
	V4=$(cat "$DBL_DIR/status1.json.v4" 2>/dev/null)
	expect_rc "status (text) while Running" 0 ctl status
	check "… its first line is this node: IP, name, owner, OS" grep -qE "^${V4//./\\.} +dbus-node +[^ ]+ +linux +-" "$OUT"
	expect_rc "ip -4" 0 ctl ip -4
	check "… prints the node's IPv4 only" test "$(cat "$OUT")" = "$V4"
	expect_rc "netmap --json" 0 ctl netmap --json
	check "… is JSON with Self" "$PY" -c 'import json,sys; assert json.load(open(sys.argv[1]))["Self"]' "$OUT"

	# A peer that offers to be an exit node (the Go map client, advertising /0s
	# that the server approves): status, ip PEER, set --exit-node.
	ip netns exec "$NS" "$HYPHAE_TS2021_CONTROL" -role mapclient -url "$CONTROL_URL" -auth-key tskey-right \
		-hostname exit-peer -endpoints 127.0.0.1:41999 -routes 0.0.0.0/0,::/0 -timeout 600s \
		>"$DBL_DIR/peer.out" 2>&1 </dev/null &
	PEER_PID=$!
	peer_json() {   # peer_json EXPR: EXPR over the exit-peer entry of status --json
		ctl status --json >"$DBL_DIR/st.json" 2>/dev/null &&
		"$PY" - "$DBL_DIR/st.json" "$1" <<'EOF2'
import json, sys
st = json.load(open(sys.argv[1]))
peers = [p for k, p in (st["Peer"] or {}).items() if p["HostName"] == "exit-peer" and k == p["PublicKey"]]
assert len(peers) == 1
p = peers[0]
assert eval(sys.argv[2]), (sys.argv[2], p, st.get("ExitNodeStatus"))
EOF2
	}
	for i in $(seq 300); do peer_json True 2>/dev/null && break; sleep 0.1; done
	check "status --json lists the peer under its node key" \
		peer_json 'p["PublicKey"].startswith("nodekey:") and p["Online"] and p["TailscaleIPs"] and p["ID"]'
	check "… as offering to be an exit node, not selected" peer_json 'p["ExitNodeOption"] and not p["ExitNode"]'
	PEER_V4=$("$PY" -c 'import json,sys; st=json.load(open(sys.argv[1]))
print([ip for p in st["Peer"].values() if p["HostName"] == "exit-peer" for ip in p["TailscaleIPs"] if ":" not in ip][0])' \
		"$DBL_DIR/st.json" 2>/dev/null)
	expect_rc "status (text) with a peer" 0 ctl status
	check "… the peer's line: IP, name, OS, offers exit node" \
		grep -qE "^${PEER_V4//./\\.} +exit-peer +[^ ]+ +linux +idle; offers exit node" "$OUT"
	expect_rc "ip -4 exit-peer" 0 ctl ip -4 exit-peer
	check "… prints the peer's IPv4" test "$(cat "$OUT")" = "$PEER_V4"
	expect_rc "set --exit-node exit-peer" 0 ctl set --exit-node exit-peer --exit-node-allow-lan-access
	check "… selects it (ExitNode, ExitNodeStatus)" \
		peer_json 'p["ExitNode"] and st["ExitNodeStatus"]["ID"] == p["ID"]'
	check "… Prefs: ExitNodeID and ExitNodeAllowLANAccess" prop_has Prefs "'ExitNodeID': <'[^']\+'>, 'ExitNodeAllowLANAccess': <true>"
	expect_rc "status (text) shows the exit node" 0 ctl status
	check "… as such" grep -qE "^${PEER_V4//./\\.} +exit-peer .*exit node" "$OUT"
	expect_rc "set --exit-node= clears it" 0 ctl set --exit-node= --exit-node-allow-lan-access=false
	check "… ExitNodeID is empty again" prop_has Prefs "'ExitNodeID': <''>"
	check "… and the peer is no longer the exit node" peer_json 'not p["ExitNode"] and "ExitNodeStatus" not in st'
	dbl_kill "$PEER_PID"

	check "SIGTERM while Running: hyphaed exits within 10 s" dbl_daemon_stop s
	check "… the tunnel went with it" not ip -n "$NS" link show hyphae0 2>/dev/null
	expect_rc "status reactivates hyphaed" 0 ctl status --json
	check "… which comes back Running by itself" wait_state Running

	expect_rc "down" 0 ctl down
	expect_rc "status after down: stopped (exit 1)" 1 ctl status
	check "… says so" grep -q "stopped" "$OUT"
	check "KeysOwner daemon while Running after hyphaectl up" prop_has KeysOwner "<'daemon'>"
	expect_rc "logout" 0 ctl logout
	check "… State NeedsLogin" wait_state NeedsLogin
	check "… KeysOwner \"\" (the node key is gone)" prop_has KeysOwner "<''>"
	expect_rc "status after logout (exit 1)" 1 ctl status
	check "… says Logged out." grep -q "Logged out." "$OUT"
	expect_rc "ip after logout: no addresses (exit 1)" 1 ctl ip

	# A browser login that completes: hyphaectl up prints the URL and waits;
	# opening it (the Go server approves on GET) brings the node to Running.
	ctl up --login-server "$CONTROL_URL" --hostname browser-node --timeout 60 >"$DBL_DIR/login.out" 2>&1 &
	LOGIN_PID=$!
	for i in $(seq 300); do grep -q "^	http" "$DBL_DIR/login.out" && break; sleep 0.1; done
	AUTH_URL=$(sed -n 's/^\t\(http.*\)$/\1/p' "$DBL_DIR/login.out" | head -n 1)
	check "up without a key prints the login URL and waits" test -n "$AUTH_URL"
	[ -n "$AUTH_URL" ] && ip netns exec "$NS" "$PY" -c 'import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=30).read()' "$AUTH_URL" >"$OUT" 2>&1
	wait "$LOGIN_PID"
	LOGIN_RC=$?
	check "… opening the URL completes it: up exits 0 (got $LOGIN_RC)" test "$LOGIN_RC" = 0
	check "… State Running" prop_has State "'Running'"
	expect_rc "logout of the browser-logged-in node" 0 ctl logout

	# The desktop app's part (docs/ARCHITECTURE.md "Key owners"), dbus-keys-owner.py
	# playing the app: SetKeys + Up with Unattended false; the server expires the
	# node key; the rotated key goes to the keys' owner as a unicast KeysRotated,
	# and a plain listener does not see it. uid 65534 watches all of it.
	timeout 300 ip netns exec "$NS" env DBUS_SYSTEM_BUS_ADDRESS="$BUS_ADDR" \
		gdbus monitor --system --dest io.github.hyphae.Mesh1 >"$DBL_DIR/monitor2" 2>&1 &
	MON2=$!
	timeout 300 ip netns exec "$NS" setpriv --reuid=65534 --regid=65534 --clear-groups \
		env DBUS_SYSTEM_BUS_ADDRESS="$BUS_ADDR" gdbus monitor --system --dest io.github.hyphae.Mesh1 \
		>"$DBL_DIR/monitor-nobody2" 2>&1 &
	MON4=$!
	for i in $(seq 100); do grep -q "Monitoring" "$DBL_DIR/monitor2" 2>/dev/null &&
		grep -q "Monitoring" "$DBL_DIR/monitor-nobody2" 2>/dev/null && break; sleep 0.1; done
	APP_KEYS=$DBL_DIR/app-keys   # the app's keyring; app-keys.all: every key it had
	owner() {   # owner MODE ARGS…: dbus-keys-owner.py as the app, output to $DBL_DIR/owner.out
		timeout 120 ip netns exec "$NS" env DBUS_SYSTEM_BUS_ADDRESS="$BUS_ADDR" \
			"$PY" "$HERE/dbus-keys-owner.py" "$@" >"$DBL_DIR/owner.out" 2>&1
	}
	expire() {   # expire NODEID: the control server expires the node's key
		ip netns exec "$NS" "$PY" -c 'import sys, urllib.request
urllib.request.urlopen(urllib.request.Request(sys.argv[1], method="POST"), timeout=30)' \
			"$CONTROL_URL/debug/expire?node=$1" >"$OUT" 2>&1
	}
	check "the logged-out daemon-owned node left its machine key in the state dir" \
		test -s "$STATE/profiles/default/keys"
	owner app "$CONTROL_URL" tskey-right 60 "$APP_KEYS" &
	OWNER=$!
	for i in $(seq 600); do grep -q "^READY\|^FAIL\|Error" "$DBL_DIR/owner.out" && break; sleep 0.1; done
	NODEID=$(sed -n 's/^READY //p' "$DBL_DIR/owner.out")
	check "SetKeys (Profile work): KeysOwner \"\" → client by PropertiesChanged, Profile work" \
		grep -q "^OWNER client" "$DBL_DIR/owner.out"
	check "SetKeys + Up with the app's keys: Running" test -n "$NODEID"
	[ -n "$NODEID" ] && expire "$NODEID"
	wait "$OWNER"
	OWNER_RC=$?
	check "the node key expires: the keys' owner gets KeysRotated with a new key and Profile work (exit $OWNER_RC)" \
		grep -q "^ROTATED" "$DBL_DIR/owner.out"
	[ "$OWNER_RC" = 0 ] || sed 's/^/    /' "$DBL_DIR/owner.out" >&2
	check "… and a plain listener on the bus does not see it" not grep -q "KeysRotated" "$DBL_DIR/monitor2"
	check "… while it saw the broadcast PeersChanged" grep -q "PeersChanged" "$DBL_DIR/monitor2"
	check "… KeysOwner client" prop_has KeysOwner "<'client'>"
	check "… and the daemon's own keys file (the logged-out node's machine key) is gone" \
		test ! -e "$STATE/profiles/default/keys"

	# The owner has gone (the app quit): a rotation now reaches no one. The key
	# is kept and goes to the next SetKeys with the replaced one.
	[ -n "$NODEID" ] && expire "$NODEID"
	owner recover 60 "$APP_KEYS"
	OWNER_RC=$?
	check "a rotation nobody heard of: the next SetKeys with the replaced key gets KeysRotated, same node (exit $OWNER_RC)" \
		grep -q "^RECOVERED" "$DBL_DIR/owner.out"
	check "… and a SetKeys with the keys held (an app restarting) changes nothing" grep -q "^SAME" "$DBL_DIR/owner.out"
	[ "$OWNER_RC" = 0 ] || sed 's/^/    /' "$DBL_DIR/owner.out" >&2

	# Another profile's keys while Running: another node, logged in afresh.
	owner newnode "$CONTROL_URL" tskey-right 60 "$APP_KEYS"
	OWNER_RC=$?
	[ "$OWNER_RC" = 0 ] || sed 's/^/    /' "$DBL_DIR/owner.out" >&2
	check "SetKeys with other keys while Running: Stopped, Self empty, netmap dropped" \
		grep -q "^DROPPED" "$DBL_DIR/owner.out"
	check "… the next Up with the same ControlURL is a fresh login (NeedsLogin, AuthURLReady)" \
		grep -q "^FRESHLOGIN" "$DBL_DIR/owner.out"
	NEWKEY=$(sed -n 's/^NEWNODE //p' "$DBL_DIR/owner.out")
	check "… and with an auth key the new node runs" test -n "$NEWKEY"
	ip netns exec "$NS" "$PY" -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=30).read().decode())' "$CONTROL_URL/debug/nodes" \
		>"$DBL_DIR/nodes.json" 2>&1
	check "… the control server sees the new node key" "$PY" -c 'import json, sys
nodes = json.load(open(sys.argv[1]))
assert sys.argv[2] in [n["NodeKey"] for n in nodes], (sys.argv[2], nodes)' "$DBL_DIR/nodes.json" "${NEWKEY:-none}"
	expect_rc "… status --json" 0 ctl status --json
	check "… shows it as Self" "$PY" -c 'import json, sys
st = json.load(open(sys.argv[1]))
assert st["BackendState"] == "Running" and st["Self"]["PublicKey"] == sys.argv[2], st["Self"]' "$OUT" "${NEWKEY:-none}"

	# uid 65534 learns nothing new: SetKeys is polkit's set-keys, and neither
	# signals nor properties carry a key.
	gd_nobody call --system --dest io.github.hyphae.Mesh1 --object-path /io/github/hyphae/Mesh1 \
		--method io.github.hyphae.Mesh1.SetKeys "{$(sed -n \
		"s/^machine=\(.*\)/'MachineKey': <'\1'>, /p; s/^node=\(.*\)/'NodeKey': <'\1'>/p" "$APP_KEYS" | tr -d '\n')}" \
		>"$OUT" 2>&1
	check "uid 65534: SetKeys even with the app's keys is NotAuthorized (set-keys)" \
		grep -q "Mesh1.Error.NotAuthorized.*io.github.hyphae.Mesh1.set-keys" "$OUT"
	gd_nobody introspect --system --dest io.github.hyphae.Mesh1 --object-path /io/github/hyphae/Mesh1 -p \
		>"$DBL_DIR/nobody-props" 2>&1
	check "uid 65534 reads KeysOwner client" grep -q "KeysOwner = 'client'" "$DBL_DIR/nobody-props"
	dbl_kill "$MON2"
	dbl_kill "$MON4"
	check "… and saw no KeysRotated" not grep -q "KeysRotated" "$DBL_DIR/monitor-nobody2"
	no_app_key() {   # no_app_key FILE…: none of the app's keys (private halves) is in FILE
		local hex
		grep -q "Monitoring" "$DBL_DIR/monitor-nobody2" && test -s "$APP_KEYS.all" || return 1
		for hex in $(sed -n 's/^[a-z]*=privkey://p' "$APP_KEYS.all"); do
			grep -q "$hex" "$@" && return 1
		done
		return 0
	}
	check "… and no private key of the app's is in its monitor, its properties, hyphaed's log or state dir" \
		no_app_key "$DBL_DIR/monitor-nobody2" "$DBL_DIR/nobody-props" "$DBL_DIR/s/bus.log" -r "$STATE"
	expect_rc "logout of the app's node" 0 ctl logout
fi

# SIGTERM while an Up waits for a server that went silent after the handshake:
# hyphaed still stops at once, and the waiting client is told.
ip netns exec "$NS" "$HYPHAE_TS2021_CONTROL" -listen 127.0.0.1:0 -hostile silence -timeout 600s \
	>"$DBL_DIR/silent.out" 2>"$DBL_DIR/silent.err" </dev/null &
SILENT_PID=$!
for i in $(seq 100); do grep -q '^LISTEN ' "$DBL_DIR/silent.out" 2>/dev/null && break; sleep 0.1; done
SILENT_URL=http://$(sed -n 's/^LISTEN //p' "$DBL_DIR/silent.out")
ctl up --login-server "$SILENT_URL" --auth-key tskey-right >"$DBL_DIR/silent.ctl" 2>&1 &
UP_PID=$!
for i in $(seq 200); do grep -q '^PEER ' "$DBL_DIR/silent.out" && break; sleep 0.1; done
check "an Up is waiting on the silent server" grep -q '^PEER ' "$DBL_DIR/silent.out"
check "SIGTERM during that Up: hyphaed exits within 10 s" dbl_daemon_stop s
check "… and releases the name" not has_owner
wait "$UP_PID"
UP_RC=$?
check "… and the waiting hyphaectl up is told (exit 1, got $UP_RC)" test "$UP_RC" = 1
check "… that hyphaed is shutting down" grep -q "shutting down" "$DBL_DIR/silent.ctl"
dbl_kill "$SILENT_PID"

# SetKeys with well-formed keys (what the desktop app does): allowed for root,
# refused for uid 65534, and the keys appear nowhere in what the daemon says.
MKEY=privkey:$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
NKEY=privkey:$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
gd_nobody call --system --dest io.github.hyphae.Mesh1 --object-path /io/github/hyphae/Mesh1 \
	--method io.github.hyphae.Mesh1.SetKeys "{'MachineKey': <'$MKEY'>, 'NodeKey': <'$NKEY'>}" >"$OUT" 2>&1
check "uid 65534: SetKeys is refused" grep -q "Mesh1.Error.NotAuthorized" "$OUT"
mesh_call SetKeys "{'MachineKey': <'$MKEY'>, 'NodeKey': <'$NKEY'>}"
check "root: SetKeys with well-formed keys succeeds" grep -qx "()" "$OUT"
gd introspect --system --dest io.github.hyphae.Mesh1 --object-path /io/github/hyphae/Mesh1 -p >"$OUT" 2>&1
check "… and no property shows a key" not grep -qE "${MKEY#privkey:}|${NKEY#privkey:}" "$OUT" "$DBL_DIR/s/bus.log"

# ------------------------------------------------------------ the daemon process

PID1=$(dbl_daemon_pid s)
caps() { sed -n "s/^$1:[[:space:]]*//p" "/proc/${PID1:-0}/status"; }
# CAP_NET_ADMIN is bit 12: 0x1000.
check "hyphaed keeps only CAP_NET_ADMIN (CapEff, CapPrm, CapBnd 0x1000; got $(caps CapEff) $(caps CapPrm) $(caps CapBnd))" \
	test "$(caps CapEff)$(caps CapPrm)$(caps CapBnd)" = 000000000000100000000000000010000000000000001000
check "… and no inheritable or ambient ones" test "$(caps CapInh)$(caps CapAmb)" = 00000000000000000000000000000000
# Not dumpable: a uid-0 reader with exactly hyphaed's capabilities (so neither
# the uid nor the capability rule stops it) cannot read its environ, while it
# can that of a process with the same uid and capabilities that is dumpable.
READER=(setpriv --inh-caps=-all --ambient-caps=-all --bounding-set=-all,+net_admin)
reads_environ() { "${READER[@]}" cat "/proc/$1/environ" >/dev/null 2>&1; }
"${READER[@]}" sleep 60 &
DUMPABLE=$!
# Until setpriv (all capabilities) has become sleep (CAP_NET_ADMIN only).
for i in $(seq 100); do [ "$(cat "/proc/$DUMPABLE/comm" 2>/dev/null)" = sleep ] && break; sleep 0.1; done
check "control: such a reader can read a dumpable process's environ" reads_environ "$DUMPABLE"
kill "$DUMPABLE"; wait "$DUMPABLE" 2>/dev/null
check "… but not hyphaed's (PR_SET_DUMPABLE 0)" not reads_environ "$PID1"

# ------------------------------------------------------------ restart keeps prefs

chmod 755 "$STATE"

check "SIGTERM: hyphaed exits within 10 s" dbl_daemon_stop s
expect_rc "status reactivates hyphaed" 0 ctl status --json
PID2=$(dbl_daemon_pid s)
check "a new hyphaed ($PID1 -> $PID2)" test -n "$PID2" -a "$PID2" != "$PID1"
check "prefs survived the restart (ShieldsUp, RouteAll, CorpDNS)" prop_has Prefs \
	"'CorpDNS': <false>.*'RouteAll': <true>, 'ShieldsUp': <true>"
check "a state dir left 0755 is 0700 again" test "$(stat -c %a "$STATE")" = 700

# ------------------------------------------------------------ a flood from uid 65534

# A second bus whose hyphaed gives up on polkit after 15 s (it takes
# hyphaectl far less to start, so the budget is still spent when it asks); its polkitd is
# stopped (SIGSTOP), so every check stays pending: exactly 16 of them.
mkdir -p "$DBL_DIR/pstate"
if HYPHAED_POLKIT_TIMEOUT_MS=15000 dbl_bus_start p "$NS" "$DBL_DIR/pstate" --ifname hyphae9; then
	PADDR=$(dbl_addr p)
	timeout 60 ip netns exec "$NS" env DBUS_SYSTEM_BUS_ADDRESS="$PADDR" "$HYPHAECTL" status --json >/dev/null 2>&1
	install -m 755 "$HERE/dbus-flood.py" "$DBL_DIR/bin/dbus-flood.py"
	kill -STOP "${DBL_POLKIT_PID[p]}"
	timeout 120 ip netns exec "$NS" setpriv --reuid=65534 --regid=65534 --clear-groups \
		env DBUS_SYSTEM_BUS_ADDRESS="$PADDR" "$PY" "$DBL_DIR/bin/dbus-flood.py" 40 "$NOBODY_CTL" \
		>"$DBL_DIR/flood.out" 2>&1
	FLOOD_RC=$?
	kill -CONT "${DBL_POLKIT_PID[p]}"
	sed 's/^/    /' "$DBL_DIR/flood.out"
	check "flood of 40 calls: every call answered (exit $FLOOD_RC)" test "$FLOOD_RC" = 0
	check "… 24 refused at once with TooManyRequests" grep -qx "REFUSED 24" "$DBL_DIR/flood.out"
	check "… reads answered meanwhile" grep -qx "READ ok" "$DBL_DIR/flood.out"
	check "… hyphaectl says so (exit $EXIT_TOO_MANY)" grep -q "^CTL $EXIT_TOO_MANY .*too many requests" "$DBL_DIR/flood.out"
	check "… the 16 that waited end NotAuthorized after the polkit timeout" grep -qx "DENIED 16" "$DBL_DIR/flood.out"
	check "… no other error" not grep -q "^OTHER" "$DBL_DIR/flood.out"
	expect_rc "afterwards uid 65534 gets polkit's answer again (exit $EXIT_NOT_AUTHORIZED)" $EXIT_NOT_AUTHORIZED \
		timeout 60 ip netns exec "$NS" setpriv --reuid=65534 --regid=65534 --clear-groups \
		env DBUS_SYSTEM_BUS_ADDRESS="$PADDR" "$NOBODY_CTL" set --shields-up
	check "no sanitizer report from the second hyphaed" not grep -E \
		'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$DBL_DIR/p/bus.log"
	dbl_bus_stop p
else
	fail "second private bus + polkitd"
fi

# ------------------------------------------------------------ no daemon

# The bus goes away: hyphaed notices and leaves on its own.
dbl_kill "${DBL_BUS_PID[s]}"
gone=no
for i in $(seq 100); do kill -0 "$PID2" 2>/dev/null || { gone=yes; break; }; sleep 0.1; done
check "hyphaed exits when the bus goes away" test $gone = yes
expect_rc "no bus at all: daemon missing (exit $EXIT_NO_DAEMON)" $EXIT_NO_DAEMON ctl status
check "… with a message saying so" grep -q "hyphaed is not running" "$OUT"

# A bus where nobody provides the name (no activation file).
dbl_polkit_stop s
rm -f "$DBL_DIR/s/services/"*.service
dbl_bus_restart s || fail "restart the bus"
expect_rc "bus without hyphaed: daemon missing (exit $EXIT_NO_DAEMON)" $EXIT_NO_DAEMON ctl down
expect_rc "… also for status" $EXIT_NO_DAEMON ctl status --json

# ------------------------------------------------------------ sanitizers

check "no sanitizer report from hyphaed" not grep -E \
	'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$DBL_DIR/s/bus.log"

echo "dbus-service: $PASSES passed, $FAILS failed"
[ "$FAILS" = 0 ]
