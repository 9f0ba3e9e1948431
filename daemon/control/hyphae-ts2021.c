/* SPDX-License-Identifier: MIT */
/*
 * TS2021 dialling (PROTOCOL.md §1.1, §1.2, §1.5): fetch the server's Noise key
 * from /key, then POST /ts2021 with the Noise initiation in a header, check
 * the 101, finish the handshake and peel off the optional early payload.
 *
 * The upgrade is done by hand on a GSocketConnection (not libsoup), because
 * the bytes that follow the 101's headers are the Noise stream and must not
 * be lost or interpreted as HTTP. Everything is asynchronous: a small state
 * machine in a GTask reads into one bounded buffer and hands the bytes to the
 * sans-I/O controlbase.
 */
#include "hyphae-ts2021.h"
#include "hyphae-json.h"

#include <errno.h>
#include <string.h>

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <sodium.h>

#include "crypto/keys.h"
#include "crypto/secmem.h"

#define UPGRADE_VALUE      "tailscale-control-protocol"
#define KEY_BODY_MAX       (64 * 1024)
#define KEY_READ_CHUNK     (8 * 1024)
#define HEADERS_MAX        (16 * 1024)
#define EARLY_MAGIC        "\xff\xff\xffTS"
#define EARLY_MAGIC_LEN    5
#define EARLY_HEADER_LEN   9    /* magic ‖ u32 BE length; also an HTTP/2 frame header */
#define SERVER_ERROR_MAX   256  /* how much of a server's error frame text we report */

G_DEFINE_QUARK (hyphae-ts2021-error-quark, hyphae_ts2021_error)

struct _HyphaeTs2021Conn
{
  GIOStream          *stream;
  struct controlbase *noise;          /* secmem: holds the transport keys */
  char               *early_payload;  /* NULL: none was sent */
  GBytes             *leftover;       /* never NULL, may be empty */
};

/* ------------------------------------------------------------------------ */

/* A parsed control URL: scheme http or https, a host, a port. */
typedef struct
{
  char     *host;         /* without IPv6 brackets */
  guint16   port;
  gboolean  tls;
  char     *host_header;  /* Host: value (brackets, port when not the default) */
} ControlTarget;



static void
control_target_clear (ControlTarget *target)
{
  g_clear_pointer (&target->host, g_free);
  g_clear_pointer (&target->host_header, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ControlTarget, control_target_clear)

static gboolean
control_target_parse (const char     *control_url,
                      ControlTarget  *target,
                      GError        **error)
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

static gboolean
parse_key_response (const guint8  *body,
                    gsize          len,
                    guint8         out_key[32],
                    GError       **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;
  JsonNode *member;
  JsonObject *object;
  const char *text;

  if (len == 0)
    {
      g_set_error_literal (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_KEY,
                           "GET /key: empty body (capability version too old for the server?)");
      return FALSE;
    }

  if (!hyphae_json_depth_ok (body, len))
    {
      g_set_error_literal (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_KEY,
                           "GET /key: JSON nested too deep");
      return FALSE;
    }
  if (!json_parser_load_from_data (parser, (const char *) body, (gssize) len, &local_error))
    {
      g_set_error (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_KEY,
                   "GET /key: body is not JSON: %s", local_error->message);
      return FALSE;
    }

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_KEY,
                           "GET /key: body is not a JSON object");
      return FALSE;
    }

  object = json_node_get_object (root);
  member = json_object_get_member (object, "publicKey");
  if (member == NULL || !JSON_NODE_HOLDS_VALUE (member) ||
      json_node_get_value_type (member) != G_TYPE_STRING)
    {
      g_set_error_literal (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_KEY,
                           "GET /key: no publicKey string");
      return FALSE;
    }

  text = json_node_get_string (member);
  if (key_from_text (out_key, KEY_PREFIX_MACHINE, text, strlen (text)) != 0)
    {
      g_set_error_literal (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_KEY,
                           "GET /key: publicKey is not “mkey:” followed by 64 hex digits");
      return FALSE;
    }

  if (key_is_zero (out_key))
    {
      g_set_error_literal (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_KEY,
                           "GET /key: publicKey is the zero key");
      return FALSE;
    }

  return TRUE;
}

