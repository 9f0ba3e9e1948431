#!/bin/bash
# SPDX-License-Identifier: MIT
# OS DNS, direct mode (daemon/netcfg/hyphae-os-dns-direct.c): hyphaed writes
# /etc/resolv.conf itself when no systemd-resolved runs, and always puts the
# original back. The whole test runs in a private mount namespace where a
# temporary file is bind-mounted over /etc/resolv.conf (the host's is never
# touched; rename(2) onto a bind mount fails, so this also covers the
# in-place fallback). Node A of mesh-lib.sh joins the Go control server's
# tailnet, whose DNSConfig has MagicDNS on.
#   - Running: resolv.conf is ours (marker, nameserver 100.100.100.100, the
#     tailnet's search domain then the original's); glibc (getent) resolves our
#     MagicDNS name, and another name through MagicDNS's fallback, the
#     machine's own nameserver (dns-upstream.py in the hub); `hyphaectl dns
#     status` and `hyphaectl status` say direct mode;
#   - `hyphaectl down`: the original, byte for byte;
#   - `hyphaed --cleanup` while hyphaed runs leaves it alone (state dir lock);
#   - kill -9 while Running: still ours (nothing ran), then `hyphaed --cleanup`
#     (ExecStopPost) restores it byte for byte;
#   - kill -9 again, then the next hyphaed (activated by hyphaectl) recovers at
#     start (its log says so) and, Running again, down restores the original;
#   - logout restores it too;
#   - another program rewrites it while Running: ours goes back on top, and
#     down restores the other program's newer version.
set -u

. "$(dirname "$0")/os-dns-lib.sh"

RC=/etc/resolv.conf
ORIG=$MESH_DIR/resolv.conf.original
FAKE=$MESH_DIR/resolv.conf.mounted
STATE=$MESH_DIR/a/state
# No final newline, a comment, an option: what comes back must be these bytes.
# Its nameserver is dns-upstream.py in the hub (zone lan.example).
printf '# the machine'"'"'s own resolv.conf (os-dns-direct %s)\nnameserver %s\nsearch lan.example\noptions ndots:1' \
	"$WGT_ID" "$MESH_HUB_IP" >"$ORIG"
cp "$ORIG" "$FAKE" && chmod 644 "$FAKE"
mount --bind "$FAKE" "$RC" || wgt_cannot_run "cannot bind-mount over $RC"
# hyphaed (activated by the bus) writes the real path, inside this namespace.
export DBL_RESOLV_CONF=$RC

T0=$(date +%s)
is_ours() { head -n1 "$RC" | grep -q '^# resolv.conf(5) written by hyphaed' &&
	grep -qx 'nameserver 100.100.100.100' "$RC"; }
is_original() { cmp -s "$ORIG" "$RC"; }
ctl() { mesh_ctl a "$@"; }
running() { mesh_status a && mesh_is_running a; }

mesh_topology || wgt_cannot_run "cannot build the namespaces"
# The machine's own resolver, in the hub: A for NAME.lan.example is 192.0.2.10.
ip netns exec "$MESH_NS_HUB" "$WGT_PY" "$WGT_TESTS_DIR/dns-upstream.py" "$MESH_HUB_IP" 53 lan.example \
	"$MESH_DIR/upstream.log" "$MESH_DIR/upstream.ready" >"$MESH_DIR/upstream.out" 2>&1 </dev/null &
UPSTREAM_PID=$!
wait_for 10 test -e "$MESH_DIR/upstream.ready" || { wgt_fail "dns-upstream.py starts"; mesh_finish os-dns-direct "$T0"; }
mesh_server_start || { wgt_fail "control server starts"; mesh_finish os-dns-direct "$T0"; }
dbl_install_policy "$MESH_DATA_DIR" && mkdir -p "$MESH_DIR/a/uapi" &&
	dbl_bus_start a "$MESH_NS_A" "$STATE" --ifname "$MESH_IF" --uapi-dir "$MESH_DIR/a/uapi" ||
	{ wgt_fail "node A's bus starts"; mesh_finish os-dns-direct "$T0"; }

# ---- Running: ours
check "up: A is Running" mesh_up a
check "… resolv.conf is hyphaed's: marker, nameserver 100.100.100.100" is_ours
check "… search: the tailnet's domain first, then the machine's" grep -qE '^search [^ ]+ lan\.example$' "$RC"
check "… (in the bind-mounted test file, not the host's)" test "$(stat -c %i "$RC")" = "$(stat -c %i "$FAKE")"
# glibc in A's namespace reads our resolv.conf: 100.100.100.100, MagicDNS.
SELF_V4=$(mesh_status a && mesh_json a self4)
SELF_NAME=$(osdns_self_name)
resolves() { ip netns exec "$MESH_NS_A" getent hosts "$1" >"$MESH_DIR/getent.out" 2>&1 &&
	grep -q "^$2 " "$MESH_DIR/getent.out"; }
