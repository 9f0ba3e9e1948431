#!/bin/bash
# SPDX-License-Identifier: MIT
# WireGuard interoperability in two network namespaces (after the kernel's
# tools/testing/selftests/wireguard/netns.sh): hyphaed against wireguard-go,
# both ways round, and against itself.
#
#   HYPHAED=build/daemon/service/hyphaed tests/integration/wg-interop.sh
#
# Environment:
#   HYPHAED                path of hyphaed (meson sets it)
#   WG_INTEROP_PAIRS       space-separated A:B pairs to run instead of the default
#                          "hyphaed:wireguard-go wireguard-go:hyphaed hyphaed:hyphaed"
#                          (an element is hyphaed, wireguard-go or a path to a program
#                          with wireguard-go's calling convention)
#   WG_INTEROP_SELFCHECK=1 also run wireguard-go:wireguard-go (checks the harness)
#   WG_INTEROP_MIB         size of each transfer, MiB (64)
#
# Per pair (A initiates, sends the bulk data and roams; B is junked and restarted):
#   ping 4/6 both ways; latest-handshakes != 0 on both ends; 64 MiB A->B with SHA-256;
#   transfer counters (rule below); 64 MiB A->B again while wg-junk.py throws hostile
#   datagrams at B (no reply to the junk source, SHA-256 still matches, B's endpoint
#   for A unchanged); roaming (A's address, then its port, change; B's endpoint follows);
#   B SIGTERMed (exits, socket removed), restarted with the same key: ping works and
#   A's latest handshake advanced.
# Exit 0 if every check passed, 1 otherwise, 77 when it cannot run outside CI.
set -u
. "$(dirname "$0")/lib.sh"

wgt_require_root
wgt_require_cmds wg ip ping timeout "$WGT_PY"

MIB=${WG_INTEROP_MIB:-64}
BYTES=$((MIB * 1024 * 1024))
XFER="$WGT_TESTS_DIR/wg-xfer.py"
JUNK="$WGT_TESTS_DIR/wg-junk.py"
ROAM_ADDR=10.200.0.11
ROAM_PORT=51830
JUNK_ADDR=10.200.0.66

if [ -n "${WG_INTEROP_PAIRS:-}" ]; then
	PAIRS=$WG_INTEROP_PAIRS
else
	PAIRS="hyphaed:wireguard-go wireguard-go:hyphaed hyphaed:hyphaed"
	[ "${WG_INTEROP_SELFCHECK:-0}" = 1 ] && PAIRS="$PAIRS wireguard-go:wireguard-go"
fi

# xfer_start TAG [MINSEC]: $BYTES from A to B's inner address (lasting >= MINSEC s);
# xfer_finish TAG waits for both ends and sets XFER_DETAIL.
# The receiver runs in B, the sender in A; both are bounded by `timeout`.
xfer_start() {
	local tag=$1 minsec=${2:-0}
	rm -f "$WGT_TMP/$tag".{ready,recv,send}
	timeout 90 ip netns exec "$WGT_NS_B" "$WGT_PY" "$XFER" recv "$WGT_IN_B" 5001 "$WGT_TMP/$tag.ready" \
		>"$WGT_TMP/$tag.recv" 2>&1 &
	XFER_RECV_PID=$!
	local i
	for i in $(seq 50); do [ -e "$WGT_TMP/$tag.ready" ] && break; sleep 0.1; done
	timeout 90 ip netns exec "$WGT_NS_A" "$WGT_PY" "$XFER" send "$WGT_IN_B" 5001 "$BYTES" "$minsec" \
		>"$WGT_TMP/$tag.send" 2>&1 &
	XFER_SEND_PID=$!
}
xfer_finish() {   # xfer_finish TAG: waits, compares; returns 0 if the hashes match
	local tag=$1 s r
	wait "$XFER_SEND_PID"; wait "$XFER_RECV_PID"
	s=$(tail -n1 "$WGT_TMP/$tag.send"); r=$(tail -n1 "$WGT_TMP/$tag.recv")
	XFER_DETAIL="sent '$s' received '$r'"
	[ -n "$s" ] && [ "$s" = "$r" ] && [ "${s%% *}" = "$BYTES" ]
}

hs_of() { wgt_wg_field "$1" "$2" latest-handshakes; }

