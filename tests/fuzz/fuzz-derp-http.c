/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for hyphae-derp's HTTP request reader and router
 * (server/derp/hd-http-request.c, hd-http.c): the input is what a client
 * sends before the upgrade. Checks: no crash or sanitizer report; a prefix
 * never decides differently from the whole; an accepted request ends with
 * the first CRLF CRLF, within the cap, and its slices lie inside it; the
 * answer is an HTTP/1.1 status line (or nothing, for Derp-Fast-Start).
 */
#include <string.h>

#include "crypto/keys.h"
#include "crypto/secmem.h"
#include "fuzz-harness.h"
#include "hd-http.h"

static gboolean
inside (HdSlice s,
        const uint8_t *data,
        gssize end)
{
  return s.p == NULL || ((const uint8_t *) s.p >= data && (const uint8_t *) s.p + s.len <= data + end);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t size)
{
  static HdServer *srv;
  HdHttpRequest req;
  gssize end = hd_http_request_parse ((const char *) data, size, &req);
  g_autoptr(GString) out = g_string_new (NULL);

  if (srv == NULL)
    {
      HdServerConfig config = { .queue_depth = 4 };
      guint8 *priv = secmem_alloc (KEY_LEN);

      key_generate_private (priv);
      srv = hd_server_new (&config, priv, NULL);
    }

  if (end > 0)
    {
      HdHttpRequest again;

      CHECK (end <= HD_HTTP_REQUEST_MAX);
      CHECK (memcmp (data + end - 4, "\r\n\r\n", 4) == 0);
      CHECK (memmem (data, end, "\r\n\r\n", 4) == data + end - 4);
      CHECK (inside (req.method, data, end) && inside (req.path, data, end) &&
             inside (req.upgrade, data, end) && inside (req.challenge, data, end) &&
             inside (req.fast_start, data, end));
      /* The bytes after the request change nothing. */
      CHECK (hd_http_request_parse ((const char *) data, end, &again) == end);
      if (hd_http_route (srv, &req, size & 1, out) == HD_HTTP_RESPOND)
        CHECK (g_str_has_prefix (out->str, "HTTP/1.1 "));
      else
        CHECK (out->len == 0 || g_str_has_prefix (out->str, "HTTP/1.1 101 "));
    }
  else if (end == 0)
    CHECK (size < HD_HTTP_REQUEST_MAX);
  /* A prefix needs more, or decides as the whole did (a refusal may come early). */
  for (size_t cut = 0; cut < size && cut < 64; cut++)
    {
      HdHttpRequest part;
      gssize r = hd_http_request_parse ((const char *) data, cut, &part);

      CHECK (r == 0 || r == -1 || r == end);
      if (r == -1)
        CHECK (end == -1);
    }
  return 0;
}
