#!/bin/bash
# SPDX-License-Identifier: MIT
# Browser sign-in and machine approval, typed and clicked in the window
# (app-lib.sh, mesh-lib.sh as app-sign-in.sh), against a control server run
# with -interactive (new machines get an AuthURL) and -machine-auth (they wait
# for POST /debug/authorize):
#   Sign In without an auth key: the stub browser (the http handler) is asked
#   to open exactly the AuthURL the daemon sent, and the window says
#   "Continue in Your Browser" with Open Again and Copy Link;
#   Open Again opens the same URL once more, and nothing else opens it again;
#   Copy Link puts it on the clipboard;
#   the test fetches that URL (approving the login, as the user's browser
#   would): "Waiting for Approval";
#   POST /debug/authorize: the main view, and `hyphaectl status --json` says
#   Running.
# Exit 0 if every check passed, 1 otherwise, 77 when it cannot run outside CI.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/app-lib.sh"
app_session "$@"
. "$HERE/app-states-lib.sh"
states_begin app-browser -interactive -machine-auth
app_stub_browser || states_fatal "the stub browser is the http handler"

# browser_opened N: the stub browser got N lines, each the same AuthURL.
browser_opened() {
	local n
	n=$(wc -l <"$APP_BROWSER_OUT")
	[ "$n" = "$1" ] && [ "$(sort -u "$APP_BROWSER_OUT" | wc -l)" = 1 ] &&
		grep -qxE "$MESH_URL/auth/[0-9a-f]+" "$APP_BROWSER_OUT"
}
# node_id HOST-PREFIX: the control server's ID of the (only) node.
node_id() {
	states_server_get "$MESH_URL/debug/nodes" | "$WGT_PY" -c '
import json, sys
nodes = json.load(sys.stdin)
print(nodes[0]["ID"] if len(nodes) == 1 else "")'
}

states_app_start
wgt_check "signed out: the sign-in page" atspi wait "Sign In to a Tailnet" label "Sign In" "push button"
wgt_check "Sign In without an auth key: the stub browser is asked to open the AuthURL, once" \
	eval 'atspi set-text "Control Server URL" "$MESH_URL" && atspi click "Sign In" "push button" &&
		app_wait 60 browser_opened 1'
wgt_check "the window says to continue in the browser, with Open Again and Copy Link" \
	atspi wait "Continue in Your Browser" label "Open Again" "push button" "Copy Link" "push button"
wgt_check "screenshot browser.png" app_screenshot browser
wgt_check "Open Again: the same URL once more" \
	eval 'atspi click "Open Again" "push button" && app_wait 30 browser_opened 2'
clipboard_has_url() { [ "$(states_clipboard)" = "$(head -n 1 "$APP_BROWSER_OUT")" ]; }
wgt_check "Copy Link: the AuthURL on the clipboard" \
	eval 'atspi click "Copy Link" "push button" && app_wait 30 clipboard_has_url'

AUTH_URL=$(head -n 1 "$APP_BROWSER_OUT")
wgt_check "fetching the AuthURL (the browser's part) approves the login" \
	eval '[ "$(states_server_get "$AUTH_URL")" = approved ]'
wgt_check "then the machine waits for approval: Waiting for Approval" \
	eval 'atspi wait "Waiting for Approval" label && states_backend NeedsMachineAuth'
wgt_check "screenshot waiting-approval.png" app_screenshot waiting-approval
wgt_check "no other tab was opened meanwhile (the daemon repeats AuthURLReady while a login waits)" \
	browser_opened 2

ID=$(node_id)
wgt_check "the administrator approves it (POST /debug/authorize): the main view, and Running" \
	eval '[ -n "$ID" ] && states_server_get "$MESH_URL/debug/authorize?node=$ID" POST >/dev/null &&
		states_main_view && states_running'
wgt_check "the app is still running" app_alive
states_finish
