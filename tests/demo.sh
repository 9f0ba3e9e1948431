#!/bin/bash
# SPDX-License-Identifier: MIT
# Hyphae's main job, end to end, as root (README: sudo sh -c '.ci/setup && tests/demo.sh'):
# a local demo tailnet in network namespaces, until our own coordination server
# replaces the test one.
#
#   tests/demo.sh [--keep]
#
# 1. builds hyphaed, hyphaectl and the Go control server (release build in
#    build-demo/, or BUILD_DIR);
# 2. makes a hub namespace running the independent Go TS2021 control server
#    (tests/ts2021/control.go) and our DERP relay + STUN server hyphae-derp
#    (server/derp, TLS with a self-signed certificate the DERP map pins), and two
#    node namespaces bridged to it, each with its own private system bus and a
#    real polkitd (tests/integration/mesh-lib.sh);
# 3. `hyphaectl up --login-server … --auth-key …` in each node (the bus starts
#    hyphaed on the first call), waits until each node sees the other;
# 4. prints `hyphaectl status` from both, looks up B's MagicDNS name at
#    100.100.100.100 from A, pings across the tailnet (IPv4, IPv6)
#    and sends 16 MiB over TCP comparing SHA-256; then drops UDP between the
#    nodes in the hub's bridge: `hyphaectl ping` and `hyphaectl status` show the
#    path move to the relay (and traffic keeps flowing), and back to direct
#    once UDP passes again;
# 5. removes everything it made, or with --keep leaves it running (and prints how
#    to poke it) until Enter or Ctrl-C.
# Safe to rerun: names are unique per run and everything is removed on every exit path.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build-demo}
KEEP=0
case ${1:-} in
--keep) KEEP=1 ;;
"") ;;
*) echo "usage: $0 [--keep]" >&2; exit 2 ;;
esac
if [ -t 1 ]; then BOLD=$'\e[1m' RED=$'\e[1;31m' GREEN=$'\e[1;32m' NORM=$'\e[0m'; else BOLD= RED= GREEN= NORM=; fi
step() { printf '\n%s==> %s%s\n' "$BOLD" "$*" "$NORM"; }
die() { printf '\n%sdemo FAILED: %s%s\n' "$RED" "$*" "$NORM"; exit 1; }
show() { printf '%s$ %s%s\n' "$BOLD" "$*" "$NORM"; }   # a command, as the reader would type it

[ "$(id -u)" = 0 ] || die "run as root (network namespaces, TUN devices and the buses need it)"

step "Build ($BUILD, release)"
if [ ! -f "$BUILD/build.ninja" ]; then
	meson setup "$BUILD" "$ROOT" --buildtype=release || die "meson setup failed"
fi
meson compile -C "$BUILD" hyphaed hyphaectl server/derp/hyphae-derp ts2021-control || die "build failed"
HYPHAE_DERP=$BUILD/server/derp/hyphae-derp
export HYPHAED=$BUILD/daemon/service/hyphaed
export HYPHAECTL=$BUILD/src/cli/hyphaectl
export HYPHAE_TS2021_CONTROL=$BUILD/tests/ts2021/ts2021-control
export HYPHAE_DATA_DIR=$ROOT/data
export TESTS_DIR=$ROOT/tests/integration
. "$TESTS_DIR/mesh-lib.sh"
msg=$(mesh_require) || die "${msg#SKIP } (run .ci/setup first)"
A=$MESH_NS_A B=$MESH_NS_B
DERP_PORT=9443
DERP_PID=

# demo_relayed NODE: NODE's `hyphaectl status` shows its peer on the relay.
demo_relayed() { mesh_ctl "$1" status 2>/dev/null | grep -q 'relay "demo"'; }

# ctl NODE ARGS...: show the hyphaectl command, then run it.
ctl() {
	show "ip netns exec ${MESH_NS[$1]} env DBUS_SYSTEM_BUS_ADDRESS=… hyphaectl ${*:2}"
	mesh_ctl "$@"
}

step "Network: hub $MESH_NS_HUB (bridge, $MESH_HUB_IP) and nodes $A ($MESH_IP_A), $B ($MESH_IP_B)"
mesh_topology || die "could not make the namespaces"

