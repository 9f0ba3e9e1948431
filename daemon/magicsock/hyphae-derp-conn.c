/* SPDX-License-Identifier: MIT */
/*
 * One DERP connection (hyphae-derp-conn.h). Facts from tailscale v1.102
 * derp/derphttp/derphttp_client.go (dialRegion, dialNode, tlsClient, connect:
 * the GET /derp upgrade, 10 s for the whole dial), net/tlsdial/tlsdial.go
 * (SetConfigExpectedCertHash: "sha256-raw:" pins the leaf certificate's DER)
 * and wgengine/magicsock/derp.go (runDerpReader: reconnect with backoff
 * capped at 5 s; derp.Client.Recv: 120 s read deadline).
 *
 * One attempt: targets (node, host) in the map's order → TCP → TLS →
 * request → 101 → the engine client (derp-client.h) fed with every byte.
 * Every async call of an attempt takes the attempt's GCancellable and a
 * reference on self; dropping the connection cancels it, so late callbacks
 * see G_IO_ERROR_CANCELLED and leave.
 */
#include "hyphae-derp-conn.h"
#include "hyphae-bypass.h"

#include <errno.h>
#include <string.h>

#include <libsoup/soup.h>

#include "crypto/secmem.h"
#include "magicsock/derp-client.h"

#define UPGRADE_ANSWER_MAX (16 << 10)
#define READ_BUFFER_LEN    (64 << 10)
#define HEALTH_TEXT_MAX    256
#define BACKOFF_FIRST_MS   100
#define PIN_PREFIX         "sha256-raw:"

typedef struct {
  const HyphaeDerpNode *node;
  const char *host; /* a literal or the node's HostName */
} DialTarget;

struct _HyphaeDerpConn {
  GObject parent_instance;

  GMainContext *context; /* of our creation: every callback runs there */
  HyphaeDerpRegion *region;
  guint8 *node_priv; /* secmem */
  HyphaeDerpPacketFunc func;
  gpointer user_data;
  GDestroyNotify user_data_free;
  gboolean plain_http;
  guint read_timeout_ms;

  gboolean preferred;
  gboolean closed;
  gboolean connected;
  char *health;
  guint n_connects;

  /* The current attempt or connection. */
  GCancellable *cancellable;
  GArray *targets; /* DialTarget */
  guint target_index;
  GError *dial_error;       /* the first failure among the targets */
  const char *cert_refused; /* why accept-certificate said no */
  const HyphaeDerpNode *node;
  GSocketClient *socket_client;
  GIOStream *stream;
  guint8 *rbuf;
  GByteArray *answer; /* the 101 so far */
  struct derp_client *derp;
  gboolean feeding;
  gboolean derp_dead; /* dropped while feeding: free after */
  GByteArray *out_pending;
  GByteArray *out_inflight;
  gint64 last_rx_us;
  GSource *dial_timeout;
  GSource *deadline;

  /* Between connections. */
  GSource *reconnect;
  guint failures;
  gint64 restart_at_us;    /* a Restarting frame: reconnect then… */
  gint64 restart_until_us; /* …and keep trying quickly until then */
};

G_DEFINE_FINAL_TYPE (HyphaeDerpConn, hyphae_derp_conn, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_CONNECTED,
  PROP_HEALTH,
  N_PROPS,
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_PEER_GONE,
  N_SIGNALS,
};

static guint signals[N_SIGNALS];

static void start_attempt (HyphaeDerpConn *self);
static void dial_next (HyphaeDerpConn *self);
static void read_next (HyphaeDerpConn *self);
static void kick_writer (HyphaeDerpConn *self);

/* ---- state ------------------------------------------------------------------- */

/* A timeout on our context (g_timeout_add would take the global default). */
static GSource *
timeout_new (HyphaeDerpConn *self,
             guint ms,
             GSourceFunc func)
{
  GSource *source = g_timeout_source_new (ms);

  g_source_set_callback (source, func, self, NULL);
  g_source_attach (source, self->context);
  return source;
}

