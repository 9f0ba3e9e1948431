#!/bin/bash
# SPDX-License-Identifier: MIT
# The app's Flatpak in the real sandbox (bubblewrap + xdg-dbus-proxy), built
# from flatpak/io.github.hyphae.Hyphae.json against a local runtime and SDK
# made from Debian 12's own GTK 4.8 / libadwaita 1.2 (flatpak-runtime.sh: the
# GNOME runtime cannot be fetched here). Proves the finish-args are enough,
# and nothing more:
#   the manifest's finish-args are flatpak/README.md's list (no --own-name, no
#   --filesystem, no --share=network), and the installed app has exactly
#   those permissions (flatpak info --show-permissions);
#   the variant built here differs from the manifest only in runtime, sdk,
#   runtime-version and the modules Debian's SDK already has
#   (flatpak-variant.py); flatpak-builder builds it from a clean `git
#   ls-files` copy (meson -Ddaemon=false -Dtests=false) and installs it; every
#   icon it installs is exported (only app-id-named files are);
#   in the sandbox, under Xvfb and a private session bus, with the system bus
#   of the Go control server's tailnet node A (polkitd, hyphaed):
#     AT-SPI reaches the window inside (flatpak's a11y bus proxy) and it shows
#       hyphaed's state (Mesh1 properties, activation through the proxy);
#     Mesh1 calls: app.sign-in (org.gtk.Actions over the session bus, an auth
#       key) makes the keys, hands them over (SetKeys) and brings hyphaed to
#       Running; the window follows Mesh1's signals to the main view (screenshot
#       flatpak-connected.png);
#     keyring: the app stored its machine and node keys in a headless
#       gnome-keyring (org.freedesktop.secrets, no Secret portal here), which
#       also answers a gdbus call from inside;
#     tray: the app registered its item with a test-owned
#       org.kde.StatusNotifierWatcher (flatpak-session-stubs.py) from a
#       connection of its sandbox's proxy, and the item answers from outside;
#       org.freedesktop.StatusNotifierWatcher takes a Register from inside too;
#   and nothing else (`flatpak run --command=…`, a second sandbox): the
#   system bus shows only org.freedesktop.DBus and Mesh1, PolicyKit1 is
#   ServiceUnknown although it runs; the session bus shows only the allowed
#   names, org.freedesktop.Notifications (running) is ServiceUnknown and got
#   no call; no /etc/shadow, /root, /home, host home, session, tailnet,
#   source, build or flatpak files; no network link but lo.
# Not proved here: polkit. The sandbox runs as root, hyphaed sees the proxy's
# credentials and skips polkit for root: reachability, not authorization.
#
#   flatpak-sandbox.sh SOURCE_DIR CACHE_DIR
# CACHE_DIR (the build dir) keeps the runtime repo between runs; everything
# else (flatpak user dir, builder state, session, buses) is the test's own and
# is removed at the end. Needs root (network namespaces, private system buses,
# mmdebstrap): 77 outside CI without it, a failure in CI. Passes --no-gpg-verify
# for its own local repo only.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/app-lib.sh"

APP_ID=io.github.hyphae.Hyphae
# flatpak/README.md: the permissions the app needs, and no more.
FPS_FINISH_ARGS=(
	--share=ipc --socket=wayland --socket=fallback-x11 --device=dri
	--system-talk-name=io.github.hyphae.Mesh1
	--talk-name=org.kde.StatusNotifierWatcher --talk-name=org.freedesktop.StatusNotifierWatcher
	--talk-name=org.freedesktop.secrets
)
# What the sandbox may see on each bus (plus unique names).
FPS_SYSTEM_NAMES="org.freedesktop.DBus io.github.hyphae.Mesh1"
FPS_SESSION_NAMES="org.freedesktop.DBus $APP_ID org.kde.StatusNotifierWatcher org.freedesktop.StatusNotifierWatcher org.freedesktop.secrets"

