#!/bin/bash
# SPDX-License-Identifier: MIT
# The tray icon against a real hyphaed (app-lib.sh: Xvfb, a private session;
# mesh-lib.sh: the Go control server approving routes, node A's private system
# bus with polkitd and hyphaed, an exit-node candidate: the Go map client
# advertising 0.0.0.0/0 and ::/0). The host is tray-host.py: a
# StatusNotifierWatcher on the session bus making the calls the GNOME
# AppIndicator extension and Plasma make.
#   no watcher at start: the app runs (G_DEBUG=fatal-criticals: no warning)
#   and registers once one appears, with the unique name of a connection of
#   its own process;
#   GNOME's and KDE's call sequences (Introspect, GetAll, GetLayout,
#   GetGroupProperties, AboutToShow, Event opened/closed) show the menu;
#   Event clicked on the candidate sets Prefs ExitNodeID (daemon and
#   hyphaectl status), the radio items follow (ItemsPropertiesUpdated), the
#   icon becomes the exit-node one; Allow LAN Access, Block Traffic While
#   Offline (ExitNodeKillSwitch) and None likewise; Run as Exit Node adds
#   0.0.0.0/0 and ::/0 to Prefs AdvertiseRoutes and removes them again;
#   Disconnect: State Stopped, IconName the off icon, NewIcon seen, the item
#   becomes Connect; Connect: Running again;
#   B joins: LayoutUpdated for the Peers submenu, its revision GetLayout's;
#   copy items put this device's and a peer's MagicDNS names on the clipboard;
#   the watcher drops its name and comes back: a second Register;
#   show-tray-icon false: the item's name leaves the bus; true: back;
#   the app started hidden, then ProvideXdgActivationToken + Activate: the
#   window shows, with the token as its startup id (_NET_STARTUP_ID on X11);
#   the chosen exit node goes offline: its item is marked, Status
#   NeedsAttention (attention icon, NewStatus); once another is chosen it is
#   insensitive.
# Exit 0 if every check passed, 1 otherwise, 77 when it cannot run outside CI.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/app-lib.sh"
app_session "$@"

TESTS_DIR=$HERE/../integration
. "$TESTS_DIR/mesh-lib.sh"
T0=$(date +%s)
HOST_LOG=$APP_T/host.log
WATCHER_PID=
EXIT_PID=
EXIT_HOST=exit-$WGT_ID
export G_MESSAGES_DEBUG=hyphae-tray
export GSETTINGS_BACKEND=keyfile GSETTINGS_SCHEMA_DIR=$HYPHAE_APP_SCHEMA_DIR

host() { "$APP_PY" "$HERE/tray-host.py" --log "$HOST_LOG" --timeout 30 "$@"; }
watcher_start() {
	"$APP_PY" "$HERE/tray-host.py" --log "$HOST_LOG" watcher &
	WATCHER_PID=$!
	host wait-log "$1" ready
}
watcher_stop() {
	[ -n "$WATCHER_PID" ] || return 0
	kill -TERM "$WATCHER_PID" 2>/dev/null
	wait "$WATCHER_PID" 2>/dev/null
	WATCHER_PID=
}
finish() {
	[ "$WGT_FAILS" = 0 ] || { app_log_tail; [ -s "$HOST_LOG" ] && tail -n 20 "$HOST_LOG" >&2; }
	mesh_finish test-tray "$T0"
}
fatal() { wgt_fail "$*"; finish; }
cleanup_all() {
	local rc=$?
	app_stop
	watcher_stop
	[ -n "$EXIT_PID" ] && wgt_kill_pid "$EXIT_PID"
	(exit "$rc")
	mesh_cleanup
}
trap cleanup_all EXIT

