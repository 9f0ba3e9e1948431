/* SPDX-License-Identifier: MIT */
/*
 * HTTP/2 with prior knowledge over TS2021 records (control/ts2021/client.go, RFC 9113).
 *
 * nghttp2 runs sans-I/O (nghttp2_session_mem_recv / mem_send). One async read
 * loop takes the stream's bytes, controlbase_read opens them one record at a
 * time, and the plaintext goes to nghttp2. After every nghttp2 state change
 * its output is sealed with controlbase_write and queued; one
 * g_output_stream_write_all_async is in flight at a time.
 *
 * Re-entrancy: nghttp2 callbacks never complete a GTask. A finished request
 * moves to the completed queue, and the queue is flushed only once nghttp2 is
 * out of the picture, holding a reference on the client so that a callback
 * may call hyphae_h2_client_free().
 *
 * Lifetime: the client is a refcounted box; free() marks it freed, cancels the
 * I/O, deletes the nghttp2 session, fails the pending requests and drops the
 * caller's reference. The read/write in flight each hold a reference (their
 * buffers live in the client), and the last reference frees the connection.
 *
 * Streams (hyphae_h2_client_stream) follow the same rule: nghttp2 callbacks
 * only record what arrived (status, data, end) in the Stream, and
 * flush_completed() hands it to the caller afterwards. A live stream holds a
 * reference on the client (so that cancel can reach it) and the client's
 * stream list holds one on the stream, until the stream is finished (end
 * delivered or cancelled).
 */
#include "hyphae-h2.h"

#include <string.h>

#include <nghttp2/nghttp2.h>

#define READ_CHUNK        (16 * 1024)
#define STREAM_WINDOW     (1 << 20) /* SETTINGS_INITIAL_WINDOW_SIZE we announce */
#define CONNECTION_WINDOW (16 << 20)

/* clang-format off */
G_DEFINE_QUARK (hyphae-h2-error-quark, hyphae_h2_error)
/* clang-format on */

typedef struct
{
  GTask *task;
  gint32 stream_id;
  GByteArray *body; /* the response body so far */
  guint status;
  GSource *cancel_source; /* NULL without a cancellable */
  GError *error;          /* set when it completes with an error */
} Request;

typedef struct
{
  GBytes *bytes;
  gsize offset;
} RequestBody;

typedef struct
{
  GBytes *body;
  guint status;
} Response;

struct _HyphaeH2Stream {
  gint ref_count;
  HyphaeH2Client *client; /* a reference while not finished */
  gint32 stream_id;       /* 0 once nghttp2 is done with it */
  HyphaeH2StreamCallbacks callbacks;
  gpointer user_data;
  GDestroyNotify destroy;
  guint status; /* final :status, 0 until known */
  gboolean response_done;
  GByteArray *pending; /* data not yet handed out */
  gboolean ended;      /* end recorded (error or clean) */
  GError *error;
  gboolean finished; /* no more callbacks */
};

struct _HyphaeH2Client {
  HyphaeTs2021Conn *conn;
  char *authority;           /* the control server's host[:port] */
  nghttp2_session *session;  /* NULL once freed */
  GCancellable *cancellable; /* the read loop and the writes */
  GMainContext *context;     /* where the client was created */

  GHashTable *requests; /* stream id → Request (pending) */
  GHashTable *bodies;   /* stream id → RequestBody (until the stream closes) */
  GQueue completed;     /* Request, to hand back outside nghttp2 */
  GHashTable *streams;  /* stream id → HyphaeH2Stream (open on the wire) */
  GQueue live_streams;  /* HyphaeH2Stream (a reference each), not finished */
  gboolean flush_scheduled;

  guint8 rbuf[READ_CHUNK];
  guint8 record[CONTROLBASE_MAX_PLAINTEXT];

  GQueue wqueue;   /* GBytes, sealed records */
  GBytes *writing; /* the buffer of the write in flight */

  GError *dead;       /* set once the connection is unusable */
  gint32 goaway_last; /* -1: no GOAWAY received */
  gboolean freed;
};

static void client_die (HyphaeH2Client *client, GError *error);

/* ---- requests and results -------------------------------------------------- */

static void
response_free (Response *response)
{
  g_bytes_unref (response->body);
  g_free (response);
}

static void
request_body_free (RequestBody *body)
{
  g_bytes_unref (body->bytes);
  g_free (body);
}

