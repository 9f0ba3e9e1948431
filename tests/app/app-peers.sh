#!/bin/bash
# SPDX-License-Identifier: MIT
# The main view's peers against a real tailnet (app-lib.sh: Xvfb, a private
# session, AT-SPI; mesh-lib.sh: the Go control server, hyphaed on A and B, and
# a third node, a Go map client named zz-exit-ID, offering to be an exit node):
#   the window on A shows this device (its MagicDNS name) and both peers, online
#   first then by name (node-b before zz-exit); screenshot main-view.png;
#   searching "node-b" leaves B's row only; its copy button puts B's MagicDNS
#   name (no trailing dot) on the X clipboard (xclip) and a toast says so;
#   B's page shows its addresses (as `hyphaectl status` on A has them), OS,
#   connection path and bytes (screenshot peer-page.png), and no "Use as Exit
#   Node", which zz-exit's page has;
#   `hyphaectl down` on B: B's row says Offline and moves below zz-exit, in the
#   same list (no reload: the search text and the other row stay).
# Exit 0 if every check passed, 1 otherwise, 77 when it cannot run outside CI.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/app-lib.sh"
app_session "$@"

APP_MESH_NAME=app-peers
. "$HERE/app-mesh.sh"

command -v xclip >/dev/null || app_cannot_run "no xclip (package xclip)"
app_mesh_start
HOST_B=${MESH_HOST[b]}
mesh_up_both
[ "${MESH_UP_RC[a]}" = 0 ] && [ "${MESH_UP_RC[b]}" = 0 ] || fatal "hyphaectl up on A and B"
app_mesh_exit_node
sees_both() { mesh_sees a b && app_mesh_sees_x; }
wgt_check "A sees B and $HOST_X online" mesh_wait a 30 sees_both

app_start "$(dbl_addr a)"
self_dns=${MESH_HOST[a]}.hyphae.test
wgt_check "the main view shows this device's MagicDNS name" atspi wait "$self_dns" label
wgt_check "the peers are listed online first, then by name: $HOST_B, $HOST_X" \
	atspi order "Details of $HOST_B" "Details of $HOST_X"
wgt_check "each row says its peer is online" atspi wait "$HOST_B: Online" label "$HOST_X: Online" label
wgt_check "screenshot main-view.png" app_screenshot main-view

wgt_check "searching \"node-b\" types into the search entry" atspi set-text "Search peers" "node-b"
wgt_check "the search leaves $HOST_B's row only" atspi wait-gone "Details of $HOST_X" "push button"
wgt_check "$HOST_B's row is still there" atspi wait "Details of $HOST_B" "push button"
wgt_check "its copy button copies" atspi click "Copy MagicDNS name of $HOST_B" "push button"
clipboard_is() { [ "$(xclip -o -selection clipboard 2>/dev/null)" = "$1" ]; }
wgt_check "the clipboard holds $HOST_B.hyphae.test (no trailing dot)" \
	app_wait 20 clipboard_is "$HOST_B.hyphae.test"
wgt_check "a toast says what was copied" atspi wait "Copied “$HOST_B.hyphae.test”" label
wgt_check "clearing the search brings $HOST_X back" atspi set-text "Search peers" ""
wgt_check "both rows show again" atspi order "Details of $HOST_B" "Details of $HOST_X"

app_alive || fatal "the app is still running after the copy"
read -r b4 b6 _ <<<"$(mesh_json a peer "$HOST_B")"
wgt_check "$HOST_B's row opens its page" atspi click "Details of $HOST_B" "push button"
wgt_check "the peer page shows B's addresses ($b4, $b6) and OS" \
	atspi wait "$b4" label "$b6" label "Linux" label "Operating System" label
wgt_check "the peer page shows the connection path and the bytes" \
	atspi wait "re:^(Direct, .*|Relay .*|No connection yet)$" label "Received" label "Sent" label \
	"re:^[0-9.]+.(bytes?|kB|MB)$" label
wgt_check "B offers no exit node: no Use as Exit Node" atspi wait-gone "Use as Exit Node" "push button"
wgt_check "the overview is hidden from AT-SPI meanwhile" atspi wait-gone "Search peers" "entry"
wgt_check "screenshot peer-page.png" app_screenshot peer-page
wgt_check "Back returns to the overview" atspi click "Back" "push button"
wgt_check "the overview shows again" atspi wait "Details of $HOST_B" "push button"
wgt_check "$HOST_X's page" atspi click "Details of $HOST_X" "push button"
wgt_check "offers Use as Exit Node" atspi wait "Use as Exit Node" "push button"
wgt_check "Back again" atspi click "Back" "push button"

wgt_check "a search that matches one peer" atspi set-text "Search peers" "$WGT_ID"
mesh_ctl b down >/dev/null 2>&1 || wgt_fail "hyphaectl down on B"
wgt_check "B's row says Offline" atspi wait "$HOST_B: Offline" label
wgt_check "B's row moved below the online $HOST_X" atspi order "Details of $HOST_X" "Details of $HOST_B"
wgt_check "$HOST_X's row still says Online" atspi wait "$HOST_X: Online" label
wgt_check "the app is still running" app_alive
finish
