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
#    (tests/ts2021/control.go) and two node namespaces bridged to it, each with
#    its own private system bus and a real polkitd (tests/integration/mesh-lib.sh);
# 3. `hyphaectl up --login-server … --auth-key …` in each node (the bus starts
#    hyphaed on the first call), waits until each node sees the other;
# 4. prints `hyphaectl status` from both, pings across the tailnet (IPv4, IPv6)
#    and sends 16 MiB over TCP comparing SHA-256;
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
meson compile -C "$BUILD" hyphaed hyphaectl ts2021-control || die "build failed"
export HYPHAED=$BUILD/daemon/service/hyphaed
export HYPHAECTL=$BUILD/src/cli/hyphaectl
export HYPHAE_TS2021_CONTROL=$BUILD/tests/ts2021/ts2021-control
export HYPHAE_DATA_DIR=$ROOT/data
export TESTS_DIR=$ROOT/tests/integration
. "$TESTS_DIR/mesh-lib.sh"
msg=$(mesh_require) || die "${msg#SKIP } (run .ci/setup first)"
A=$MESH_NS_A B=$MESH_NS_B

# ctl NODE ARGS...: show the hyphaectl command, then run it.
ctl() {
	show "ip netns exec ${MESH_NS[$1]} env DBUS_SYSTEM_BUS_ADDRESS=… hyphaectl ${*:2}"
	mesh_ctl "$@"
}

step "Network: hub $MESH_NS_HUB (bridge, $MESH_HUB_IP) and nodes $A ($MESH_IP_A), $B ($MESH_IP_B)"
mesh_topology || die "could not make the namespaces"

step "Control server: the Go TS2021 test server (tests/ts2021/control.go) in the hub"
show "ip netns exec $MESH_NS_HUB ts2021-control -listen $MESH_HUB_IP:$MESH_PORT -auth-key $MESH_AUTHKEY"
mesh_server_start || die "the control server did not start"
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
echo "stopping both hyphaed, polkitd, the buses and the control server; removing $MESH_NS_HUB, $A, $B"
mesh_teardown
printf '\n%sdemo OK%s: two hyphaed joined a tailnet, saw each other, ping and 16 MiB passed\n' "$GREEN" "$NORM"
exit 0
