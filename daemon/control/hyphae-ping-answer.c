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
 *
 * Plain HTTP(S) is where a hostile control server could use us as a probe of
 * what only this machine can reach. direct.go sends that HEAD with its
 * control HTTP client and checks nothing (tailscale's control only ever sends
 * its own URLs); we are stricter:
 *   - a URL of the control server's own origin (scheme, host, port as in the
 *     control URL) is fetched as it is: we talk to that server anyway;
 *   - any other URL may not reach a loopback, link-local, unspecified,
 *     multicast or broadcast address. IP literals are refused before any
 *     connection; for names the check is on every address libsoup connects
 *     to (SoupMessage::network-event at G_SOCKET_CLIENT_CONNECTING carries
 *     the socket, whose cached remote address is set before the connect):
 *     a refused one has its socket closed before the SYN, so a name that
 *     resolves there (or is rebound there later) is caught too;
 *   - no proxy (it would hide the real target from that check);
 *   - redirects are never followed (SOUP_MESSAGE_NO_REDIRECT): a 3xx is the
 *     answer.
 * Every server string that reaches a log goes through hyphae_log_escape().
 */
#include "hyphae-ping-answer.h"

#include <string.h>

#include <libsoup/soup.h>

#include "hyphae-bypass.h"
#include "hyphae-log-escape.h"

#define PINGS_MAX       4
#define PING_TIMEOUT_MS (15 * 1000) /* answerHeadPing's context timeout */

struct _HyphaePingAnswerer {
  char *control_scheme; /* the control server's origin, for the exception */
  char *control_host;
  int control_port;
  GPtrArray *pings;         /* Ping *, in flight (not owned: see ping_finish) */
  char *last_url;           /* dedup, as direct.go's lastPingURL */
  guint unsupported_logged; /* bits: a type's "not supported" logged */
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
  HyphaePingAnswerer *owner; /* NULL once cancelled: then only free */
  GCancellable *cancellable; /* this answer: the timeout or teardown */
  guint timeout_id;
  gboolean timed_out;
  gboolean log;
  const char *what;  /* "HEAD" or "c2n POST" */
  char *url;         /* escaped, for logs */
  char *refused;     /* the first address refused, why */
  SoupSession *soup; /* plain HTTP only */
  SoupMessage *msg;
} Ping;

/* ---- addresses ------------------------------------------------------------- */

const char *
hyphae_ping_address_refusal (GInetAddress *address)
{
  const guint8 *b = g_inet_address_to_bytes (address);

  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6)
    {
      static const guint8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

      if (memcmp (b, mapped, sizeof mapped) != 0)
        {
          if (g_inet_address_get_is_any (address))
            return "an unspecified address";
          if (g_inet_address_get_is_loopback (address))
            return "a loopback address";
          if (g_inet_address_get_is_link_local (address))
            return "a link-local address";
          if (g_inet_address_get_is_multicast (address))
            return "a multicast address";
          return NULL;
        }
      /* ::ffff:a.b.c.d reaches a.b.c.d. */
      b += 12;
    }
  if (b[0] == 0)
    return "an unspecified address"; /* 0.0.0.0/8 */
  if (b[0] == 127)
    return "a loopback address"; /* 127.0.0.0/8 */
  if (b[0] == 169 && b[1] == 254)
    return "a link-local address"; /* 169.254.0.0/16 */
  if (b[0] >= 224 && b[0] < 240)
    return "a multicast address"; /* 224.0.0.0/4 */
  if (b[0] >= 240)
    return "a reserved or broadcast address"; /* 240.0.0.0/4, 255.255.255.255 */
  return NULL;
}

/* An IP literal host (brackets already gone; an IPv6 zone is dropped). */
static const char *
literal_refusal (const char *host)
{
  g_autofree char *bare = g_strdup (host);
  g_autoptr(GInetAddress) address = NULL;
  char *zone = strchr (bare, '%');

  if (zone)
    *zone = '\0';
  address = g_inet_address_new_from_string (bare);
  return address ? hyphae_ping_address_refusal (address) : NULL;
}

static int
uri_port (GUri *uri)
{
  int port = g_uri_get_port (uri);

  if (port > 0)
    return port;
  return g_ascii_strcasecmp (g_uri_get_scheme (uri), "https") == 0 ? 443 : 80;
}