[ $# = 2 ] || { echo "usage: $0 SOURCE_DIR CACHE_DIR" >&2; exit 2; }
FPS_SRC=$(cd "$1" && pwd) && FPS_CACHE=$2 || exit 2
if [ -z "${APP_T:-}" ]; then
	[ "$(id -u)" = 0 ] || app_cannot_run "needs root (network namespaces, mmdebstrap)"
	for c in flatpak flatpak-builder bwrap xdg-dbus-proxy mmdebstrap ostree eu-strip git flock \
		gnome-keyring-daemon secret-tool; do
		command -v "$c" >/dev/null 2>&1 ||
			app_cannot_run "missing command: $c (packages flatpak flatpak-builder bubblewrap xdg-dbus-proxy mmdebstrap ostree elfutils git gnome-keyring libsecret-tools)"
	done
	git -C "$FPS_SRC" rev-parse --git-dir >/dev/null 2>&1 || app_cannot_run "$FPS_SRC is not a git checkout"
fi
app_session "$@"

TESTS_DIR=$HERE/../integration
. "$TESTS_DIR/mesh-lib.sh"
. "$HERE/flatpak-runtime.sh"
T0=$(date +%s)
# The flatpak side next to the cache: same file system, so installing from the
# cached repo hardlinks (APP_T may be a tmpfs).
mkdir -p "$FPS_CACHE" && FPS_DIR=$(mktemp -d "$FPS_CACHE/run.XXXXXX") || exit 1
export FLATPAK_USER_DIR=$FPS_DIR/flatpak
FPS_STUBS_LOG=$APP_T/stubs.log
FPS_STUBS_PID= FPS_KEYRING_PID=

fps_in() {   # fps_in CMD ARGS…: CMD inside a fresh sandbox of the installed app
	local cmd=$1; shift
	DBUS_SYSTEM_BUS_ADDRESS=$(dbl_addr a) flatpak run --user --command="$cmd" "$APP_ID" "$@"
}
fps_names() {   # fps_names --system|--session: well-known names seen inside, one per line
	fps_in gdbus call "$1" -d org.freedesktop.DBus -o /org/freedesktop/DBus \
		-m org.freedesktop.DBus.ListNames | tr -d "[]()' " | tr , '\n' | grep -v '^:' | grep . | sort
}
finish() {
	[ "$WGT_FAILS" = 0 ] || { app_log_tail; dbl_dump_logs "$FPS_STUBS_LOG"; }
	mesh_finish flatpak-sandbox "$T0"
}
fatal() { wgt_fail "$*"; finish; }
cleanup_all() {
	local rc=$?
	app_stop
	flatpak kill "$APP_ID" >/dev/null 2>&1
	[ -n "$FPS_STUBS_PID" ] && wgt_kill_pid "$FPS_STUBS_PID"
	[ -n "$FPS_KEYRING_PID" ] && wgt_kill_pid "$FPS_KEYRING_PID"
	if [ -n "${APP_KEEP_TMP:-}" ]; then app_log "kept $FPS_DIR"; else rm -rf --one-file-system "$FPS_DIR"; fi
	(exit "$rc")
	mesh_cleanup
}
trap cleanup_all EXIT
mesh_require

# ---------------------------------------------------------------- the manifest

MANIFEST=$FPS_SRC/flatpak/$APP_ID.json
fps_finish_args() { /usr/bin/python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["finish-args"]))' "$1"; }
wgt_check "the manifest's finish-args are flatpak/README.md's: ${FPS_FINISH_ARGS[*]}" \
	diff <(fps_finish_args "$MANIFEST" | sort) <(printf '%s\n' "${FPS_FINISH_ARGS[@]}" | sort)
wgt_check "no --own-name, --filesystem, --share=network or whole-bus socket in the manifest" \
	bash -c '! grep -E -- "--(own-name|filesystem|share=network|socket=(session-bus|system-bus)|device=all)" "$1"' _ "$MANIFEST"

# ---------------------------------------------------------------- runtime, build, install

t=$SECONDS
fpr_build "$FPS_CACHE" || fatal "the Debian runtime and SDK (flatpak-runtime.sh, logs in $FPS_CACHE)"
flatpak --user remote-add --no-gpg-verify hyphae-test "file://$(cd "$FPS_CACHE" && pwd)/repo" &&
	flatpak --user install -y --noninteractive hyphae-test "$FPR_PLATFORM//$FPR_BRANCH" "$FPR_SDK//$FPR_BRANCH" \
		>"$FPS_DIR/install.log" 2>&1 || { cat "$FPS_DIR/install.log"; fatal "install the runtime and SDK"; }
app_log "runtime and SDK ready in $((SECONDS - t)) s"

t=$SECONDS
mkdir -p "$FPS_DIR/src" &&
	git -C "$FPS_SRC" ls-files -z | tar -C "$FPS_SRC" --null -T - --ignore-failed-read -cf - |
	tar -C "$FPS_DIR/src" -xf - || fatal "a git ls-files copy of $FPS_SRC"
