#!/bin/bash
# SPDX-License-Identifier: MIT
# `WG_QUICK_USERSPACE_IMPLEMENTATION=hyphae-wg wg-quick up CONF` in a network namespace,
# against a wireguard-go peer brought up by wg-quick in a second namespace.
#
#   HYPHAED=build/daemon/service/hyphaed tests/integration/wg-quick.sh
#
# The implementation under test follows wireguard-go's calling convention:
# `IMPL IFNAME` serves /var/run/wireguard/IFNAME.sock and goes to the background;
# `IMPL -f IFNAME` or WG_PROCESS_FOREGROUND=1 stays in the foreground.
# It is, first match: $WG_QUICK_IMPL, $HYPHAE_WG, then hyphae-wg next to $HYPHAED.
# WG_QUICK_IMPL=wireguard-go checks the harness itself.
#
# Checks: foreground with -f and with WG_PROCESS_FOREGROUND=1 (SIGTERM: exit and
# socket removed); wg-quick up returns 0 with the daemon in the background; address
# and MTU set; ping v4/v6 both ways; wg-quick down returns 0, the daemon exits and
# its socket is gone.  No DNS= line: wg-quick needs resolvconf only for that.
set -u
. "$(dirname "$0")/lib.sh"

wgt_require_root
wgt_require_cmds wg wg-quick ip ping timeout

if [ -n "${WG_QUICK_IMPL:-}" ]; then
	IMPL=$WG_QUICK_IMPL
elif [ -n "${HYPHAE_WG:-}" ]; then
	IMPL=$HYPHAE_WG
else
	IMPL=$(dirname "${HYPHAED:-/nonexistent/hyphaed}")/hyphae-wg
fi
[ "$IMPL" = wireguard-go ] && IMPL=$(command -v wireguard-go)
P="[wg-quick $(basename "$IMPL")]"
if [ ! -x "$IMPL" ]; then
	wgt_fail "$P implementation '$IMPL' is not an executable (set HYPHAE_WG or HYPHAED)"
	exit 1
fi
export WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1   # silences wireguard-go's banner

wgt_topology || { wgt_fail "$P topology"; exit 1; }
wgt_keys a && wgt_keys b || exit 1
A=$WGT_NS_A B=$WGT_NS_B
WGT_MY_IFS+=("$WGT_IF_A" "$WGT_IF_B")

# -- the calling convention, in the foreground (a child of ours: $!)
fg_check() {   # fg_check LABEL CMD...: CMD serves the socket in the foreground, SIGTERM ends it
	local label=$1 pid i ok=0; shift
	"$@" >>"$WGT_TMP/fg.log" 2>&1 &
	pid=$!
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		wgt_sock_ready "$WGT_IF_A" && { ok=1; break; }
		sleep 0.1
	done
	if [ "$ok" = 1 ]; then
		WGT_PID[$WGT_IF_A]=$pid
		wgt_check "$P $label: stays in the foreground, serves UAPI; SIGTERM: exits, socket removed" \
			wgt_stop "$WGT_IF_A"
	else
		wgt_fail "$P $label: stays in the foreground and serves UAPI within 10 s"
		tail -n 20 "$WGT_TMP/fg.log" | sed 's/^/    /'
		wgt_kill_pid "$pid"; rm -f "$WGT_UAPI_DIR/$WGT_IF_A.sock"
	fi
}
fg_check "-f IFNAME" ip netns exec "$A" "$IMPL" -f "$WGT_IF_A"
fg_check "WG_PROCESS_FOREGROUND=1" ip netns exec "$A" env WG_PROCESS_FOREGROUND=1 "$IMPL" "$WGT_IF_A"