static gboolean
is_control_origin (HyphaePingAnswerer *self,
                   GUri *uri)
{
  return self->control_host &&
         g_ascii_strcasecmp (g_uri_get_scheme (uri), self->control_scheme) == 0 &&
         g_ascii_strcasecmp (g_uri_get_host (uri), self->control_host) == 0 &&
         uri_port (uri) == self->control_port;
}

/* An http(s) URL with a host, or NULL. */
static GUri *
parse_http_url (const char *url)
{
  g_autoptr(GUri) uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, NULL);
  const char *scheme = uri ? g_uri_get_scheme (uri) : NULL;

  if (!scheme ||
      (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0) ||
      !g_uri_get_host (uri) || !g_uri_get_host (uri)[0])
    return NULL;
  return g_steal_pointer (&uri);
}

/* ---- one answer ------------------------------------------------------------ */

static void
ping_free (Ping *ping)
{
  g_clear_handle_id (&ping->timeout_id, g_source_remove);
  g_object_unref (ping->cancellable);
  g_free (ping->url);
  g_free (ping->refused);
  if (ping->msg)
    g_signal_handlers_disconnect_by_data (ping->msg, ping);
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
ping_new (HyphaePingAnswerer *self,
          const HyphaeMapPingRequest *pr,
          const char *what)
{
  Ping *ping = g_new0 (Ping, 1);

  ping->owner = self;
  ping->cancellable = g_cancellable_new ();
  ping->timeout_id = g_timeout_add (PING_TIMEOUT_MS, ping_timeout_cb, ping);
  ping->log = pr->log;
  ping->what = what;
  ping->url = hyphae_log_escape (pr->url, -1);
  g_ptr_array_add (self->pings, ping);
  return ping;
}

/* The end of every answer, whatever happened; frees the ping. */
static void
ping_finish (Ping *ping,
             guint status,
             const GError *error)
{
  if (ping->owner)
    {
      g_ptr_array_remove_fast (ping->owner->pings, ping);
      if (error && ping->refused)
        g_message ("PingRequest: %s %s refused: it leads to %s", ping->what, ping->url,
                   ping->refused);
      else if (error)
        {
          g_autofree char *text = hyphae_log_escape_gerror (error);

          g_message ("PingRequest: %s %s: %s", ping->what, ping->url,
                     ping->timed_out ? "timed out" : text);
        }
      else if (ping->log)
        g_message ("PingRequest: %s %s answered (HTTP %u)", ping->what, ping->url, status);
    }
  ping_free (ping);
}

static void
ping_h2_cb (GObject *source,
            GAsyncResult *result,
            gpointer user_data)
{
  Ping *ping = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = NULL;
  guint status = 0;

  body = hyphae_h2_client_request_finish ((HyphaeH2Client *) source, result, &status, &error);
  ping_finish (ping, status, error);
}

static void
ping_soup_cb (GObject *source,
              GAsyncResult *result,
              gpointer user_data)
{
  Ping *ping = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = NULL;

  body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  ping_finish (ping, error ? 0 : soup_message_get_status (ping->msg), error);
}

/* Every address libsoup is about to connect to, names included: close the
 * socket of a refused one before it connects (libsoup then tries the next
 * address, or fails). */
static void
ping_network_event_cb (SoupMessage *msg,
                       GSocketClientEvent event,
                       GIOStream *connection,
                       gpointer user_data)
{
  Ping *ping = user_data;
  g_autoptr(GSocketAddress) remote = NULL;
  g_autofree char *where = NULL;
  const char *why;

  if (event != G_SOCKET_CLIENT_CONNECTING || !G_IS_SOCKET_CONNECTION (connection))
    return;
  remote = g_socket_connection_get_remote_address (G_SOCKET_CONNECTION (connection), NULL);
  if (remote && G_IS_INET_SOCKET_ADDRESS (remote))
    {
      GInetAddress *address = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote));

      why = hyphae_ping_address_refusal (address);
      where = g_inet_address_to_string (address);
    }
  else
    why = "an address that is not an IP address";
  if (!why)
    return;
  if (!ping->refused)
    ping->refused = where ? g_strdup_printf ("%s (%s)", why, where) : g_strdup (why);
  g_socket_close (g_socket_connection_get_socket (G_SOCKET_CONNECTION (connection)), NULL);
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
                  const char *type)
{
  static const char * const known[] = { "disco", "TSMP", "ICMP", "peerapi" };
  guint bit = G_N_ELEMENTS (known); /* any other type */
  g_autofree char *escaped = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (known); i++)
    if (strcmp (type, known[i]) == 0)
      bit = i;
  if (self->unsupported_logged & (1u << bit))
    return;
  self->unsupported_logged |= 1u << bit;
  escaped = hyphae_log_escape (type, -1);
  g_message ("PingRequest: type \"%s\" is not supported yet; not answered%s", escaped,
             bit == G_N_ELEMENTS (known) ? " (nor other unknown types)" : "");
}