# What the daemon says, on A's bus.
prefs() {
	timeout 30 gdbus call --address "$(dbl_addr a)" --dest io.github.hyphae.Mesh1 \
		--object-path /io/github/hyphae/Mesh1 --method org.freedesktop.DBus.Properties.Get \
		io.github.hyphae.Mesh1 Prefs
}
prefs_has() { prefs | grep -q "$1"; }
# status_json EXPR: EXPR holds over A's `hyphaectl status --json` (st; me = Self;
# ex = the exit-node candidate's entry).
status_json() {
	mesh_status a && "$WGT_PY" - "$MESH_DIR/a.status.json" "$EXIT_HOST" "$1" <<'EOF'
import json, sys
st = json.load(open(sys.argv[1]))
me = st.get("Self") or {}
ex = next((p for p in (st.get("Peer") or {}).values() if p.get("HostName") == sys.argv[2]), {})
sys.exit(0 if eval(sys.argv[3]) else 1)
EOF
}
status_value() {
	mesh_status a && "$WGT_PY" - "$MESH_DIR/a.status.json" "$EXIT_HOST" "$1" <<'EOF'
import json, sys
st = json.load(open(sys.argv[1]))
me = st.get("Self") or {}
ex = next((p for p in (st.get("Peer") or {}).values() if p.get("HostName") == sys.argv[2]), {})
print(eval(sys.argv[3]))
EOF
}
clipboard_is() { [ "$(timeout 5 xclip -o -selection clipboard 2>/dev/null)" = "$1" ]; }
registered_debug() { grep -c "registered: a host shows the tray icon" "$APP_T/app.log"; }
not_registered_after() {   # not_registered_after N: the app logged "not registered" more than N times
	[ "$(grep -c "not registered: no tray icon shows" "$APP_T/app.log")" -gt "$1" ]
}
startup_id_is() {
	xprop -name Hyphae _NET_STARTUP_ID 2>/dev/null | grep -q "= \"$1\""
}

mesh_require
command -v xclip >/dev/null && command -v xprop >/dev/null || wgt_cannot_run "xclip and xprop (x11-utils) needed"
mesh_topology || fatal "topology: hub bridge and two node namespaces"
mesh_server_start -approve-routes || fatal "control server starts in the hub on $MESH_URL"
mesh_buses || fatal "polkit actions installed; a private system bus and polkitd in A and in B"
ip netns exec "$MESH_NS_HUB" "$(mesh_server_bin)" -role mapclient -url "$MESH_URL" -auth-key "$MESH_AUTHKEY" \
	-hostname "$EXIT_HOST" -endpoints "$MESH_HUB_IP:41999" -routes 0.0.0.0/0,::/0 -timeout 600s \
	>"$MESH_DIR/exit.out" 2>&1 </dev/null &
EXIT_PID=$!
mesh_up a >"$MESH_DIR/a.up.out" 2>&1 || fatal "hyphaectl up on A: $(cat "$MESH_DIR/a.up.out")"
mesh_wait a 60 status_json 'ex.get("ExitNodeOption") and ex.get("Online")' ||
	fatal "A sees $EXIT_HOST online, offering to be an exit node"
EXIT_ID=$(status_value 'ex["ID"]')
DNS_NAME=$(status_value 'me["DNSName"].rstrip(".")')
EXIT_DNS=$(status_value 'ex["DNSName"].rstrip(".")')
[ -n "$EXIT_ID" ] && [ -n "$DNS_NAME" ] && [ -n "$EXIT_DNS" ] ||
	fatal "the candidate's stable ID and MagicDNS name, A's MagicDNS name"

# ---- no watcher at start
app_start "$(dbl_addr a)"
wgt_check "without a StatusNotifierWatcher the app runs and shows the main view (Running)" \
	atspi wait HyphaeMainView filler || fatal "the app did not start"
wgt_check "… and registered nowhere" test "$(host count register)" = 0
watcher_start 1 || fatal "the watcher owns org.kde.StatusNotifierWatcher"
wgt_check "a watcher appears: the app registers its item" host wait-log 1 register || fatal "no tray"
wgt_check "… by the unique name of its own connection (pid $APP_PID), item at /StatusNotifierItem" \
	host check-register "$APP_PID"
wgt_check "… and says a host shows it (registered)" app_wait 30 test "$(registered_debug)" -ge 1

# ---- the hosts' call sequences
wgt_check "GNOME's sequence (Introspect, GetAll, GetLayout, GetGroupProperties, AboutToShow, Events)" \
	eval 'host gnome >"$APP_T/menu.gnome"'
wgt_check "… the menu: status, Disconnect, This Device, Exit Node with the candidate, Peers, Open, Quit" \
	"$WGT_PY" - "$APP_T/menu.gnome" "$EXIT_HOST" "$DNS_NAME" <<'EOF'
import re, sys
menu = open(sys.argv[1]).read()
want = [r"^1 Connected.*\[enabled=False\]$", r"^3 Disconnect$", r"^10 This Device: .*children-display=submenu",
        r"^  11 Copy %s$" % re.escape(sys.argv[3]), r"^20 Exit Node ", r"^  21 None .*toggle-state=1",
        r"^  \d+ %s \[.*toggle-state=0 toggle-type=radio\]$" % re.escape(sys.argv[2]),
        r"^  24 Allow LAN Access .*toggle-type=checkmark",
        r"^  26 Block Traffic While Offline .*toggle-type=checkmark",
        r"^  28 Run as Exit Node .*toggle-type=checkmark", r"^30 Peers ", r"^  \d+ %s$" % re.escape(sys.argv[2]),
        r"^41 Open Hyphae$", r"^42 Quit$"]
