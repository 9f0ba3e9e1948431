#!/bin/bash
# SPDX-License-Identifier: MIT
# The main view's exit node chooser and switches against a real tailnet
# (app-lib.sh, mesh-lib.sh): hyphaed on A, and a Go map client zz-exit-ID in the
# hub offering 0.0.0.0/0 and ::/0 (the control server approves them), so A
# sees one exit node candidate.
#   the exit node page lists None and zz-exit (screenshot exit-node-page.png);
#   choosing zz-exit sets Prefs ExitNodeID to its stable ID and `hyphaectl status
#   --json` shows it as ExitNodeStatus; its choice button is pressed, None's not;
#   Allow LAN access reaches Prefs ExitNodeAllowLANAccess; "Block traffic
#   while exit node is offline" flips Prefs ExitNodeKillSwitch and follows
#   `hyphaectl set --exit-node-kill-switch`;
#   the overview's exit node switch turns it off (ExitNodeID ""), then on again
#   with the same node (remembered per profile, GSettings last-exit-node);
#   Use tailnet DNS, Accept routes and Shields up each flip Prefs CorpDNS,
#   RouteAll and ShieldsUp; `hyphaectl set` made outside moves each switch back
#   (and nothing is sent again: Prefs keep what hyphaectl set);
#   "Run as exit node" adds 0.0.0.0/0 and ::/0 to Prefs AdvertiseRoutes,
#   keeping a subnet advertised with hyphaectl, and follows `hyphaectl set
#   --advertise-exit-node`; off again removes only the /0s;
#   System DNS shows hyphaed's DNS property: the resolver (direct: the test
#   daemons write a private resolv.conf), nameservers and search domains,
#   updated live when `hyphaectl set --accept-dns=false` empties them and back;
#   the profiles page lists the profiles of GSettings, the current one marked,
#   a Switch button for the others and Log Out;
#   zz-exit going away: the summary says it is offline.
# Exit 0 if every check passed, 1 otherwise, 77 when it cannot run outside CI.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/app-lib.sh"
app_session "$@"

APP_MESH_NAME=app-settings
. "$HERE/app-mesh.sh"

app_mesh_start
mesh_up a >"$MESH_DIR/a.up.out" 2>&1 || fatal "hyphaectl up on A: $(cat "$MESH_DIR/a.up.out")"
app_mesh_exit_node
wgt_check "A sees $HOST_X online" mesh_wait a 30 app_mesh_sees_x
# Its stable ID, as control names it (GET /debug/nodes).
X_ID=$(ip netns exec "$MESH_NS_HUB" "$WGT_PY" -c '
import json, sys, urllib.request
for n in json.load(urllib.request.urlopen(sys.argv[1] + "/debug/nodes", timeout=10)):
    if n["Hostname"] == sys.argv[2]:
        print(n["StableID"])' "$MESH_URL" "$HOST_X")
[ -n "$X_ID" ] || fatal "control knows $HOST_X's stable ID"

# pref KEY: one of A's Prefs, as GVariant text ("true", "'stable-3'").
pref() {
	gdbus call --address "$(dbl_addr a)" --dest io.github.hyphae.Mesh1 --object-path /io/github/hyphae/Mesh1 \
		--method org.freedesktop.DBus.Properties.Get io.github.hyphae.Mesh1 Prefs |
		"$WGT_PY" -c 'import re, sys
m = re.search(r"\x27%s\x27: <([^>]*)>" % sys.argv[1], sys.stdin.read())
print(m.group(1) if m else "")' "$1"
}
pref_is() { [ "$(pref "$1")" = "$2" ]; }
exit_status_is() {
	mesh_status a && "$WGT_PY" -c 'import json, sys
st = json.load(open(sys.argv[1]))
sys.exit(0 if (st.get("ExitNodeStatus") or {}).get("ID", "") == sys.argv[2] else 1)' \
		"$MESH_DIR/a.status.json" "$1"
}

# check_switch NAME KEY FLAG: the switch flips the pref; hyphaectl set flips it back.
check_switch() {
	local name=$1 key=$2 flag=$3 was now
	was=$(pref "$key")
	case $was in true) now=false ;; false) now=true ;; *) wgt_fail "Prefs $key is a boolean ('$was')"; return ;; esac
	wgt_check "\"$name\" shows Prefs $key ($was)" atspi wait-state "$name" "$SWITCH" "$([ "$was" = true ] || echo '!')checked"
	wgt_check "flipping \"$name\"" atspi act "$name" "$SWITCH" toggle
	wgt_check "Prefs $key is $now" app_wait 20 pref_is "$key" "$now"
	wgt_check "\"$name\" shows $now" atspi wait-state "$name" "$SWITCH" "$([ "$now" = true ] || echo '!')checked"
	mesh_ctl a set "--$flag=$was" >/dev/null 2>&1 || wgt_fail "hyphaectl set --$flag=$was"
	wgt_check "after hyphaectl set --$flag=$was, \"$name\" moves back" \
		atspi wait-state "$name" "$SWITCH" "$([ "$was" = true ] || echo '!')checked"
	wgt_check "and Prefs $key stays $was (the switch sent nothing back)" pref_is "$key" "$was"
}
# routes_are R…: Prefs AdvertiseRoutes holds exactly these (in any order).
routes_are() {
	[ "$(pref AdvertiseRoutes | "$WGT_PY" -c 'import ast, sys; print(" ".join(sorted(ast.literal_eval(sys.stdin.read().replace("@as", "").strip() or "[]"))))')" = \
		"$(printf '%s\n' "$@" | sort | tr '\n' ' ' | sed 's/ $//')" ]
}

