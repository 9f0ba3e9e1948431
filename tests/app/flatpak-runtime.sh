#!/bin/bash
# SPDX-License-Identifier: MIT
# A small Flatpak runtime and SDK made from Debian 12's own GTK 4.8 /
# libadwaita 1.2 packages: the stand-in for org.gnome.Platform/Sdk, which
# cannot be fetched on the CI machines (they reach only Debian's mirror).
#
#   flatpak-runtime.sh CACHE_DIR
#
# CACHE_DIR/repo (CACHE_DIR in the build dir: a CI run makes it once) is a
# bare-user-only OSTree repo holding
#   runtime/io.github.hyphae.test.Platform/ARCH/bookworm
#   runtime/io.github.hyphae.test.Sdk/ARCH/bookworm
# remade only when the package lists, the mirror or this file's format change
# (fpr_key). Tests install from it into a flatpak user dir of their own
# (`remote-add --no-gpg-verify NAME file://CACHE_DIR/repo`): bare-user-only,
# so the install hardlinks instead of unpacking (seconds, not a minute).
# Each tree is `mmdebstrap --variant=minbase` of its package list (both at
# once, man/doc/info/locale left out); the runtime's files/ is its /usr, plus
# its /etc as files/etc without shadow, gshadow and machine-id. Two traps make
# libraries in /app/lib fail to load otherwise: flatpak regenerates
# ld.so.cache only if the runtime has bin/ldconfig (Debian's is in sbin), and
# it reads only /etc/ld.so.conf, so /app/lib is listed there directly. Then
# `flatpak build-export --runtime --files=files` (it wants --files=files,
# whatever its help says), and the tree is removed.
#
# Network: only the Debian mirror of this machine's apt sources (fpr_sources:
# mmdebstrap reads the file, so bookworm-updates and -security come along).
# Needs root (mmdebstrap's root mode), mmdebstrap, flatpak, ostree, flock.
# Sourced (from bash), it only defines the names and functions below.

FPR_PLATFORM=io.github.hyphae.test.Platform
FPR_SDK=io.github.hyphae.test.Sdk
FPR_BRANCH=bookworm
FPR_FORMAT=1        # bump when the tree layout below changes

# The Platform: what the app needs at run time, as org.gnome.Platform has it
# (GTK, libadwaita, libsecret, libsodium, icons, fonts, MIME and pixbuf
# loaders), plus gdbus (libglib2.0-bin) for the sandbox checks.
FPR_PLATFORM_PACKAGES=(
	libgtk-4-1 libadwaita-1-0 libsecret-1-0 libsodium23
	libglib2.0-bin shared-mime-info fontconfig fonts-dejavu-core
	hicolor-icon-theme adwaita-icon-theme librsvg2-common libgdk-pixbuf2.0-bin
)
# The Sdk: the Platform plus what `meson -Ddaemon=false -Dtests=false` needs:
# headers, the compiler, meson/ninja, msgfmt (i18n.merge_file),
# gtk4-update-icon-cache (gnome.post_install), and appstream-compose, which
# flatpak-builder 1.2 runs on the metainfo when it finishes the app.
FPR_SDK_PACKAGES=(
	"${FPR_PLATFORM_PACKAGES[@]}"
	libgtk-4-dev libadwaita-1-dev libsecret-1-dev libsodium-dev libgtk-4-bin
	gcc libc6-dev binutils pkg-config meson ninja-build gettext appstream-util
)
FPR_DPKG_OPTS=(
	--dpkgopt=force-unsafe-io
	--dpkgopt='path-exclude=/usr/share/man/*'
	--dpkgopt='path-exclude=/usr/share/doc/*'
	--dpkgopt='path-exclude=/usr/share/info/*'
	--dpkgopt='path-exclude=/usr/share/locale/*'
)

fpr_log() { printf '%s\n' "$*" >&2; }

