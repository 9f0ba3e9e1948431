#!/bin/sh
# SPDX-License-Identifier: MIT
# hyphae-derp.service: `systemd-analyze security --offline=yes` must score it
# <= 1.5, with CAP_NET_BIND_SERVICE its only capability, and `systemd-analyze
# verify` must accept a copy whose ExecStart runs the built binary. Outside CI a
# missing systemd-analyze skips (77); in CI it is a failure.
#   check-unit.sh BUILD/server/derp/hyphae-derp.service BUILD/server/derp/hyphae-derp
set -u
unit=${1:?usage: $0 UNIT-FILE BINARY}
bin=${2:?usage: $0 UNIT-FILE BINARY}
if ! command -v systemd-analyze >/dev/null 2>&1; then
	if [ -n "${CI:-}" ]; then echo "FAIL systemd-analyze missing in CI"; exit 1; fi
	echo "SKIP systemd-analyze missing"; exit 77
fi
out=$(systemd-analyze security --offline=yes --no-pager --threshold=15 "$unit" 2>&1)
rc=$?
printf '%s\n' "$out" | grep -E '✗|Overall'
score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
if [ -z "$score" ] || [ "$rc" != 0 ] || awk -v s="$score" 'BEGIN { exit !(s > 1.5) }'; then
	echo "FAIL exposure '$score' > 1.5 (rc $rc)"; printf '%s\n' "$out"; exit 1
fi
echo "PASS exposure $score <= 1.5"
for want in 'DynamicUser=yes' 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE' 'AmbientCapabilities=CAP_NET_BIND_SERVICE'; do
	grep -qxF "$want" "$unit" || { echo "FAIL the unit lacks $want"; exit 1; }
done
echo "PASS a dynamic user with CAP_NET_BIND_SERVICE only"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|^ExecStart=[^ ]*|ExecStart=$bin|" "$unit" >"$tmp/hyphae-derp.service"
vout=$(systemd-analyze verify --no-pager "$tmp/hyphae-derp.service" 2>&1)
vrc=$?
if [ "$vrc" != 0 ] || [ -n "$vout" ]; then echo "FAIL systemd-analyze verify: $vout"; exit 1; fi
echo "PASS systemd-analyze verify"