static void
request_free (Request *req)
{
  if (req->cancel_source)
    {
      g_source_destroy (req->cancel_source);
      g_source_unref (req->cancel_source);
    }
  g_clear_object (&req->task);
  if (req->body)
    g_byte_array_unref (req->body);
  g_clear_error (&req->error);
  g_free (req);
}

/* Move a pending request to the completed queue; error NULL = success. */
static void
request_complete (HyphaeH2Client *client,
                  Request *req,
                  GError *error)
{
  g_assert (req->error == NULL);
  /* No cancellation once completed (this may run inside its own callback). */
  if (req->cancel_source)
    {
      g_source_destroy (req->cancel_source);
      g_clear_pointer (&req->cancel_source, g_source_unref);
    }
  if (req->stream_id > 0)
    g_hash_table_steal (client->requests, GINT_TO_POINTER (req->stream_id));
  req->error = error;
  g_queue_push_tail (&client->completed, req);
}

static void flush_streams (HyphaeH2Client *client);

/* Return the completed requests' tasks and hand out what streams received.
 * Must not run inside nghttp2. */
static void
flush_completed (HyphaeH2Client *client)
{
  Request *req;

  flush_streams (client);

  while ((req = g_queue_pop_head (&client->completed)))
    {
      GTask *task = g_steal_pointer (&req->task);

      if (req->error)
        {
          g_task_return_error (task, g_steal_pointer (&req->error));
        }
      else
        {
          Response *response = g_new0 (Response, 1);

          response->body = g_byte_array_free_to_bytes (g_steal_pointer (&req->body));
          response->status = req->status;
          g_task_return_pointer (task, response, (GDestroyNotify) response_free);
        }
      request_free (req);
      g_object_unref (task);
    }
}

static HyphaeH2Client *
client_ref (HyphaeH2Client *client)
{
  return g_rc_box_acquire (client);
}

static void
client_clear (HyphaeH2Client *client)
{
  g_assert (client->session == NULL);
  g_assert (g_queue_is_empty (&client->completed));
  g_assert (g_queue_is_empty (&client->live_streams));
  g_clear_pointer (&client->requests, g_hash_table_unref);
  g_clear_pointer (&client->streams, g_hash_table_unref);
  g_clear_pointer (&client->bodies, g_hash_table_unref);
  g_queue_clear_full (&client->wqueue, (GDestroyNotify) g_bytes_unref);
  g_clear_pointer (&client->writing, g_bytes_unref);
  g_clear_error (&client->dead);
  g_clear_object (&client->cancellable);
  g_clear_pointer (&client->context, g_main_context_unref);
  g_clear_pointer (&client->conn, hyphae_ts2021_conn_free);
  g_clear_pointer (&client->authority, g_free);
}

static void
client_unref (HyphaeH2Client *client)
{
  g_rc_box_release_full (client, (GDestroyNotify) client_clear);
}

/* A reference held by a callback (the caller's is released by free()). */
typedef HyphaeH2Client HyphaeH2ClientRef;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HyphaeH2ClientRef, client_unref)

/* ---- streams ------------------------------------------------------------------- */

static HyphaeH2Stream *
stream_ref (HyphaeH2Stream *stream)
{
  g_atomic_int_inc (&stream->ref_count);
  return stream;
}

static void
stream_unref (HyphaeH2Stream *stream)
{
  if (!g_atomic_int_dec_and_test (&stream->ref_count))
    return;
  g_assert (stream->finished);
  g_byte_array_unref (stream->pending);
  g_clear_error (&stream->error);
  g_free (stream);
}

/* Record the end; it is handed out by flush_streams(). Takes error (NULL = clean). */
static void
stream_end (HyphaeH2Client *client,
            HyphaeH2Stream *stream,
            GError *error)
{
  if (stream->stream_id > 0)
    g_hash_table_remove (client->streams, GINT_TO_POINTER (stream->stream_id));
  stream->stream_id = 0;
  if (stream->ended || stream->finished)
    {
      g_clear_error (&error);
      return;
    }
  stream->ended = TRUE;
  stream->error = error;
}

