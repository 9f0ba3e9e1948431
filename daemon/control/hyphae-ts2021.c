/* SPDX-License-Identifier: MIT */
/*
 * TS2021 dialling (control/controlhttp, control/ts2021): fetch the server's Noise key
 * from /key, then POST /ts2021 with the Noise initiation in a header, check
 * the 101, finish the handshake and peel off the optional early payload.
 *
 * The upgrade is done by hand on a GSocketConnection (not libsoup), because
 * the bytes that follow the 101's headers are the Noise stream and must not
 * be lost or interpreted as HTTP. Everything is asynchronous: a small state
 * machine in a GTask reads into one bounded buffer and hands the bytes to the
 * sans-I/O controlbase. What the server answers (/key, the 101, the early
 * payload) is read by the pure functions of hyphae-ts2021-answers.c.
 */
#include "hyphae-ts2021.h"
#include "hyphae-bypass.h"
#include "hyphae-log-escape.h"
#include "hyphae-ts2021-answers.h"

#include <errno.h>
#include <string.h>

#include <libsoup/soup.h>
#include <sodium.h>

#include "crypto/keys.h"
#include "crypto/secmem.h"

#define KEY_READ_CHUNK   (8 * 1024)
#define SERVER_ERROR_MAX 256 /* how much of a server's error frame text we report */

/* clang-format off */
G_DEFINE_QUARK (hyphae-ts2021-error-quark, hyphae_ts2021_error)
/* clang-format on */

struct _HyphaeTs2021Conn {
  GIOStream *stream;
  struct controlbase *noise; /* secmem: holds the transport keys */
  char *early_payload;       /* NULL: none was sent */
  GBytes *leftover;          /* never NULL, may be empty */
};

/* ------------------------------------------------------------------------ */

/* A parsed control URL: scheme http or https, a host, a port. */
typedef struct
{
  char *host; /* without IPv6 brackets */
  guint16 port;
  gboolean tls;
  char *host_header; /* Host: value (brackets, port when not the default) */
} ControlTarget;

static void
control_target_clear (ControlTarget *target)
{
  g_clear_pointer (&target->host, g_free);
  g_clear_pointer (&target->host_header, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ControlTarget, control_target_clear)

static gboolean
control_target_parse (const char *control_url,
                      ControlTarget *target,
                      GError **error)
{
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *scheme;
  const char *host;
  int port;
  guint16 default_port;
  gboolean ipv6;

  uri = g_uri_parse (control_url, G_URI_FLAGS_NONE, &local_error);
  if (uri == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Invalid control URL: %s", local_error->message);
      return FALSE;
    }

  scheme = g_uri_get_scheme (uri);
  if (g_ascii_strcasecmp (scheme, "http") == 0)
    {
      target->tls = FALSE;
      default_port = 80;
    }
  else if (g_ascii_strcasecmp (scheme, "https") == 0)
    {
      target->tls = TRUE;
      default_port = 443;
    }
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Invalid control URL: scheme “%s” is not http or https", scheme);
      return FALSE;
    }

  host = g_uri_get_host (uri);
  if (host == NULL || *host == '\0')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "Invalid control URL: no host");
      return FALSE;
    }

  port = g_uri_get_port (uri);
  if (port == 0 || port > G_MAXUINT16)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Invalid control URL: port %d", port);
      return FALSE;
    }

  ipv6 = strchr (host, ':') != NULL;
  target->host = g_strdup (host);
  target->port = port < 0 ? default_port : (guint16) port;
  if (target->port == default_port)
    target->host_header = g_strdup_printf (ipv6 ? "[%s]" : "%s", host);
  else
    target->host_header = g_strdup_printf (ipv6 ? "[%s]:%u" : "%s:%u", host, target->port);

  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* GET /key                                                                  */

