#!/bin/bash
# SPDX-License-Identifier: MIT
# OS DNS, systemd-resolved mode (daemon/netcfg/hyphae-os-dns-resolved.c),
# against a real systemd-resolved 252 run in node A's namespace, without
# systemd as PID 1 and without installing it: the .deb that .ci/setup
# downloads into ~/.cache/hyphae-resolved (HYPHAE_RESOLVED_DEB overrides) is
# unpacked into the test's directory. In a private mount namespace: passwd and
# group copies with its user, a scratch /run/systemd, the resolve1 bus policy
# on A's private system bus (dbus-lib.sh), a real polkitd. hyphaed reads a
# resolv.conf that names resolved's stub (HYPHAE_RESOLV_CONF), as on a
# laptop, and A joins the Go control server's tailnet (MagicDNS on).
#   - Running: `resolvectl status hyphae0` has 100.100.100.100 and
#     fd7a:115c:a1e0::53, the tailnet's domain as search domain, routing-only
#     domains (the reverse zones), no default route; `hyphaectl dns status`
#     says systemd-resolved;
#   - a peer's MagicDNS name resolves through resolved;
#   - an exit node in use: "~." and DefaultRoute on; cleared: off again;
#   - resolved restarted (killed and started again): hyphaed pushes again;
#   - `set --accept-dns=false`: RevertLink (the link keeps no DNS), true: back;
#   - down: RevertLink (resolved's debug log), no state file; kill -9 + --cleanup: nothing to undo
#     once the TUN is gone;
#   - `resolvectl query` of our MagicDNS name, its bare host name and its
#     address (PTR) through resolved → hyphae0 → MagicDNS (100.100.100.100 in
#     the data path, daemon/dns);
set -u

. "$(dirname "$0")/os-dns-lib.sh"

DEB=${HYPHAE_RESOLVED_DEB:-}
if [ -z "$DEB" ]; then
	for DEB in "${XDG_CACHE_HOME:-$HOME/.cache}"/hyphae-resolved/systemd-resolved_*.deb; do :; done
fi
[ -f "$DEB" ] || wgt_cannot_run "no systemd-resolved .deb (run .ci/setup: it downloads one into ~/.cache/hyphae-resolved)"
command -v dpkg-deb >/dev/null || wgt_cannot_run "no dpkg-deb"

RX=$MESH_DIR/resolved-root
mkdir -p "$RX" && dpkg-deb -x "$DEB" "$RX" || wgt_cannot_run "cannot unpack $DEB"
RESOLVED=$RX/lib/systemd/systemd-resolved
RESOLVECTL=$RX/usr/bin/resolvectl
[ -x "$RESOLVED" ] && [ -x "$RESOLVECTL" ] || wgt_cannot_run "$DEB has no systemd-resolved/resolvectl"

# Its user, only in this mount namespace.
for f in passwd group; do cp "/etc/$f" "$MESH_DIR/$f"; done
if ! getent passwd systemd-resolve >/dev/null; then
	echo "systemd-resolve:x:64953:64953:systemd Resolver:/:/usr/sbin/nologin" >>"$MESH_DIR/passwd"
	echo "systemd-resolve:x:64953:" >>"$MESH_DIR/group"
fi
mount --bind "$MESH_DIR/passwd" /etc/passwd && mount --bind "$MESH_DIR/group" /etc/group ||
	wgt_cannot_run "cannot bind-mount passwd/group"
# A scratch /run/systemd (resolved keeps its state and stub files there).
mkdir -p /run/systemd "$MESH_DIR/run-systemd/resolve/netif" &&
	chown -R systemd-resolve:systemd-resolve "$MESH_DIR/run-systemd/resolve" &&
	mount --bind "$MESH_DIR/run-systemd" /run/systemd || wgt_cannot_run "cannot mount a scratch /run/systemd"
# What hyphaed reads to choose its mode: resolved's stub file, as on a laptop.
printf '# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).\n# Do not edit.\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n' \
	>"$MESH_DIR/stub-resolv.conf"
export DBL_RESOLV_CONF=$MESH_DIR/stub-resolv.conf

