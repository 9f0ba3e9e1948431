#!/bin/bash
# SPDX-License-Identifier: MIT
# hyphae-derp against Tailscale's own client code, in a namespace of its own:
#   - derphttp clients (tests/tailscale/cmd/derp-check) over TLS pinned by the
#     CertName hyphae-derp prints, over TLS with InsecureForTests, and over plain
#     HTTP: packets both ways with contents checked, ping, newest-connection-wins,
#     PeerGone(disconnected) and PeerGone(not-here);
#   - a Tailscale STUN client gets its reflexive address;
#   - hostile clients (junk before the upgrade, an endless header, a ClientInfo
#     that does not open, a 2 GiB frame header, an unknown frame, a client that
#     never reads) are closed or skipped while others keep relaying, and the
#     metrics count them; /debug/metrics is loopback-only by default;
#   - the key file is made 0600 and kept across restarts; SIGTERM ends it with 0.
# Needs root; derp-check is $HYPHAE_DERP_CHECK or built here from tests/tailscale.
set -u
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

wgt_require_root
wgt_require_cmds openssl ip
[ -n "${HYPHAE_DERP:-}" ] && [ -x "$HYPHAE_DERP" ] || wgt_cannot_run "HYPHAE_DERP is not set to hyphae-derp"

src_root=$(cd "$WGT_TESTS_DIR/../.." && pwd)
# derp-check: $HYPHAE_DERP_CHECK (tests/tailscale/build.sh's, named by meson)
# when it is there, else built here from this tree with a Go that can.
check=${HYPHAE_DERP_CHECK:-}
[ -n "$check" ] && [ -x "$check" ] || check=
if [ -z "$check" ]; then
	for go in ${GO:-} "$(command -v go || true)" /usr/local/go/bin/go "${HYPHAE_TS_BIN_DIR:-/nonexistent}/../go/bin/go"; do
		[ -n "$go" ] && [ -x "$go" ] || continue
		(cd "$src_root/tests/tailscale" && GOTOOLCHAIN=local GOFLAGS=-mod=mod "$go" build -o "$WGT_TMP/derp-check" ./cmd/derp-check) \
			>"$WGT_TMP/go-build.log" 2>&1 && check=$WGT_TMP/derp-check && break
	done
fi
[ -n "$check" ] || wgt_cannot_run "no derp-check: no Go toolchain builds tests/tailscale/cmd/derp-check ($(tail -n 3 "$WGT_TMP/go-build.log" 2>/dev/null))"