static void
timeout_clear (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

static void
set_health (HyphaeDerpConn *self,
            const char *text)
{
  if (g_strcmp0 (self->health, text) == 0)
    return;
  g_free (self->health);
  self->health = g_strdup (text);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HEALTH]);
}

static void
set_connected (HyphaeDerpConn *self,
               gboolean connected)
{
  if (self->connected == connected)
    return;
  self->connected = connected;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTED]);
}

static const char *
region_code (HyphaeDerpConn *self)
{
  return self->region->region_code != NULL ? self->region->region_code : "";
}

static void
close_cb (GObject *source,
          GAsyncResult *result,
          gpointer user_data)
{
  g_io_stream_close_finish (G_IO_STREAM (source), result, NULL);
}

/* Closes the stream and forgets the attempt; no callback of it runs after. */
static void
drop_connection (HyphaeDerpConn *self)
{
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  timeout_clear (&self->dial_timeout);
  timeout_clear (&self->deadline);
  g_clear_pointer (&self->targets, g_array_unref);
  g_clear_error (&self->dial_error);
  g_clear_object (&self->socket_client);
  if (self->stream != NULL)
    {
      /* A handshake still running must not call back into us. */
      g_signal_handlers_disconnect_by_data (self->stream, self);
      /* Never a blocking close: a TLS close waits for the cancelled read to
       * finish, which needs this main loop. */
      g_io_stream_close_async (self->stream, G_PRIORITY_DEFAULT, NULL, close_cb, NULL);
      g_clear_object (&self->stream);
    }
  g_clear_pointer (&self->answer, g_byte_array_unref);
  g_clear_pointer (&self->out_pending, g_byte_array_unref);
  g_clear_pointer (&self->out_inflight, g_byte_array_unref);
  if (self->feeding)
    self->derp_dead = TRUE;
  else
    g_clear_pointer (&self->derp, derp_client_free);
  self->node = NULL;
}

static gboolean
reconnect_cb (gpointer user_data)
{
  HyphaeDerpConn *self = user_data;

  timeout_clear (&self->reconnect);
  start_attempt (self);
  return G_SOURCE_REMOVE;
}

/* The next attempt: at a Restarting frame's time, else after a jittered
 * exponential backoff (100 ms doubling, capped at 5 s, random in its upper half). */
static void
schedule_reconnect (HyphaeDerpConn *self)
{
  gint64 now = g_get_monotonic_time ();
  guint delay_ms;

  if (self->closed)
    return;
  if (now < self->restart_until_us)
    {
      delay_ms = self->restart_at_us > now ? (guint) ((self->restart_at_us - now) / 1000) : 0;
      delay_ms = MIN (MAX (delay_ms, BACKOFF_FIRST_MS), HYPHAE_DERP_CONN_BACKOFF_MAX_MS);
    }
  else
    {
      guint base;

      self->failures = MIN (self->failures + 1, 16);
      base = MIN ((guint) BACKOFF_FIRST_MS << (self->failures - 1), HYPHAE_DERP_CONN_BACKOFF_MAX_MS);
      delay_ms = base / 2 + (guint) g_random_int_range (0, (gint32) (base / 2) + 1);
    }
  g_debug ("derp-%d: reconnecting in %u ms", self->region->region_id, delay_ms);
  timeout_clear (&self->reconnect);
  self->reconnect = timeout_new (self, delay_ms, reconnect_cb);
}

/* The connection or the attempt failed: say why, dial again later. */
static void
fail (HyphaeDerpConn *self,
      const char *format,
      ...) G_GNUC_PRINTF (2, 3);

static void
fail (HyphaeDerpConn *self,
      const char *format,
      ...)
{
  g_autofree char *why = NULL;
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  why = g_strdup_vprintf (format, args);
  va_end (args);
  text = g_strdup_printf ("derp-%d (%s): %s", self->region->region_id, region_code (self), why);
  g_message ("%s", text);

  drop_connection (self);
  set_health (self, text);
  set_connected (self, FALSE);
  schedule_reconnect (self);
}

/* ---- the engine client's callbacks ---------------------------------------------- */

