#!/bin/sh
# The C sources as their dialect's .clang-format writes them: the GLib dialect
# (root .clang-format) and the plain-C one (daemon/engine/.clang-format and
# its links). clang-format 14 exactly (Debian 12's): another version formats
# some constructs differently.
#   tests/lint/format.sh [ROOT]         lists the files that differ; fails if any
#   tests/lint/format.sh [ROOT] --fix   rewrites them in place
# Without clang-format 14 it skips (exit 77), or fails when CI is set.
set -eu
root=$(dirname "$0")/../..
fix=0
for arg in "$@"; do
	case "$arg" in
	--fix) fix=1 ;;
	-*) echo "usage: $0 [ROOT] [--fix]" >&2; exit 2 ;;
	*) root=$arg ;;
	esac
done
cd "$root"

if command -v clang-format-14 >/dev/null 2>&1; then
	cf=clang-format-14
elif command -v clang-format >/dev/null 2>&1 &&
	clang-format --version | grep -q 'version 14\.'; then
	cf=clang-format
else
	msg="format: clang-format 14 not found (Debian 12: apt-get install clang-format-14)"
	if [ -n "${CI:-}" ]; then
		echo "$msg" >&2
		exit 1
	fi
	echo "$msg; skipped" >&2
	exit 77
fi

# Tracked C files (every C file under the source directories outside a git
# checkout), less generated ones: a "do not edit" in their first lines.
list=$(mktemp)
trap 'rm -f "$list" "$list.err"' EXIT
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -- '*.c' '*.h'
else
	find daemon src server tests bench -name '*.[ch]' 2>/dev/null | sed 's|^\./||' | sort
fi | while IFS= read -r f; do
	[ -f "$f" ] || continue
	head -n 3 "$f" | grep -qi 'do not edit' && continue
	printf '%s\n' "$f"
done >"$list"
if [ ! -s "$list" ]; then
	echo "format: no C files found under $(pwd)" >&2
	exit 1
fi

if [ "$fix" = 1 ]; then
	tr '\n' '\0' <"$list" | xargs -0 "$cf" -i --style=file
	echo "format: $(wc -l <"$list") files formatted with $("$cf" --version)"
	exit 0
fi

if tr '\n' '\0' <"$list" | xargs -0 "$cf" --dry-run --Werror --style=file 2>"$list.err"; then
	echo "format: ok ($(wc -l <"$list") files)"
	exit 0
fi
# "FILE:LINE:COL: error: code should be clang-formatted": one per change.
if grep -q ': error: code should be clang-formatted' "$list.err"; then
	echo "format: these files differ from their .clang-format (places to change):" >&2
	sed -n 's/^\(.*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' "$list.err" |
		uniq -c >&2
	echo "format: see the changes with $cf FILE | diff FILE -; fix them with $0 --fix" >&2
else
	cat "$list.err" >&2
fi
exit 1