T0=$(date +%s)
STATE=$MESH_DIR/a/state
RESOLVED_PID=
ctl() { mesh_ctl a "$@"; }
rctl() { dbl_run a "$RESOLVECTL" --no-pager "$@"; }
resolved_start() {
	dbl_prefix a
	"${DBL_PREFIX[@]}" env DBUS_SYSTEM_BUS_ADDRESS="$(dbl_addr a)" SYSTEMD_LOG_LEVEL=debug \
		"$RESOLVED" >>"$MESH_DIR/resolved.log" 2>&1 </dev/null &
	RESOLVED_PID=$!
	dbl_run a gdbus wait --system --timeout 20 org.freedesktop.resolve1
}
resolved_stop() { [ -n "$RESOLVED_PID" ] && wgt_kill_pid "$RESOLVED_PID"; RESOLVED_PID=; }
# link_status: `resolvectl status hyphae0` into $MESH_DIR/link.out.
link_status() { rctl status "$MESH_IF" >"$MESH_DIR/link.out" 2>&1; }
link_has() { link_status && grep -qE "$1" "$MESH_DIR/link.out"; }
link_lacks() { link_status && ! grep -qE "$1" "$MESH_DIR/link.out"; }
dns_pushed() { link_has 'DNS Servers: 100\.100\.100\.100 fd7a:115c:a1e0::53'; }
dns_gone() { link_lacks 'DNS Servers:'; }
query_gives() { rctl query "$1" >"$MESH_DIR/query.out" 2>&1 && grep -qF "$2" "$MESH_DIR/query.out"; }
suffix() { osdns_self_name | cut -d. -f2-; }

finish() {
	resolved_stop
	if [ "$WGT_FAILS" != 0 ]; then
		wgt_log "--- resolvectl status $MESH_IF:"; sed 's/^/    /' "$MESH_DIR/link.out" >&2
		wgt_log "--- end of resolved.log:"; tail -n 40 "$MESH_DIR/resolved.log" | sed 's/^/    /' >&2
	fi
	mesh_finish os-dns-resolved "$T0"
}

mesh_topology || wgt_cannot_run "cannot build the namespaces"
# -approve-routes: the exit-node peer's /0s are approved (ExitNodeOption).
mesh_server_start -approve-routes || { wgt_fail "control server starts"; finish; }
dbl_install_policy "$MESH_DATA_DIR" &&
	install -m 644 "$RX/usr/share/polkit-1/actions/org.freedesktop.resolve1.policy" "$DBL_ACTIONS/" &&
	mkdir -p "$MESH_DIR/a/system.d" "$MESH_DIR/a/uapi" &&
	cp "$RX/usr/share/dbus-1/system.d/org.freedesktop.resolve1.conf" "$MESH_DIR/a/system.d/" &&
	dbl_bus_start a "$MESH_NS_A" "$STATE" --ifname "$MESH_IF" --uapi-dir "$MESH_DIR/a/uapi" ||
	{ wgt_fail "node A's bus starts"; finish; }
check "systemd-resolved runs in A's namespace and owns org.freedesktop.resolve1" resolved_start || finish

# ---- Running: per-link DNS
check "up: A is Running" mesh_up a
check "resolvectl status $MESH_IF: our nameservers" wait_for 10 dns_pushed
SUFFIX=$(suffix)
check "… the MagicDNS suffix ($SUFFIX) as a search domain" grep -qE "DNS Domain: (.* )?${SUFFIX//./\\.}( |$)" "$MESH_DIR/link.out"
check "… the reverse zones as routing-only domains" grep -qE '~64\.100\.in-addr\.arpa' "$MESH_DIR/link.out"
check "… not the default route" grep -qE 'Protocols: .*-DefaultRoute' "$MESH_DIR/link.out"
check "… no catch-all" link_lacks 'DNS Domain: .*~\.( |$)'
check "… LLMNR and mDNS off" grep -qE 'Protocols: .*-LLMNR -mDNS' "$MESH_DIR/link.out"
ctl dns status >"$MESH_DIR/dns.out" 2>&1
check "hyphaectl dns status: systemd-resolved mode" grep -q '^Mode: *systemd-resolved' "$MESH_DIR/dns.out"
check "… no error" grep -q '^Error: *-$' "$MESH_DIR/dns.out"
ctl status >"$MESH_DIR/status.out" 2>&1
check "hyphaectl status: the DNS line" grep -q '^# DNS (systemd-resolved): 100.100.100.100' "$MESH_DIR/status.out"

