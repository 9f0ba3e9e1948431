#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds the real Tailscale programs the tests run against (tailscaled,
# tailscale, derper from tailscale.com as go.mod pins it) and our Go mains
# (cmd/*: testcontrol, ...) into OUTDIR/bin:
#
#   tests/tailscale/build.sh OUTDIR
#
# OUTDIR is also the cache: a build is skipped when OUTDIR's stamp matches
# go.mod, go.sum, this script and the Go version (for cmd/*, their sources
# too), so a second run costs seconds. .ci/setup calls it with
# ${XDG_CACHE_HOME:-$HOME/.cache}/hyphae-tailscale, where tests/tailscale/meson.build
# looks (unless HYPHAE_TS_BIN_DIR names another bin directory).
#
# Go: the first of $GO, `go` on PATH, /usr/local/go/bin/go and a toolchain
# fetched before into OUTDIR/go that is at least go.mod's version. With none
# (Debian 12 has Go 1.19), Debian's go fetches that toolchain from the Go
# module proxy (golang.org/toolchain is a module like any other) into
# OUTDIR/go. Nothing is fetched but modules from the proxy (GOPROXY as set,
# proxy.golang.org by default); GOTOOLCHAIN=local, so go never switches by itself.
set -euo pipefail
[ $# = 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
out=$1
src=$(cd "$(dirname "$0")" && pwd)
TOOLCHAIN=go1.26.8          # fetched when no Go new enough is installed
export GOTOOLCHAIN=local
unset GOFLAGS GOROOT

log() { printf 'tailscale build: %s\n' "$*" >&2; }

mkdir -p "$out"
out=$(cd "$out" && pwd)
# One build at a time per OUTDIR (parallel test runs share it).
exec 9>"$out/.lock"
flock 9

need=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$src/go.mod")

# version_ok GO: GO runs and is at least go.mod's `go` version.
version_ok() {
	local v
	v=$("$1" env GOVERSION 2>/dev/null) || return 1
	v=${v#go}
	[ "$(printf '%s\n%s\n' "$need" "${v%%[-+ ]*}" | sort -V | head -n1)" = "$need" ]
}

find_go() {
	local g
	for g in ${GO:-} "$(command -v go || true)" /usr/local/go/bin/go "$out/go/bin/go"; do
		[ -n "$g" ] && [ -x "$g" ] && version_ok "$g" && { echo "$g"; return 0; }
	done
	return 1
}

# fetch_toolchain: $TOOLCHAIN from the module proxy into $out/go, with
# whatever go is installed (module zips keep no modes: the tools get +x back).
fetch_toolchain() {
	local old dir
	old=$(command -v go) || { log "no go at all (Debian: apt-get install golang-go)"; return 1; }
	log "fetching $TOOLCHAIN with $($old version)"
	dir=$(cd / && "$old" mod download -json "golang.org/toolchain@v0.0.1-$TOOLCHAIN.linux-amd64" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[ -n "$dir" ] && [ -d "$dir" ] || { log "go mod download gave no directory"; return 1; }
	rm -rf "$out/go.new"
	cp -r "$dir" "$out/go.new"
	chmod -R u+w "$out/go.new"
	chmod +x "$out/go.new"/bin/* "$out/go.new"/pkg/tool/*/*
	rm -rf "$out/go"
	mv "$out/go.new" "$out/go"
}

GO=$(find_go) || { fetch_toolchain && GO=$(find_go); } || {
	log "no Go >= $need"; exit 1; }
gover=$("$GO" env GOVERSION)

hash_of() { cat "$@" | sha256sum | cut -c1-64; }
key_ts=$(printf '%s\n' "$gover" "$(hash_of "$src/go.mod" "$src/go.sum" "$0")")
cmd_files=$(cd "$src" && find cmd -type f | LC_ALL=C sort)
key_cmd=$(printf '%s\n' "$key_ts" "$(cd "$src" && hash_of $cmd_files)" $cmd_files)

mkdir -p "$out/bin"
cd "$src"
# build STAMPNAME KEY PACKAGES...: build unless the stamp says it is current.
build() {
	local stamp=$out/$1 key=$2 t0 tmp; shift 2
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ]; then
		log "$* current in $out/bin"
		return 0
	fi
	t0=$(date +%s)
	tmp=$(mktemp -d "$out/bin.XXXXXX")
	"$GO" build -o "$tmp/" "$@" || { rm -rf "$tmp"; return 1; }
	mv -f "$tmp"/* "$out/bin/"
	rmdir "$tmp"
	printf '%s\n' "$key" >"$stamp"
	log "built $* with $gover in $(($(date +%s) - t0)) s"
}
build stamp-tailscale "$key_ts" tailscale.com/cmd/tailscaled tailscale.com/cmd/tailscale tailscale.com/cmd/derper
build stamp-cmd "$key_cmd" ./cmd/...
ls "$out/bin"