/* No more callbacks: drop it from the client and release what it holds. */
static void
stream_finish (HyphaeH2Client *client,
               HyphaeH2Stream *stream)
{
  GDestroyNotify destroy = stream->destroy;
  gpointer user_data = stream->user_data;
  HyphaeH2Client *owner = g_steal_pointer (&stream->client);

  stream->finished = TRUE;
  stream->destroy = NULL;
  if (stream->stream_id > 0)
    g_hash_table_remove (client->streams, GINT_TO_POINTER (stream->stream_id));
  stream->stream_id = 0;
  if (g_queue_remove (&client->live_streams, stream))
    stream_unref (stream); /* may free it: not touched below */
  if (destroy)
    destroy (user_data);
  if (owner)
    client_unref (owner);
}

/* One pass over the live streams; TRUE if any callback ran. */
static gboolean
flush_streams_once (HyphaeH2Client *client)
{
  g_autoptr(GPtrArray) snapshot = g_ptr_array_new_with_free_func ((GDestroyNotify) stream_unref);
  gboolean ran = FALSE;

  for (GList *l = client->live_streams.head; l; l = l->next)
    g_ptr_array_add (snapshot, stream_ref (l->data));

  for (guint i = 0; i < snapshot->len; i++)
    {
      HyphaeH2Stream *stream = g_ptr_array_index (snapshot, i);

      if (!stream->finished && !stream->response_done && stream->status != 0)
        {
          stream->response_done = TRUE;
          ran = TRUE;
          if (stream->callbacks.response)
            stream->callbacks.response (stream, stream->status, stream->user_data);
        }
      while (!stream->finished && stream->pending->len > 0)
        {
          g_autoptr(GByteArray) data = stream->pending;

          stream->pending = g_byte_array_new ();
          ran = TRUE;
          if (stream->callbacks.data)
            stream->callbacks.data (stream, data->data, data->len, stream->user_data);
        }
      if (!stream->finished && stream->ended)
        {
          /* Finished before the callback, so that cancel is refused inside it. */
          stream->finished = TRUE;
          ran = TRUE;
          if (stream->callbacks.end)
            stream->callbacks.end (stream, stream->error, stream->user_data);
          stream_finish (client, stream);
        }
    }
  return ran;
}

static void
flush_streams (HyphaeH2Client *client)
{
  G_GNUC_UNUSED g_autoptr(HyphaeH2ClientRef) self = client_ref (client);

  while (flush_streams_once (client))
    ;
}

static gboolean
flush_idle_cb (gpointer user_data)
{
  HyphaeH2Client *client = user_data;

  client->flush_scheduled = FALSE;
  flush_completed (client);
  return G_SOURCE_REMOVE;
}

/* Hand out a stream's end from the main loop (it failed before the caller got it). */
static void
schedule_flush (HyphaeH2Client *client)
{
  g_autoptr(GSource) source = NULL;

  if (client->flush_scheduled)
    return;
  client->flush_scheduled = TRUE;
  source = g_idle_source_new ();
  g_source_set_callback (source, flush_idle_cb, client_ref (client),
                         (GDestroyNotify) client_unref);
  g_source_attach (source, client->context);
}

/* ---- writing ----------------------------------------------------------------- */

static void start_write (HyphaeH2Client *client);

static void
write_cb (GObject *source,
          GAsyncResult *result,
          gpointer user_data)
{
  g_autoptr(HyphaeH2ClientRef) client = user_data;
  g_autoptr(GError) error = NULL;

  g_clear_pointer (&client->writing, g_bytes_unref);
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      if (client->freed || client->dead)
        return;
      client_die (client, g_error_new (HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_CLOSED,
                                       "writing to the control server: %s", error->message));
      flush_completed (client);
      return;
    }
  if (!client->freed && !client->dead)
    start_write (client);
}

static void
start_write (HyphaeH2Client *client)
{
  GOutputStream *output;
  gsize len;
  const guint8 *data;

  if (client->writing || g_queue_is_empty (&client->wqueue))
    return;
  client->writing = g_queue_pop_head (&client->wqueue);
  data = g_bytes_get_data (client->writing, &len);
  output = g_io_stream_get_output_stream (hyphae_ts2021_conn_get_stream (client->conn));
  g_output_stream_write_all_async (output, data, len, G_PRIORITY_DEFAULT, client->cancellable,
                                   write_cb, client_ref (client));
}