static void
derp_write (void *ctx,
            const uint8_t *data,
            size_t len)
{
  HyphaeDerpConn *self = ctx;

  if (self->out_pending == NULL)
    return;
  g_byte_array_append (self->out_pending, data, (guint) len);
  kick_writer (self);
}

static void
derp_connected (void *ctx)
{
  HyphaeDerpConn *self = ctx;

  self->failures = 0;
  self->restart_at_us = self->restart_until_us = 0;
  self->n_connects++;
  g_message ("derp-%d (%s): connected to %s", self->region->region_id, region_code (self),
             self->node->name != NULL ? self->node->name : self->node->host_name);
  set_health (self, "");
  set_connected (self, TRUE);
}

static void
derp_recv_packet (void *ctx,
                  const uint8_t src[DERP_KEY_LEN],
                  const uint8_t *data,
                  size_t len)
{
  HyphaeDerpConn *self = ctx;

  if (self->func != NULL && !self->closed)
    self->func (self, src, data, len, self->user_data);
}

static void
derp_peer_gone (void *ctx,
                const uint8_t key[DERP_KEY_LEN],
                uint8_t reason)
{
  HyphaeDerpConn *self = ctx;
  g_autoptr(GBytes) bytes = g_bytes_new (key, DERP_KEY_LEN);

  g_signal_emit (self, signals[SIGNAL_PEER_GONE], 0, bytes, (guint) reason);
}

/* Server text, shown in Health and logs: printable, bounded. */
static void
derp_health (void *ctx,
             const char *text,
             size_t len)
{
  HyphaeDerpConn *self = ctx;
  g_autofree char *raw = g_strndup (text, MIN (len, HEALTH_TEXT_MAX));
  g_autofree char *shown = g_strescape (raw, NULL);

  set_health (self, shown);
}

static void
derp_restarting (void *ctx,
                 uint32_t reconnect_in_ms,
                 uint32_t try_for_ms)
{
  HyphaeDerpConn *self = ctx;
  gint64 now = g_get_monotonic_time ();

  /* Advisory (derp_client.go ServerRestartingMessage); held to our backoff cap. */
  reconnect_in_ms = MIN (reconnect_in_ms, (uint32_t) HYPHAE_DERP_CONN_BACKOFF_MAX_MS);
  try_for_ms = MIN (try_for_ms, (uint32_t) 60 * 1000);
  self->restart_at_us = now + (gint64) reconnect_in_ms * 1000;
  self->restart_until_us = self->restart_at_us + (gint64) try_for_ms * 1000;
  g_message ("derp-%d (%s): server restarting, reconnecting in %u ms", self->region->region_id,
             region_code (self), reconnect_in_ms);
}

static const struct derp_client_ops derp_ops = {
  .write = derp_write,
  .connected = derp_connected,
  .recv_packet = derp_recv_packet,
  .peer_gone = derp_peer_gone,
  .health = derp_health,
  .restarting = derp_restarting,
};

static const char *
feed_error_text (int err)
{
  switch (err)
    {
    case -EMSGSIZE:
      return "a frame larger than the 1 MiB limit";
    case -EBADMSG:
      return "ServerInfo does not open with our key";
    case -EPROTO:
      return "malformed frame (bad magic or greeting)";
    default:
      return g_strerror (-err);
    }
}

/* ---- writing --------------------------------------------------------------------- */

static gsize
queued_bytes (HyphaeDerpConn *self)
{
  return (self->out_pending != NULL ? self->out_pending->len : 0) +
         (self->out_inflight != NULL ? self->out_inflight->len : 0);
}

static void
write_cb (GObject *source,
          GAsyncResult *result,
          gpointer user_data)
{
  g_autoptr(HyphaeDerpConn) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        fail (self, "writing: %s", error->message);
      return;
    }
  g_clear_pointer (&self->out_inflight, g_byte_array_unref);
  kick_writer (self);
}