static void fetch_key_read_next (GTask *task);

static void
fetch_key_read_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  FetchKeyData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  guint8 key[32];
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
      if (data->body->len + (gsize) n > KEY_BODY_MAX)
        {
          g_task_return_new_error (task, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_KEY,
                                   "GET /key: body larger than %u bytes", KEY_BODY_MAX);
          return;
        }
      g_byte_array_append (data->body, data->chunk, (guint) n);
      fetch_key_read_next (g_steal_pointer (&task));
      return;
    }

  if (!parse_key_response (data->body->data, data->body->len, key, &error))
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
fetch_key_send_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
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
hyphae_ts2021_fetch_key_async (const char          *control_url,
                               guint16              capver,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
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
  data->session = soup_session_new ();
  soup_session_send_async (data->session, data->message, G_PRIORITY_DEFAULT, cancellable,
                           fetch_key_send_cb, g_steal_pointer (&task));
}

gboolean
hyphae_ts2021_fetch_key_finish (GAsyncResult  *result,
                                guint8         out_key[32],
                                GError       **error)
{
  g_autofree guint8 *key = NULL;

  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == hyphae_ts2021_fetch_key_async,
                        FALSE);
  g_return_val_if_fail (out_key != NULL, FALSE);

  key = g_task_propagate_pointer (G_TASK (result), error);
  if (key == NULL)
    return FALSE;

  memcpy (out_key, key, 32);
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

typedef enum
{
  DIAL_PHASE_HEADERS,     /* reading the HTTP response headers */
  DIAL_PHASE_HANDSHAKE,   /* waiting for the Noise response frame */
  DIAL_PHASE_PEEK,        /* collecting the first 9 plaintext bytes */
  DIAL_PHASE_EARLY,       /* collecting the early payload's JSON */
} DialPhase;

typedef struct
{
  ControlTarget       target;
  GSocketClient      *client;
  GIOStream          *stream;
  struct controlbase *noise;
  char               *request;
  DialPhase           phase;
  guint32             early_len;
  GByteArray         *plain;              /* decrypted bytes not yet handed out */
  char               *early_payload;
  gsize               len;                /* bytes in buf */
  guint8              buf[HEADERS_MAX];
  guint8              record[CONTROLBASE_MAX_PLAINTEXT];
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
              gsize     n)
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
    case DIAL_PHASE_PEEK:
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
    case DIAL_PHASE_PEEK:
    case DIAL_PHASE_EARLY:
      return "before the early payload";
    }
  g_assert_not_reached ();
}

/* Printable ASCII only: the server's error text is unauthenticated. */
static char *
sanitize_text (const char *text)
{
  char *copy = g_strdup (text);

  for (char *p = copy; *p; p++)
    if (!g_ascii_isprint (*p))
      *p = '?';
  return copy;
}