/* Drain nghttp2's output into sealed records and start writing them. */
static void
pump_send (HyphaeH2Client *client)
{
  g_autoptr(GByteArray) plain = g_byte_array_new ();
  g_autofree guint8 *sealed = NULL;
  gsize cap;
  int ret;

  if (client->dead || client->freed)
    return;
  for (;;)
    {
      const uint8_t *data;
      ssize_t n = nghttp2_session_mem_send (client->session, &data);

      if (n < 0)
        {
          client_die (client, g_error_new (HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_PROTOCOL,
                                           "HTTP/2: %s", nghttp2_strerror ((int) n)));
          return;
        }
      if (n == 0)
        break;
      g_byte_array_append (plain, data, (guint) n);
    }
  if (plain->len == 0)
    return;

  cap = controlbase_sealed_size (plain->len);
  sealed = g_malloc (cap);
  ret = controlbase_write (hyphae_ts2021_conn_get_noise (client->conn), plain->data, plain->len,
                           sealed, cap);
  if (ret < 0)
    {
      client_die (client, g_error_new (HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_PROTOCOL,
                                       "sealing a record: %s", g_strerror (-ret)));
      return;
    }
  g_queue_push_tail (&client->wqueue, g_bytes_new_take (g_steal_pointer (&sealed), (gsize) ret));
  start_write (client);
}

/* ---- the connection dies ------------------------------------------------------ */

/* Every pending request, then every open stream, ends with a copy of error. */
static void
end_all (HyphaeH2Client *client,
         const GError *error)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, client->requests);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Request *req = value;

      g_hash_table_iter_steal (&iter);
      req->stream_id = 0;
      request_complete (client, req, g_error_copy (error));
    }
  for (GList *l = client->live_streams.head; l; l = l->next)
    stream_end (client, l->data, g_error_copy (error));
}

/* Takes error. Every pending request fails with a copy; later requests too. */
static void
client_die (HyphaeH2Client *client,
            GError *error)
{
  if (client->dead)
    {
      g_error_free (error);
      return;
    }
  g_debug ("HTTP/2 connection lost: %s", error->message);
  client->dead = error;
  g_cancellable_cancel (client->cancellable);
  end_all (client, error);
}

/* ---- nghttp2 callbacks -------------------------------------------------------- */

/* How a response that has ended ends: NULL, or an error without a final :status. */
static GError *
end_error (guint status)
{
  if (status != 0)
    return NULL;
  return g_error_new_literal (HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_PROTOCOL,
                              "the response ended without a final :status");
}

/* Why a stream closed before its end: beyond the server's GOAWAY, or reset. */
static GError *
close_error (HyphaeH2Client *client,
             gint32 stream_id,
             guint32 error_code)
{
  if (client->goaway_last >= 0 && stream_id > client->goaway_last)
    return g_error_new_literal (HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_GOAWAY,
                                "the control server is going away");
  return g_error_new (HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_RESET,
                      "the stream was reset (HTTP/2 error %u: %s)", error_code,
                      nghttp2_http2_strerror (error_code));
}

static Request *
lookup_request (HyphaeH2Client *client,
                gint32 stream_id)
{
  return g_hash_table_lookup (client->requests, GINT_TO_POINTER (stream_id));
}

static HyphaeH2Stream *
lookup_stream (HyphaeH2Client *client,
               gint32 stream_id)
{
  return g_hash_table_lookup (client->streams, GINT_TO_POINTER (stream_id));
}

static int
on_header_cb (nghttp2_session *session,
              const nghttp2_frame *frame,
              const uint8_t *name,
              size_t namelen,
              const uint8_t *value,
              size_t valuelen,
              uint8_t flags,
              void *user_data)
{
  HyphaeH2Client *client = user_data;
  Request *req;
  HyphaeH2Stream *stream = NULL;
  guint64 status;
  char buf[4];

  if (frame->hd.type != NGHTTP2_HEADERS)
    return 0;
  req = lookup_request (client, frame->hd.stream_id);
  if (!req)
    stream = lookup_stream (client, frame->hd.stream_id);
  if ((!req && !stream) || namelen != 7 || memcmp (name, ":status", 7) != 0)
    return 0;
  /* nghttp2 has already checked it is three digits. */
  if (valuelen != 3)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  memcpy (buf, value, 3);
  buf[3] = '\0';
  status = g_ascii_strtoull (buf, NULL, 10);
  if (status < 200) /* an interim 1xx */
    return 0;
  if (req)
    req->status = (guint) status;
  else if (stream->status == 0)
    stream->status = (guint) status;
  return 0;
}

