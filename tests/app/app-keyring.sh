#!/bin/bash
# SPDX-License-Identifier: MIT
# The app keeps the node's keys in a real gnome-keyring (keyring-lib.sh) and
# hands them to a real hyphaed (the tailnet of mesh-lib.sh, node A's private
# system bus); app-lib.sh's session (Xvfb, a private session bus where nothing
# provides org.freedesktop.secrets unless this test starts it). The app is
# driven by its app.* actions over org.gtk.Actions (gdbus), as the window's
# and the tray's buttons activate them; its key agent's steps are read from
# its log (G_MESSAGES_DEBUG=hyphae-key-agent), the rest from hyphaed, the
# keyring and the control server.
#   sign-in (auth key): Running; two keyring items (kind machine and node,
#     profile and control-url attributes); KeysOwner "client"; the node key
#     hyphaed runs on (Self PublicKey) is the public key of the keyring's;
#   the server expires the node key: hyphaed rotates it, KeysRotated reaches the
#     app, the keyring's node key is the new one; again with the app closed: the
#     app started again hands its (replaced) keys over, gets the rotated key and
#     stores it (the node stays the same);
#   hyphaed restarted: the app hands the keys over again and the same node
#     (same ID, same key) comes back Running; hyphaed's state dir holds none;
#   log-out: KeysOwner "", the node item gone, the machine item kept;
#   keyring locked (no prompter can unlock it), hyphaed restarted: keyring
#     state LOCKED, no SetKeys (KeysOwner ""), no fresh keys (still the two
#     items, locked);
#   no Secret Service at all: keyring state MISSING, a sign-in reaches no
#     SetKeys (KeysOwner "");
#   a daemon-owned node (`hyphaectl up`) and an app with keys in the keyring:
#     no SetKeys (KeysOwner stays daemon), app.connect is Up on hyphaed's own
#     key, app.sign-in takes the machine over (KeysOwner client, keyring key);
#   a second profile on the same server is another node on its own keys;
#     app.switch-profile brings the first one's node back;
#   never a file under the test's HOME (nor hyphaed's state dir) holding "privkey:".
# Exit 0 if every check passed, 1 otherwise, 77 when it cannot run outside CI.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/app-lib.sh"
app_session "$@"

TESTS_DIR=$HERE/../integration
. "$TESTS_DIR/mesh-lib.sh"
. "$HERE/keyring-lib.sh"
T0=$(date +%s)
APP_ID=io.github.hyphae.Hyphae
PROFILE=$MESH_HUB_IP # the profile the app names after the control server's host
finish() {
	[ "$WGT_FAILS" = 0 ] || { app_log_tail 60; [ -s "$KEYRING_LOG" ] && dbl_dump_logs "$KEYRING_LOG"; }
	mesh_finish app-keyring "$T0"
}
fatal() { wgt_fail "$*"; finish; }
cleanup_all() {
	local rc=$?
	app_stop
	keyring_stop
	(exit "$rc")
	mesh_cleanup
}
trap cleanup_all EXIT
KEYRING_LOG=$APP_T/keyring.log

# ---------------------------------------------------------------- helpers

# a_prop NAME: hyphaed's property NAME on A's bus, as gdbus prints it ("(<'client'>,)").
a_prop() {
	DBUS_SYSTEM_BUS_ADDRESS=$(dbl_addr a) gdbus call --system --dest "$MESH_BUS_NAME" \
		--object-path /io/github/hyphae/Mesh1 --method org.freedesktop.DBus.Properties.Get \
		"$MESH_BUS_NAME" "$1" 2>/dev/null
}
owner_is() { [ "$(a_prop KeysOwner)" = "(<'$1'>,)" ]; }

# app_action NAME [PARAMETER]: activate app.NAME (PARAMETER in GVariant text).
app_action() {
	gdbus call --session --dest "$APP_ID" --object-path /io/github/hyphae/Hyphae \
		--method org.gtk.Actions.Activate "$1" "[${2:+<$2>}]" '{}' >/dev/null
}
sign_in() {
	app_action sign-in "{'ControlURL': <'$MESH_URL'>, 'AuthKey': <'$MESH_AUTHKEY'>, 'Hostname': <'app-node'>}"
}