wgt_check "the manifest variant differs only in runtime, sdk, runtime-version, modules Debian has" \
	/usr/bin/python3 "$HERE/flatpak-variant.py" "$MANIFEST" "$FPS_DIR/src" "$FPR_PLATFORM" "$FPR_SDK" \
	"$FPR_BRANCH" "$FPS_DIR/$APP_ID.json" || finish
flatpak-builder --user --install --disable-rofiles-fuse --force-clean --state-dir="$FPS_DIR/builder-state" \
	"$FPS_DIR/build" "$FPS_DIR/$APP_ID.json" >"$FPS_DIR/builder.log" 2>&1 || {
	dbl_dump_logs "$FPS_DIR/builder.log"
	fatal "flatpak-builder builds and installs the app (meson -Ddaemon=false -Dtests=false)"
}
wgt_pass "flatpak-builder builds and installs the app from a git ls-files copy ($((SECONDS - t)) s)"

# The installed permissions, as flatpak read them from the finish-args.
fps_permissions() {   # the finish-args in flatpak info's words, sorted
	/usr/bin/python3 -c '
import sys
kinds = {"share": "shared", "socket": "sockets", "device": "devices", "filesystem": "filesystems"}
for a in sys.argv[1:]:
    k, v = a[2:].split("=", 1)
    if a == "--socket=fallback-x11": print("sockets x11")   # flatpak adds it; dropped under Wayland
    if k in kinds: print(f"{kinds[k]} {v}")
    elif k == "talk-name": print(f"session {v}=talk")
    elif k == "system-talk-name": print(f"system {v}=talk")
    elif k == "own-name": print(f"session {v}=own")
    else: sys.exit(f"unknown finish-arg {a}")' "$@" | sort
}
fps_installed_permissions() {
	flatpak --user info --show-permissions "$APP_ID" | /usr/bin/python3 -c '
import sys
group = None
kinds = {"shared", "sockets", "devices", "filesystems", "features", "persistent", "unset-environment"}
for line in sys.stdin:
    line = line.strip()
    if line.startswith("["):
        group = {"[Session Bus Policy]": "session", "[System Bus Policy]": "system"}.get(line, line)
    elif "=" in line:
        k, v = line.split("=", 1)
        if group == "[Context]":
            for x in filter(None, v.split(";")): print(f"{k} {x}")
        else:
            print(f"{group} {line}")' | sort
}
wgt_check "the installed app has exactly the manifest's permissions" \
	diff <(fps_installed_permissions) <(fps_permissions "${FPS_FINISH_ARGS[@]}")
FPS_FILES=$(flatpak --user info --show-location "$APP_ID")/files
fps_icons_exported() {
	local f rc=0
	[ -d "$FPS_FILES/share/icons/hicolor" ] || return 1
	while IFS= read -r f; do
		[ -e "$FLATPAK_USER_DIR/exports/share/icons/$f" ] || { app_log "not exported: $f"; rc=1; }
	done < <(cd "$FPS_FILES/share/icons" && find . -type f -name '*.svg' -o -type f -name '*.png')
	return "$rc"
}
wgt_check "every icon the app installs is exported (app-id-named), so hosts can find it" fps_icons_exported
wgt_check "the desktop file is exported" test -f "$FLATPAK_USER_DIR/exports/share/applications/$APP_ID.desktop"

# ---------------------------------------------------------------- tailnet, session services

mesh_topology || fatal "topology: hub bridge and two node namespaces"
mesh_server_start || fatal "control server starts in the hub on $MESH_URL"
mesh_buses || fatal "polkit actions installed; a private system bus and polkitd in A and in B"

printf %s "test-password" | gnome-keyring-daemon --foreground --unlock --components=secrets \
	>"$APP_T/keyring.log" 2>&1 &
FPS_KEYRING_PID=$!
gdbus wait --session --timeout 20 org.freedesktop.secrets || fatal "a headless gnome-keyring on the session bus"
/usr/bin/python3 "$HERE/flatpak-session-stubs.py" "$FPS_STUBS_LOG" 2>>"$FPS_STUBS_LOG" &
FPS_STUBS_PID=$!
app_wait 20 grep -qx READY "$FPS_STUBS_LOG" || fatal "the stub watcher and notification server own their names"

# ---------------------------------------------------------------- the app in the sandbox