# The apt sources mmdebstrap gets: Debian's mirror as this machine has it
# (a machine made by mmdebstrap has sources.list.d/0000*.sources).
fpr_sources() {
	local f
	for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list.d/*.sources /etc/apt/sources.list; do
		[ -s "$f" ] && grep -q debian "$f" && { echo "$f"; return 0; }
	done
	echo "http://deb.debian.org/debian"
}

# What the cached runtimes were made from; a change rebuilds them.
fpr_key() {
	{
		echo "format $FPR_FORMAT $FPR_PLATFORM $FPR_SDK $FPR_BRANCH"
		echo "platform ${FPR_PLATFORM_PACKAGES[*]}"
		echo "sdk ${FPR_SDK_PACKAGES[*]}"
		echo "dpkg ${FPR_DPKG_OPTS[*]}"
		local src
		src=$(fpr_sources)
		if [ -f "$src" ]; then grep -v '^#' "$src"; else echo "$src"; fi
	} | sha256sum | cut -d' ' -f1
}

# fpr_runtime CACHE NAME PACKAGE…: runtime NAME from a minbase Debian with
# PACKAGEs, exported into CACHE/repo; its logs in CACHE/NAME.log.
fpr_runtime() {
	local cache=$1 name=$2 dir root arch; shift 2
	dir=$cache/$name root=$cache/$name.root
	rm -rf --one-file-system "$dir" "$root"
	mmdebstrap --variant=minbase --quiet "${FPR_DPKG_OPTS[@]}" --include="$(IFS=,; echo "$*")" \
		bookworm "$root" "$(fpr_sources)" >"$dir.log" 2>&1 || return 1
	mkdir -p "$dir" && mv "$root/usr" "$dir/files" && mv "$root/etc" "$dir/files/etc" || return 1
	rm -rf --one-file-system "$root"
	rm -f "$dir"/files/etc/{shadow,gshadow,shadow-,gshadow-,machine-id}
	ln -s ../sbin/ldconfig "$dir/files/bin/ldconfig" || return 1
	printf '/app/lib\ninclude /etc/ld.so.conf.d/*.conf\n' >"$dir/files/etc/ld.so.conf"
	arch=$(flatpak --default-arch)
	printf '[Runtime]\nname=%s\nruntime=%s/%s/%s\nsdk=%s/%s/%s\n' "$name" \
		"$FPR_PLATFORM" "$arch" "$FPR_BRANCH" "$FPR_SDK" "$arch" "$FPR_BRANCH" >"$dir/metadata"
	# One export at a time into the repo; the tree goes once it is in.
	flock "$cache/repo.lock" flatpak build-export --disable-fsync --runtime --files=files \
		"$cache/repo" "$dir" "$FPR_BRANCH" >>"$dir.log" 2>&1 || return 1
	rm -rf --one-file-system "$dir"
}

# fpr_build CACHE_DIR: CACHE_DIR/repo holds both runtimes, made now unless
# the key matches what made them.
fpr_build() (
	local cache=$1 key pp ps rc=0 t0=$SECONDS
	mkdir -p "$cache" && exec 9>"$cache/lock" && flock 9 || exit 1
	key=$(fpr_key)
	[ -f "$cache/key" ] && [ "$(cat "$cache/key")" = "$key" ] && exit 0
	rm -rf --one-file-system "$cache/key" "$cache/repo"
	ostree init --repo="$cache/repo" --mode=bare-user-only || exit 1
	# Both at once: each is mostly dpkg on one core, and downloads.
	fpr_runtime "$cache" "$FPR_PLATFORM" "${FPR_PLATFORM_PACKAGES[@]}" &
	pp=$!
	fpr_runtime "$cache" "$FPR_SDK" "${FPR_SDK_PACKAGES[@]}" &
	ps=$!
	wait "$pp" || { fpr_log "$FPR_PLATFORM failed:"; tail -n 20 "$cache/$FPR_PLATFORM.log" >&2; rc=1; }
	wait "$ps" || { fpr_log "$FPR_SDK failed:"; tail -n 20 "$cache/$FPR_SDK.log" >&2; rc=1; }
	[ "$rc" = 0 ] && echo "$key" >"$cache/key" && fpr_log "runtimes made in $((SECONDS - t0)) s"
	exit "$rc"
)

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	[ $# = 1 ] || { fpr_log "usage: $0 CACHE_DIR"; exit 2; }
	[ "$(id -u)" = 0 ] || { fpr_log "needs root (mmdebstrap)"; exit 1; }
	fpr_build "$1"
fi