step "Relay: hyphae-derp (DERP over TLS on :$DERP_PORT, STUN on :3478) in the hub"
command -v openssl >/dev/null || die "openssl is missing (run .ci/setup first)"
command -v dig >/dev/null || die "dig is missing (run .ci/setup first)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-keyout "$MESH_DIR/derp-key.pem" -out "$MESH_DIR/derp-cert.pem" -subj "/CN=$MESH_HUB_IP" \
	-addext "subjectAltName=IP:$MESH_HUB_IP" >"$MESH_DIR/openssl.log" 2>&1 || die "openssl failed"
show "ip netns exec $MESH_NS_HUB hyphae-derp --listen $MESH_HUB_IP:$DERP_PORT --tls-cert … --tls-key … --region-id 900"
ip netns exec "$MESH_NS_HUB" "$HYPHAE_DERP" --listen "$MESH_HUB_IP:$DERP_PORT" --tls-cert "$MESH_DIR/derp-cert.pem" \
	--tls-key "$MESH_DIR/derp-key.pem" --key-file "$MESH_DIR/derp.key" --region-id 900 \
	>"$MESH_DIR/derp.out" 2>"$MESH_DIR/derp.err" &
DERP_PID=$!
for i in $(seq 100); do grep -q '^hyphae-derp: DERPNode ' "$MESH_DIR/derp.out" && break; sleep 0.1; done
node=$(sed -n 's/^hyphae-derp: DERPNode //p' "$MESH_DIR/derp.out")
[ -n "$node" ] || { cat "$MESH_DIR/derp.err"; die "hyphae-derp did not start"; }
cat "$MESH_DIR/derp.out"
# The DERP map the control server hands out: one region, our relay, its
# certificate pinned by CertName (tailcfg.DERPMap's JSON).
printf '{"Regions":{"900":{"RegionID":900,"RegionCode":"demo","RegionName":"Demo relay","Nodes":[%s]}}}\n' \
	"$node" >"$MESH_DIR/derpmap.json"

step "Control server: the Go TS2021 test server (tests/ts2021/control.go) in the hub"
show "ip netns exec $MESH_NS_HUB ts2021-control -listen $MESH_HUB_IP:$MESH_PORT -auth-key $MESH_AUTHKEY -derp-map derpmap.json"
mesh_server_start -derp-map "$MESH_DIR/derpmap.json" || die "the control server did not start"
echo "listening on $(mesh_server_line LISTEN), Noise key $(mesh_server_line PUB | cut -c1-16)…"

step "A private system bus with polkitd in each node (hyphaed is started by the bus)"
mesh_buses || die "could not start the buses"
echo "A: $(dbl_addr a)"
echo "B: $(dbl_addr b)"

step "Join the tailnet"
for n in a b; do
	ctl "$n" up --login-server "$MESH_URL" --auth-key "$MESH_AUTHKEY" --hostname "${MESH_HOST[$n]}" ||
		{ mesh_dump "$n"; die "hyphaectl up failed on ${n^^}"; }
done
printf 'waiting until each node sees the other'
mesh_wait a 60 mesh_sees a b && mesh_wait b 60 mesh_sees b a ||
	{ echo; mesh_dump a; mesh_dump b; die "the nodes did not see each other within 60 s"; }
echo ": done"
A4=$(mesh_json a self4) A6=$(mesh_json a self6) B4=$(mesh_json b self4) B6=$(mesh_json b self6)

for n in a b; do
	step "hyphaectl status on ${n^^}"
	ctl "$n" status || die "hyphaectl status failed on ${n^^}"
done

BNAME=$(mesh_json b self-dns)
step "MagicDNS: A looks up B's name at 100.100.100.100 (answered inside A's tunnel engine)"
show "ip netns exec $A dig +short @100.100.100.100 $BNAME"
got=$(ip netns exec "$A" dig +short +time=3 +tries=2 @100.100.100.100 "$BNAME" A)
echo "$got"
[ -n "$BNAME" ] && [ "$got" = "$B4" ] || die "MagicDNS on A did not answer $BNAME with $B4 (got '$got')"

step "Ping across the tailnet"
show "ip netns exec $A ping $B4"
ip netns exec "$A" ping -n -c 3 -i 0.2 -w 10 "$B4" || die "IPv4 ping A -> B failed"
show "ip netns exec $B ping $A6"
ip netns exec "$B" ping -n -c 3 -i 0.2 -w 10 "$A6" || die "IPv6 ping B -> A failed"