# log_has TEXT: the app's log has a line with TEXT (after the mark of mark_log).
LOG_MARK=0
mark_log() { LOG_MARK=$(wc -l <"$APP_T/app.log"); }
log_has() { tail -n +"$((LOG_MARK + 1))" "$APP_T/app.log" | grep -qF -- "$1"; }

# self_field FIELD: Self's FIELD in A's last `hyphaectl status --json`.
self_field() {
	"$WGT_PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["Self"][sys.argv[2]])' \
		"$MESH_DIR/a.status.json" "$1" 2>/dev/null
}
# node_public PRIVKEY: "nodekey:<hex>", the public key of "privkey:<hex>" (wg pubkey).
node_public() {
	local b64
	b64=$("$WGT_PY" -c 'import base64, sys; print(base64.b64encode(bytes.fromhex(sys.argv[1][8:])).decode())' "$1" |
		wg pubkey) || return 1
	"$WGT_PY" -c 'import base64, sys; print("nodekey:" + base64.b64decode(sys.argv[1]).hex())' "$b64"
}
keyring_node_public() {
	local priv
	priv=$(keyring_secret profile "$PROFILE" kind node) && node_public "$priv"
}
# runs_on_keyring_key: Running, KeysOwner client, Self's key = the keyring's node key.
runs_on_keyring_key() {
	mesh_is_running a && owner_is client && [ "$(self_field PublicKey)" = "$(keyring_node_public)" ]
}
same_node_back() {
	mesh_is_running a && [ "$(self_field ID)" = "$NODE_ID" ] && runs_on_keyring_key
}
items_are() {   # items_are KIND "UNLOCKED LOCKED"
	[ "$(keyring_count profile "$PROFILE" kind "$1")" = "$2" ]
}
attrs_ok() {
	local kind attrs
	for kind in machine node; do
		attrs=$(keyring_attrs profile "$PROFILE" kind "$kind")
		grep -qx "attribute.control-url = $MESH_URL" <<<"$attrs" || return 1
		grep -qx "attribute.kind = $kind" <<<"$attrs" || return 1
	done
}
# restart_app: start the app (stopped) again, with an empty log.
restart_app() {
	: >"$APP_T/app.log"
	LOG_MARK=0
	app_start "$(dbl_addr a)"
	gdbus wait --session --timeout 60 "$APP_ID" || fatal "the app owns $APP_ID again"
}
# server_node_id NODEKEY: the control server's numeric ID of the node with that key.
server_node_id() {
	ip netns exec "$MESH_NS_HUB" "$WGT_PY" -c '
import json, sys, urllib.request
for n in json.load(urllib.request.urlopen(sys.argv[1] + "/debug/nodes", timeout=10)):
    if n["NodeKey"] == sys.argv[2]:
        print(n["ID"])' "$MESH_URL" "$1"
}
# server_expire ID: the control server expires that node's key now.
server_expire() {
	ip netns exec "$MESH_NS_HUB" "$WGT_PY" -c 'import sys, urllib.request
urllib.request.urlopen(urllib.request.Request(sys.argv[1], method="POST"), timeout=10)' \
		"$MESH_URL/debug/expire?node=$1" >/dev/null
}
rotated_from() {   # rotated_from NODEKEY: Running on another node key than NODEKEY
	mesh_is_running a && [ "$(self_field PublicKey)" != "$1" ]
}
no_privkey_files() {   # no_privkey_files DIR…
	local found
	found=$(grep -rlF privkey: "$@" 2>/dev/null)
	[ -z "$found" ] || { app_log "files holding privkey: $found"; return 1; }
}

# ---------------------------------------------------------------- the test

command -v wg >/dev/null || wgt_cannot_run "missing command: wg (package wireguard-tools)"
command -v secret-tool >/dev/null || wgt_cannot_run "missing command: secret-tool (package libsecret-tools)"
mesh_require
mesh_topology || fatal "topology: hub bridge and two node namespaces"
mesh_server_start || fatal "control server starts in the hub on $MESH_URL"
mesh_buses || fatal "polkit actions installed; a private system bus and polkitd in A and in B"
keyring_start || fatal "gnome-keyring-daemon (secrets) on the session bus"

