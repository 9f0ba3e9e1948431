#!/bin/sh
# SPDX-License-Identifier: MIT
# release-hyphaed.sh SRCDIR OUT BUILDDIR: builds hyphaed without sanitizers
# (buildtype=release, no tests) in its own meson build dir BUILDDIR and copies
# it to OUT. hostile-control.sh checks the issue-8 memory bound (VmHWM under
# 64 MiB during a zstd bomb) on this binary: the bound is the release build's
# contract, and ASan's quarantine, redzones and shadow would make the
# sanitized daemon's RSS mean something else. Incremental after the first run.
set -eu
src=$1 out=$2 dir=$3
if [ ! -f "$dir/build.ninja" ]; then
	rm -rf "$dir"
	meson setup "$dir" "$src" --buildtype=release -Db_sanitize=none -Dtests=false >"$dir.setup.log" 2>&1 ||
		{ cat "$dir.setup.log" >&2; exit 1; }
fi
ninja -C "$dir" daemon/service/hyphaed >"$dir.build.log" 2>&1 || { tail -n 40 "$dir.build.log" >&2; exit 1; }
if ! cmp -s "$dir/daemon/service/hyphaed" "$out"; then
	cp "$dir/daemon/service/hyphaed" "$out.tmp" && mv "$out.tmp" "$out"
fi