typedef struct
{
  SoupSession *session;
  SoupMessage *message;
  GInputStream *body_stream;
  GByteArray *body;
  guint8 chunk[KEY_READ_CHUNK];
} FetchKeyData;

static void
fetch_key_data_free (FetchKeyData *data)
{
  g_clear_object (&data->body_stream);
  g_clear_object (&data->message);
  g_clear_object (&data->session);
  g_clear_pointer (&data->body, g_byte_array_unref);
  g_free (data);
}

static void fetch_key_read_next (GTask *task);

static void
fetch_key_read_cb (GObject *source,
                   GAsyncResult *result,
                   gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  FetchKeyData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  guint8 key[KEY_LEN];
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (n < 0)
    {
      g_prefix_error (&error, "GET /key: reading the body: ");
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (n > 0)
    {
      if (data->body->len + (gsize) n > HYPHAE_TS2021_KEY_ANSWER_MAX)
        {
          g_task_return_new_error (task, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_KEY,
                                   "GET /key: body larger than %u bytes",
                                   (guint) HYPHAE_TS2021_KEY_ANSWER_MAX);
          return;
        }
      g_byte_array_append (data->body, data->chunk, (guint) n);
      fetch_key_read_next (g_steal_pointer (&task));
      return;
    }

  if (!hyphae_ts2021_parse_key_answer (data->body->data, data->body->len, key, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  g_task_return_pointer (task, g_memdup2 (key, sizeof key), g_free);
}

static void
fetch_key_read_next (GTask *task)
{
  FetchKeyData *data = g_task_get_task_data (task);

  g_input_stream_read_async (data->body_stream, data->chunk, sizeof data->chunk,
                             G_PRIORITY_DEFAULT, g_task_get_cancellable (task),
                             fetch_key_read_cb, task);
}

static void
fetch_key_send_cb (GObject *source,
                   GAsyncResult *result,
                   gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  FetchKeyData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  guint status;

  data->body_stream = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (data->body_stream == NULL)
    {
      g_prefix_error (&error, "GET /key: ");
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  status = soup_message_get_status (data->message);
  if (status != SOUP_STATUS_OK)
    {
      const char *reason = soup_message_get_reason_phrase (data->message);

      g_task_return_new_error (task, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_KEY,
                               "GET /key: HTTP status %u%s%s (want 200)", status,
                               reason && *reason ? " " : "", reason ? reason : "");
      return;
    }

  data->body = g_byte_array_new ();
  fetch_key_read_next (g_steal_pointer (&task));
}

void
hyphae_ts2021_fetch_key_async (const char *control_url,
                               guint16 capver,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(ControlTarget) target = { 0 };
  g_autofree char *base = NULL;
  g_autofree char *key_url = NULL;
  FetchKeyData *data;
  gsize len;

  g_return_if_fail (control_url != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, hyphae_ts2021_fetch_key_async);
  g_task_set_name (task, "[hyphae] ts2021 fetch key");

  if (!control_target_parse (control_url, &target, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* Like Tailscale: "<server URL>/key?v=<capver>", the URL's path kept. */
  base = g_strdup (control_url);
  len = strlen (base);
  while (len > 0 && base[len - 1] == '/')
    base[--len] = '\0';
  key_url = g_strdup_printf ("%s/key?v=%u", base, capver);

  data = g_new0 (FetchKeyData, 1);
  g_task_set_task_data (task, data, (GDestroyNotify) fetch_key_data_free);

  data->message = soup_message_new (SOUP_METHOD_GET, key_url);
  if (data->message == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "Invalid control URL: cannot build the /key URL");
      return;
    }

  /*
   * Unlike the upgrade, /key keeps libsoup's TLS certificate checks: the key
   * it returns is what authenticates the Noise connection.
   */
  /* Control is outside the tunnel, also when an exit node takes /0. */
  g_signal_connect (data->message, "network-event", G_CALLBACK (hyphae_bypass_soup_network_event), NULL);
  data->session = soup_session_new ();
  soup_session_send_async (data->session, data->message, G_PRIORITY_DEFAULT, cancellable,
                           fetch_key_send_cb, g_steal_pointer (&task));
}

gboolean
hyphae_ts2021_fetch_key_finish (GAsyncResult *result,
                                guint8 out_key[KEY_LEN],
                                GError **error)
{
  g_autofree guint8 *key = NULL;

  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == hyphae_ts2021_fetch_key_async,
                        FALSE);
  g_return_val_if_fail (out_key != NULL, FALSE);

  key = g_task_propagate_pointer (G_TASK (result), error);
  if (key == NULL)
    return FALSE;

  memcpy (out_key, key, KEY_LEN);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* The connection                                                            */

static struct controlbase *
noise_new (void)
{
  /* secmem_alloc is sodium_malloc, which needs sodium_init (idempotent). */
  if (sodium_init () < 0)
    return NULL;
  return secmem_alloc (sizeof (struct controlbase));
}

static void
noise_free (struct controlbase *noise)
{
  if (noise == NULL)
    return;
  controlbase_wipe (noise);
  secmem_free (noise, sizeof *noise);
}

const char *
hyphae_ts2021_conn_get_early_payload (HyphaeTs2021Conn *conn)
{
  g_return_val_if_fail (conn != NULL, NULL);

  return conn->early_payload;
}

GBytes *
hyphae_ts2021_conn_get_leftover (HyphaeTs2021Conn *conn)
{
  g_return_val_if_fail (conn != NULL, NULL);

  return conn->leftover;
}

GIOStream *
hyphae_ts2021_conn_get_stream (HyphaeTs2021Conn *conn)
{
  g_return_val_if_fail (conn != NULL, NULL);

  return conn->stream;
}

struct controlbase *
hyphae_ts2021_conn_get_noise (HyphaeTs2021Conn *conn)
{
  g_return_val_if_fail (conn != NULL, NULL);

  return conn->noise;
}

void
hyphae_ts2021_conn_free (HyphaeTs2021Conn *conn)
{
  if (conn == NULL)
    return;

  g_clear_pointer (&conn->noise, noise_free);
  g_clear_pointer (&conn->early_payload, g_free);
  g_clear_pointer (&conn->leftover, g_bytes_unref);
  g_clear_object (&conn->stream);
  g_free (conn);
}

/* ------------------------------------------------------------------------ */
/* Dialling: POST /ts2021, 101, Noise response, early payload                */

typedef enum {
  DIAL_PHASE_HEADERS,   /* reading the HTTP response headers */
  DIAL_PHASE_HANDSHAKE, /* waiting for the Noise response frame */
  DIAL_PHASE_EARLY,     /* collecting the early payload (or the first 9 bytes of HTTP/2) */
} DialPhase;

typedef struct
{
  ControlTarget target;
  GSocketClient *client;
  GIOStream *stream;
  struct controlbase *noise;
  char *request;
  DialPhase phase;
  GByteArray *plain; /* decrypted bytes not yet handed out */
  char *early_payload;
  gsize len; /* bytes in buf */
  guint8 buf[HYPHAE_TS2021_UPGRADE_ANSWER_MAX];
  guint8 record[CONTROLBASE_MAX_PLAINTEXT];
} DialData;

static void
dial_data_free (DialData *data)
{
  control_target_clear (&data->target);
  g_clear_object (&data->client);
  g_clear_object (&data->stream);
  g_clear_pointer (&data->noise, noise_free);
  g_clear_pointer (&data->request, g_free);
  g_clear_pointer (&data->plain, g_byte_array_unref);
  g_clear_pointer (&data->early_payload, g_free);
  sodium_memzero (data->record, sizeof data->record);
  g_free (data);
}

static void
dial_consume (DialData *data,
              gsize n)
{
  g_assert (n <= data->len);

  memmove (data->buf, data->buf + n, data->len - n);
  data->len -= n;
}

/* The error code for a failure (EOF, reset) in the current phase. */
static HyphaeTs2021Error
dial_phase_error (DialData *data)
{
  switch (data->phase)
    {
    case DIAL_PHASE_HEADERS:
      return HYPHAE_TS2021_ERROR_UPGRADE;
    case DIAL_PHASE_HANDSHAKE:
      return HYPHAE_TS2021_ERROR_HANDSHAKE;
    case DIAL_PHASE_EARLY:
      return HYPHAE_TS2021_ERROR_PROTOCOL;
    }
  g_assert_not_reached ();
}

static const char *
dial_phase_name (DialData *data)
{
  switch (data->phase)
    {
    case DIAL_PHASE_HEADERS:
      return "before the 101 response";
    case DIAL_PHASE_HANDSHAKE:
      return "before the Noise response";
    case DIAL_PHASE_EARLY:
      return "before the early payload";
    }
  g_assert_not_reached ();
}

/* Decide on the early payload from the plaintext collected so far. Sets *done. */
static gboolean
dial_handle_plaintext (DialData *data,
                       gboolean *done,
                       GError **error)
{
  gsize frame_len;
  int ret;

  ret = hyphae_ts2021_parse_early_payload (data->plain->data, data->plain->len, &frame_len, error);
  if (ret <= 0)
    return ret == 0;
  if (frame_len > 0)
    {
      const char *json = (const char *) data->plain->data + HYPHAE_TS2021_EARLY_HEADER_LEN;

      /* Strict JSON: no NUL or control bytes. */
      data->early_payload = g_strndup (json, frame_len - HYPHAE_TS2021_EARLY_HEADER_LEN);
      g_byte_array_remove_range (data->plain, 0, frame_len);
    }
  *done = TRUE;
  return TRUE;
}

/* Decrypt every buffered byte (partial records go into the controlbase). */
static gboolean
dial_read_records (DialData *data,
                   gboolean *done,
                   GError **error)
{
  gsize off = 0;

  while (off < data->len)
    {
      size_t out_len = 0;
      bool record_done = false;
      int ret;

      ret = controlbase_read (data->noise, data->buf + off, data->len - off, data->record,
                              &out_len, &record_done);
      if (ret < 0)
        {
          data->len = 0;
          /* clang-format off */
          g_set_error (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_PROTOCOL,
                       "Noise record: %s",
                       ret == -EBADMSG ? "authentication failed" :
                       ret == -EPROTO ? "malformed frame" : g_strerror (-ret));
          /* clang-format on */
          return FALSE;
        }
      off += (gsize) ret;
      if (record_done && out_len > 0)
        {
          g_byte_array_append (data->plain, data->record, (guint) out_len);
          sodium_memzero (data->record, out_len);
          /* Once decided, keep decrypting: the rest is leftover for HTTP/2. */
          if (!*done && !dial_handle_plaintext (data, done, error))
            {
              data->len = 0;
              return FALSE;
            }
        }
    }
  data->len = 0;
  return TRUE;
}

/* Process what is buffered; sets *done when the connection is ready. */
static gboolean
dial_process (DialData *data,
              gboolean *done,
              GError **error)
{
  if (data->phase == DIAL_PHASE_HEADERS)
    {
      gsize headers_len;
      int ret = hyphae_ts2021_parse_upgrade_answer (data->buf, data->len, &headers_len, error);

      if (ret <= 0)
        return ret == 0;
      /* Whatever followed the headers is already the Noise stream. */
      dial_consume (data, headers_len);
      data->phase = DIAL_PHASE_HANDSHAKE;
    }

  if (data->phase == DIAL_PHASE_HANDSHAKE)
    {
      char server_error[SERVER_ERROR_MAX];
      int ret;

      if (data->len == 0)
        return TRUE;
      ret = controlbase_client_finish (data->noise, data->buf, data->len, server_error,
                                       sizeof server_error);
      if (ret == 0)
        {
          /* The response is 51 bytes, the error text we wait for < 256. */
          g_assert (data->len < sizeof data->buf);
          return TRUE;
        }
      if (ret < 0)
        {
          if (ret == -ECONNREFUSED)
            {
              g_autofree char *shown = hyphae_log_escape (server_error, -1);

              g_set_error (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_HANDSHAKE,
                           "Noise handshake: the server refused: %s", shown);
            }
          else
            {
              /* clang-format off */
              g_set_error (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_HANDSHAKE,
                           "Noise handshake: %s",
                           ret == -EBADMSG ? "the response does not authenticate" :
                           ret == -EPROTO ? "malformed response frame" : g_strerror (-ret));
              /* clang-format on */
            }
          return FALSE;
        }
      dial_consume (data, (gsize) ret);
      data->phase = DIAL_PHASE_EARLY;
      g_debug ("TS2021: Noise handshake with %s complete", data->target.host_header);
    }

  return dial_read_records (data, done, error);
}

static void dial_read_next (GTask *task);

static void
dial_complete (GTask *task)
{
  DialData *data = g_task_get_task_data (task);
  HyphaeTs2021Conn *conn;
  gsize leftover_len;

  conn = g_new0 (HyphaeTs2021Conn, 1);
  conn->stream = g_steal_pointer (&data->stream);
  conn->noise = g_steal_pointer (&data->noise);
  conn->early_payload = g_steal_pointer (&data->early_payload);
  leftover_len = data->plain->len;
  conn->leftover = g_bytes_new_take (g_byte_array_free (g_steal_pointer (&data->plain), FALSE),
                                     leftover_len);

  g_task_return_pointer (task, conn, (GDestroyNotify) hyphae_ts2021_conn_free);
}

static void
dial_read_cb (GObject *source,
              GAsyncResult *result,
              gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  DialData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  gboolean done = FALSE;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (n < 0)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_error (task, g_steal_pointer (&error));
      else
        g_task_return_new_error (task, HYPHAE_TS2021_ERROR, dial_phase_error (data),
                                 "Reading %s: %s", dial_phase_name (data), error->message);
      return;
    }
  if (n == 0)
    {
      g_task_return_new_error (task, HYPHAE_TS2021_ERROR, dial_phase_error (data),
                               "Connection closed %s", dial_phase_name (data));
      return;
    }

  data->len += (gsize) n;
  if (!dial_process (data, &done, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (done)
    dial_complete (task);
  else
    dial_read_next (g_steal_pointer (&task));
}

static void
dial_read_next (GTask *task)
{
  DialData *data = g_task_get_task_data (task);
  GInputStream *input = g_io_stream_get_input_stream (data->stream);

  g_assert (data->len < sizeof data->buf);
  g_input_stream_read_async (input, data->buf + data->len, sizeof data->buf - data->len,
                             G_PRIORITY_DEFAULT, g_task_get_cancellable (task),
                             dial_read_cb, task);
}

static void
dial_write_cb (GObject *source,
               GAsyncResult *result,
               gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  DialData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_error (task, g_steal_pointer (&error));
      else
        g_task_return_new_error (task, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_UPGRADE,
                                 "HTTP upgrade: sending the request: %s", error->message);
      return;
    }
  g_clear_pointer (&data->request, g_free);

  dial_read_next (g_steal_pointer (&task));
}

static void
dial_connect_cb (GObject *source,
                 GAsyncResult *result,
                 gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  DialData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  GSocketConnection *connection;
  GOutputStream *output;
  GCancellable *cancellable;

  connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (connection == NULL)
    {
      g_prefix_error (&error, "Connecting to %s port %u: ", data->target.host, data->target.port);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  data->stream = G_IO_STREAM (connection);
  g_debug ("TS2021: connected to %s port %u%s", data->target.host, data->target.port,
           data->target.tls ? " (TLS)" : "");

  output = g_io_stream_get_output_stream (data->stream);
  cancellable = g_task_get_cancellable (task);
  g_output_stream_write_all_async (output, data->request, strlen (data->request),
                                   G_PRIORITY_DEFAULT, cancellable,
                                   dial_write_cb, g_steal_pointer (&task));
}

static gboolean
accept_any_certificate (GTlsConnection *connection,
                        GTlsCertificate *peer_cert,
                        GTlsCertificateFlags errors,
                        gpointer user_data)
{
  /* Noise authenticates the server; TLS only hides the upgrade (controlhttp/client.go). */
  g_debug ("TS2021: ignoring TLS certificate errors 0x%x", (guint) errors);
  return TRUE;
}

static void
on_socket_client_event (GSocketClient *client,
                        GSocketClientEvent event,
                        GSocketConnectable *connectable,
                        GIOStream *connection,
                        gpointer user_data)
{
  if (event == G_SOCKET_CLIENT_TLS_HANDSHAKING && G_IS_TLS_CLIENT_CONNECTION (connection))
    g_signal_connect (connection, "accept-certificate", G_CALLBACK (accept_any_certificate), NULL);
}

void
hyphae_ts2021_dial_async (const char *control_url,
                          guint16 capver,
                          const guint8 machine_priv[KEY_LEN],
                          const guint8 server_pub[KEY_LEN],
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnectable) address = NULL;
  g_autofree char *handshake_b64 = NULL;
  guint8 initiation[CONTROLBASE_INITIATION_LEN];
  DialData *data;
  int ret;

  g_return_if_fail (control_url != NULL);
  g_return_if_fail (machine_priv != NULL);
  g_return_if_fail (server_pub != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, hyphae_ts2021_dial_async);
  g_task_set_name (task, "[hyphae] ts2021 dial");

  data = g_new0 (DialData, 1);
  g_task_set_task_data (task, data, (GDestroyNotify) dial_data_free);

  if (!control_target_parse (control_url, &data->target, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  data->noise = noise_new ();
  if (data->noise == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_FAILED,
                               "Cannot allocate secure memory for the Noise state");
      return;
    }
  ret = controlbase_client_init (data->noise, capver, machine_priv, server_pub, NULL, initiation);
  if (ret != CONTROLBASE_INITIATION_LEN)
    {
      g_task_return_new_error (task, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_HANDSHAKE,
                               "Noise handshake: cannot build the initiation: %s",
                               g_strerror (ret < 0 ? -ret : EINVAL));
      return;
    }
  data->plain = g_byte_array_new ();

  handshake_b64 = g_base64_encode (initiation, sizeof initiation);
  data->request = g_strdup_printf ("POST /ts2021 HTTP/1.1\r\n"
                                   "Host: %s\r\n"
                                   "Upgrade: " HYPHAE_TS2021_UPGRADE "\r\n"
                                   "Connection: upgrade\r\n"
                                   "X-Tailscale-Handshake: %s\r\n"
                                   "Content-Length: 0\r\n"
                                   "\r\n",
                                   data->target.host_header, handshake_b64);

  data->client = g_socket_client_new ();
  hyphae_bypass_mark_socket_client (data->client);
  if (data->target.tls)
    {
      /* No ALPN: h2 cannot be upgraded (controlhttp/client.go). */
      g_socket_client_set_tls (data->client, TRUE);
      g_signal_connect (data->client, "event", G_CALLBACK (on_socket_client_event), NULL);
    }

  address = g_network_address_new (data->target.host, data->target.port);
  g_socket_client_connect_async (data->client, address, cancellable, dial_connect_cb,
                                 g_steal_pointer (&task));
}

HyphaeTs2021Conn *
hyphae_ts2021_dial_finish (GAsyncResult *result,
                           GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == hyphae_ts2021_dial_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
