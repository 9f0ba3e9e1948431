#!/bin/sh
# SPDX-License-Identifier: MIT
# app-only-build.sh SRCDIR BUILDDIR: `meson setup -Ddaemon=false -Dtests=false`
# (what flatpak/io.github.hyphae.Hyphae.json builds) configures and builds the
# app alone in its own build dir (no sanitizers; incremental after the first
# run): the app is built, hyphaed and hyphaectl are not, and the app links
# none of the daemon's libraries (libcrypto, libb2, libsoup, nghttp2, zstd,
# json-glib; libsodium is the app's too: it makes and wipes the keyring's keys).
set -eu
src=$1 dir=$2
if [ ! -f "$dir/build.ninja" ]; then
	rm -rf "$dir"
	meson setup "$dir" "$src" -Ddaemon=false -Dtests=false -Db_sanitize=none >"$dir.setup.log" 2>&1 ||
		{ cat "$dir.setup.log" >&2; echo "FAIL meson setup -Ddaemon=false -Dtests=false"; exit 1; }
fi
ninja -C "$dir" >"$dir.build.log" 2>&1 || { tail -n 40 "$dir.build.log" >&2; echo "FAIL ninja"; exit 1; }
echo "PASS -Ddaemon=false -Dtests=false configures and builds"
rc=0
[ -x "$dir/src/app/hyphae" ] && echo "PASS the app is built" || { echo "FAIL no src/app/hyphae"; rc=1; }
for f in daemon/service/hyphaed src/cli/hyphaectl; do
	[ ! -e "$dir/$f" ] && echo "PASS no $f" || { echo "FAIL $f was built"; rc=1; }
done
needed=$(readelf -d "$dir/src/app/hyphae" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
if printf '%s\n' "$needed" | grep -E '^lib(crypto|b2|soup|nghttp2|zstd|json-glib)'; then
	echo "FAIL the app links a daemon library (above)"; rc=1
else
	echo "PASS the app links none of the daemon's libraries"
fi
exit "$rc"