/* One write in flight; what arrives meanwhile goes out in the next, together. */
static void
kick_writer (HyphaeDerpConn *self)
{
  GOutputStream *output;

  if (self->stream == NULL || self->out_inflight != NULL || self->out_pending == NULL ||
      self->out_pending->len == 0)
    return;
  self->out_inflight = g_steal_pointer (&self->out_pending);
  self->out_pending = g_byte_array_new ();
  output = g_io_stream_get_output_stream (self->stream);
  g_output_stream_write_all_async (output, self->out_inflight->data, self->out_inflight->len,
                                   G_PRIORITY_DEFAULT, self->cancellable, write_cb,
                                   g_object_ref (self));
}

/* ---- reading ----------------------------------------------------------------------- */

static gboolean
deadline_cb (gpointer user_data)
{
  HyphaeDerpConn *self = user_data;
  gint64 idle_ms = (g_get_monotonic_time () - self->last_rx_us) / 1000;

  timeout_clear (&self->deadline);
  if (idle_ms >= self->read_timeout_ms)
    {
      fail (self, "nothing received for %u ms (read deadline)", self->read_timeout_ms);
      return G_SOURCE_REMOVE;
    }
  self->deadline = timeout_new (self, self->read_timeout_ms - (guint) idle_ms, deadline_cb);
  return G_SOURCE_REMOVE;
}

/* Hands bytes to the engine client; FALSE when the connection was dropped. */
static gboolean
feed (HyphaeDerpConn *self,
      const guint8 *data,
      gsize len)
{
  int r;

  self->feeding = TRUE;
  r = derp_client_feed (self->derp, data, len, (uint64_t) g_get_monotonic_time () * 1000);
  self->feeding = FALSE;
  if (self->derp_dead)
    {
      g_clear_pointer (&self->derp, derp_client_free);
      self->derp_dead = FALSE;
      return FALSE;
    }
  if (r < 0)
    {
      fail (self, "%s", feed_error_text (r));
      return FALSE;
    }
  return TRUE;
}

/* The answer to GET /derp. TRUE while it goes on (upgraded, or more to read). */
static gboolean
take_answer (HyphaeDerpConn *self,
             const guint8 *data,
             gsize len)
{
  g_autoptr(SoupMessageHeaders) headers = NULL;
  guint status = 0;
  const guint8 *end;
  gsize header_len;

  g_byte_array_append (self->answer, data, (guint) len);
  end = memmem (self->answer->data, self->answer->len, "\r\n\r\n", 4);
  if (end == NULL)
    {
      if (self->answer->len < UPGRADE_ANSWER_MAX)
        return TRUE;
      fail (self, "HTTP answer headers longer than %d bytes", UPGRADE_ANSWER_MAX);
      return FALSE;
    }
  header_len = (gsize) (end - self->answer->data) + 4;
  if (header_len > UPGRADE_ANSWER_MAX)
    {
      fail (self, "HTTP answer headers longer than %d bytes", UPGRADE_ANSWER_MAX);
      return FALSE;
    }
  headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_RESPONSE);
  if (!soup_headers_parse_response ((const char *) self->answer->data, (int) header_len, headers,
                                    NULL, &status, NULL))
    {
      fail (self, "malformed HTTP answer to GET /derp");
      return FALSE;
    }
  if (status != SOUP_STATUS_SWITCHING_PROTOCOLS)
    {
      fail (self, "HTTP status %u to GET /derp (want 101)", status);
      return FALSE;
    }

  timeout_clear (&self->dial_timeout);
  self->deadline = timeout_new (self, self->read_timeout_ms, deadline_cb);
  self->derp = derp_client_new (self->node_priv, &derp_ops, self);
  if (self->derp == NULL)
    {
      fail (self, "cannot allocate the DERP client");
      return FALSE;
    }
  derp_client_set_preferred (self->derp, self->preferred);
  if (self->answer->len > header_len &&
      !feed (self, self->answer->data + header_len, self->answer->len - header_len))
    return FALSE;
  g_clear_pointer (&self->answer, g_byte_array_unref);
  return TRUE;
}