missing = [w for w in want if not re.search(w, menu, re.M)]
if missing:
    sys.stderr.write("missing %r in:\n%s" % (missing, menu))
    sys.exit(1)
EOF
wgt_check "KDE's sequence (GetAll with Id/Menu/IconName/Status, GetLayout one level at a time)" \
	eval 'host kde >/dev/null'
wgt_check "IconName is the connected icon" host wait-prop IconName io.github.hyphae.Hyphae-connected-symbolic
wgt_check "Status Active, Menu /MenuBar, Id the app id" eval \
	'[ "$(host prop Status)" = Active ] && [ "$(host prop Menu)" = /MenuBar ] &&
	 [ "$(host prop Id)" = io.github.hyphae.Hyphae ]'

# ---- exit node through the menu
wgt_check "Event clicked on $EXIT_HOST (GNOME's way)" host click "^Exit Node\$ > ^$EXIT_HOST\$" gnome
wgt_check "… Prefs ExitNodeID is its stable ID" app_wait 30 prefs_has "'ExitNodeID': <'$EXIT_ID'>"
wgt_check "… hyphaectl status: ExitNodeStatus names it" \
	mesh_wait a 30 status_json 'st.get("ExitNodeStatus", {}).get("ID") == ex.get("ID")'
wgt_check "… ItemsPropertiesUpdated: its radio item on" host wait-updated "^Exit Node\$ > ^$EXIT_HOST\$" toggle-state=1
wgt_check "… and None's off" host wait-updated "^None\$" toggle-state=0
wgt_check "… the icon is the exit-node one" host wait-prop IconName io.github.hyphae.Hyphae-exit-node-symbolic
wgt_check "Event clicked on Allow LAN Access (KDE's way)" host click "^Allow LAN Access\$" kde
wgt_check "… Prefs ExitNodeAllowLANAccess true" app_wait 30 prefs_has "'ExitNodeAllowLANAccess': <true>"
wgt_check "… its checkmark on" host wait-item "^Allow LAN Access\$" toggle-state=1
wgt_check "Event clicked on Block Traffic While Offline" host click "^Block Traffic While Offline\$" gnome
wgt_check "… Prefs ExitNodeKillSwitch true" app_wait 30 prefs_has "'ExitNodeKillSwitch': <true>"
wgt_check "… its checkmark on" host wait-item "^Block Traffic While Offline\$" toggle-state=1
wgt_check "… and off again" host click "^Block Traffic While Offline\$" kde
wgt_check "… Prefs ExitNodeKillSwitch false" app_wait 30 prefs_has "'ExitNodeKillSwitch': <false>"
wgt_check "Event clicked on Run as Exit Node (KDE's way)" host click "^Run as Exit Node\$" kde
wgt_check "… Prefs AdvertiseRoutes has 0.0.0.0/0 and ::/0" \
	app_wait 30 eval "prefs | grep -qE \"'AdvertiseRoutes': <\\[('0.0.0.0/0', '::/0'|'::/0', '0.0.0.0/0')\\]>\""
wgt_check "… its checkmark on" host wait-item "^Run as Exit Node\$" toggle-state=1
wgt_check "Event clicked on Run as Exit Node again" host click "^Run as Exit Node\$" gnome
wgt_check "… Prefs AdvertiseRoutes empty" app_wait 30 prefs_has "'AdvertiseRoutes': <@as \[\]>"
wgt_check "… its checkmark off" host wait-item "^Run as Exit Node\$" toggle-state=0
wgt_check "Event clicked on None" host click "^None\$" gnome
wgt_check "… Prefs ExitNodeID empty" app_wait 30 prefs_has "'ExitNodeID': <''>"
wgt_check "… None's radio item on again" host wait-item "^None\$" toggle-state=1
wgt_check "… the icon is the connected one" host wait-prop IconName io.github.hyphae.Hyphae-connected-symbolic

