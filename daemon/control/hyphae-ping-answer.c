/* SPDX-License-Identifier: MIT */
/*
 * Control asks "are you alive?" with MapResponse.PingRequest (tailcfg.go
 * PingRequest; control/controlclient/direct.go answerPing, answerHeadPing;
 * feature/c2n answerC2NPing):
 *
 *   Types ""     → HEAD URL: over the Noise HTTP/2 connection when URLIsNoise
 *                  (only the URL's path and query matter: the connection is to
 *                  control), else plain HTTP(S) with libsoup
 *   Types "c2n"  → Payload is an HTTP/1.1 request for the node; we have no
 *                  c2n handlers yet, so the answer is a serialized HTTP/1.1
 *                  404, POSTed to URL, always over Noise (as direct.go does)
 *   anything else (disco, TSMP, ICMP, peerapi: need the data plane) → logged
 *                  once per type as not supported, not answered
 *
 * A URL equal to the previous one is ignored (direct.go isUniquePingRequest).
 * At most PINGS_MAX answers are in flight (more are dropped), each bounded by
 * PING_TIMEOUT_MS; teardown cancels them. An answer's callback that comes
 * after it was cancelled touches nothing but its Ping.
 */
#include "hyphae-ping-answer.h"

#include <string.h>

#include <libsoup/soup.h>

#define PINGS_MAX        4
#define PING_TIMEOUT_MS  (15 * 1000)   /* answerHeadPing's context timeout */

struct _HyphaePingAnswerer
{
  GPtrArray *pings;           /* Ping *, in flight (not owned: see ping_finish) */
  char      *last_url;        /* dedup, as direct.go's lastPingURL */
  guint      unsupported_logged;  /* bits: a type's "not supported" logged */
};

/* What Go's http.NotFound answers, as http.Response.Write serializes it. */
static const char c2n_not_found[] =
  "HTTP/1.1 404 Not Found\r\n"
  "Content-Length: 19\r\n"
  "Content-Type: text/plain; charset=utf-8\r\n"
  "X-Content-Type-Options: nosniff\r\n"
  "\r\n"
  "404 page not found\n";

typedef struct
{
  HyphaePingAnswerer *owner;          /* NULL once cancelled: then only free */
  GCancellable       *cancellable;    /* this answer: the timeout or teardown */
  guint               timeout_id;
  gboolean            timed_out;
  gboolean            log;
  const char         *what;           /* "HEAD" or "c2n POST" */
  char               *url;
  SoupSession        *soup;           /* plain HTTP only */
  SoupMessage        *msg;
} Ping;

/* ---- one answer ------------------------------------------------------------ */

static void
ping_free (Ping *ping)
{
  g_clear_handle_id (&ping->timeout_id, g_source_remove);
  g_object_unref (ping->cancellable);
  g_free (ping->url);
  g_clear_object (&ping->msg);
  g_clear_object (&ping->soup);
  g_free (ping);
}

static gboolean
ping_timeout_cb (gpointer user_data)
{
  Ping *ping = user_data;

  ping->timeout_id = 0;
  ping->timed_out = TRUE;
  /* May finish (and free) the ping at once. */
  g_cancellable_cancel (ping->cancellable);
  return G_SOURCE_REMOVE;
}

static Ping *
ping_new (HyphaePingAnswerer         *self,
          const HyphaeMapPingRequest *pr,
          const char                 *what)
{
  Ping *ping = g_new0 (Ping, 1);

  ping->owner = self;
  ping->cancellable = g_cancellable_new ();
  ping->timeout_id = g_timeout_add (PING_TIMEOUT_MS, ping_timeout_cb, ping);
  ping->log = pr->log;
  ping->what = what;
  ping->url = g_strdup (pr->url);
  g_ptr_array_add (self->pings, ping);
  return ping;
}

/* The end of every answer, whatever happened; frees the ping. */
static void
ping_finish (Ping         *ping,
             guint         status,
             const GError *error)
{
  if (ping->owner)
    {
      g_ptr_array_remove_fast (ping->owner->pings, ping);
      if (error)
        g_message ("PingRequest: %s %s: %s", ping->what, ping->url,
                   ping->timed_out ? "timed out" : error->message);
      else if (ping->log)
        g_message ("PingRequest: %s %s answered (HTTP %u)", ping->what, ping->url, status);
    }
  ping_free (ping);
}

static void
ping_h2_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Ping *ping = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = NULL;
  guint status = 0;

  body = hyphae_h2_client_request_finish ((HyphaeH2Client *) source, result, &status, &error);
  ping_finish (ping, status, error);
}

static void
ping_soup_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Ping *ping = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = NULL;

  body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  ping_finish (ping, error ? 0 : soup_message_get_status (ping->msg), error);
}

/* ---- the request ----------------------------------------------------------- */

/* The path and query of an http(s) URL, for a request over Noise; NULL if
 * the URL is not one. */
static char *
noise_path (const char *url)
{
  g_autoptr(GUri) uri = g_uri_parse (url, G_URI_FLAGS_ENCODED, NULL);
  const char *path;

  if (!uri || !g_uri_get_scheme (uri) ||
      (g_ascii_strcasecmp (g_uri_get_scheme (uri), "http") != 0 &&
       g_ascii_strcasecmp (g_uri_get_scheme (uri), "https") != 0))
    return NULL;
  path = g_uri_get_path (uri);
  if (!path[0])
    path = "/";
  if (path[0] != '/')
    return NULL;
  if (g_uri_get_query (uri))
    return g_strconcat (path, "?", g_uri_get_query (uri), NULL);
  return g_strdup (path);
}

/* What Go's http.ReadRequest needs first: "METHOD SP target SP HTTP/1.x" and
 * a line end, no NUL. We answer 404 to any such request. */