# ---- an exit node in use: every name to MagicDNS ("~." + DefaultRoute)
ip netns exec "$MESH_NS_B" "$(mesh_server_bin)" -role mapclient -url "$MESH_URL" -auth-key "$MESH_AUTHKEY" \
	-hostname exit-peer -endpoints "$MESH_IP_B:41999" -routes 0.0.0.0/0,::/0 -timeout 600s \
	>"$MESH_DIR/exit-peer.out" 2>&1 </dev/null &
EXIT_PID=$!
peer_seen() { mesh_status a && [ -n "$(mesh_json a peer exit-peer)" ]; }
check "an exit-node peer joins" wait_for 30 peer_seen
PEER_V4=$(mesh_json a peer exit-peer | cut -d' ' -f1)
check "resolvectl query exit-peer.$SUFFIX: the peer's address (MagicDNS through resolved)" \
	query_gives "exit-peer.$SUFFIX" "$PEER_V4"
check "set --exit-node exit-peer" ctl set --exit-node exit-peer
check "… resolvectl: the catch-all ~. and DefaultRoute" wait_for 10 link_has 'Protocols: .*\+DefaultRoute'
check "… ~." grep -qE 'DNS Domain: .*~\.( |$)' "$MESH_DIR/link.out"
check "set --exit-node= clears it" ctl set --exit-node=
check "… split DNS again: no ~., no DefaultRoute" wait_for 10 link_has 'Protocols: .*-DefaultRoute'
check "… no ~." link_lacks 'DNS Domain: .*~\.( |$)'
wgt_kill_pid "$EXIT_PID"

# ---- resolved restarts: pushed again
resolved_stop
resolved_start || wgt_fail "systemd-resolved starts again"
check "resolved restarted: hyphaed pushed the link's DNS again" wait_for 20 dns_pushed

# ---- CorpDNS off: RevertLink
check "set --accept-dns=false" ctl set --accept-dns=false
check "… RevertLink: $MESH_IF has no DNS servers" wait_for 10 dns_gone
ctl dns status >"$MESH_DIR/dns.out" 2>&1
check "… dns status: no nameservers" grep -q '^Nameservers: *-$' "$MESH_DIR/dns.out"
check "set --accept-dns=true: back" ctl set --accept-dns=true
check "… our nameservers again" wait_for 10 dns_pushed

# ---- names through resolved → hyphae0 → MagicDNS (100.100.100.100 in the data path)
SELF_NAME=$(osdns_self_name)
SELF_V4=$(mesh_json a self4)
check "resolvectl query $SELF_NAME: our address, through link $MESH_IF" query_gives "$SELF_NAME" "$SELF_V4"
check "… answered on $MESH_IF" grep -qF "link: $MESH_IF" "$MESH_DIR/query.out"
check "resolvectl query of the bare host name (search domain)" query_gives "${SELF_NAME%%.*}" "$SELF_V4"
check "resolvectl query of its address: the PTR through the reverse zones" query_gives "$SELF_V4" "$SELF_NAME"

# ---- down, crash
reverts() { grep -c 'member=RevertLink' "$MESH_DIR/resolved.log"; }
REVERTS=$(reverts)
check "down" ctl down
check "… RevertLink reached resolved before the TUN went" test "$(reverts)" -gt "$REVERTS"
check "… no OS DNS state left" test ! -e "$STATE/os-dns.state"
check "… resolved has no $MESH_IF any more" wait_for 10 link_lacks 'DNS Servers: 100'
check "up" mesh_up a
check "… pushed" wait_for 10 dns_pushed
check "kill -9 hyphaed" osdns_kill9
check "hyphaed --cleanup: nothing to undo once the TUN is gone (exit 0)" \
	ip netns exec "$MESH_NS_A" env DBUS_SYSTEM_BUS_ADDRESS="$(dbl_addr a)" "$HYPHAED" --cleanup --state-dir "$STATE"
check "… state file removed" test ! -e "$STATE/os-dns.state"

finish
