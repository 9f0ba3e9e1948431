/* SPDX-License-Identifier: MIT */
/* hyphae-derp's HTTP answers (hd-http.h). */
#include "hd-http.h"

#include "magicsock/derp-frame.h"

enum {
  CHALLENGE_MAX = 64, /* handler.go ServeNoContent */
};

static void
respond (GString *out,
         const HdHttpRequest *req,
         const char *status,
         const char *extra_headers,
         const char *content_type,
         const char *body)
{
  gsize len = strlen (body);

  g_string_append_printf (out,
                          "HTTP/1.1 %s\r\n"
                          "%s"
                          "Content-Type: %s\r\n"
                          "Content-Length: %" G_GSIZE_FORMAT "\r\n"
                          "Connection: close\r\n\r\n",
                          status, extra_headers, content_type, len);
  if (!hd_slice_equal (req->method, "HEAD"))
    g_string_append_len (out, body, len);
}

/* The challenge characters ServeNoContent echoes (handler.go isChallengeChar). */
static gboolean
challenge_ok (HdSlice c)
{
  if (c.p == NULL || c.len > CHALLENGE_MAX)
    return FALSE;
  for (gsize i = 0; i < c.len; i++)
    if (!g_ascii_isalnum (c.p[i]) && c.p[i] != '.' && c.p[i] != '-' && c.p[i] != '_' &&
        c.p[i] != ':')
      return FALSE;
  return TRUE;
}

void
hd_http_bad_request (GString *out)
{
  g_string_append (out, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                        "Content-Length: 12\r\nConnection: close\r\n\r\nbad request\n");
}

HdHttpAction
hd_http_route (HdServer *srv,
               const HdHttpRequest *req,
               gboolean loopback,
               GString *out)
{
  gboolean get_or_head = hd_slice_equal (req->method, "GET") || hd_slice_equal (req->method, "HEAD");

  if (hd_slice_equal (req->path, "/derp/probe") || hd_slice_equal (req->path, "/derp/latency-check"))
    {
      if (get_or_head)
        respond (out, req, "200 OK", "Access-Control-Allow-Origin: *\r\n", "text/plain", "");
      else
        respond (out, req, "405 Method Not Allowed", "", "text/plain", "bogus probe method\n");
      return HD_HTTP_RESPOND;
    }

  if (hd_slice_equal (req->path, "/derp"))
    {
      if (!hd_slice_equal (req->upgrade, "derp"))
        {
          respond (out, req, "426 Upgrade Required", "", "text/plain",
                   "DERP requires connection upgrade\n");
          return HD_HTTP_RESPOND;
        }
      /* Derp-Fast-Start: the client takes the key from the ServerKey frame alone. */
      if (!hd_slice_equal (req->fast_start, "1"))
        g_string_append_printf (out,
                                "HTTP/1.1 101 Switching Protocols\r\n"
                                "Upgrade: DERP\r\n"
                                "Connection: Upgrade\r\n"
                                "Derp-Version: %d\r\n"
                                "Derp-Public-Key: %s\r\n\r\n",
                                DERP_PROTOCOL_VERSION, srv->pub_hex);
      return HD_HTTP_UPGRADE;
    }

  if (hd_slice_equal (req->path, "/generate_204"))
    {
      g_autofree char *extra = NULL;

      if (challenge_ok (req->challenge))
        extra = g_strdup_printf ("X-Tailscale-Response: response %.*s\r\n", (int) req->challenge.len,
                                 req->challenge.p);
      g_string_append_printf (out,
                              "HTTP/1.1 204 No Content\r\n%s"
                              "Cache-Control: no-cache, no-store, must-revalidate, no-transform, "
                              "max-age=0\r\nConnection: close\r\n\r\n",
                              extra != NULL ? extra : "");
      return HD_HTTP_RESPOND;
    }

  if (hd_slice_equal (req->path, "/debug/metrics"))
    {
      g_autofree char *body = NULL;

      if (!loopback && !srv->config.metrics_public)
        {
          respond (out, req, "403 Forbidden", "", "text/plain",
                   "metrics are served to loopback only (--metrics-public)\n");
          return HD_HTTP_RESPOND;
        }
      body = hd_metrics_render (&srv->metrics);
      respond (out, req, "200 OK", "", "text/plain; version=0.0.4", body);
      return HD_HTTP_RESPOND;
    }

  if (hd_slice_equal (req->path, "/"))
    respond (out, req, "200 OK", "", "text/plain",
             "hyphae-derp: a DERP relay and STUN server (GET /derp with Upgrade: DERP)\n");
  else
    respond (out, req, "404 Not Found", "", "text/plain", "not found\n");
  return HD_HTTP_RESPOND;
}