# -- wg-quick up on both sides
mkdir -m 700 "$WGT_TMP/conf"
conf() {   # conf IF KEY PORT PEERKEY PEER_EP MY4 MY6 PEER4 PEER6
	(umask 077; cat >"$WGT_TMP/conf/$1.conf" <<-EOF
	[Interface]
	PrivateKey = $(cat "$WGT_TMP/$2.key")
	ListenPort = $3
	Address = $6/24, $7/64
	MTU = 1400

	[Peer]
	PublicKey = $(wgt_pub "$4")
	Endpoint = $5
	AllowedIPs = $8/32, $9/128
	EOF
	)
}
conf "$WGT_IF_A" a "$WGT_PORT_A" b "$WGT_UL_B:$WGT_PORT_B" "$WGT_IN_A" "$WGT_IN6_A" "$WGT_IN_B" "$WGT_IN6_B"
conf "$WGT_IF_B" b "$WGT_PORT_B" a "$WGT_UL_A:$WGT_PORT_A" "$WGT_IN_B" "$WGT_IN6_B" "$WGT_IN_A" "$WGT_IN6_A"

quick() {   # quick NS IMPL up|down IF
	timeout 30 ip netns exec "$1" env WG_QUICK_USERSPACE_IMPLEMENTATION="$2" \
		wg-quick "$3" "$WGT_TMP/conf/$4.conf" >>"$WGT_TMP/wg-quick-$4.log" 2>&1
}
show_quick_log() { sed 's/^/    /' "$WGT_TMP/wg-quick-$1.log"; }

if quick "$B" wireguard-go up "$WGT_IF_B"; then
	wgt_pass "$P peer: wg-quick up with wireguard-go"
else
	wgt_fail "$P peer: wg-quick up with wireguard-go"; show_quick_log "$WGT_IF_B"; exit 1
fi
if quick "$A" "$IMPL" up "$WGT_IF_A"; then
	wgt_pass "$P WG_QUICK_USERSPACE_IMPLEMENTATION=$IMPL wg-quick up returns 0"
else
	wgt_fail "$P WG_QUICK_USERSPACE_IMPLEMENTATION=$IMPL wg-quick up returns 0"
	show_quick_log "$WGT_IF_A"; exit 1
fi
pids=$(ip netns pids "$A")
wgt_check "$P daemon left running in the background after wg-quick up (pids in netns: ${pids:-none})" \
	[ -n "$pids" ]
wgt_check "$P UAPI socket answers" wgt_sock_ready "$WGT_IF_A"
wgt_check "$P wg-quick set the address and MTU 1400 on the TUN" eval \
	'ip -n "$A" addr show dev "$WGT_IF_A" | grep -q "inet $WGT_IN_A/24" &&
	 ip -n "$A" link show dev "$WGT_IF_A" | grep -q "mtu 1400 "'
wgt_check "$P ping IPv4 A->B" wgt_ping "$A" "$WGT_IN_B"
wgt_check "$P ping IPv4 B->A" wgt_ping "$B" "$WGT_IN_A"
wgt_check "$P ping IPv6 A->B" wgt_ping "$A" "$WGT_IN6_B"
wgt_check "$P ping IPv6 B->A" wgt_ping "$B" "$WGT_IN6_A"
wgt_check "$P ping IPv4 A->B with 1372-byte payload (full 1400 MTU)" \
	eval 'ip netns exec "$A" ping -n -q -c 3 -i 0.2 -w 10 -M do -s 1372 "$WGT_IN_B" >/dev/null'

if quick "$A" "$IMPL" down "$WGT_IF_A"; then
	wgt_pass "$P wg-quick down returns 0"
else
	wgt_fail "$P wg-quick down returns 0"; show_quick_log "$WGT_IF_A"
fi
gone=0
for i in $(seq 50); do
	[ -z "$(ip netns pids "$A")" ] && [ ! -e "$WGT_UAPI_DIR/$WGT_IF_A.sock" ] && { gone=1; break; }
	sleep 0.1
done
wgt_check "$P after wg-quick down the daemon exits and removes its socket within 5 s" [ "$gone" = 1 ]
quick "$B" wireguard-go down "$WGT_IF_B" || show_quick_log "$WGT_IF_B"

[ "$WGT_FAILS" -gt 0 ] && { echo "--- wg-quick log (A):"; show_quick_log "$WGT_IF_A"; }
echo "=== wg-quick: $WGT_PASSES passed, $WGT_FAILS failed ($IMPL)"
[ "$WGT_FAILS" -eq 0 ]
