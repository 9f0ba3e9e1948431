/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The one HTTP/1.1 request a DERP client (or a prober) sends before the
 * upgrade: request line and headers, nothing more (no bodies, no pipelining).
 * A pure function over bytes, fuzzed (tests/fuzz/fuzz-derp-http.c).
 */
#define HD_HTTP_REQUEST_MAX 8192 /* bytes up to and with the blank line */

typedef struct {
  const char *p; /* into the caller's buffer; NULL when absent */
  gsize len;
} HdSlice;

typedef struct {
  HdSlice method;
  HdSlice path;       /* the target up to '?' */
  HdSlice upgrade;    /* Upgrade */
  HdSlice fast_start; /* Derp-Fast-Start */
  HdSlice challenge;  /* X-Tailscale-Challenge */
  guint header_count;
} HdHttpRequest;

/*
 * Parses the request at the front of buf. Returns the bytes it spans (up to
 * and with the blank line), 0 while it is incomplete and shorter than
 * HD_HTTP_REQUEST_MAX, or -1 when it is malformed or too long.
 */
gssize hd_http_request_parse (const char *buf,
                              gsize len,
                              HdHttpRequest *req);

/* ASCII case-insensitive comparison of a slice with a NUL-terminated word. */
gboolean hd_slice_equal (HdSlice s,
                         const char *word);

G_END_DECLS