/* Whether the header block (status line + headers, no final CRLF CRLF) is a good 101. */
static gboolean
check_upgrade_response (const char  *block,
                        gsize        len,
                        GError     **error)
{
  g_auto(GStrv) lines = NULL;
  g_autofree char *text = NULL;
  const char *upgrade = NULL;
  const char *status_line;
  guint status = 0;

  if (memchr (block, '\0', len) != NULL)
    {
      g_set_error_literal (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_UPGRADE,
                           "HTTP upgrade: NUL byte in the response headers");
      return FALSE;
    }
  text = g_strndup (block, len);
  lines = g_strsplit (text, "\r\n", -1);

  /* HTTP/1.x SP 3DIGIT [SP reason] */
  status_line = lines[0];
  if (!g_str_has_prefix (status_line, "HTTP/1.") || strlen (status_line) < 12 ||
      !g_ascii_isdigit (status_line[7]) || status_line[8] != ' ' ||
      !g_ascii_isdigit (status_line[9]) || !g_ascii_isdigit (status_line[10]) ||
      !g_ascii_isdigit (status_line[11]) ||
      (status_line[12] != '\0' && status_line[12] != ' '))
    {
      g_autofree char *shown = sanitize_text (status_line);

      g_set_error (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_UPGRADE,
                   "HTTP upgrade: malformed status line “%.64s”", shown);
      return FALSE;
    }
  status = (guint) (status_line[9] - '0') * 100 + (guint) (status_line[10] - '0') * 10 +
           (guint) (status_line[11] - '0');
  if (status != 101)
    {
      g_set_error (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_UPGRADE,
                   "HTTP upgrade: status %u (want 101 Switching Protocols)", status);
      return FALSE;
    }

  for (guint i = 1; lines[i] != NULL; i++)
    {
      char *colon = strchr (lines[i], ':');

      if (colon == NULL)
        {
          g_set_error_literal (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_UPGRADE,
                               "HTTP upgrade: malformed header line in the 101 response");
          return FALSE;
        }
      *colon = '\0';
      /* Like Go's Header.Get: the first Upgrade header counts. */
      if (upgrade == NULL && g_ascii_strcasecmp (lines[i], "Upgrade") == 0)
        upgrade = g_strstrip (colon + 1);
    }

  if (upgrade == NULL)
    {
      g_set_error_literal (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_UPGRADE,
                           "HTTP upgrade: status 101 without an Upgrade header");
      return FALSE;
    }
  if (strcmp (upgrade, UPGRADE_VALUE) != 0)
    {
      g_autofree char *shown = sanitize_text (upgrade);

      g_set_error (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_UPGRADE,
                   "HTTP upgrade: status 101 with Upgrade “%.64s” (want “" UPGRADE_VALUE "”)",
                   shown);
      return FALSE;
    }

  return TRUE;
}

static gboolean
check_early_payload (const guint8  *json,
                     gsize          len,
                     GError       **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;

  if (memchr (json, '\0', len) != NULL || !g_utf8_validate ((const char *) json, (gssize) len, NULL))
    {
      g_set_error_literal (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_PROTOCOL,
                           "Early payload: not UTF-8 text");
      return FALSE;
    }
  if (!hyphae_json_depth_ok (json, len))
    {
      g_set_error (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_PROTOCOL,
                   "Early payload: JSON nested deeper than %d", HYPHAE_JSON_MAX_DEPTH);
      return FALSE;
    }
  if (!json_parser_load_from_data (parser, (const char *) json, (gssize) len, &local_error))
    {
      g_set_error (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_PROTOCOL,
                   "Early payload: not JSON: %s", local_error->message);
      return FALSE;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_PROTOCOL,
                           "Early payload: not a JSON object");
      return FALSE;
    }
  return TRUE;
}

/* Decide on the early payload from the plaintext collected so far. Sets *done. */
static gboolean
dial_handle_plaintext (DialData  *data,
                       gboolean  *done,
                       GError   **error)
{
  if (data->phase == DIAL_PHASE_PEEK)
    {
      const guint8 *p = data->plain->data;

      if (data->plain->len < EARLY_HEADER_LEN)
        return TRUE;
      if (memcmp (p, EARLY_MAGIC, EARLY_MAGIC_LEN) != 0)
        {
          /* No early payload: these bytes are HTTP/2. */
          *done = TRUE;
          return TRUE;
        }
      data->early_len = (guint32) p[5] << 24 | (guint32) p[6] << 16 | (guint32) p[7] << 8 | p[8];
      if (data->early_len > HYPHAE_TS2021_EARLY_PAYLOAD_MAX)
        {
          g_set_error (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_PROTOCOL,
                       "Early payload: %u bytes (limit %u)", data->early_len,
                       (guint) HYPHAE_TS2021_EARLY_PAYLOAD_MAX);
          return FALSE;
        }
      g_byte_array_remove_range (data->plain, 0, EARLY_HEADER_LEN);
      data->phase = DIAL_PHASE_EARLY;
    }

  if (data->phase == DIAL_PHASE_EARLY)
    {
      if (data->plain->len < data->early_len)
        return TRUE;
      if (!check_early_payload (data->plain->data, data->early_len, error))
        return FALSE;
      data->early_payload = g_strndup ((const char *) data->plain->data, data->early_len);
      g_byte_array_remove_range (data->plain, 0, data->early_len);
      *done = TRUE;
    }

  return TRUE;
}