static gboolean
c2n_request_ok (GBytes *payload)
{
  g_auto(GStrv) parts = NULL;
  g_autofree char *line = NULL;
  const char *data, *eol;
  gsize len, n;

  if (!payload)
    return FALSE;
  data = g_bytes_get_data (payload, &len);
  eol = data ? memchr (data, '\n', len) : NULL;
  if (!eol)
    return FALSE;
  n = (gsize) (eol - data);
  if (n > 0 && data[n - 1] == '\r')
    n--;
  if (n == 0 || memchr (data, '\0', n))
    return FALSE;
  line = g_strndup (data, n);
  parts = g_strsplit (line, " ", 4);
  if (g_strv_length (parts) != 3 || !parts[0][0] || !parts[1][0] ||
      !g_str_has_prefix (parts[2], "HTTP/1."))
    return FALSE;
  for (const char *c = parts[0]; *c; c++)
    if (!g_ascii_isalpha (*c))
      return FALSE;
  return TRUE;
}

static void
ping_unsupported (HyphaePingAnswerer *self,
                  const char         *type)
{
  static const char * const known[] = { "disco", "TSMP", "ICMP", "peerapi" };
  guint bit = G_N_ELEMENTS (known);   /* any other type */

  for (guint i = 0; i < G_N_ELEMENTS (known); i++)
    if (strcmp (type, known[i]) == 0)
      bit = i;
  if (self->unsupported_logged & (1u << bit))
    return;
  self->unsupported_logged |= 1u << bit;
  g_message ("PingRequest: type \"%s\" is not supported yet; not answered%s", type,
             bit == G_N_ELEMENTS (known) ? " (nor other unknown types)" : "");
}

static void
answer_over_noise (HyphaePingAnswerer         *self,
                   HyphaeH2Client             *h2,
                   const HyphaeMapPingRequest *pr,
                   gboolean                    c2n)
{
  g_autofree char *path = noise_path (pr->url);
  g_autoptr(GBytes) body = NULL;
  Ping *ping;

  if (!path)
    {
      g_message ("PingRequest: %s is not an http(s) URL", pr->url);
      return;
    }
  if (c2n)
    body = g_bytes_new_static (c2n_not_found, sizeof c2n_not_found - 1);
  ping = ping_new (self, pr, c2n ? "c2n POST" : "HEAD");
  hyphae_h2_client_request_async (h2, c2n ? "POST" : "HEAD", path, NULL, body,
                                  ping->cancellable, ping_h2_cb, ping);
}

static void
answer_plain (HyphaePingAnswerer         *self,
              const HyphaeMapPingRequest *pr)
{
  g_autoptr(SoupMessage) msg = soup_message_new (SOUP_METHOD_HEAD, pr->url);
  Ping *ping;

  if (!msg)
    {
      g_message ("PingRequest: %s is not an http(s) URL", pr->url);
      return;
    }
  ping = ping_new (self, pr, "HEAD");
  ping->msg = g_steal_pointer (&msg);
  ping->soup = soup_session_new ();
  soup_session_send_and_read_async (ping->soup, ping->msg, G_PRIORITY_DEFAULT,
                                    ping->cancellable, ping_soup_cb, ping);
}

void
hyphae_ping_answerer_handle (HyphaePingAnswerer         *self,
                             HyphaeH2Client             *h2,
                             const HyphaeMapPingRequest *pr)
{
  gboolean c2n = strcmp (pr->types, "c2n") == 0;

  if (!pr->url[0])
    {
      g_message ("PingRequest without URL: ignored");
      return;
    }
  if (g_strcmp0 (pr->url, self->last_url) == 0)
    return;
  g_free (self->last_url);
  self->last_url = g_strdup (pr->url);

  if (pr->types[0] && !c2n)
    {
      g_auto(GStrv) types = g_strsplit (pr->types, ",", 8);

      for (guint i = 0; types[i]; i++)
        ping_unsupported (self, types[i]);
      return;
    }
  if (c2n && !c2n_request_ok (pr->payload))
    {
      g_message ("PingRequest c2n to %s: the payload is not an HTTP/1.1 request", pr->url);
      return;
    }
  if (self->pings->len >= PINGS_MAX)
    {
      g_message ("PingRequest to %s dropped: %u answers in flight", pr->url, PINGS_MAX);
      return;
    }
  if (c2n || pr->url_is_noise)
    answer_over_noise (self, h2, pr, c2n);
  else
    answer_plain (self, pr);
}

/* ---- the answerer ---------------------------------------------------------- */

HyphaePingAnswerer *
hyphae_ping_answerer_new (const char *control_url)
{
  HyphaePingAnswerer *self = g_new0 (HyphaePingAnswerer, 1);

  self->pings = g_ptr_array_new ();
  return self;
}

void
hyphae_ping_answerer_cancel_all (HyphaePingAnswerer *self)
{
  g_autoptr(GPtrArray) pings = NULL;

  /* Each callback then sees no owner and only frees its Ping. */
  pings = g_steal_pointer (&self->pings);
  self->pings = g_ptr_array_new ();
  for (guint i = 0; i < pings->len; i++)
    {
      Ping *ping = g_ptr_array_index (pings, i);
      g_autoptr(GCancellable) cancellable = g_object_ref (ping->cancellable);

      ping->owner = NULL;
      g_clear_handle_id (&ping->timeout_id, g_source_remove);
      g_cancellable_cancel (cancellable);   /* may free ping */
    }
}

void
hyphae_ping_answerer_free (HyphaePingAnswerer *self)
{
  if (!self)
    return;
  hyphae_ping_answerer_cancel_all (self);
  g_ptr_array_unref (self->pings);
  g_free (self->last_url);
  g_free (self);
}