# Two profiles in the app's settings (the keyfile backend app_start selects).
mkdir -p "$XDG_CONFIG_HOME/glib-2.0/settings"
cat >"$XDG_CONFIG_HOME/glib-2.0/settings/keyfile" <<KEYFILE
[io/github/hyphae/Hyphae]
profiles=[('home', '$MESH_URL'), ('work', 'https://control.example')]
current-profile='home'
KEYFILE
# GTK 4.8 gives a GtkSwitch the AT-SPI role "check box" (state checked), a
# GtkToggleButton "push button" (state pressed).
SWITCH="check box"
app_start "$(dbl_addr a)"
wgt_check "the overview shows the exit node row" atspi wait "Choose exit node" "push button"
wgt_check "no exit node yet" pref_is ExitNodeID "''"
wgt_check "the exit node page opens" atspi click "Choose exit node" "push button"
wgt_check "it lists None and $HOST_X" \
	atspi wait "Use no exit node" "push button" "Use $HOST_X as exit node" "push button"
wgt_check "None is the current choice" atspi wait-state "Use no exit node" "push button" pressed
wgt_check "screenshot exit-node-page.png" app_screenshot exit-node-page
wgt_check "choosing $HOST_X" atspi click "Use $HOST_X as exit node" "push button"
app_alive || fatal "the app is still running after the choice"
wgt_check "Prefs ExitNodeID is $X_ID" app_wait 20 pref_is ExitNodeID "'$X_ID'"
wgt_check "hyphaectl status --json shows ExitNodeStatus.ID $X_ID" mesh_wait a 20 exit_status_is "$X_ID"
wgt_check "$HOST_X's choice is pressed, None's not" \
	atspi wait-state "Use $HOST_X as exit node" "push button" pressed
wgt_check "None's is released" atspi wait-state "Use no exit node" "push button" '!pressed'
wgt_check "Allow LAN access is off" atspi wait-state "Allow LAN access" "$SWITCH" '!checked'
wgt_check "turning Allow LAN access on" atspi act "Allow LAN access" "$SWITCH" toggle
wgt_check "Prefs ExitNodeAllowLANAccess is true" app_wait 20 pref_is ExitNodeAllowLANAccess true
wgt_check "the switch shows it" atspi wait-state "Allow LAN access" "$SWITCH" checked
check_switch "Block traffic while exit node is offline" ExitNodeKillSwitch exit-node-kill-switch

wgt_check "Back to the overview" atspi click "Back" "push button"
wgt_check "the summary says $HOST_X" atspi wait "$HOST_X" label
wgt_check "the summary switch is on" atspi wait-state "Use exit node" "$SWITCH" checked
wgt_check "the summary switch turns the exit node off" atspi act "Use exit node" "$SWITCH" toggle
wgt_check "Prefs ExitNodeID is empty" app_wait 20 pref_is ExitNodeID "''"
wgt_check "the switch shows off" atspi wait-state "Use exit node" "$SWITCH" '!checked'
wgt_check "the summary switch turns it on again" atspi act "Use exit node" "$SWITCH" toggle
wgt_check "Prefs ExitNodeID is $X_ID again (remembered)" app_wait 20 pref_is ExitNodeID "'$X_ID'"
wgt_check "the switch shows on" atspi wait-state "Use exit node" "$SWITCH" checked