step "Send 16 MiB over TCP from A to B ($B4) and compare SHA-256"
XFER=$TESTS_DIR/wg-xfer.py
timeout 60 ip netns exec "$B" "$WGT_PY" "$XFER" recv "$B4" 5001 "$MESH_DIR/ready" >"$MESH_DIR/recv" 2>&1 &
rpid=$!
for i in $(seq 50); do [ -e "$MESH_DIR/ready" ] && break; sleep 0.1; done
t0=$(date +%s.%N)
sent=$(timeout 60 ip netns exec "$A" "$WGT_PY" "$XFER" send "$B4" 5001 $((16 << 20)))
t1=$(date +%s.%N)
wait "$rpid"
got=$(tail -n1 "$MESH_DIR/recv")
echo "sent:     $sent"
echo "received: $got"
[ -n "$sent" ] && [ "$sent" = "$got" ] || die "transfer incomplete or corrupted"
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "16 MiB in %.2f s (%.0f Mbit/s)\n", b - a, 16 * 8 * 1.048576 / (b - a) }'

step "The path to each peer: direct over UDP"
ctl a ping -c 10 "${MESH_HOST[b]}" || die "no direct pong from B"
ctl a status || die "hyphaectl status failed on A"

step "UDP between the nodes dropped in the hub: the relay carries the tailnet"
show "ip netns exec $MESH_NS_HUB nft add rule bridge demo forward ip saddr {A, B} ip daddr {A, B} meta l4proto udp drop"
printf 'table bridge demo {\n\tchain forward {\n\t\ttype filter hook forward priority 0;\n\t\tip saddr { %s, %s } ip daddr { %s, %s } meta l4proto udp drop\n\t}\n}\n' \
	"$MESH_IP_A" "$MESH_IP_B" "$MESH_IP_A" "$MESH_IP_B" | ip netns exec "$MESH_NS_HUB" nft -f - || die "nft failed"
# The direct path is trusted for 6.5 s after its last pong; then the relay.
printf 'waiting for A to move B to the relay'
mesh_wait a 30 demo_relayed a || { echo; die "A did not move B to the relay within 30 s"; }
echo ": done"
ctl a status || die "hyphaectl status failed on A"
show "ip netns exec $A ping $B4"
ip netns exec "$A" ping -n -c 3 -i 0.2 -w 10 "$B4" || die "ping over the relay failed"
ctl b ping -c 1 --until-direct=false "${MESH_HOST[a]}" || die "no pong over the relay"

step "UDP allowed again: back to direct"
show "ip netns exec $MESH_NS_HUB nft delete table bridge demo"
ip netns exec "$MESH_NS_HUB" nft delete table bridge demo || die "nft failed"
ctl a ping -c 30 "${MESH_HOST[b]}" || die "A did not get back to a direct path"
ctl a status || die "hyphaectl status failed on A"

if [ "$KEEP" = 1 ]; then
	step "Left running (--keep)"
	cat <<EOF
Poke it from another root shell:
  ip netns exec $A env DBUS_SYSTEM_BUS_ADDRESS=$(dbl_addr a) $HYPHAECTL status
  ip netns exec $B env DBUS_SYSTEM_BUS_ADDRESS=$(dbl_addr b) $HYPHAECTL status --json
  ip netns exec $A ping $B4          ip netns exec $B ping $A6
  ip netns exec $A env DBUS_SYSTEM_BUS_ADDRESS=$(dbl_addr a) $HYPHAECTL down
  ip netns exec $MESH_NS_HUB python3 -c 'import urllib.request; print(urllib.request.urlopen("$MESH_URL/debug/nodes").read().decode())'
Logs: $MESH_DIR/{a,b}/bus.log (hyphaed), $MESH_DIR/control.*.err (control server)
EOF
	printf '\n%sPress Enter or Ctrl-C to tear it all down.%s\n' "$BOLD" "$NORM"
	read -r _ || true
fi

step "Clean up"
echo "stopping both hyphaed, polkitd, the buses, the relay and the control server; removing $MESH_NS_HUB, $A, $B"
[ -n "$DERP_PID" ] && kill "$DERP_PID" 2>/dev/null
mesh_teardown
printf '\n%sdemo OK%s: two hyphaed joined a tailnet, saw each other, ping and 16 MiB passed,\nthe path went from direct to the relay and back\n' "$GREEN" "$NORM"
exit 0