static void
read_cb (GObject *source,
         GAsyncResult *result,
         gpointer user_data)
{
  g_autoptr(HyphaeDerpConn) self = user_data;
  g_autoptr(GError) error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (n < 0)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        fail (self, "reading: %s", error->message);
      return;
    }
  if (n == 0)
    {
      fail (self, "connection closed by the server");
      return;
    }
  self->last_rx_us = g_get_monotonic_time ();
  if (self->answer != NULL)
    {
      if (!take_answer (self, self->rbuf, (gsize) n))
        return;
    }
  else if (!feed (self, self->rbuf, (gsize) n))
    return;
  if (self->stream != NULL)
    read_next (self);
}

static void
read_next (HyphaeDerpConn *self)
{
  GInputStream *input = g_io_stream_get_input_stream (self->stream);

  g_input_stream_read_async (input, self->rbuf, READ_BUFFER_LEN, G_PRIORITY_DEFAULT,
                             self->cancellable, read_cb, g_object_ref (self));
}

/* ---- dialling ----------------------------------------------------------------------- */

/* "host[:port]" as derphttp's urlString writes it (default ports left out). */
static char *
host_header (HyphaeDerpConn *self,
             const HyphaeDerpNode *node,
             const char *fallback)
{
  const char *host = node->host_name != NULL ? node->host_name : fallback;
  guint16 default_port = self->plain_http ? 80 : 443;
  gboolean v6 = strchr (host, ':') != NULL;

  if (node->derp_port == default_port)
    return g_strdup_printf (v6 ? "[%s]" : "%s", host);
  return g_strdup_printf (v6 ? "[%s]:%u" : "%s:%u", host, node->derp_port);
}

static void
send_request (HyphaeDerpConn *self,
              const char *dialled)
{
  g_autofree char *host = host_header (self, self->node, dialled);
  const HyphaeDerpNode *first = g_ptr_array_index (self->region->nodes, 0);
  g_autoptr(GString) req = g_string_new (NULL);

  g_string_append_printf (req, "GET /derp HTTP/1.1\r\nHost: %s\r\n", host);
  g_string_append (req, "User-Agent: hyphaed\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n");
  /* Informative, for the server's stats (derp.IdealNodeHeader). */
  if (self->node != first && first->name != NULL)
    g_string_append_printf (req, "Ideal-Node: %s\r\n", first->name);
  g_string_append (req, "\r\n");

  self->rbuf = self->rbuf != NULL ? self->rbuf : g_malloc (READ_BUFFER_LEN);
  self->answer = g_byte_array_new ();
  self->out_pending = g_byte_array_new ();
  g_byte_array_append (self->out_pending, (const guint8 *) req->str, (guint) req->len);
  kick_writer (self);
  read_next (self);
}

static gboolean
pin_matches (const char *pin_hex,
             GTlsCertificate *cert)
{
  g_autoptr(GByteArray) der = NULL;
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);

  if (cert == NULL)
    return FALSE;
  g_object_get (cert, "certificate", &der, NULL);
  if (der == NULL)
    return FALSE;
  g_checksum_update (sum, der->data, der->len);
  return g_ascii_strcasecmp (g_checksum_get_string (sum), pin_hex) == 0;
}

static const char *
node_pin (const HyphaeDerpNode *node)
{
  if (node->cert_name != NULL && g_str_has_prefix (node->cert_name, PIN_PREFIX))
    return node->cert_name + strlen (PIN_PREFIX);
  return NULL;
}

/*
 * Called by GIO only when normal verification failed. As tlsClient does: a
 * "sha256-raw:" CertName accepts exactly the certificate with that hash (even
 * with InsecureForTests); else InsecureForTests accepts anything; else another
 * CertName is the name the certificate must carry instead of HostName.
 */
static gboolean
accept_certificate_cb (GTlsConnection *connection,
                       GTlsCertificate *peer_cert,
                       GTlsCertificateFlags errors,
                       gpointer user_data)
{
  HyphaeDerpConn *self = user_data;
  const HyphaeDerpNode *node = self->node;
  g_autoptr(GSocketConnectable) identity = NULL;

  if (node == NULL)
    return FALSE;
  if (node_pin (node) != NULL)
    {
      self->cert_refused = "its SHA-256 is not the CertName pin";
      return pin_matches (node_pin (node), peer_cert);
    }
  if (node->insecure_for_tests)
    return TRUE;
  self->cert_refused = "it does not verify";
  if (node->cert_name == NULL || errors != G_TLS_CERTIFICATE_BAD_IDENTITY)
    return FALSE;
  self->cert_refused = "it does not verify for CertName";
  identity = g_network_address_new (node->cert_name, node->derp_port);
  return g_tls_certificate_verify (peer_cert, identity, NULL) == 0;
}

