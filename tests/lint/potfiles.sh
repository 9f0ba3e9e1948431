#!/bin/sh
# po/POTFILES.in lists exactly the files with translatable text: every C file
# under src/ with _( / N_( / C_( / NC_( (GLib's gettext macros), every .ui file
# with translatable="yes", and the app's desktop, AppStream and GSettings
# sources under data/app (xgettext reads them through their ITS rules); and
# every file it lists exists; and xgettext (GLib's keywords, as meson's
# `hyphae-pot` target calls it) extracts them all without an error. Without
# the first, a string never reaches translators; without the others,
# `meson compile hyphae-pot` fails.
#   tests/lint/potfiles.sh [ROOT]
set -eu
cd "${1:-$(dirname "$0")/../..}"
listed=$(mktemp)
found=$(mktemp)
pot=$(mktemp)
trap 'rm -f "$listed" "$found" "$pot"' EXIT
grep -v -e '^#' -e '^[[:space:]]*$' po/POTFILES.in | sort -u >"$listed"
{
	git ls-files -- 'src/*.c' | xargs -r grep -lE '(^|[^A-Za-z0-9_])(N?C?_|C_) ?\(' || true
	git ls-files -- 'src/*.ui' | xargs -r grep -l 'translatable="yes"' || true
	git ls-files -- 'data/app/*.desktop.in' 'data/app/*.metainfo.xml.in' 'data/app/*.gschema.xml'
} | sort -u >"$found"
rc=0
missing=$(comm -13 "$listed" "$found")
if [ -n "$missing" ]; then
	echo "potfiles: translatable text in files po/POTFILES.in does not list:" >&2
	printf '  %s\n' $missing >&2
	rc=1
fi
for f in $(cat "$listed"); do
	[ -f "$f" ] || { echo "potfiles: po/POTFILES.in lists $f, which does not exist" >&2; rc=1; }
done
stale=$(comm -23 "$listed" "$found")
if [ -n "$stale" ]; then
	for f in $stale; do
		[ -f "$f" ] && echo "potfiles: po/POTFILES.in lists $f, which has nothing to translate" >&2
	done
	rc=1
fi
if [ "$rc" = 0 ]; then
	if command -v xgettext >/dev/null 2>&1; then
		xgettext --files-from=po/POTFILES.in --directory=. --from-code=UTF-8 --add-comments=Translators \
			--keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 --keyword=g_dngettext:2,3 \
			-o "$pot" || { echo "potfiles: xgettext failed on po/POTFILES.in" >&2; rc=1; }
	elif [ -n "${CI:-}" ]; then
		echo "potfiles: no xgettext (package gettext)" >&2
		rc=1
	fi
fi
exit "$rc"