flatpak_start() {
	env -u GTK_A11Y DBUS_SYSTEM_BUS_ADDRESS="$(dbl_addr a)" GDK_BACKEND=x11 GSK_RENDERER=cairo \
		GSETTINGS_BACKEND=keyfile G_DEBUG=fatal-criticals \
		flatpak run --user "$APP_ID" >>"$APP_T/app.log" 2>&1 </dev/null &
	APP_PID=$!
}
app_action() {   # app_action NAME [PARAM]: activate app.NAME over org.gtk.Actions
	gdbus call --session -d "$APP_ID" -o /io/github/hyphae/Hyphae -m org.gtk.Actions.Activate \
		"$1" "[${2:-}]" "{}" >/dev/null
}
fps_state() { dbl_run a gdbus call --system -d io.github.hyphae.Mesh1 -o /io/github/hyphae/Mesh1 \
	-m org.freedesktop.DBus.Properties.Get io.github.hyphae.Mesh1 State 2>/dev/null; }
fps_running() { [ "$(fps_state)" = "(<'Running'>,)" ]; }

flatpak_start
wgt_check "the sandboxed app owns $APP_ID on the session bus" \
	gdbus wait --session --timeout 60 "$APP_ID" || finish
wgt_check "the window in the sandbox is seen through AT-SPI and shows hyphaed's state (signed out: sign-in)" \
	atspi wait "Sign In to a Tailnet" label "Sign In" "push button"
wgt_check "app.sign-in over org.gtk.Actions is accepted" app_action sign-in \
	"<{'ControlURL': <'$MESH_URL'>, 'AuthKey': <'$MESH_AUTHKEY'>, 'Hostname': <'${MESH_HOST[a]}'>}>"
wgt_check "Mesh1 through the sandbox: the app's sign-in (SetKeys, Up) brings hyphaed to Running" \
	app_wait 90 fps_running
wgt_check "the window in the sandbox follows hyphaed's signals to Running (the main view)" \
	atspi wait HyphaeMainView filler
app_screenshot flatpak-connected || wgt_fail "screenshot flatpak-connected.png"

# keyring
fps_collections() {
	fps_in gdbus call --session -d org.freedesktop.secrets -o /org/freedesktop/secrets \
		-m org.freedesktop.DBus.Properties.Get org.freedesktop.Secret.Service Collections |
		grep -q /org/freedesktop/secrets/collection/login
}
wgt_check "keyring: org.freedesktop.secrets answers from inside the sandbox" fps_collections
fps_keys() {
	local out
	out=$(secret-tool search --all xdg:schema io.github.hyphae.Key 2>&1)
	[ "$(grep -c '^attribute.control-url = '"$MESH_URL"'$' <<<"$out")" = 2 ] &&
		grep -q '^attribute.kind = machine$' <<<"$out" && grep -q '^attribute.kind = node$' <<<"$out"
}
wgt_check "keyring: the sandboxed app stored a machine and a node key for $MESH_URL" app_wait 20 fps_keys
wgt_check "keyring: no key in a file of the app's own (~/.var/app/$APP_ID holds no privkey:)" \
	bash -c '[ -d "$1" ] && ! grep -rqs "privkey:" "$1"' _ "$HOME/.var/app/$APP_ID"

# tray
fps_bus_pid() {   # fps_bus_pid NAME: the pid behind NAME on the session bus
	gdbus call --session -d org.freedesktop.DBus -o /org/freedesktop/DBus \
		-m org.freedesktop.DBus.GetConnectionUnixProcessID "$1" 2>/dev/null | sed -n 's/^(uint32 \([0-9]*\),)$/\1/p'
}
# The tray has a session connection of its own; every connection of one
# sandbox goes through that sandbox's xdg-dbus-proxy, so the app's Register
# comes from the pid that also owns the app id.
fps_app_registered() {
	local app_pid sender
	app_pid=$(fps_bus_pid "$APP_ID")
	[ -n "$app_pid" ] || return 1
	for sender in $(sed -n "s/^CALL [^ ]* \([^ ]*\) org.kde.StatusNotifierWatcher.RegisterStatusNotifierItem ('[^/].*$/\1/p" \
		"$FPS_STUBS_LOG"); do
		[ "$(fps_bus_pid "$sender")" = "$app_pid" ] && FPS_ITEM_OWNER=$sender && return 0
	done
	return 1
}
wgt_check "tray: the sandboxed app registered its item with the watcher (from a connection of its sandbox)" \
	app_wait 20 fps_app_registered &&
	wgt_check "tray: its item answers a call from outside the sandbox (Id)" \
		gdbus call --session -d "$FPS_ITEM_OWNER" -o /StatusNotifierItem \
		-m org.freedesktop.DBus.Properties.Get org.kde.StatusNotifierItem Id
