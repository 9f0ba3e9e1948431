/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * A pull scanner for one JSON text held in memory: the caller walks objects
 * and arrays and takes the values it wants, skipping the rest, so a
 * MapResponse goes straight into C structs without a tree (json-glib builds
 * ~28 MiB of tree for a 7 MB, 10 000-peer map; see docs/ARCHITECTURE.md).
 *
 * Strict RFC 8259: no trailing commas, comments, NaN, leading zeros or
 * control characters in strings; strings must be valid UTF-8 and \u escapes
 * valid (no lone surrogates). Nesting deeper than HYPHAE_JSON_MAX_DEPTH (64)
 * is an error. The scanner never reads outside [text, text + len) and needs
 * no NUL terminator. After the first error every call fails and
 * json_scan_error() says what and where.
 */
/* A decoded string longer than this is refused: nothing we read from a server
 * is near it (PingRequest.Payload, the largest, is capped at 64 KiB), and a
 * single 30 MiB string would otherwise cost the decode buffer plus the
 * caller's copy on top of the message (issue 8: 64 MiB under a bomb). Skipped
 * and raw values are not decoded and not limited. */
#define JSON_SCAN_STRING_MAX (1024 * 1024)

typedef enum {
  JSON_SCAN_ERROR,
  JSON_SCAN_NULL,
  JSON_SCAN_BOOL,
  JSON_SCAN_NUMBER,
  JSON_SCAN_STRING,
  JSON_SCAN_ARRAY,
  JSON_SCAN_OBJECT,
} JsonScanType;

typedef struct {
  const char *text;
  const char *p;
  const char *end;
  guint depth;
  guint64 started; /* bit d-1: the container at depth d has had a member */
  GString *buf;    /* unescaped strings */
  char *error;
} JsonScan;

void json_scan_init (JsonScan *s,
                     const char *text,
                     gsize len);
void json_scan_clear (JsonScan *s);
/* The error message (with the byte offset), or NULL. */
const char *json_scan_error (const JsonScan *s);
/* Sets an error (the first one wins); returns FALSE. */
gboolean json_scan_fail (JsonScan *s,
                         const char *format,
                         ...) G_GNUC_PRINTF (2, 3);

/* The type of the next value, without consuming it. */
JsonScanType json_scan_peek (JsonScan *s);

/* Each consumes one value of that type or fails (type mismatch = error). */
gboolean json_scan_null (JsonScan *s);
gboolean json_scan_bool (JsonScan *s,
                         gboolean *out);
/* An integer literal (no fraction or exponent) that fits in gint64. */
gboolean json_scan_int64 (JsonScan *s,
                          gint64 *out);
/* Unescaped, NUL-terminated, valid UTF-8 without NUL bytes (\u0000 is
 * refused), at most JSON_SCAN_STRING_MAX bytes decoded; *out stays valid
 * until the next call on s. */
gboolean json_scan_string (JsonScan *s,
                           const char **out,
                           gsize *len);
/* Any value, validated and skipped; *start / *len give its text. */
gboolean json_scan_raw (JsonScan *s,
                        const char **start,
                        gsize *len);
gboolean json_scan_skip (JsonScan *s);

/*
 * Optional members, as Go's decoder reads them: a null is consumed and
 * leaves *out as it was (the zero value the caller put there).
 */
gboolean json_scan_take_null (JsonScan *s);
gboolean json_scan_opt_bool (JsonScan *s,
                             gboolean *out);
/* An integer literal in [min, max] (within int). */
gboolean json_scan_opt_int (JsonScan *s,
                            gint64 min,
                            gint64 max,
                            int *out);
/* A string of at most max_len bytes: *out freed, then a copy. */
gboolean json_scan_opt_dup (JsonScan *s,
                            gsize max_len,
                            char **out);

/*
 * Containers:
 *   json_scan_object_begin (s);
 *   while ((r = json_scan_object_next (s, &key, &key_len)) > 0)
 *     take or skip the value;
 *   r == 0: the '}' was consumed; r < 0: error.
 * Arrays likewise with json_scan_array_next (1: an element follows).
 */
gboolean json_scan_object_begin (JsonScan *s);
int json_scan_object_next (JsonScan *s,
                           const char **key,
                           gsize *key_len);
gboolean json_scan_array_begin (JsonScan *s);
int json_scan_array_next (JsonScan *s);

/* Only whitespace is left. */
gboolean json_scan_end (JsonScan *s);

G_END_DECLS