/* Decrypt every buffered byte (partial records go into the controlbase). */
static gboolean
dial_read_records (DialData  *data,
                   gboolean  *done,
                   GError   **error)
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
          g_set_error (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_PROTOCOL,
                       "Noise record: %s",
                       ret == -EBADMSG ? "authentication failed" :
                       ret == -EPROTO ? "malformed frame" : g_strerror (-ret));
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
dial_process (DialData  *data,
              gboolean  *done,
              GError   **error)
{
  if (data->phase == DIAL_PHASE_HEADERS)
    {
      const guint8 *end = NULL;

      for (gsize i = 0; i + 4 <= data->len; i++)
        if (memcmp (data->buf + i, "\r\n\r\n", 4) == 0)
          {
            end = data->buf + i;
            break;
          }
      if (end == NULL)
        {
          if (data->len == sizeof data->buf)
            {
              g_set_error (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_UPGRADE,
                           "HTTP upgrade: response headers larger than %u bytes", HEADERS_MAX);
              return FALSE;
            }
          return TRUE;
        }
      if (!check_upgrade_response ((const char *) data->buf, (gsize) (end - data->buf), error))
        return FALSE;
      /* Whatever followed the headers is already the Noise stream. */
      dial_consume (data, (gsize) (end - data->buf) + 4);
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
              g_autofree char *shown = sanitize_text (server_error);

              g_set_error (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_HANDSHAKE,
                           "Noise handshake: the server refused: %s", shown);
            }
          else
            {
              g_set_error (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_HANDSHAKE,
                           "Noise handshake: %s",
                           ret == -EBADMSG ? "the response does not authenticate" :
                           ret == -EPROTO ? "malformed response frame" : g_strerror (-ret));
            }
          return FALSE;
        }
      dial_consume (data, (gsize) ret);
      data->phase = DIAL_PHASE_PEEK;
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
dial_read_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
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
dial_write_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
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
dial_connect_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
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
accept_any_certificate (GTlsConnection       *connection,
                        GTlsCertificate      *peer_cert,
                        GTlsCertificateFlags  errors,
                        gpointer              user_data)
{
  /* Noise authenticates the server; TLS only hides the upgrade (§1.2). */
  g_debug ("TS2021: ignoring TLS certificate errors 0x%x", (guint) errors);
  return TRUE;
}

static void
on_socket_client_event (GSocketClient      *client,
                        GSocketClientEvent  event,
                        GSocketConnectable *connectable,
                        GIOStream          *connection,
                        gpointer            user_data)
{
  if (event == G_SOCKET_CLIENT_TLS_HANDSHAKING && G_IS_TLS_CLIENT_CONNECTION (connection))
    g_signal_connect (connection, "accept-certificate", G_CALLBACK (accept_any_certificate), NULL);
}

void
hyphae_ts2021_dial_async (const char          *control_url,
                          guint16              capver,
                          const guint8         machine_priv[32],
                          const guint8         server_pub[32],
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
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
                                   "Upgrade: " UPGRADE_VALUE "\r\n"
                                   "Connection: upgrade\r\n"
                                   "X-Tailscale-Handshake: %s\r\n"
                                   "Content-Length: 0\r\n"
                                   "\r\n",
                                   data->target.host_header, handshake_b64);

  data->client = g_socket_client_new ();
  if (data->target.tls)
    {
      /* No ALPN: h2 cannot be upgraded (§1.2). */
      g_socket_client_set_tls (data->client, TRUE);
      g_signal_connect (data->client, "event", G_CALLBACK (on_socket_client_event), NULL);
    }

  address = g_network_address_new (data->target.host, data->target.port);
  g_socket_client_connect_async (data->client, address, cancellable, dial_connect_cb,
                                 g_steal_pointer (&task));
}

HyphaeTs2021Conn *
hyphae_ts2021_dial_finish (GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == hyphae_ts2021_dial_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
