/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * JSON nested deeper than this is refused before json-glib (a recursive
 * parser) sees it: a hostile server must not be able to exhaust our stack.
 */
#define HYPHAE_JSON_MAX_DEPTH 64

/* Scans [s, s + len) for [ and { outside strings; FALSE when nested too deep. */
gboolean hyphae_json_depth_ok (const guint8 *s,
                               gsize         len);

G_END_DECLS