static void
handshake_cb (GObject *source,
              GAsyncResult *result,
              gpointer user_data)
{
  g_autoptr(HyphaeDerpConn) self = user_data;
  g_autoptr(GError) error = NULL;
  GTlsConnection *tls = G_TLS_CONNECTION (source);
  const char *pin;

  if (!g_tls_connection_handshake_finish (tls, result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      if (g_error_matches (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE) &&
          self->cert_refused != NULL)
        fail (self, "TLS with %s: certificate refused: %s", self->node->host_name,
              self->cert_refused);
      else
        fail (self, "TLS with %s: %s", self->node->host_name, error->message);
      return;
    }
  /* A pinned certificate that also passed normal verification never reached
   * accept-certificate: check the pin here too. */
  pin = node_pin (self->node);
  if (pin != NULL && !pin_matches (pin, g_tls_connection_get_peer_certificate (tls)))
    {
      fail (self, "TLS with %s: the certificate does not match CertName", self->node->host_name);
      return;
    }
  send_request (self, g_array_index (self->targets, DialTarget, self->target_index).host);
}

static void
connect_cb (GObject *source,
            GAsyncResult *result,
            gpointer user_data)
{
  g_autoptr(HyphaeDerpConn) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GSocketConnectable) identity = NULL;
  g_autoptr(GIOStream) tls = NULL;
  const DialTarget *target;

  connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (connection == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      target = &g_array_index (self->targets, DialTarget, self->target_index);
      g_debug ("derp-%d: %s port %u: %s", self->region->region_id, target->host,
               target->node->derp_port, error->message);
      if (self->dial_error == NULL)
        {
          g_prefix_error (&error, "%s port %u: ", target->host, target->node->derp_port);
          self->dial_error = g_steal_pointer (&error);
        }
      self->target_index++;
      dial_next (self);
      return;
    }

  target = &g_array_index (self->targets, DialTarget, self->target_index);
  self->node = target->node;
  if (self->plain_http)
    {
      self->stream = G_IO_STREAM (g_steal_pointer (&connection));
      send_request (self, target->host);
      return;
    }
  identity = g_network_address_new (self->node->host_name != NULL ? self->node->host_name
                                                                  : target->host,
                                    self->node->derp_port);
  tls = g_tls_client_connection_new (G_IO_STREAM (connection), identity, &error);
  if (tls == NULL)
    {
      fail (self, "TLS: %s", error->message);
      return;
    }
  self->cert_refused = NULL;
  g_signal_connect (tls, "accept-certificate", G_CALLBACK (accept_certificate_cb), self);
  self->stream = g_steal_pointer (&tls);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (self->stream), G_PRIORITY_DEFAULT,
                                    self->cancellable, handshake_cb, g_object_ref (self));
}

static void
dial_next (HyphaeDerpConn *self)
{
  g_autoptr(GSocketConnectable) address = NULL;
  const DialTarget *target;

  if (self->target_index >= self->targets->len)
    {
      if (self->dial_error != NULL)
        fail (self, "cannot connect: %s", self->dial_error->message);
      else
        fail (self, "no node to dial (STUN only, or IPv4 and IPv6 both off)");
      return;
    }
  target = &g_array_index (self->targets, DialTarget, self->target_index);
  address = g_network_address_new (target->host, target->node->derp_port);
  g_socket_client_connect_async (self->socket_client, address, self->cancellable, connect_cb,
                                 g_object_ref (self));
}

static gboolean
dial_timeout_cb (gpointer user_data)
{
  HyphaeDerpConn *self = user_data;

  timeout_clear (&self->dial_timeout);
  fail (self, "no DERP upgrade within %d ms", HYPHAE_DERP_CONN_DIAL_TIMEOUT_MS);
  return G_SOURCE_REMOVE;
}