static int
on_data_chunk_recv_cb (nghttp2_session *session,
                       uint8_t flags,
                       int32_t stream_id,
                       const uint8_t *data,
                       size_t len,
                       void *user_data)
{
  HyphaeH2Client *client = user_data;
  Request *req = lookup_request (client, stream_id);
  HyphaeH2Stream *stream;
  int ret;

  if (!req)
    {
      /* A stream takes everything; its reader bounds what it keeps. */
      stream = lookup_stream (client, stream_id);
      if (stream && stream->status != 0)
        g_byte_array_append (stream->pending, data, (guint) len);
      else if (stream)
        stream_end (client, stream, g_error_new_literal (HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_PROTOCOL, "data before the response headers"));
      return 0; /* else cancelled or over the cap: the rest is dropped */
    }
  if (len > HYPHAE_H2_MAX_BODY - req->body->len)
    {
      ret = nghttp2_submit_rst_stream (session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
      if (ret < 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
      request_complete (client, req,
                        g_error_new (HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_TOO_BIG,
                                     "the response body is over %d bytes", HYPHAE_H2_MAX_BODY));
      return 0;
    }
  g_byte_array_append (req->body, data, (guint) len);
  return 0;
}

static int
on_frame_recv_cb (nghttp2_session *session,
                  const nghttp2_frame *frame,
                  void *user_data)
{
  HyphaeH2Client *client = user_data;
  Request *req;

  switch (frame->hd.type)
    {
    case NGHTTP2_DATA:
    case NGHTTP2_HEADERS:
      {
        HyphaeH2Stream *stream = lookup_stream (client, frame->hd.stream_id);

        if (stream && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
          stream_end (client, stream, end_error (stream->status));
      }
      req = lookup_request (client, frame->hd.stream_id);
      if (req && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        request_complete (client, req, end_error (req->status));
      break;
    case NGHTTP2_GOAWAY:
      {
        GHashTableIter iter;
        gpointer key, value;
        gint32 last = frame->goaway.last_stream_id;

        g_debug ("HTTP/2 GOAWAY, last stream %d, code %u", last, frame->goaway.error_code);
        if (client->goaway_last < 0 || last < client->goaway_last)
          client->goaway_last = last;
        g_hash_table_iter_init (&iter, client->requests);
        while (g_hash_table_iter_next (&iter, &key, &value))
          {
            Request *r = value;

            if (GPOINTER_TO_INT (key) <= last)
              continue;
            g_hash_table_iter_steal (&iter);
            r->stream_id = 0;
            request_complete (client, r,
                              g_error_new (HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_GOAWAY,
                                           "the control server is going away (code %u)",
                                           frame->goaway.error_code));
          }
        /* Streams the server will not process end now; one it did process
         * (id <= last) still ends by itself, but a stream that lives forever
         * (the map long-poll) must move to a new connection: end it too. */
        for (GList *l = client->live_streams.head; l; l = l->next)
          {
            HyphaeH2Stream *stream = l->data;

            if (stream->stream_id <= 0)
              continue;
            /* Tell the server too, so that it need not wait for it. */
            if (stream->stream_id <= last)
              nghttp2_submit_rst_stream (session, NGHTTP2_FLAG_NONE, stream->stream_id,
                                         NGHTTP2_CANCEL);
            stream_end (client, stream,
                        g_error_new (HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_GOAWAY,
                                     "the control server is going away (code %u)",
                                     frame->goaway.error_code));
          }
      }
      break;
    default:
      break;
    }
  return 0;
}

static int
on_stream_close_cb (nghttp2_session *session,
                    int32_t stream_id,
                    uint32_t error_code,
                    void *user_data)
{
  HyphaeH2Client *client = user_data;
  Request *req = lookup_request (client, stream_id);
  HyphaeH2Stream *stream = lookup_stream (client, stream_id);

  g_hash_table_remove (client->bodies, GINT_TO_POINTER (stream_id));
  if (stream)
    stream_end (client, stream, close_error (client, stream_id, error_code));
  if (req)
    request_complete (client, req, close_error (client, stream_id, error_code));
  return 0;
}

static ssize_t
body_read_cb (nghttp2_session *session,
              int32_t stream_id,
              uint8_t *buf,
              size_t length,
              uint32_t *data_flags,
              nghttp2_data_source *source,
              void *user_data)
{
  RequestBody *body = source->ptr;
  gsize total;
  const guint8 *data = g_bytes_get_data (body->bytes, &total);
  gsize n = MIN (length, total - body->offset);

  if (n > 0) /* an empty body has no data pointer */
    memcpy (buf, data + body->offset, n);
  body->offset += n;
  if (body->offset == total)
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t) n;
}

/* ---- reading ------------------------------------------------------------------- */

static void start_read (HyphaeH2Client *client);

/* Feed plaintext to nghttp2; FALSE when the connection died. */
static gboolean
feed_plaintext (HyphaeH2Client *client,
                const guint8 *data,
                gsize len)
{
  ssize_t n;

  if (len == 0)
    return TRUE;
  n = nghttp2_session_mem_recv (client->session, data, len);
  if (n < 0)
    {
      client_die (client, g_error_new (HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_PROTOCOL,
                                       "HTTP/2: %s", nghttp2_strerror ((int) n)));
      return FALSE;
    }
  g_assert ((gsize) n == len);
  return TRUE;
}

static void
read_cb (GObject *source,
         GAsyncResult *result,
         gpointer user_data)
{
  g_autoptr(HyphaeH2ClientRef) client = user_data;
  struct controlbase *noise;
  g_autoptr(GError) error = NULL;
  gssize n;
  gsize off = 0;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (client->freed || client->dead)
    return;
  if (n < 0)
    {
      client_die (client, g_error_new (HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_CLOSED,
                                       "reading from the control server: %s", error->message));
      flush_completed (client);
      return;
    }
  if (n == 0)
    {
      client_die (client, g_error_new_literal (HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_CLOSED,
                                               "the control server closed the connection"));
      flush_completed (client);
      return;
    }

  noise = hyphae_ts2021_conn_get_noise (client->conn);
  while (off < (gsize) n && !client->dead)
    {
      size_t out_len = 0;
      bool done = false;
      int ret = controlbase_read (noise, client->rbuf + off, (gsize) n - off, client->record,
                                  &out_len, &done);

      if (ret < 0)
        {
          client_die (client, g_error_new (HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_PROTOCOL,
                                           "reading a Noise record: %s", g_strerror (-ret)));
          break;
        }
      off += (gsize) ret;
      if (done && !feed_plaintext (client, client->record, out_len))
        break;
    }
  pump_send (client);
  if (!client->dead)
    start_read (client);
  flush_completed (client);
}

static void
start_read (HyphaeH2Client *client)
{
  GInputStream *input =
    g_io_stream_get_input_stream (hyphae_ts2021_conn_get_stream (client->conn));

  g_input_stream_read_async (input, client->rbuf, sizeof client->rbuf, G_PRIORITY_DEFAULT,
                             client->cancellable, read_cb, client_ref (client));
}

/* ---- public API ------------------------------------------------------------------ */

HyphaeH2Client *
hyphae_h2_client_new (HyphaeTs2021Conn *conn,
                      const char *authority)
{
  g_autoptr(HyphaeH2ClientRef) client = NULL;
  nghttp2_session_callbacks *callbacks;
  const nghttp2_settings_entry settings[] = {
    { NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
    { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW },
  };
  GBytes *leftover;
  gsize len;
  const guint8 *data;
  int ret;

  g_return_val_if_fail (conn != NULL, NULL);
  g_return_val_if_fail (authority != NULL && *authority != '\0', NULL);

  client = g_rc_box_new0 (HyphaeH2Client);
  client->conn = conn;
  client->authority = g_strdup (authority);
  client->cancellable = g_cancellable_new ();
  client->context = g_main_context_ref_thread_default ();
  client->requests = g_hash_table_new (NULL, NULL);
  client->bodies = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) request_body_free);
  client->streams = g_hash_table_new (NULL, NULL);
  g_queue_init (&client->live_streams);
  client->goaway_last = -1;
  g_queue_init (&client->completed);
  g_queue_init (&client->wqueue);

  ret = nghttp2_session_callbacks_new (&callbacks);
  if (ret != 0)
    g_error ("nghttp2_session_callbacks_new: %s", nghttp2_strerror (ret));
  nghttp2_session_callbacks_set_on_header_callback (callbacks, on_header_cb);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback (callbacks, on_data_chunk_recv_cb);
  nghttp2_session_callbacks_set_on_frame_recv_callback (callbacks, on_frame_recv_cb);
  nghttp2_session_callbacks_set_on_stream_close_callback (callbacks, on_stream_close_cb);
  ret = nghttp2_session_client_new (&client->session, callbacks, client);
  nghttp2_session_callbacks_del (callbacks);
  if (ret != 0)
    g_error ("nghttp2_session_client_new: %s", nghttp2_strerror (ret));

  /* The preface goes out with the first mem_send; then our SETTINGS. */
  ret = nghttp2_submit_settings (client->session, NGHTTP2_FLAG_NONE, settings,
                                 G_N_ELEMENTS (settings));
  if (ret == 0)
    ret = nghttp2_session_set_local_window_size (client->session, NGHTTP2_FLAG_NONE, 0,
                                                 CONNECTION_WINDOW);
  if (ret != 0)
    client_die (client, g_error_new (HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_PROTOCOL,
                                     "HTTP/2 SETTINGS: %s", nghttp2_strerror (ret)));

  /* What the dial already decrypted (the server's SETTINGS) comes first. */
  leftover = hyphae_ts2021_conn_get_leftover (conn);
  data = g_bytes_get_data (leftover, &len);
  if (!client->dead && feed_plaintext (client, data, len))
    pump_send (client);
  if (!client->dead)
    start_read (client);
  return g_steal_pointer (&client);
}

void
hyphae_h2_client_free (HyphaeH2Client *client)
{
  G_GNUC_UNUSED g_autoptr(HyphaeH2ClientRef) self = client;

  if (client == NULL)
    return;
  g_return_if_fail (!client->freed);

  client->freed = TRUE;
  g_cancellable_cancel (client->cancellable);
  g_clear_pointer (&client->session, nghttp2_session_del);
  g_hash_table_remove_all (client->bodies);
  {
    g_autoptr(GError) freed = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                    "the HTTP/2 client was freed");

    end_all (client, freed);
  }
  flush_completed (client);
}

typedef struct
{
  HyphaeH2Client *client;
  Request *req;
} CancelData;

static void
cancel_data_free (CancelData *cd)
{
  client_unref (cd->client);
  g_free (cd);
}

/* In the main loop, never inside nghttp2: reset the stream, fail the request. */
static gboolean
request_cancelled_cb (GCancellable *cancellable,
                      gpointer user_data)
{
  CancelData *cd = user_data;
  g_autoptr(HyphaeH2ClientRef) client = client_ref (cd->client);
  Request *req = cd->req;

  /* Only pending requests have a live source: completion destroys it. */
  if (client->freed || client->dead)
    return G_SOURCE_REMOVE;
  if (req->stream_id > 0)
    nghttp2_submit_rst_stream (client->session, NGHTTP2_FLAG_NONE, req->stream_id,
                               NGHTTP2_CANCEL);
  request_complete (client, req,
                    g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                         "the request was cancelled"));
  pump_send (client);
  flush_completed (client);
  return G_SOURCE_REMOVE;
}