fps_register_seen() { grep -q "^CALL $1 [^ ]* org.kde.StatusNotifierWatcher.RegisterStatusNotifierItem ('$2',)$" "$FPS_STUBS_LOG"; }
for w in org.kde.StatusNotifierWatcher org.freedesktop.StatusNotifierWatcher; do
	fps_in gdbus call --session -d "$w" -o /StatusNotifierWatcher \
		-m org.kde.StatusNotifierWatcher.RegisterStatusNotifierItem /probe >/dev/null 2>&1
	wgt_check "tray: $w takes a Register from inside the sandbox" fps_register_seen "$w" /probe
done

# ---------------------------------------------------------------- nothing else

fps_only() {   # fps_only --system|--session ALLOWED: the names inside are ALLOWED ones
	local seen extra
	seen=$(fps_names "$1") || return 1
	extra=$(comm -23 <(printf '%s\n' "$seen") <(printf '%s\n' $2 | sort))
	[ -z "$extra" ] || { app_log "also seen on $1: $extra"; return 1; }
}
fps_host_has() {   # fps_host_has --system|--session NAME: NAME is on the bus (outside)
	DBUS_SYSTEM_BUS_ADDRESS=$(dbl_addr a) gdbus call "$1" -d org.freedesktop.DBus -o /org/freedesktop/DBus \
		-m org.freedesktop.DBus.ListNames | grep -q "'$2'"
}
fps_unknown() {   # fps_unknown --system|--session NAME: a call to NAME from inside is ServiceUnknown
	local out
	out=$(fps_in gdbus call "$1" -d "$2" -o / -m org.freedesktop.DBus.Peer.Ping 2>&1) && return 1
	grep -q 'org.freedesktop.DBus.Error.ServiceUnknown' <<<"$out" || { app_log "$out"; return 1; }
}
wgt_check "system bus: PolicyKit1 runs there (outside)" fps_host_has --system org.freedesktop.PolicyKit1
wgt_check "system bus: the sandbox sees only $FPS_SYSTEM_NAMES" fps_only --system "$FPS_SYSTEM_NAMES"
wgt_check "system bus: org.freedesktop.PolicyKit1 is ServiceUnknown from inside" \
	fps_unknown --system org.freedesktop.PolicyKit1
wgt_check "session bus: org.freedesktop.Notifications runs there (outside)" fps_host_has --session org.freedesktop.Notifications
wgt_check "session bus: the sandbox sees only allowed names" fps_only --session "$FPS_SESSION_NAMES"
wgt_check "session bus: org.freedesktop.Notifications is ServiceUnknown from inside" \
	fps_unknown --session org.freedesktop.Notifications
wgt_check "no call from the sandbox reached org.freedesktop.Notifications" \
	bash -c '! grep -q "^CALL org.freedesktop.Notifications " "$1"' _ "$FPS_STUBS_LOG"

echo private >"$HOME/hyphae-sandbox-marker"
fps_absent() {   # fps_absent PATH…: none of PATHs exists inside
	fps_in sh -c 'for p; do [ -e "$p" ] && { echo "present inside: $p"; exit 1; }; done; exit 0' sh "$@"
}
# Files, not their directories: flatpak makes the path of the user
# installation (under FPS_CACHE) as empty directories inside.
wgt_check "files: no /etc/shadow, /root, /home, host home, session, tailnet, source, build or flatpak files inside" \
	fps_absent /etc/shadow /etc/gshadow /root /home "$HOME/hyphae-sandbox-marker" "$APP_T/session.conf" \
	"$MESH_DIR/a" "$(dbl_addr a | sed 's/^unix:path=//')" "$FPS_SRC/meson.build" "$FPS_CACHE/key" \
	"$FLATPAK_USER_DIR/repo"
fps_links() { fps_in sh -c 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "'; }
wgt_check "network: only lo inside (no --share=network)" test "$(fps_links)" = lo

# ---------------------------------------------------------------- the end

wgt_check "app.quit ends the sandboxed app" app_action quit
app_wait 20 bash -c '! kill -0 "$1" 2>/dev/null' _ "$APP_PID" && wait "$APP_PID" && APP_PID=
finish
