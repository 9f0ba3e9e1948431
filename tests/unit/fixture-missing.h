/* SPDX-License-Identifier: MIT */
/*
 * A test whose requirement is missing (root, a namespace, the Go peer, a
 * package) skips, unless $CI is set: CI must run every test, so there it
 * fails.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Skip the current test for this reason, or fail it when $CI is set. */
void fixture_missing (const char *format,
                      ...) G_GNUC_PRINTF (1, 2);

G_END_DECLS