/* Submit HEADERS (+ body); the stream id, or -1 with error set. */
static gint32
submit_request (HyphaeH2Client *client,
                const char *method,
                const char *path,
                const char *content_type,
                GBytes *body,
                GError **error)
{
  nghttp2_nv nva[5];
  gsize nnv = 0;
  nghttp2_data_provider provider;
  RequestBody *rbody = NULL;
  gint32 stream_id;

  if (client->dead)
    {
      g_propagate_error (error, g_error_copy (client->dead));
      return -1;
    }
  if (client->goaway_last >= 0)
    {
      g_set_error_literal (error, HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_GOAWAY,
                           "the control server is going away");
      return -1;
    }

#define NV(n, v) \
  (nghttp2_nv) { (uint8_t *) (n), (uint8_t *) (v), strlen (n), strlen (v), NGHTTP2_NV_FLAG_NONE }
  nva[nnv++] = NV (":method", method);
  /* As Tailscale's client sends them (control/ts2021/client.go): the Noise layer is
   * the security, the scheme says https whatever the outer transport. */
  nva[nnv++] = NV (":scheme", "https");
  nva[nnv++] = NV (":authority", client->authority);
  nva[nnv++] = NV (":path", path);
  if (content_type)
    nva[nnv++] = NV ("content-type", content_type);
#undef NV

  if (body)
    {
      rbody = g_new0 (RequestBody, 1);
      rbody->bytes = g_bytes_ref (body);
      provider.source.ptr = rbody;
      provider.read_callback = body_read_cb;
    }
  stream_id = nghttp2_submit_request (client->session, NULL, nva, nnv, body ? &provider : NULL,
                                      NULL);
  if (stream_id < 0)
    {
      g_clear_pointer (&rbody, request_body_free);
      g_set_error (error, HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_PROTOCOL,
                   "HTTP/2 request: %s", nghttp2_strerror (stream_id));
      return -1;
    }
  if (rbody)
    g_hash_table_insert (client->bodies, GINT_TO_POINTER (stream_id), rbody);

  return stream_id;
}