export G_MESSAGES_DEBUG=hyphae-key-agent
app_start "$(dbl_addr a)"
gdbus wait --session --timeout 60 "$APP_ID" || fatal "the app owns $APP_ID on the session bus"
wgt_check "at start, without a profile, the keyring answers: keyring-state ready" \
	app_wait 30 log_has "keyring-state ready"

# Sign in: keys made, stored, handed over.
sign_in || fatal "activate app.sign-in"
wgt_check "sign-in with an auth key: hyphaed Running" mesh_wait a 60 mesh_is_running a
wgt_check "the keyring holds the profile's machine and node keys, one item each" \
	app_wait 10 eval 'items_are machine "1 0" && items_are node "1 0"'
wgt_check "the items carry the profile, control-url and kind attributes" attrs_ok
wgt_check "hyphaed's KeysOwner is client and its Profile the app's" \
	eval "owner_is client && [ \"\$(a_prop Profile)\" = \"(<'$PROFILE'>,)\" ]"
wgt_check "the node key hyphaed runs on (Self PublicKey) is the keyring's node key" runs_on_keyring_key
NODE_ID=$(self_field ID)

# Key rotation: the server expires the node key; hyphaed makes a new one and
# sends it to the keys' owner (KeysRotated); the app writes it to the keyring.
PUB0=$(self_field PublicKey)
SERVER_ID=$(server_node_id "$PUB0")
[ -n "$SERVER_ID" ] || fatal "the control server knows the node by its key"
mark_log
server_expire "$SERVER_ID" || wgt_fail "expire the node key at the server"
wgt_check "node key expired: hyphaed rotated it, and the keyring's node key is the new one" \
	mesh_wait a 60 eval 'rotated_from "$PUB0" && runs_on_keyring_key && log_has "rotated node key of profile $PROFILE stored"'
# The same with the app closed: nobody hears KeysRotated; the app started again
# presents the replaced key and gets the rotated one.
PUB1=$(self_field PublicKey)
app_stop
server_expire "$SERVER_ID" || wgt_fail "expire the node key at the server again"
wgt_check "rotated again while the app was closed: the keyring still has the replaced key" \
	eval 'mesh_wait a 60 rotated_from "$PUB1" && [ "$(keyring_node_public)" = "$PUB1" ]'
restart_app
wgt_check "the app started again hands its keys over and stores the rotation it missed" \
	mesh_wait a 60 eval 'runs_on_keyring_key && log_has "rotated node key of profile $PROFILE stored"'
wgt_check "… the same node all along" [ "$(self_field ID)" = "$NODE_ID" ]

# hyphaed restarts: it lost the keys (held in memory only); the app hands them over again.
mark_log
dbl_daemon_stop a || wgt_fail "hyphaed on A stops"
wgt_check "after hyphaed restarted the app handed the keys over again (SetKeys, then Up)" \
	app_wait 60 log_has "SetKeys: profile $PROFILE"
wgt_check "the same node ($NODE_ID, the keyring's key) is Running again, KeysOwner client" \
	mesh_wait a 60 same_node_back
wgt_check "no file under HOME, nor hyphaed's state dir, holds a privkey" no_privkey_files "$APP_T" "$MESH_DIR/a/state"

# Log out: the node key goes, the machine key stays.
app_action log-out || wgt_fail "activate app.log-out"
wgt_check "log-out: KeysOwner \"\", the node item deleted, the machine item kept" \
	app_wait 30 eval 'owner_is "" && items_are node "0 0" && items_are machine "1 0"'

# Locked: sign in again (a new node key), lock the keyring, restart hyphaed.
sign_in || wgt_fail "activate app.sign-in again"
wgt_check "signed in again: Running on a new keyring node key" mesh_wait a 60 runs_on_keyring_key

keyring_lock || wgt_fail "lock the login keyring"
mark_log
dbl_daemon_stop a || wgt_fail "hyphaed on A stops"
wgt_check "keyring locked and its unlock failing: keyring-state locked" \
	app_wait 60 log_has "keyring-state locked"