NS=hyD$$
IP=10.203.0.1
wgt_netns_add "$NS" || wgt_cannot_run "cannot make a network namespace"
ip -n "$NS" addr add "$IP/32" dev lo
in_ns() { ip netns exec "$NS" "$@"; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-keyout "$WGT_TMP/key.pem" -out "$WGT_TMP/cert.pem" -subj "/CN=$IP" \
	-addext "subjectAltName=IP:$IP" 2>/dev/null || wgt_cannot_run "openssl cannot make a certificate"

# derp_start NAME ARGS...: hyphae-derp in the namespace; waits for its DERPNode line.
derp_start() {
	local name=$1 i; shift
	# Not through in_ns: $! must be hyphae-derp itself (ip netns exec execs it).
	ip netns exec "$NS" "$HYPHAE_DERP" "$@" >"$WGT_TMP/$name.out" 2>"$WGT_TMP/$name.err" &
	WGT_PID[$name]=$!
	for i in $(seq 200); do
		grep -q '^hyphae-derp: DERPNode ' "$WGT_TMP/$name.out" 2>/dev/null && return 0
		kill -0 "${WGT_PID[$name]}" 2>/dev/null || break
		sleep 0.1
	done
	wgt_log "hyphae-derp ($name) did not start:"; sed 's/^/    /' "$WGT_TMP/$name.err" >&2
	return 1
}
# derp_stop NAME: SIGTERM; PASS when it exits 0 within 20 s.
derp_stop() {
	local name=$1 pid=${WGT_PID[$1]} i rc
	kill -TERM "$pid"
	for i in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	wait "$pid"; rc=$?
	unset "WGT_PID[$name]"
	if [ "$rc" = 0 ]; then wgt_pass "$name: SIGTERM: clean exit"; else
		wgt_fail "$name: SIGTERM: exit $rc"; sed 's/^/    /' "$WGT_TMP/$name.err" | tail -30 >&2; fi
}
field() { sed -n "s/^hyphae-derp: $2 \([^ ]*\).*/\1/p" "$WGT_TMP/$1.out"; }
run_check() {   # run_check NAME derp-check ARGS...
	local name=$1; shift
	if in_ns "$check" "$@" >"$WGT_TMP/check.log" 2>&1; then
		wgt_pass "$name"; sed -n 's/.*PASS /    /p' "$WGT_TMP/check.log"
	else
		wgt_fail "$name"; tail -20 "$WGT_TMP/check.log" | sed 's/^/    /'
	fi
}

# ---- TLS ---------------------------------------------------------------------
derp_start tls --listen 0.0.0.0:8443 --stun "$IP:3478" --tls-cert "$WGT_TMP/cert.pem" \
	--tls-key "$WGT_TMP/key.pem" --key-file "$WGT_TMP/derp.key" || exit 1
cert_name=$(field tls CertName)
want=sha256-raw:$(openssl x509 -in "$WGT_TMP/cert.pem" -outform DER | sha256sum | cut -d' ' -f1)
wgt_check "CertName printed is the certificate's DER hash" [ "$cert_name" = "$want" ]
wgt_check "key file made 0600" [ "$(stat -c %a "$WGT_TMP/derp.key")" = 600 ]
pub=$(field tls 'public key')

run_check "derphttp over TLS pinned by CertName" relay -url "https://$IP:8443/derp" -cert-name "$cert_name" -n 2000
run_check "derphttp over TLS with InsecureForTests" relay -url "https://$IP:8443/derp" -insecure -n 300
if in_ns "$check" relay -url "https://$IP:8443/derp" -cert-name "sha256-raw:$(printf '%064d' 0)" -n 1 \
	>"$WGT_TMP/check.log" 2>&1; then
	wgt_fail "a CertName of another certificate was accepted"
else
	wgt_pass "a CertName of another certificate: the client refuses the server"
fi
run_check "Tailscale's STUN client gets its reflexive address" stun -addr "$IP:3478"
run_check "hostile clients closed or skipped, others relay, metrics count" \
	hostile -url "https://$IP:8443/derp" -insecure -metrics-url "https://127.0.0.1:8443/debug/metrics"
if in_ns "$check" metrics -metrics-url "https://$IP:8443/debug/metrics" >/dev/null 2>&1; then
	wgt_fail "/debug/metrics answered a non-loopback address"
else
	wgt_pass "/debug/metrics refused to a non-loopback address"
fi
wgt_check "hyphae-derp is still up" kill -0 "${WGT_PID[tls]}"
derp_stop tls

# Same key after a restart.
derp_start tls2 --listen "$IP:8443" --stun-port -1 --tls-cert "$WGT_TMP/cert.pem" \
	--tls-key "$WGT_TMP/key.pem" --key-file "$WGT_TMP/derp.key" || exit 1
wgt_check "the key file keeps the server key" [ "$(field tls2 'public key')" = "$pub" ]
derp_stop tls2

# ---- plain HTTP ----------------------------------------------------------------
derp_start http --http --listen "$IP:8080" --stun-port -1 --key-file "$WGT_TMP/derp-http.key" || exit 1
run_check "derphttp over plain HTTP" relay -url "http://$IP:8080/derp" -n 300
derp_stop http

if grep -qE 'ERROR|runtime error' "$WGT_TMP"/*.err; then
	wgt_fail "sanitizer or assertion reports"; grep -hA20 -E 'ERROR|runtime error' "$WGT_TMP"/*.err | head -60 >&2
fi
echo "$WGT_PASSES passed, $WGT_FAILS failed"
[ "$WGT_FAILS" = 0 ]