static void
add_target (GArray *targets,
            const HyphaeDerpNode *node,
            const char *host)
{
  DialTarget t = { node, host };

  for (guint i = 0; i < targets->len; i++)
    {
      const DialTarget *o = &g_array_index (targets, DialTarget, i);

      if (o->node == node && strcmp (o->host, host) == 0)
        return;
    }
  g_array_append_val (targets, t);
}

/* derphttp's dialRegion + dialNode: nodes in order, STUN-only ones skipped;
 * per family the literal, else HostName, unless the family is off. */
static GArray *
dial_targets (HyphaeDerpRegion *region)
{
  GArray *targets = g_array_new (FALSE, FALSE, sizeof (DialTarget));

  for (guint i = 0; i < region->nodes->len; i++)
    {
      const HyphaeDerpNode *node = g_ptr_array_index (region->nodes, i);

      if (node->stun_only)
        continue;
      if (node->ipv4 != NULL)
        add_target (targets, node, node->ipv4);
      else if (!node->no_ipv4 && node->host_name != NULL)
        add_target (targets, node, node->host_name);
      if (node->ipv6 != NULL)
        add_target (targets, node, node->ipv6);
      else if (!node->no_ipv6 && node->host_name != NULL)
        add_target (targets, node, node->host_name);
    }
  return targets;
}

static void
start_attempt (HyphaeDerpConn *self)
{
  drop_connection (self);
  self->cancellable = g_cancellable_new ();
  self->targets = dial_targets (self->region);
  self->target_index = 0;
  self->socket_client = g_socket_client_new ();
  hyphae_bypass_mark_socket_client (self->socket_client);
  self->dial_timeout = timeout_new (self, HYPHAE_DERP_CONN_DIAL_TIMEOUT_MS, dial_timeout_cb);
  dial_next (self);
}

/* ---- API ------------------------------------------------------------------------------ */

HyphaeDerpConn *
hyphae_derp_conn_new (HyphaeDerpRegion *region,
                      const guint8 node_priv[HYPHAE_DERP_CONN_KEY_LEN],
                      HyphaeDerpPacketFunc func,
                      gpointer user_data,
                      GDestroyNotify user_data_free)
{
  HyphaeDerpConn *self;
  const char *http;

  g_return_val_if_fail (region != NULL, NULL);
  g_return_val_if_fail (node_priv != NULL, NULL);

  self = g_object_new (HYPHAE_TYPE_DERP_CONN, NULL);
  self->context = g_main_context_ref_thread_default ();
  self->region = hyphae_derp_region_ref (region);
  self->node_priv = secmem_alloc (HYPHAE_DERP_CONN_KEY_LEN);
  g_assert (self->node_priv != NULL);
  memcpy (self->node_priv, node_priv, HYPHAE_DERP_CONN_KEY_LEN);
  self->func = func;
  self->user_data = user_data;
  self->user_data_free = user_data_free;
  /* envknob.Bool: strconv.ParseBool's true spellings. */
  http = g_getenv ("TS_DEBUG_USE_DERP_HTTP");
  self->plain_http = http != NULL && (g_str_equal (http, "1") || g_ascii_strcasecmp (http, "true") == 0 ||
                                      g_str_equal (http, "t") || g_str_equal (http, "T"));
  start_attempt (self);
  return self;
}

HyphaeDerpRegion *
hyphae_derp_conn_get_region (HyphaeDerpConn *self)
{
  g_return_val_if_fail (HYPHAE_IS_DERP_CONN (self), NULL);
  return self->region;
}

void
hyphae_derp_conn_set_preferred (HyphaeDerpConn *self,
                                gboolean preferred)
{
  g_return_if_fail (HYPHAE_IS_DERP_CONN (self));
  self->preferred = !!preferred;
  if (self->derp != NULL && !self->derp_dead)
    derp_client_set_preferred (self->derp, self->preferred);
}