app_alive || fatal "the app is still running after the exit node switch"
check_switch "Use tailnet DNS" CorpDNS accept-dns
check_switch "Accept routes" RouteAll accept-routes
check_switch "Shields up" ShieldsUp shields-up

# Run as exit node: a subnet advertised outside the app stays.
EXIT_SW="Run as exit node"
mesh_ctl a set --advertise-routes=10.99.0.0/24 >/dev/null 2>&1 || wgt_fail "hyphaectl set --advertise-routes=10.99.0.0/24"
wgt_check "Prefs AdvertiseRoutes is the subnet" app_wait 20 routes_are 10.99.0.0/24
wgt_check "\"$EXIT_SW\" is off" atspi wait-state "$EXIT_SW" "$SWITCH" '!checked'
wgt_check "turning \"$EXIT_SW\" on" atspi act "$EXIT_SW" "$SWITCH" toggle
wgt_check "Prefs AdvertiseRoutes gains 0.0.0.0/0 and ::/0, keeps the subnet" \
	app_wait 20 routes_are 10.99.0.0/24 0.0.0.0/0 ::/0
wgt_check "\"$EXIT_SW\" shows on" atspi wait-state "$EXIT_SW" "$SWITCH" checked
mesh_ctl a set --advertise-exit-node=false >/dev/null 2>&1 || wgt_fail "hyphaectl set --advertise-exit-node=false"
wgt_check "after hyphaectl set --advertise-exit-node=false, \"$EXIT_SW\" moves off" \
	atspi wait-state "$EXIT_SW" "$SWITCH" '!checked'
wgt_check "and Prefs AdvertiseRoutes stays the subnet (the switch sent nothing back)" routes_are 10.99.0.0/24
mesh_ctl a set --advertise-exit-node >/dev/null 2>&1 || wgt_fail "hyphaectl set --advertise-exit-node"
wgt_check "after hyphaectl set --advertise-exit-node, \"$EXIT_SW\" moves on" \
	atspi wait-state "$EXIT_SW" "$SWITCH" checked
wgt_check "turning \"$EXIT_SW\" off" atspi act "$EXIT_SW" "$SWITCH" toggle
wgt_check "Prefs AdvertiseRoutes loses the /0s only" app_wait 20 routes_are 10.99.0.0/24
wgt_check "\"$EXIT_SW\" shows off" atspi wait-state "$EXIT_SW" "$SWITCH" '!checked'

# System DNS: what hyphaed told the OS resolver, live.
wgt_check "hyphaed reports direct mode (its private resolv.conf)" app_wait 20 dns_is Mode direct
NS=$(dns Nameservers) SEARCH=$(dns SearchDomains)
wgt_check "hyphaed gave the resolver nameservers ($NS)" [ "$NS" != None ]
wgt_check "System DNS shows the resolver" atspi order "Resolver" "/etc/resolv.conf, written by Hyphae"
wgt_check "System DNS shows the nameservers" atspi order "Nameservers" "$NS" "Search Domains" "$SEARCH"
mesh_ctl a set --accept-dns=false >/dev/null 2>&1 || wgt_fail "hyphaectl set --accept-dns=false"
wgt_check "without tailnet DNS, hyphaed's DNS property has no nameservers" app_wait 20 dns_is Nameservers None
wgt_check "and the nameservers row follows" atspi wait-gone "$NS" label
wgt_check "it says None" atspi order "Nameservers" "None" "Search Domains"
mesh_ctl a set --accept-dns=true >/dev/null 2>&1 || wgt_fail "hyphaectl set --accept-dns=true"
wgt_check "with tailnet DNS again, the nameservers are back" atspi wait "$NS" label

wgt_check "the profiles page opens" atspi click "Show profiles" "push button"
wgt_check "it lists home (current) and work (a Switch button)" \
	atspi wait "home" label "Current" label "work" label "Switch to work" "push button" "Log Out…" "push button"
wgt_check "home has no Switch button" atspi wait-gone "Switch to home" "push button"
wgt_check "screenshot profiles-page.png" app_screenshot profiles-page
wgt_check "Back to the overview" atspi click "Back" "push button"

wgt_kill_pid "$APP_MESH_EXIT_PID"
APP_MESH_EXIT_PID=
wgt_check "with $HOST_X gone, the summary says it is offline" atspi wait "$HOST_X (offline)" label
wgt_check "the app is still running" app_alive
finish
