/* SPDX-License-Identifier: MIT */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/*
 * Every JSON text hyphaed reads from a server or from disk goes through here.
 * json-glib's parser is recursive and lenient (it takes comments, single
 * quotes and trailing garbage), so it never sees a text that the bounded,
 * strict scanner (json-scan.h: RFC 8259 only, UTF-8 validated) has not
 * accepted whole first: one object, nesting at most HYPHAE_JSON_MAX_DEPTH,
 * at most max_len bytes, nothing but whitespace after it.
 *
 * Errors are G_IO_ERROR_INVALID_DATA with a message saying what and where
 * (callers prefix it with what they were reading).
 */
#define HYPHAE_JSON_MAX_DEPTH 64

/* Validate only (for a text whose content is not read). */
gboolean hyphae_json_check_object (const char *data,
                                   gsize len,
                                   gsize max_len,
                                   GError **error);

/* Validate, then build the tree. Transfer full (json_object_unref). */
JsonObject *hyphae_json_parse_object (const char *data,
                                      gsize len,
                                      gsize max_len,
                                      GError **error);

G_END_DECLS