gboolean
hyphae_derp_conn_send (HyphaeDerpConn *self,
                       const guint8 dst[HYPHAE_DERP_CONN_KEY_LEN],
                       const guint8 *data,
                       gsize len)
{
  g_return_val_if_fail (HYPHAE_IS_DERP_CONN (self), FALSE);
  g_return_val_if_fail (dst != NULL, FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);

  if (!self->connected || self->derp == NULL || self->derp_dead || len > DERP_MAX_PACKET)
    return FALSE;
  if (queued_bytes (self) + DERP_HEADER_LEN + DERP_KEY_LEN + len > HYPHAE_DERP_CONN_QUEUE_MAX)
    return FALSE;
  return derp_client_send (self->derp, dst, data, len) == 0;
}

gboolean
hyphae_derp_conn_get_connected (HyphaeDerpConn *self)
{
  g_return_val_if_fail (HYPHAE_IS_DERP_CONN (self), FALSE);
  return self->connected;
}

const char *
hyphae_derp_conn_get_health (HyphaeDerpConn *self)
{
  g_return_val_if_fail (HYPHAE_IS_DERP_CONN (self), NULL);
  return self->health;
}

guint
hyphae_derp_conn_get_n_connects (HyphaeDerpConn *self)
{
  g_return_val_if_fail (HYPHAE_IS_DERP_CONN (self), 0);
  return self->n_connects;
}

void
hyphae_derp_conn_set_read_timeout (HyphaeDerpConn *self,
                                   guint timeout_ms)
{
  g_return_if_fail (HYPHAE_IS_DERP_CONN (self));
  g_return_if_fail (timeout_ms > 0);
  self->read_timeout_ms = timeout_ms;
}

void
hyphae_derp_conn_close (HyphaeDerpConn *self)
{
  g_return_if_fail (HYPHAE_IS_DERP_CONN (self));
  if (self->closed)
    return;
  self->closed = TRUE;
  timeout_clear (&self->reconnect);
  drop_connection (self);
  set_connected (self, FALSE);
}

/* ---- GObject ------------------------------------------------------------------------------ */

static void
hyphae_derp_conn_dispose (GObject *object)
{
  HyphaeDerpConn *self = HYPHAE_DERP_CONN (object);

  hyphae_derp_conn_close (self);
  if (self->user_data_free != NULL)
    g_clear_pointer (&self->user_data, self->user_data_free);
  self->func = NULL;
  G_OBJECT_CLASS (hyphae_derp_conn_parent_class)->dispose (object);
}

static void
hyphae_derp_conn_finalize (GObject *object)
{
  HyphaeDerpConn *self = HYPHAE_DERP_CONN (object);

  secmem_free (self->node_priv, HYPHAE_DERP_CONN_KEY_LEN);
  g_clear_pointer (&self->region, hyphae_derp_region_unref);
  g_clear_pointer (&self->rbuf, g_free);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_free (self->health);
  G_OBJECT_CLASS (hyphae_derp_conn_parent_class)->finalize (object);
}

static void
hyphae_derp_conn_get_property (GObject *object,
                               guint prop_id,
                               GValue *value,
                               GParamSpec *pspec)
{
  HyphaeDerpConn *self = HYPHAE_DERP_CONN (object);

  switch (prop_id)
    {
    case PROP_CONNECTED:
      g_value_set_boolean (value, self->connected);
      break;
    case PROP_HEALTH:
      g_value_set_string (value, self->health);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
hyphae_derp_conn_class_init (HyphaeDerpConnClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = hyphae_derp_conn_dispose;
  object_class->finalize = hyphae_derp_conn_finalize;
  object_class->get_property = hyphae_derp_conn_get_property;

  properties[PROP_CONNECTED] =
    g_param_spec_boolean ("connected", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_HEALTH] =
    g_param_spec_string ("health", NULL, NULL, "",
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_PEER_GONE] =
    g_signal_new ("peer-gone", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_BYTES, G_TYPE_UINT);
}

static void
hyphae_derp_conn_init (HyphaeDerpConn *self)
{
  self->health = g_strdup ("");
  self->read_timeout_ms = HYPHAE_DERP_CONN_READ_TIMEOUT_MS;
}
