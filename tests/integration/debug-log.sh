#!/bin/bash
# SPDX-License-Identifier: MIT
# Debug log categories (issue 9 item 5): two hyphaed join the Go control
# server's tailnet (mesh-lib.sh) with debug logging on, one switched at start,
# one at run time, and no key ever reaches a log.
#
#   HYPHAED=… HYPHAECTL=… tests/integration/debug-log.sh      (meson sets both)
#
# Checks, in order:
#   A's bus (hence its hyphaed) has G_MESSAGES_DEBUG="hyphae-wg hyphae-control":
#   `hyphaectl debug` on A says "wg control";
#   B starts with nothing on; uid 65534's `hyphaectl debug all` is refused with
#   the not-authorized exit code and changes nothing; an unknown category is a
#   usage error; root's `hyphaectl debug all` switches every category on;
#   both `hyphaectl up`, Running, a WireGuard session each, ping A->B;
#   A's log: hyphae-wg lines for the handshake naming B as peer(first4...last4)
#   of B's node key, hyphae-control lines for dial and register; no hyphae-map
#   or hyphae-path line (not switched on);
#   B's log: hyphae-wg handshake lines, hyphae-path (UDP port bound),
#   hyphae-map (stream start, netmap applied), hyphae-control;
#   `hyphaectl debug off` on B: "off" afterwards;
#   no log of either node (hyphaed's stderr, hyphaectl's output) holds either
#   node's machine or node private key (hex, either case, or base64, as read
#   from the state dir's keys file), the auth key or the control server's
#   private key; the same patterns do find the keys in the keys files;
#   both daemons exit on SIGTERM, no sanitizer report.
# Exit 0 if every check passed, 1 otherwise, 77 when it cannot run (outside CI).
set -u
. "$(dirname "$0")/mesh-lib.sh"

mesh_require

WAIT_UP=60          # hang guards (s), not delays
T0=$(date +%s)

finish() { mesh_finish debug-log "$T0"; }
fatal() { wgt_fail "$*"; wgt_log "stopping: the remaining checks depend on this one"; finish; }

LOG_A=$MESH_DIR/a/bus.log
LOG_B=$MESH_DIR/b/bus.log

# has LOG DOMAIN-LEVEL TEXT: a line of LOG in that GLib domain and level holds TEXT.
has() { grep -F -- "$2: " "$1" | grep -qF -- "$3"; }

# handshaken NODE: a peer with a non-zero last handshake (UAPI).
handshaken() { mesh_uapi_get "$1" | grep -qE '^last_handshake_time_sec=[1-9]'; }

# short_name NODE: wireguard-go's "peer(AbCd...WxYz)" for NODE's node key (its status Self).
short_name() {
	"$WGT_PY" - "$MESH_DIR/$1.status.json" <<'EOF'
import base64, json, sys
k = json.load(open(sys.argv[1]))["Self"]["PublicKey"]
b = base64.b64encode(bytes.fromhex(k.removeprefix("nodekey:"))).decode()
print("peer(%s...%s)" % (b[:4], b[39:43]))
EOF
}

# key_patterns NODE: each private key in NODE's keys file as lowercase hex and
# as standard and URL-safe base64, one a line.
key_patterns() {
	"$WGT_PY" - "$MESH_DIR/$1/state/profiles/default/keys" <<'EOF'
import base64, sys
for line in open(sys.argv[1]):
    hexkey = line.strip().split("=", 1)[1].removeprefix("privkey:")
    raw = bytes.fromhex(hexkey)
    print(hexkey.lower())
    print(base64.b64encode(raw).decode())
    print(base64.urlsafe_b64encode(raw).decode().rstrip("="))
EOF
}

# ---------------------------------------------------------------- bring-up

mesh_topology || fatal "topology: hub bridge and two node namespaces"
mesh_server_start || fatal "control server starts in the hub on $MESH_URL"
dbl_install_policy "$MESH_DATA_DIR" || fatal "polkit actions installed"
mkdir -p "$MESH_DIR/a/uapi" "$MESH_DIR/b/uapi"
# The activated hyphaed inherits its bus's environment (dbus-lib.sh).
G_MESSAGES_DEBUG="hyphae-wg hyphae-control" dbl_bus_start a "$MESH_NS_A" "$MESH_DIR/a/state" \
	--ifname "$MESH_IF" --uapi-dir "$MESH_DIR/a/uapi" || fatal "bus and polkitd in A"
dbl_bus_start b "$MESH_NS_B" "$MESH_DIR/b/state" --ifname "$MESH_IF" \
	--uapi-dir "$MESH_DIR/b/uapi" || fatal "bus and polkitd in B"
wgt_pass "setup: hub + server, buses and polkitd in A (G_MESSAGES_DEBUG set) and B"

# ---------------------------------------------------------------- switching

out=$(mesh_ctl a debug 2>&1)
wgt_check "A: G_MESSAGES_DEBUG='hyphae-wg hyphae-control' at start: hyphaectl debug says 'wg control' (got '$out')" \
	[ "$out" = "wg control" ]
out=$(mesh_ctl b debug 2>&1)
wgt_check "B: nothing on at start: hyphaectl debug says 'off' (got '$out')" [ "$out" = off ]
out=$(mesh_ctl_nobody b debug all 2>&1)
rc=$?
wgt_check "B: uid 65534's hyphaectl debug all is refused, exit $MESH_EXIT_NOT_AUTHORIZED (got $rc: $out)" \
	[ "$rc" = "$MESH_EXIT_NOT_AUTHORIZED" ]