run_pair() {
	local ia=$1 ib=$2 p="[$1>$2]" t0 t1 s
	local A=$WGT_NS_A B=$WGT_NS_B
	echo "=== pair A=$ia B=$ib (ns $A $B, if $WGT_IF_A $WGT_IF_B)"
	if ! wgt_pair_up "$ia" "$ib"; then
		wgt_fail "$p setup: start both implementations and configure them with wg"
		wgt_pair_down
		return
	fi
	wgt_pass "$p setup: both UAPI sockets answer, wg set accepted"

	# -- reachability over the tunnel, both families, both directions
	wgt_check "$p ping IPv4 A->B" wgt_ping "$A" "$WGT_IN_B"
	wgt_check "$p ping IPv4 B->A" wgt_ping "$B" "$WGT_IN_A"
	wgt_check "$p ping IPv6 A->B" wgt_ping "$A" "$WGT_IN6_B"
	wgt_check "$p ping IPv6 B->A" wgt_ping "$B" "$WGT_IN6_A"
	if [ "$WGT_FAILS" -ge $((FAILS_BEFORE + 4)) ]; then
		wgt_fail "$p the tunnel never came up: the other checks of this pair were not run"
		wgt_dump_log "$WGT_IF_A"; wgt_dump_log "$WGT_IF_B"
		wgt_pair_down
		return
	fi
	local hsa hsb
	hsa=$(hs_of "$A" "$WGT_IF_A"); hsb=$(hs_of "$B" "$WGT_IF_B")
	if [ "${hsa:-0}" -gt 0 ] 2>/dev/null && [ "${hsb:-0}" -gt 0 ] 2>/dev/null; then
		wgt_pass "$p latest-handshakes nonzero on both ends (A $hsa, B $hsb)"
	else
		wgt_fail "$p latest-handshakes nonzero on both ends (A '${hsa}', B '${hsb}')"
	fi

	# -- bulk transfer with an end-to-end hash
	t0=$(date +%s.%N)
	xfer_start x1
	if xfer_finish x1; then
		t1=$(date +%s.%N)
		wgt_pass "$p ${MIB} MiB TCP A->B, sha256 matches ($(awk -v b="$BYTES" -v a="$t0" -v c="$t1" \
			'BEGIN { printf "%.2f s, %.0f Mbit/s", c - a, b * 8 / (c - a) / 1e6 }'))"
	else
		wgt_fail "$p ${MIB} MiB TCP A->B, sha256 matches: $XFER_DETAIL"
	fi

	# -- transfer counters.  Rule (every byte counted is a whole UDP payload of an
	# authenticated datagram, as in wireguard-go and kernel WireGuard; drops only make
	# the receiver's count smaller):
	#   B.rx <= A.tx   (B read first, then A: A's count can only have grown since)
	#   A.rx <= B.tx   (A read first, then B)
	#   B.rx >= MIB MiB and A.tx >= MIB MiB (the payload alone is that big)
	#   B.rx >= 0.6 * A.tx (≈: wireguard-go loses ~13 % here to UDP receive-buffer
	#                      overflows; a double-counted tx would give < 0.5)
	local b1 a1 a2 b2 a_tx b_rx a_rx b_tx
	sleep 0.5
	b1=$(wgt_wg_field "$B" "$WGT_IF_B" transfer); a1=$(wgt_wg_field "$A" "$WGT_IF_A" transfer)
	a2=$(wgt_wg_field "$A" "$WGT_IF_A" transfer); b2=$(wgt_wg_field "$B" "$WGT_IF_B" transfer)
	b_rx=${b1%% *}; a_tx=${a1##* }; a_rx=${a2%% *}; b_tx=${b2##* }
	if [ -n "$b_rx" ] && [ -n "$a_tx" ] && [ -n "$a_rx" ] && [ -n "$b_tx" ] &&
		awk -v brx="$b_rx" -v atx="$a_tx" -v arx="$a_rx" -v btx="$b_tx" -v min="$BYTES" \
			'BEGIN { exit !(brx <= atx && arx <= btx && brx >= min && atx >= min && brx >= 0.6 * atx) }'; then
		wgt_pass "$p transfer counters consistent (A tx $a_tx >= B rx $b_rx >= ${MIB} MiB, B rx/A tx $(awk -v a="$b_rx" -v b="$a_tx" 'BEGIN { printf "%.3f", a / b }'); B tx $b_tx >= A rx $a_rx)"
	else
		wgt_fail "$p transfer counters: want ${MIB} MiB <= B.rx <= A.tx, B.rx >= 0.6 A.tx, A.rx <= B.tx;" \
			"got A '$a1'/'$a2' (rx tx), B '$b1'/'$b2'"
	fi

	# -- hostile datagrams at B during a transfer (paced to last >= 2 s)
	ip -n "$A" addr add "$JUNK_ADDR/24" dev va
	xfer_start x2 2
	timeout 60 ip netns exec "$A" "$WGT_PY" "$JUNK" --ifname va --peer "$WGT_UL_A:$WGT_PORT_A" \
		--target "$WGT_UL_B:$WGT_PORT_B" --junk-src "$JUNK_ADDR" --target-pub "$(wgt_pub b)" \
		--duration 1 --listen 2 >"$WGT_TMP/junk.out" 2>&1
	local jrc=$?
	sed 's/^/    /' "$WGT_TMP/junk.out"
	case $jrc in
	0) wgt_pass "$p junk/truncated/malformed/replayed/oversized datagrams at B: no reply to $JUNK_ADDR" ;;
	1) wgt_fail "$p junk datagrams at B got a forbidden reply (see above)" ;;
	*) wgt_fail "$p junk datagrams at B: could not run during a transfer (status $jrc)" ;;
	esac
	if xfer_finish x2; then
		wgt_pass "$p ${MIB} MiB TCP A->B under junk, sha256 matches"
	else
		wgt_fail "$p ${MIB} MiB TCP A->B under junk, sha256 matches: $XFER_DETAIL"
	fi
	s=$(wgt_wg_field "$B" "$WGT_IF_B" endpoints)
	wgt_check "$p B alive after junk, its endpoint for A still $WGT_UL_A:$WGT_PORT_A (got '$s')" \
		eval 'wgt_alive "$WGT_IF_B" && [ "$s" = "$WGT_UL_A:$WGT_PORT_A" ]'
	wgt_check "$p ping IPv4 A->B after junk" wgt_ping "$A" "$WGT_IN_B"
	ip -n "$A" addr del "$JUNK_ADDR/24" dev va

	# -- roaming (netns.sh): A's old source address is deleted and a new one added.
	# (1) With the socket unchanged, A must fail over to the new source (kernel WG does;
	# wireguard-go 0.0.20220316 does not on kernel >= 6.x: it drops its sticky source
	# only on EINVAL and the kernel now answers ENETUNREACH), so this is enforced
	# for hyphaed only.  (2) After A's listen-port changes too, B's endpoint must be
	# the new address and port, for every implementation.
	ip -n "$A" addr add "$ROAM_ADDR/24" dev va
	ip -n "$A" addr del "$WGT_UL_A/24" dev va
	local roam1=0
	wgt_ping "$A" "$WGT_IN_B" && s=$(wgt_wg_field "$B" "$WGT_IF_B" endpoints) &&
		[ "$s" = "$ROAM_ADDR:$WGT_PORT_A" ] && roam1=1
	local name="$p roaming: A's source address deleted, new one $ROAM_ADDR: ping A->B works and B's endpoint follows (got '${s:-}')"
	if [ "$roam1" = 1 ]; then wgt_pass "$name"
	elif [ "$ia" = hyphaed ]; then wgt_fail "$name"
	else echo "INFO $name: not supported by $ia (not enforced)"
	fi
	ip netns exec "$A" wg set "$WGT_IF_A" listen-port "$ROAM_PORT"
	wgt_check "$p ping IPv4 A->B after A's listen-port changed to $ROAM_PORT" wgt_ping "$A" "$WGT_IN_B"
	s=$(wgt_wg_field "$B" "$WGT_IF_B" endpoints)
	wgt_check "$p roaming: B's endpoint for A is now $ROAM_ADDR:$ROAM_PORT (got '$s')" \
		[ "$s" = "$ROAM_ADDR:$ROAM_PORT" ]
	wgt_check "$p ping IPv4 B->A after roaming" wgt_ping "$B" "$WGT_IN_A"

	# -- B restarts with the same key; a new handshake happens at once
	hsa=$(hs_of "$A" "$WGT_IF_A")
	wgt_check "$p B exits on SIGTERM and removes $WGT_UAPI_DIR/$WGT_IF_B.sock" wgt_stop "$WGT_IF_B"
	sleep 1.1   # handshake times have 1 s resolution
	if wgt_start "$B" "$ib" "$WGT_IF_B" && wgt_configure_b "$ROAM_ADDR:$ROAM_PORT"; then
		wgt_pass "$p B restarted and reconfigured with the same key"
		wgt_check "$p ping IPv4 B->A after B's restart" wgt_ping "$B" "$WGT_IN_A"
		wgt_check "$p ping IPv6 A->B after B's restart" wgt_ping "$A" "$WGT_IN6_B"
		s=$(hs_of "$A" "$WGT_IF_A")
		wgt_check "$p A's latest handshake advanced after B's restart ($hsa -> $s)" \
			[ "${s:-0}" -gt "${hsa:-0}" ]
	else
		wgt_fail "$p B restarted and reconfigured with the same key"
	fi

	wgt_check "$p A still running at the end" wgt_alive "$WGT_IF_A"
	if [ "$WGT_FAILS" -gt "$FAILS_BEFORE" ]; then wgt_dump_log "$WGT_IF_A"; wgt_dump_log "$WGT_IF_B"; fi
	wgt_pair_down
}

for pair in $PAIRS; do
	FAILS_BEFORE=$WGT_FAILS
	run_pair "${pair%%:*}" "${pair#*:}"
done

echo "=== wg-interop: $WGT_PASSES passed, $WGT_FAILS failed (pairs: $PAIRS)"
[ "$WGT_FAILS" -eq 0 ]
