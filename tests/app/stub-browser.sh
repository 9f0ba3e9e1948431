#!/bin/sh
# SPDX-License-Identifier: MIT
# The web browser of the GUI tests (app-lib.sh app_stub_browser makes it the
# http/https handler): it opens nothing, it appends each URL it is given to
# $STUB_BROWSER_OUT, one a line, so a test can read the login URL the app
# opened and fetch it itself.
set -eu
: "${STUB_BROWSER_OUT:?}"
for url in "$@"; do
	printf '%s\n' "$url" >>"$STUB_BROWSER_OUT"
done