void
hyphae_h2_client_request_async (HyphaeH2Client *client,
                                const char *method,
                                const char *path,
                                const char *content_type,
                                GBytes *body,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  Request *req;
  gint32 stream_id;

  g_return_if_fail (client != NULL && !client->freed);
  g_return_if_fail (method != NULL && path != NULL && path[0] == '/');
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, hyphae_h2_client_request_async);
  if (g_task_return_error_if_cancelled (task))
    return;

  stream_id = submit_request (client, method, path, content_type, body, &error);
  if (stream_id < 0)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  req = g_new0 (Request, 1);
  req->task = g_steal_pointer (&task);
  req->stream_id = stream_id;
  req->body = g_byte_array_new ();
  g_hash_table_insert (client->requests, GINT_TO_POINTER (stream_id), req);
  if (cancellable)
    {
      CancelData *cd = g_new0 (CancelData, 1);

      cd->client = client_ref (client);
      cd->req = req;
      req->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (req->cancel_source, G_SOURCE_FUNC (request_cancelled_cb), cd,
                             (GDestroyNotify) cancel_data_free);
      g_source_attach (req->cancel_source, client->context);
    }

  pump_send (client);
  flush_completed (client); /* pump_send may have killed the connection */
}

GBytes *
hyphae_h2_client_request_finish (HyphaeH2Client *client,
                                 GAsyncResult *result,
                                 guint *status,
                                 GError **error)
{
  Response *response;
  GBytes *body;

  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                          hyphae_h2_client_request_async,
                        NULL);

  response = g_task_propagate_pointer (G_TASK (result), error);
  if (!response)
    return NULL;
  if (status)
    *status = response->status;
  body = g_steal_pointer (&response->body);
  g_free (response);
  return body;
}