out=$(mesh_ctl b debug 2>&1)
wgt_check "B: after the refusal still 'off' (got '$out')" [ "$out" = off ]
out=$(mesh_ctl b debug wg bogus 2>&1)
rc=$?
wgt_check "B: an unknown category is a usage error, exit 2 (got $rc: $out)" [ "$rc" = 2 ]
out=$(mesh_ctl b debug all 2>&1)
rc=$?
wgt_check "B: root's hyphaectl debug all (exit $rc${out:+: $out})" [ "$rc" = 0 ]
out=$(mesh_ctl b debug 2>&1)
wgt_check "B: every category on (got '$out')" [ "$out" = "wg path control map derp disco dns" ]

# ---------------------------------------------------------------- a tailnet

mesh_up_both
for n in a b; do
	rc=${MESH_UP_RC[$n]}
	[ "$rc" = 0 ] || fatal "hyphaectl up on ${n^^} (exit $rc: $(tr '\n' ' ' <"$MESH_DIR/$n.up.out"))"
done
mesh_wait a "$WAIT_UP" mesh_sees a b || fatal "A is Running and sees B within ${WAIT_UP} s"
mesh_wait b "$WAIT_UP" mesh_sees b a || fatal "B is Running and sees A within ${WAIT_UP} s"
for n in a b; do
	end=$(($(date +%s) + WAIT_UP))
	until handshaken "$n" || [ "$(date +%s)" -ge "$end" ]; do sleep 0.2; done
	wgt_check "${n^^} has a WireGuard session" handshaken "$n"
done
wgt_check "ping IPv4 A->B" wgt_ping "$MESH_NS_A" "$(mesh_json b self4)"

# ---------------------------------------------------------------- what was logged

NAME_A=$(short_name a) NAME_B=$(short_name b)
echo "INFO A is $NAME_A, B is $NAME_B; A logged $(grep -c 'hyphae-' "$LOG_A") category lines, B $(grep -c 'hyphae-' "$LOG_B")"
grep -hE 'hyphae-[a-z]+-(DEBUG|INFO)' "$LOG_A" "$LOG_B" | head -n 40 | sed 's/^/    /'
wgt_check "A: hyphae-wg names B as $NAME_B in a handshake line" \
	eval 'grep -F "hyphae-wg-DEBUG: " "$LOG_A" | grep -F "$NAME_B - " | grep -q "handshake"'
wgt_check "A: hyphae-wg says the handshake with B completed" has "$LOG_A" hyphae-wg-DEBUG "$NAME_B - Handshake completed"
wgt_check "A: hyphae-wg has a new keypair for B" has "$LOG_A" hyphae-wg-DEBUG "$NAME_B - New keypair"
wgt_check "A: hyphae-control dialled the server" has "$LOG_A" hyphae-control-DEBUG "dialing $MESH_HUB_IP:$MESH_PORT"
wgt_check "A: hyphae-control register result" has "$LOG_A" hyphae-control-DEBUG "register: node authorized"
wgt_check "A: no hyphae-map or hyphae-path line (not switched on)" \
	eval '! grep -qE "hyphae-(map|path)-(DEBUG|INFO)" "$LOG_A"'
wgt_check "B: hyphae-wg says the handshake with A completed" has "$LOG_B" hyphae-wg-DEBUG "$NAME_A - Handshake completed"
wgt_check "B: hyphae-path: the UDP port bound" has "$LOG_B" hyphae-path-INFO "bound: IPv4 yes"
wgt_check "B: hyphae-map: the map stream started" has "$LOG_B" hyphae-map-DEBUG "map stream to $MESH_HUB_IP:$MESH_PORT starting"
wgt_check "B: hyphae-map: a netmap with A applied" has "$LOG_B" hyphae-map-DEBUG "netmap applied: 1 peers"
wgt_check "B: hyphae-control register result" has "$LOG_B" hyphae-control-DEBUG "register: node authorized"

out=$(mesh_ctl b debug off 2>&1)
rc=$?
wgt_check "B: hyphaectl debug off (exit $rc${out:+: $out})" [ "$rc" = 0 ]
out=$(mesh_ctl b debug 2>&1)
wgt_check "B: off again (got '$out')" [ "$out" = off ]
wgt_check "B: the switch is logged" eval 'grep -q "Debug log categories: none" "$LOG_B"'

# ---------------------------------------------------------------- no secrets

for n in a b; do dbl_daemon_stop "$n"; done
PATTERNS=$MESH_DIR/secret-patterns
{
	key_patterns a
	key_patterns b
	echo "$MESH_AUTHKEY"
	echo "$MESH_SERVER_KEY"
	"$WGT_PY" -c 'import base64, sys; print(base64.b64encode(bytes.fromhex(sys.argv[1])).decode())' "$MESH_SERVER_KEY"
} >"$PATTERNS"
wgt_check "the secret patterns: 3 forms of 4 private keys, auth key, server key ($(wc -l <"$PATTERNS") lines)" \
	[ "$(wc -l <"$PATTERNS")" = 15 ]
wgt_check "the patterns find both private keys in each keys file (the grep works)" \
	eval '[ "$(grep -ciF -f "$PATTERNS" "$MESH_DIR/a/state/profiles/default/keys")" = 2 ] &&
	      [ "$(grep -ciF -f "$PATTERNS" "$MESH_DIR/b/state/profiles/default/keys")" = 2 ]'
LOGS=("$LOG_A" "$LOG_B" "$MESH_DIR"/[ab].*.out "$MESH_DIR"/[ab].status.*)
found=$(grep -iF -f "$PATTERNS" "${LOGS[@]}" 2>/dev/null | cut -c1-160)
wgt_check "no private key, auth key or server key in any node log (${#LOGS[@]} files)${found:+: $found}" \
	[ -z "$found" ]
wgt_check "no sanitizer report (ASan, LSan at exit, UBSan) in the daemons' logs" \
	eval '! grep -l -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$LOG_A" "$LOG_B"'
finish
