#!/bin/sh
# One wipe helper for secrets: sodium_memzero. A plain memset of a key is dead
# code to the optimiser when the buffer is not read again (it was, in -O2
# hyphaed: issue 8, row 6), and explicit_bzero/bzero were a second and third
# style. Fails on any of them in the C sources.
set -eu
root=${1:-$(dirname "$0")/../..}
cd "$root"
bad=0
# Another wipe function than sodium_memzero.
if grep -rnE '\b(explicit_bzero|bzero|memset_s|OPENSSL_cleanse)[[:space:]]*\(' \
	--include='*.c' --include='*.h' daemon src server; then
	echo "secret-wipes: use sodium_memzero to wipe secrets" >&2
	bad=1
fi
# A memset that zeroes something named like a secret.
if grep -rniE '\bmemset[[:space:]]*\([^,]*(priv|key|secret|auth|trying|psk)[^,]*,[[:space:]]*0[[:space:]]*,' \
	--include='*.c' --include='*.h' daemon src server; then
	echo "secret-wipes: a memset of a secret may be optimised away; use sodium_memzero" >&2
	bad=1
fi
[ "$bad" = 0 ] && echo "secret-wipes: ok"
exit "$bad"