HyphaeH2Stream *
hyphae_h2_client_stream (HyphaeH2Client *client,
                         const char *method,
                         const char *path,
                         const char *content_type,
                         GBytes *body,
                         const HyphaeH2StreamCallbacks *callbacks,
                         gpointer user_data,
                         GDestroyNotify destroy)
{
  g_autoptr(GError) error = NULL;
  HyphaeH2Stream *stream;
  gint32 stream_id;

  g_return_val_if_fail (client != NULL && !client->freed, NULL);
  g_return_val_if_fail (method != NULL && path != NULL && path[0] == '/', NULL);
  g_return_val_if_fail (callbacks != NULL, NULL);

  stream = g_new0 (HyphaeH2Stream, 1);
  stream->ref_count = 1; /* the live list's */
  stream->client = client_ref (client);
  stream->callbacks = *callbacks;
  stream->user_data = user_data;
  stream->destroy = destroy;
  stream->pending = g_byte_array_new ();
  g_queue_push_tail (&client->live_streams, stream);

  stream_id = submit_request (client, method, path, content_type, body, &error);
  if (stream_id < 0)
    {
      /* Reported from the main loop: the caller does not have the handle yet. */
      stream_end (client, stream, g_steal_pointer (&error));
      schedule_flush (client);
      return stream;
    }
  stream->stream_id = stream_id;
  g_hash_table_insert (client->streams, GINT_TO_POINTER (stream_id), stream);
  pump_send (client);
  if (client->dead) /* pump_send killed the connection: report from the main loop */
    schedule_flush (client);
  return stream;
}

void
hyphae_h2_stream_cancel (HyphaeH2Stream *stream)
{
  g_autoptr(HyphaeH2ClientRef) client = NULL;

  g_return_if_fail (stream != NULL);
  g_return_if_fail (!stream->finished);

  client = client_ref (stream->client);
  if (stream->stream_id > 0 && client->session && !client->dead)
    {
      nghttp2_submit_rst_stream (client->session, NGHTTP2_FLAG_NONE, stream->stream_id,
                                 NGHTTP2_CANCEL);
      stream_finish (client, stream);
      pump_send (client);
      flush_completed (client); /* pump_send may have killed the connection */
    }
  else
    {
      stream_finish (client, stream);
    }
}
