#!/bin/bash
# SPDX-License-Identifier: MIT
# System DNS when the OS refuses hyphaed's DNS (app-lib.sh, mesh-lib.sh): A's
# hyphaed is given a resolv.conf in a directory that does not exist yet
# (DBL_RESOLV_CONF), so its direct mode cannot write it:
#   hyphaed's DNS property says direct with an Error, and the app's System DNS
#   once the directory exists and `hyphaectl set --accept-dns` applies again,
#   the Error is gone, resolv.conf is written, and the row goes away while the
#   nameservers row shows what the resolver got: the app follows it live.
# Exit 0 if every check passed, 1 otherwise, 77 when it cannot run outside CI.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/app-lib.sh"
app_session "$@"

APP_MESH_NAME=app-dns
. "$HERE/app-mesh.sh"

RESOLV_DIR=$APP_T/etc-missing
DBL_RESOLV_CONF=$RESOLV_DIR/resolv.conf
app_mesh_start
mesh_up a >"$MESH_DIR/a.up.out" 2>&1 || fatal "hyphaectl up on A: $(cat "$MESH_DIR/a.up.out")"
has_error() { [ -n "$(dns Error)" ]; }
wgt_check "hyphaed reports direct mode" app_wait 30 dns_is Mode direct
wgt_check "and an Error (no directory for its resolv.conf)" app_wait 30 has_error
ERR=$(dns Error)

SWITCH="check box"
app_start "$(dbl_addr a)"
wgt_check "the overview shows" atspi wait "Run as exit node" "$SWITCH"
wgt_check "System DNS shows the resolver" atspi order "Resolver" "/etc/resolv.conf, written by Hyphae"
wgt_check "and \"Not Applied\" with hyphaed's error ($ERR)" atspi order "Not Applied" "$ERR"

mkdir -p "$RESOLV_DIR" || fatal "mkdir $RESOLV_DIR"
mesh_ctl a set --accept-dns=false >/dev/null 2>&1 || wgt_fail "hyphaectl set --accept-dns=false"
wgt_check "without tailnet DNS nothing is applied" app_wait 20 dns_is Nameservers None
mesh_ctl a set --accept-dns=true >/dev/null 2>&1 || wgt_fail "hyphaectl set --accept-dns=true"
wgt_check "applied again: hyphaed's Error is empty" app_wait 20 dns_is Error ""
wgt_check "and it wrote $DBL_RESOLV_CONF" test -s "$DBL_RESOLV_CONF"
NS=$(dns Nameservers)
wgt_check "the \"Not Applied\" row goes away" atspi wait-gone "Not Applied" label
wgt_check "the nameservers row shows $NS" atspi order "Nameservers" "$NS" "Search Domains"
wgt_check "the app is still running" app_alive
finish