check "getent hosts $SELF_NAME: our address, from MagicDNS" resolves "$SELF_NAME" "$SELF_V4"
check "getent hosts www.lan.example: MagicDNS forwards it to the machine's own nameserver" \
	resolves www.lan.example 192.0.2.10
check "… which saw the query" grep -q 'www.lan.example' "$MESH_DIR/upstream.log"
ctl dns status >"$MESH_DIR/dns.out" 2>&1
check "dns status: direct mode" grep -q '^Mode: *direct' "$MESH_DIR/dns.out"
check "… nameservers" grep -q '^Nameservers: *100.100.100.100 fd7a:115c:a1e0::53$' "$MESH_DIR/dns.out"
check "… no error" grep -q '^Error: *-$' "$MESH_DIR/dns.out"
ctl status >"$MESH_DIR/status.out" 2>&1
check "status: the DNS line" grep -q '^# DNS (direct): 100.100.100.100 fd7a:115c:a1e0::53' "$MESH_DIR/status.out"
DNS_PROP=$(dbl_run a gdbus call --system --dest io.github.hyphae.Mesh1 --object-path /io/github/hyphae/Mesh1 \
	--method org.freedesktop.DBus.Properties.Get io.github.hyphae.Mesh1 DNS 2>&1)
check "… D-Bus DNS: Mode direct, DefaultRoute false" \
	grep -q "'Mode': <'direct'>.*'DefaultRoute': <false>" <<<"$DNS_PROP"

# ---- down: the original
check "down" ctl down
check "… resolv.conf is the original, byte for byte" is_original
check "… no OS DNS state left" test ! -e "$STATE/os-dns.state"

# ---- kill -9, then hyphaed --cleanup (ExecStopPost)
check "up again" mesh_up a
check "… ours again" is_ours
check "hyphaed --cleanup while hyphaed runs: nothing done (exit 0)" \
	ip netns exec "$MESH_NS_A" "$HYPHAED" --cleanup --state-dir "$STATE"
check "… resolv.conf is still the running daemon's" is_ours
check "kill -9 hyphaed" osdns_kill9
check "… resolv.conf is still ours (nothing could run)" is_ours
check "… the state file says what to undo" test -s "$STATE/os-dns.state"
check "hyphaed --cleanup --state-dir STATE exits 0" ip netns exec "$MESH_NS_A" "$HYPHAED" --cleanup --state-dir "$STATE"
check "… resolv.conf is the original, byte for byte" is_original
check "… state file gone" test ! -e "$STATE/os-dns.state"
check "a second --cleanup has nothing to do" ip netns exec "$MESH_NS_A" "$HYPHAED" --cleanup --state-dir "$STATE"

# ---- kill -9, then the next start recovers
# The killed daemon's TUN went with it; the next one (WantRunning) comes back.
check "the bus starts hyphaed again; Running" wait_for 60 running
check "… ours again" is_ours
check "kill -9 hyphaed again" osdns_kill9
check "… still ours" is_ours
check "the next hyphaed (activated by status) is Running again" wait_for 60 running
check "… its start restored the dead one's changes (log)" \
	grep -q 'OS DNS: restored what a previous hyphaed had changed' "$MESH_DIR/a/bus.log"
check "… ours while Running" is_ours
check "down" ctl down
check "… the original, byte for byte (the backup was never our own file)" is_original

# ---- logout
check "up" mesh_up a
check "… ours" is_ours
check "logout" ctl logout
check "… the original, byte for byte" is_original

# ---- another program (NetworkManager, DHCP) rewrites it while we run
NEWER=$MESH_DIR/resolv.conf.newer
printf '# Generated by NetworkManager\nnameserver %s\nsearch corp.example\n' "$MESH_HUB_IP" >"$NEWER"
check "up" mesh_up a
check "… ours" is_ours
cat "$NEWER" >"$RC"   # in place, as through the bind mount
check "rewritten by another program: ours goes back on top" wait_for 10 is_ours
check "… with the other program's search domain after ours" grep -qE '^search [^ ]+ corp\.example$' "$RC"
check "down" ctl down
check "… the other program's newer file comes back, not the first original" cmp -s "$NEWER" "$RC"
cat "$ORIG" >"$RC"

# ---- SIGTERM while Running (the daemon's own exit path)
check "up" mesh_up a
check "… ours" is_ours
check "SIGTERM: hyphaed exits" dbl_daemon_stop a
check "… the original, byte for byte" is_original

wgt_kill_pid "$UPSTREAM_PID"
umount "$RC" 2>/dev/null
mesh_finish os-dns-direct "$T0"