wgt_check "locked: no SetKeys reached hyphaed (KeysOwner \"\")" owner_is ""
wgt_check "locked: no fresh keys were made (the two items, still locked)" \
	eval 'items_are machine "0 1" && items_are node "0 1"'

# No Secret Service at all: a fresh app and hyphaed.
app_stop
keyring_stop
dbl_daemon_stop a || wgt_fail "hyphaed on A stops"
restart_app
wgt_check "no Secret Service on the session bus: keyring-state missing" \
	app_wait 30 log_has "keyring-state missing"
sign_in || wgt_fail "activate app.sign-in without a keyring"
wgt_check "without a keyring the sign-in fails before SetKeys" app_wait 30 log_has "sign-in failed"
wgt_check "missing: no SetKeys reached hyphaed (KeysOwner \"\")" owner_is ""

# A daemon-owned node (`hyphaectl up` while hyphaed had no keys): the app,
# started with a profile whose keys are in the keyring, leaves it alone;
# Connect is Up on hyphaed's own keys; Sign In takes the machine over.
app_stop
keyring_start || fatal "gnome-keyring-daemon again (the same login keyring, unlocked)"
dbl_daemon_stop a || wgt_fail "hyphaed on A stops"
mesh_up a >"$MESH_DIR/a.up.out" 2>&1 || wgt_fail "hyphaectl up on A: $(cat "$MESH_DIR/a.up.out")"
mesh_wait a 60 mesh_is_running a || wgt_fail "hyphaectl up on A: Running"
DAEMON_PUB=$(self_field PublicKey)
restart_app
wgt_check "KeysOwner daemon: the app says it keeps its keys to itself" \
	app_wait 30 log_has "KeysOwner daemon"
wgt_check "… no SetKeys: KeysOwner still daemon, the node on hyphaed's key" \
	eval '! log_has "SetKeys" && owner_is daemon && mesh_status a && [ "$(self_field PublicKey)" = "$DAEMON_PUB" ]'
app_action disconnect || wgt_fail "activate app.disconnect"
mesh_wait a 30 eval '[ "$(mesh_json a state)" = Stopped ]' || wgt_fail "app.disconnect: Stopped"
app_action connect || wgt_fail "activate app.connect"
wgt_check "app.connect on a daemon-owned node: Running on hyphaed's own key, KeysOwner daemon" \
	mesh_wait a 60 eval 'mesh_is_running a && owner_is daemon && [ "$(self_field PublicKey)" = "$DAEMON_PUB" ] && ! log_has "SetKeys"'
sign_in || wgt_fail "activate app.sign-in over the daemon-owned node"
wgt_check "app.sign-in takes the machine over: KeysOwner client, Running on the keyring's node key" \
	mesh_wait a 60 runs_on_keyring_key

# Profiles: a second one on the same server (its own keys: another node), then back.
NODE_ID=$(self_field ID)   # the first profile's node since the sign-in after log-out
app_action sign-in "{'ControlURL': <'$MESH_URL'>, 'AuthKey': <'$MESH_AUTHKEY'>, 'Profile': <'second'>}" ||
	wgt_fail "activate app.sign-in as profile second"
wgt_check "sign-in as profile \"second\": another node on its own keyring keys, Profile second" \
	mesh_wait a 60 eval 'mesh_is_running a && [ "$(self_field ID)" != "$NODE_ID" ] &&
		[ "$(a_prop Profile)" = "(<'"'second'"'>,)" ] &&
		[ "$(keyring_count profile second kind machine) $(keyring_count profile second kind node)" = "1 0 1 0" ]'
app_action switch-profile "'$PROFILE'" || wgt_fail "activate app.switch-profile"
wgt_check "switch-profile back: the first profile's node on its keyring key, Profile $PROFILE" \
	mesh_wait a 60 eval 'same_node_back && [ "$(a_prop Profile)" = "(<'"'$PROFILE'"'>,)" ]'
wgt_check "… GSettings: both profiles, the first one current" \
	grep -qx "current-profile='$PROFILE'" "$XDG_CONFIG_HOME/glib-2.0/settings/keyfile"
wgt_check "no file under HOME holds a privkey" no_privkey_files "$APP_T"
wgt_check "the app is still running" app_alive
finish
