#!/bin/bash
# SPDX-License-Identifier: MIT
# The window's state pages against a real hyphaed (app-lib.sh: Xvfb, a private
# session, AT-SPI; mesh-lib.sh: the Go control server in a hub namespace, node
# A's private system bus with polkitd activating hyphaed; the app runs in this
# namespace on A's bus), everything typed and clicked in the window:
#   signed out: the sign-in page (control server URL, auth key, Sign In);
#   an ftp:// URL gives the inline error and reaches no daemon;
#   a wrong auth key gives the error page with Health's text and Sign In Again,
#   which brings the sign-in page back;
#   the right auth key and a device name typed into the page: the main view,
#   and `hyphaectl status --json` says Running with that HostName;
#   `hyphaectl down`: "Disconnected", and its Connect button: Running again;
#   win.add-profile (what the Profiles page's Add Profile activates; here
#   through org.gtk.Actions): the sign-in page with a profile name (required:
#   an inline error without one), and its Cancel returns to the main view;
#   signing in there as profile "second" makes hyphaed run that profile;
#   the primary menu's Log Out asks first; confirming gives NeedsLogin and the
#   sign-in page (libadwaita 1.2's dialog buttons take mnemonics: AT-SPI names
#   them "Log Out Log Out").
# The keys: the app's key agent keeps them in the keyring this test starts
# (app-states-lib.sh), hyphaed gets them with SetKeys.
# A screenshot of each page goes to $ARTIFACTS (app-lib.sh).
# Exit 0 if every check passed, 1 otherwise, 77 when it cannot run outside CI.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/app-lib.sh"
app_session "$@"
. "$HERE/app-states-lib.sh"
HOST=app-$WGT_ID
states_begin app-sign-in

states_app_start
wgt_check "signed out: the sign-in page asks for the control server, an auth key, and offers Sign In" \
	atspi wait "Sign In to a Tailnet" label "Control Server URL" text "Auth Key (Optional)" text \
	"Sign In" "push button"
wgt_check "screenshot sign-in.png" app_screenshot sign-in

wgt_check "an ftp:// control server URL: Sign In shows the inline error" \
	eval 'atspi set-text "Control Server URL" "ftp://$MESH_HUB_IP" && atspi click "Sign In" "push button" &&
		atspi wait "re:^The control server URL must start with https:// or http://" label'
wgt_check "… and nothing reached hyphaed (no control server in its prefs)" \
	eval 'mesh_status a && ! grep -q "$MESH_HUB_IP" "$MESH_DIR/a.status.json" &&
		[ -z "$(mesh_json a self4)" ]'

wgt_check "a wrong auth key: the error page shows Health's text and Sign In Again" \
	eval 'atspi set-text "Control Server URL" "$MESH_URL" && atspi set-text "Auth Key (Optional)" tskey-wrong &&
		atspi click "Sign In" "push button" &&
		atspi wait "Sign-In Failed" label "re:invalid auth key" label "Sign In Again" "push button"'
wgt_check "screenshot error.png" app_screenshot error
wgt_check "Sign In Again: the sign-in page" \
	eval 'atspi click "Sign In Again" "push button" && atspi wait "Sign In to a Tailnet" label'

# The device name sits under the collapsed "Advanced" row: GTK 4.8 keeps
# its entry in the AT-SPI tree (no action expands an AdwExpanderRow there).
wgt_check "the right auth key and a device name typed in: the main view" \
	eval 'atspi set-text "Control Server URL" "$MESH_URL" &&
		atspi set-text "Auth Key (Optional)" "$MESH_AUTHKEY" &&
		atspi set-text "Device Name (Hostname)" "$HOST" &&
		atspi click "Sign In" "push button" && states_main_view'
wgt_check "hyphaectl status --json: Running, HostName $HOST" states_running "$HOST"
wgt_check "screenshot main.png" app_screenshot main

mesh_ctl a down >/dev/null 2>&1 || wgt_fail "hyphaectl down on A"
wgt_check "after hyphaectl down: Disconnected, with Connect" \
	atspi wait "Disconnected" label "Connect" "push button"
wgt_check "screenshot disconnected.png" app_screenshot disconnected
wgt_check "Connect: the main view, and hyphaed is Running" \
	eval 'atspi click "Connect" "push button" && states_main_view && states_running'

add_profile() {
	gdbus call --session --dest io.github.hyphae.Hyphae --object-path /io/github/hyphae/Hyphae/window/1 \
		--method org.gtk.Actions.Activate add-profile "[]" "{}" >/dev/null
}
wgt_check "win.add-profile: the sign-in page for a new profile, with its name and Cancel" \
	eval 'add_profile && atspi wait "Add a Profile" label "Profile Name" text "Cancel" "push button"'
wgt_check "screenshot add-profile.png" app_screenshot add-profile
wgt_check "Sign In without a profile name: the inline error, still adding a profile" \
	eval 'atspi click "Sign In" "push button" &&
		atspi wait "Give the new profile a name." label "Add a Profile" label'
wgt_check "Cancel: the main view again, still Running" \
	eval 'atspi click "Cancel" "push button" && states_main_view && states_running'
wgt_check "a profile \"second\" signed in from that page (name, server, auth key): Running as second" \
	eval 'add_profile && atspi set-text "Profile Name" second &&
		atspi set-text "Control Server URL" "$MESH_URL" && atspi set-text "Auth Key (Optional)" "$MESH_AUTHKEY" &&
		atspi click "Sign In" "push button" &&
		mesh_wait a 60 eval "mesh_is_running a && states_profile_is second" && states_main_view'

wgt_check "the primary menu's Log Out asks first" \
	eval 'atspi click "Main Menu" "push button" && atspi click "Log Out…" &&
		atspi wait "Log Out?" label "re:^Log Out" "push button" "re:^Cancel" "push button"'
wgt_check "screenshot log-out.png" app_screenshot log-out
wgt_check "confirming: NeedsLogin, and the sign-in page" \
	eval 'atspi click "re:^Log Out( Log Out)?$" "push button" && states_backend NeedsLogin &&
		atspi wait "Sign In to a Tailnet" label'
wgt_check "the app is still running" app_alive
states_finish