# ---- the connection through the menu
N_ICON=$(host count signal name=NewIcon)
wgt_check "Event clicked on Disconnect" host click "^Disconnect\$" gnome
wgt_check "… hyphaed's State is Stopped" mesh_wait a 30 status_json 'st["BackendState"] == "Stopped"'
wgt_check "… IconName is the off icon" host wait-prop IconName io.github.hyphae.Hyphae-off-symbolic
wgt_check "… NewIcon was sent" host wait-log $((N_ICON + 1)) signal name=NewIcon
wgt_check "… the item is Connect now" host wait-item "^Connect\$"
wgt_check "Event clicked on Connect" host click "^Connect\$" kde
wgt_check "… hyphaed's State is Running" mesh_wait a 60 status_json 'st["BackendState"] == "Running"'
wgt_check "… IconName is the connected icon" host wait-prop IconName io.github.hyphae.Hyphae-connected-symbolic

# ---- copy
wgt_check "Event clicked on Copy $DNS_NAME (This Device)" host click "^Copy ${DNS_NAME//./\\.}\$" gnome
wgt_check "… the clipboard holds $DNS_NAME" app_wait 30 clipboard_is "$DNS_NAME"
wgt_check "Event clicked on $EXIT_HOST in Peers (KDE's way)" host click "^Peers\$ > ^$EXIT_HOST\$" kde
wgt_check "… the clipboard holds its MagicDNS name $EXIT_DNS" app_wait 30 clipboard_is "$EXIT_DNS"

# ---- the layout changes
N_LAYOUT=$(host count signal name=LayoutUpdated)
mesh_up b >"$MESH_DIR/b.up.out" 2>&1 || wgt_fail "hyphaectl up on B: $(cat "$MESH_DIR/b.up.out")"
wgt_check "B joins: it is in Peers" host wait-item "^Peers\$ > ^${MESH_HOST[b]}\$"
wgt_check "… announced by LayoutUpdated for the Peers submenu (30) with GetLayout's new revision" eval \
	'host wait-log $((N_LAYOUT + 1)) signal name=LayoutUpdated && [ "$(host layout-updated)" = 30 ]'

# ---- the watcher goes and comes back
N_NOT=$(grep -c "not registered: no tray icon shows" "$APP_T/app.log")
watcher_stop
wgt_check "the watcher leaves the bus: the app is not registered" app_wait 30 not_registered_after "$N_NOT"
watcher_start 2 || fatal "the watcher owns its name again"
wgt_check "… it comes back: a second Register" host wait-log 2 register
wgt_check "… again by the app's unique name" host check-register "$APP_PID"

# ---- show-tray-icon
gsettings set io.github.hyphae.Hyphae show-tray-icon false
wgt_check "show-tray-icon false: the item's bus name leaves the bus" host wait-log 1 gone
gsettings set io.github.hyphae.Hyphae show-tray-icon true
wgt_check "show-tray-icon true: a third Register, from a new name of the app" \
	eval 'host wait-log 3 register && host check-register "$APP_PID"'
wgt_check "the app is still running" app_alive

# ---- started hidden, raised by Activate with a token
app_stop
N_REG=$(host count register)
app_start "$(dbl_addr a)" --hide-window
wgt_check "started hidden with a watcher there: it registers at once" host wait-log $((N_REG + 1)) register
wgt_check "ProvideXdgActivationToken + Activate: the window shows" \
	eval 'host activate tray-test-token && atspi wait HyphaeMainView filler'
wgt_check "… with the token as its startup id" app_wait 30 startup_id_is tray-test-token

# ---- the chosen exit node goes offline (last: A's traffic goes nowhere then)
wgt_check "Event clicked on $EXIT_HOST again" host click "^Exit Node\$ > ^$EXIT_HOST\$" gnome
wgt_check "… Prefs ExitNodeID is its stable ID" app_wait 30 prefs_has "'ExitNodeID': <'$EXIT_ID'>"
wgt_check "… Status Active" host wait-prop Status Active
N_STATUS=$(host count signal name=NewStatus)
wgt_kill_pid "$EXIT_PID"
EXIT_PID=
wgt_check "its map client stops: the item says \"$EXIT_HOST (offline)\", still chosen" \
	host wait-item "^Exit Node\$ > ^$EXIT_HOST \(offline\)\$" toggle-state=1 enabled=true
wgt_check "… Status NeedsAttention with the attention icon, NewStatus sent" eval \
	'host wait-prop Status NeedsAttention && host wait-prop IconName io.github.hyphae.Hyphae-attention-symbolic &&
	 host wait-log $((N_STATUS + 1)) signal name=NewStatus'
wgt_check "Event clicked on None: the offline candidate cannot be chosen" eval \
	'host click "^None\$" kde && host wait-item "^Exit Node\$ > ^$EXIT_HOST \(offline\)\$" toggle-state=0 enabled=false'
wgt_check "… Status Active again" host wait-prop Status Active
wgt_check "the app is still running" app_alive
finish
