#!/bin/bash
# SPDX-License-Identifier: MIT
# Hyphae's main job, end to end (run as root from anywhere):
#
#   tests/demo.sh
#
# 1. builds (meson setup build, if needed, then ninja -C build);
# 2. makes two network namespaces joined by a veth and starts
#    `hyphaed --wireguard IF --foreground` in each;
# 3. configures both with the stock `wg` tool (fresh keys) and `ip`;
# 4. pings across the tunnel (IPv4 and IPv6) and sends 16 MiB over TCP, comparing SHA-256;
# 5. shows `wg show` on both ends, then removes everything it made.
# Safe to rerun: names are unique per run and everything is removed on every exit path.
# BUILD_DIR=dir builds elsewhere; DEMO_IMPL=wireguard-go runs the same demo with
# wireguard-go on both ends (to compare).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
IMPL=${DEMO_IMPL:-hyphaed}
if [ -t 1 ]; then BOLD=$'\e[1m' RED=$'\e[1;31m' GREEN=$'\e[1;32m' NORM=$'\e[0m'; else BOLD= RED= GREEN= NORM=; fi
step() { printf '\n%s==> %s%s\n' "$BOLD" "$*" "$NORM"; }
die() { printf '\n%sdemo FAILED: %s%s\n' "$RED" "$*" "$NORM"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (network namespaces and TUN devices need it)"

step "Build ($BUILD)"
if [ ! -f "$BUILD/build.ninja" ]; then
	meson setup "$BUILD" "$ROOT" || die "meson setup failed"
fi
ninja -C "$BUILD" || die "build failed"
export HYPHAED=$BUILD/daemon/service/hyphaed
TESTS_DIR=$ROOT/tests/integration
. "$TESTS_DIR/lib.sh"
for c in wg ip ping "$WGT_PY"; do command -v "$c" >/dev/null || die "missing $c"; done
A=$WGT_NS_A B=$WGT_NS_B

step "Two namespaces, $A and $B, joined by a veth ($WGT_UL_A <-> $WGT_UL_B)"
wgt_topology || die "could not make the namespaces"
wgt_keys a && wgt_keys b || die "wg genkey failed"
echo "keys: A $(wgt_pub a)"
echo "      B $(wgt_pub b)"

start() {   # start NS IF
	if [ "$IMPL" = hyphaed ]; then
		echo "ip netns exec $1 $HYPHAED --wireguard $2 --foreground &"
	else
		echo "ip netns exec $1 $IMPL -f $2 &"
	fi
	wgt_start "$1" "$IMPL" "$2" || { wgt_dump_log "$2"; die "$IMPL did not come up on $2"; }
	echo "    pid ${WGT_PID[$2]}, UAPI $WGT_UAPI_DIR/$2.sock"
}
step "Start $IMPL in each namespace"
start "$A" "$WGT_IF_A"
start "$B" "$WGT_IF_B"

step "Configure both ends with wg and ip"
cat <<EOF
ip netns exec $A wg set $WGT_IF_A private-key A.key listen-port $WGT_PORT_A \\
    peer <B's key> endpoint $WGT_UL_B:$WGT_PORT_B allowed-ips $WGT_IN_B/32,$WGT_IN6_B/128
ip -n $A addr add $WGT_IN_A/24 dev $WGT_IF_A; ip -n $A addr add $WGT_IN6_A/64 dev $WGT_IF_A
ip -n $A link set $WGT_IF_A up
(and the mirror image in $B: $WGT_IN_B, $WGT_IN6_B, port $WGT_PORT_B)
EOF
wgt_configure_a || die "configuring $WGT_IF_A failed"
wgt_configure_b || die "configuring $WGT_IF_B failed"

step "Ping across the tunnel"
ip netns exec "$A" ping -n -c 3 -i 0.2 -w 10 "$WGT_IN_B" || die "IPv4 ping A -> B failed"
ip netns exec "$B" ping -n -c 3 -i 0.2 -w 10 "$WGT_IN6_A" || die "IPv6 ping B -> A failed"

step "Send 16 MiB over TCP from A to B and compare SHA-256"
timeout 60 ip netns exec "$B" "$WGT_PY" "$TESTS_DIR/wg-xfer.py" recv "$WGT_IN_B" 5001 "$WGT_TMP/ready" \
	>"$WGT_TMP/recv" 2>&1 &
rpid=$!
for i in $(seq 50); do [ -e "$WGT_TMP/ready" ] && break; sleep 0.1; done
t0=$(date +%s.%N)
sent=$(timeout 60 ip netns exec "$A" "$WGT_PY" "$TESTS_DIR/wg-xfer.py" send "$WGT_IN_B" 5001 $((16 << 20)))
t1=$(date +%s.%N)
wait "$rpid"
got=$(tail -n1 "$WGT_TMP/recv")
echo "sent:     $sent"
echo "received: $got"
[ -n "$sent" ] && [ "$sent" = "$got" ] || die "transfer incomplete or corrupted"
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "16 MiB in %.2f s (%.0f Mbit/s)\n", b - a, 16 * 8 * 1.048576 / (b - a) }'

step "wg show"
ip netns exec "$A" wg show "$WGT_IF_A"
echo
ip netns exec "$B" wg show "$WGT_IF_B"

step "Clean up"
wgt_pair_down
echo "stopped both daemons, removed $A, $B and their sockets"
printf '\n%sdemo OK%s (%s on both ends)\n' "$GREEN" "$NORM" "$IMPL"