static void
answer_over_noise (HyphaePingAnswerer *self,
                   HyphaeH2Client *h2,
                   const HyphaeMapPingRequest *pr,
                   gboolean c2n,
                   const char *url)
{
  g_autofree char *path = noise_path (pr->url);
  g_autoptr(GBytes) body = NULL;
  Ping *ping;

  if (!path)
    {
      g_message ("PingRequest: %s is not an http(s) URL", url);
      return;
    }
  if (c2n)
    body = g_bytes_new_static (c2n_not_found, sizeof c2n_not_found - 1);
  ping = ping_new (self, pr, c2n ? "c2n POST" : "HEAD");
  hyphae_h2_client_request_async (h2, c2n ? "POST" : "HEAD", path, NULL, body,
                                  ping->cancellable, ping_h2_cb, ping);
}

static void
answer_plain (HyphaePingAnswerer *self,
              const HyphaeMapPingRequest *pr,
              const char *url)
{
  g_autoptr(GUri) uri = parse_http_url (pr->url);
  gboolean own = FALSE;
  const char *why;
  Ping *ping;

  if (!uri)
    {
      g_message ("PingRequest: %s is not an http(s) URL", url);
      return;
    }
  own = is_control_origin (self, uri);
  if (!own && (why = literal_refusal (g_uri_get_host (uri))))
    {
      g_message ("PingRequest: HEAD %s refused: it leads to %s", url, why);
      return;
    }
  ping = ping_new (self, pr, "HEAD");
  ping->msg = soup_message_new_from_uri (SOUP_METHOD_HEAD, uri);
  soup_message_add_flags (ping->msg, SOUP_MESSAGE_NO_REDIRECT);
  g_signal_connect (ping->msg, "network-event", G_CALLBACK (hyphae_bypass_soup_network_event), NULL);
  if (!own)
    g_signal_connect (ping->msg, "network-event", G_CALLBACK (ping_network_event_cb), ping);
  ping->soup = soup_session_new ();
  soup_session_set_proxy_resolver (ping->soup, NULL);
  soup_session_send_and_read_async (ping->soup, ping->msg, G_PRIORITY_DEFAULT,
                                    ping->cancellable, ping_soup_cb, ping);
}

void
hyphae_ping_answerer_handle (HyphaePingAnswerer *self,
                             HyphaeH2Client *h2,
                             const HyphaeMapPingRequest *pr)
{
  gboolean c2n = strcmp (pr->types, "c2n") == 0;
  g_autofree char *url = NULL;

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
  url = hyphae_log_escape (pr->url, -1);
  if (c2n && !c2n_request_ok (pr->payload))
    {
      g_message ("PingRequest c2n to %s: the payload is not an HTTP/1.1 request", url);
      return;
    }
  if (self->pings->len >= PINGS_MAX)
    {
      g_message ("PingRequest to %s dropped: %u answers in flight", url, PINGS_MAX);
      return;
    }
  /* Over Noise only the path is used: the connection is to control. */
  if (c2n || pr->url_is_noise)
    answer_over_noise (self, h2, pr, c2n, url);
  else
    answer_plain (self, pr, url);
}

/* ---- the answerer ---------------------------------------------------------- */

HyphaePingAnswerer *
hyphae_ping_answerer_new (const char *control_url)
{
  HyphaePingAnswerer *self = g_new0 (HyphaePingAnswerer, 1);
  g_autoptr(GUri) uri = control_url ? parse_http_url (control_url) : NULL;

  self->pings = g_ptr_array_new ();
  if (uri)
    {
      self->control_scheme = g_ascii_strdown (g_uri_get_scheme (uri), -1);
      self->control_host = g_strdup (g_uri_get_host (uri));
      self->control_port = uri_port (uri);
    }
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
      g_cancellable_cancel (cancellable); /* may free ping */
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
  g_free (self->control_scheme);
  g_free (self->control_host);
  g_free (self);
}
