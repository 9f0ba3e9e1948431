/* SPDX-License-Identifier: MIT */
/*
 * One DERP client (hd-conn.h). Reads are non-blocking and land in the
 * server's scratch buffer; whole frames are handled in place, and only the
 * start of a frame a read cut off is kept (pend). Writes go through the
 * client's HdOutq and leave when the server flushes the queues one read
 * touched, or when the socket becomes writable again.
 */
#include "hd-conn.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include "hd-buffered-stream.h"
#include "hd-http.h"
#include "hyphae-json.h"
#include "magicsock/derp-frame.h"
#include "magicsock/disco.h"

enum {
  READ_BUDGET = 16,       /* reads per wake-up, then the others get a turn */
  DIRECT_READ_MIN = 2048, /* a cut-off frame missing this much is read into pend directly */
  PEND_KEEP = 4096,       /* pend buffers up to this size are kept between frames */
  PING_MAX = 1000,        /* derpserver.go handleFramePing */
  GONE_BURST = 3,         /* derpserver.go: rate.NewLimiter(rate.Every(time.Second), 3) */
  KEEPALIVE_JITTER_S = 5, /* derpserver.go sendLoop: KeepAlive + rand.N(5 s) */
  RECV_OVERHEAD = DERP_HEADER_LEN + DERP_KEY_LEN,
};

static const char server_info_json[] = "{\"version\":2}";

static void conn_start_reading (HdConn *c);

/* ---- lifetime ------------------------------------------------------------- */

static HdConn *
conn_ref (HdConn *c)
{
  c->ref_count++;
  return c;
}

void
hd_conn_unref (HdConn *c)
{
  if (--c->ref_count > 0)
    return;
  g_clear_object (&c->stream);
  g_clear_object (&c->base);
  g_clear_object (&c->cancellable);
  g_free (c->pend);
  g_free (c->remote);
  g_free (c);
}

static void
mark_dirty (HdConn *c)
{
  if (c->is_dirty || c->state == HD_CONN_CLOSED)
    return;
  c->is_dirty = TRUE;
  g_queue_push_tail_link (&c->srv->dirty, &c->dirty_link);
}

static void
forget_watches (HdConn *c)
{
  GHashTableIter iter;
  gpointer peer;

  if (c->saw == NULL)
    return;
  g_hash_table_iter_init (&iter, c->saw);
  while (g_hash_table_iter_next (&iter, &peer, NULL))
    hd_peer_unwatch (peer, c);
  g_clear_pointer (&c->saw, g_hash_table_unref);
  c->last_saw = NULL;
}

void
hd_conn_close (HdConn *c,
               const char *why)
{
  HdServer *srv = c->srv;
  guint dropped;

  if (c->state == HD_CONN_CLOSED)
    return;
  if (why != NULL)
    g_debug ("%s: closed: %s", c->remote, why);

  /* Our own watches first: the relay may free peers we watch below. */
  forget_watches (c);
  if (c->peer != NULL)
    {
      srv->metrics.clients_current--;
      if (c->preferred)
        srv->metrics.clients_home--;
      hd_relay_remove (srv->relay, c->peer, c);
      c->peer = NULL;
    }
  c->state = HD_CONN_CLOSED;

  srv->metrics.bytes_dropped[HD_DROP_GONE] += c->outq.bytes; /* with their framing */
  dropped = hd_outq_clear (&c->outq);
  srv->metrics.packets_dropped[HD_DROP_GONE] += dropped;
  if (c->in_src != NULL)
    {
      g_source_destroy (c->in_src);
      g_clear_pointer (&c->in_src, g_source_unref);
    }
  if (c->out_src != NULL)
    {
      g_source_destroy (c->out_src);
      g_clear_pointer (&c->out_src, g_source_unref);
    }
  g_cancellable_cancel (c->cancellable);
  if (c->is_dirty)
    {
      g_queue_unlink (&srv->dirty, &c->dirty_link);
      c->is_dirty = FALSE;
    }
  g_queue_unlink (&srv->conns, &c->link);
  /* Close the socket itself: a TLS close would try to write close_notify. */
  if (c->base != NULL)
    g_socket_close (g_socket_connection_get_socket (c->base), NULL);
  /* Freed from an idle: callers up the stack may still hold c this dispatch. */
  hd_server_bury (srv, c);
}

/* ---- output --------------------------------------------------------------- */

static gboolean
on_writable (GObject *stream,
             gpointer user_data)
{
  HdConn *c = user_data;

  g_clear_pointer (&c->out_src, g_source_unref);
  hd_conn_flush (c);
  return G_SOURCE_REMOVE;
}

void
hd_conn_flush (HdConn *c)
{
  /* No stream: the fuzz target's connections, which only queue. */
  if (c->state == HD_CONN_CLOSED || c->out_src != NULL || c->state == HD_CONN_TLS || c->out == NULL)
    return;
  while (c->outq.bytes > 0)
    {
      GOutputVector v[HD_OUTQ_IOV];
      guint nv = hd_outq_peek (&c->outq, v, HD_OUTQ_IOV);
      gsize written = 0;
      g_autoptr(GError) error = NULL;
      GPollableReturn r;

      r = g_pollable_output_stream_writev_nonblocking (c->out, v, nv, &written, NULL, &error);
      if (r == G_POLLABLE_RETURN_OK && written > 0)
        {
          hd_outq_consume (&c->outq, written);
          c->stall_since = 0;
          continue;
        }
      if (r == G_POLLABLE_RETURN_FAILED)
        {
          g_autofree char *why = g_strdup_printf ("write: %s", error->message);

          hd_conn_close (c, why);
          return;
        }
      if (c->stall_since == 0)
        c->stall_since = g_get_monotonic_time ();
      c->out_src = g_pollable_output_stream_create_source (c->out, NULL);
      g_source_set_callback (c->out_src, G_SOURCE_FUNC (on_writable), c, NULL);
      g_source_attach (c->out_src, NULL);
      return;
    }
  if (c->close_after_flush)
    hd_conn_close (c, NULL);
}

/* The bytes a client may have queued, whatever they are: its data packets'
 * bound plus room for control frames. */
static gsize
queue_cap (HdServer *srv)
{
  return (gsize) srv->config.queue_depth * (RECV_OVERHEAD + DERP_MAX_PACKET) + 64 * 1024;
}

/* A control frame (no data packet): bounded only by the byte cap. */
static gboolean
queue_frame (HdConn *c,
             guint8 type,
             const void *payload,
             gsize len)
{
  guint8 hdr[DERP_HEADER_LEN];

  if (c->state == HD_CONN_CLOSED || c->outq.bytes + DERP_HEADER_LEN + len > queue_cap (c->srv))
    return FALSE;
  derp_frame_header (hdr, type, len);
  hd_outq_append (&c->outq, hdr, sizeof hdr);
  hd_outq_append (&c->outq, payload, len);
  mark_dirty (c);
  return TRUE;
}

static void
queue_peer_gone (HdConn *c,
                 const guint8 key[DERP_KEY_LEN],
                 guint8 reason)
{
  guint8 payload[DERP_KEY_LEN + 1];

  memcpy (payload, key, DERP_KEY_LEN);
  payload[DERP_KEY_LEN] = reason;
  if (!queue_frame (c, DERP_FRAME_PEER_GONE, payload, sizeof payload))
    return;
  if (reason == DERP_PEER_GONE_NOT_HERE)
    c->srv->metrics.peer_gone_not_here++;
  else
    c->srv->metrics.peer_gone_disconnected++;
}

void
hd_conn_peer_gone (HdConn *watcher,
                   HdPeer *gone)
{
  /* Not hd_peer_unwatch: the relay is walking gone's watchers. */
  g_hash_table_remove (watcher->saw, gone);
  if (watcher->last_saw == gone)
    watcher->last_saw = NULL;
  queue_peer_gone (watcher, hd_peer_key (gone), DERP_PEER_GONE_DISCONNECTED);
}

static void
drop (HdServer *srv,
      HdDropReason reason,
      gsize len)
{
  srv->metrics.packets_dropped[reason]++;
  srv->metrics.bytes_dropped[reason] += len;
}

/* A RecvPacket from src to c: header, key and data copied once into c's queue. */
static void
deliver (HdConn *c,
         HdPeer *src,
         const guint8 *data,
         gsize len,
         gboolean disco)
{
  HdServer *srv = c->srv;
  guint8 hdr[DERP_HEADER_LEN];

  /* Full: give the socket a chance first; a slow reader then loses the packet. */
  if (!disco && hd_outq_packets (&c->outq) >= srv->config.queue_depth)
    hd_conn_flush (c);
  if (c->state == HD_CONN_CLOSED)
    {
      drop (srv, HD_DROP_GONE, len);
      return;
    }
  if ((!disco && hd_outq_packets (&c->outq) >= srv->config.queue_depth) ||
      hd_outq_packets (&c->outq) >= HD_OUTQ_MAX_PACKETS ||
      c->outq.bytes + RECV_OVERHEAD + len > queue_cap (srv))
    {
      drop (srv, HD_DROP_QUEUE_FULL, len);
      return;
    }

  derp_frame_header (hdr, DERP_FRAME_RECV_PACKET, DERP_KEY_LEN + len);
  hd_outq_append (&c->outq, hdr, sizeof hdr);
  hd_outq_append (&c->outq, hd_peer_key (src), DERP_KEY_LEN);
  hd_outq_append (&c->outq, data, len);
  hd_outq_end_packet (&c->outq);
  srv->metrics.packets_sent++;
  srv->metrics.bytes_sent += len;

  if (c->last_saw != src)
    {
      if (c->saw == NULL)
        c->saw = g_hash_table_new (NULL, NULL);
      if (g_hash_table_add (c->saw, src))
        hd_peer_watch (src, c);
      c->last_saw = src;
    }
  mark_dirty (c);
}

/* ---- frames from the client ----------------------------------------------- */

static gboolean
gone_allowed (HdConn *c)
{
  gint64 now = g_get_monotonic_time ();

  c->gone_tokens = MIN ((double) GONE_BURST,
                        c->gone_tokens + (double) (now - c->gone_refill) / G_USEC_PER_SEC);
  c->gone_refill = now;
  if (c->gone_tokens < 1.0)
    return FALSE;
  c->gone_tokens -= 1.0;
  return TRUE;
}

static void
handle_send_packet (HdConn *c,
                    const struct derp_frame *f)
{
  HdServer *srv = c->srv;
  const uint8_t *dst_key, *data;
  size_t len;
  gboolean disco;
  HdConn *dst;

  if (derp_parse_keyed (f, &dst_key, &data, &len) < 0)
    return; /* cannot happen: the frame's size was checked */
  disco = disco_looks_like (data, len);
  srv->metrics.packets_recv++;
  srv->metrics.bytes_recv += len;
  if (disco)
    srv->metrics.disco_recv++;

  dst = hd_relay_lookup (srv->relay, dst_key);
  if (dst == NULL)
    {
      drop (srv, HD_DROP_UNKNOWN_DEST, len);
      /* Only disco learns "not here", and at most 3 a burst (derpserver.go
       * requestPeerGoneWriteLimited). */
      if (disco && gone_allowed (c))
        queue_peer_gone (c, dst_key, DERP_PEER_GONE_NOT_HERE);
      return;
    }
  deliver (dst, c->peer, data, len, disco);
}

static void
handle_client_info (HdConn *c,
                    const struct derp_frame *f)
{
  HdServer *srv = c->srv;
  const uint8_t *key, *box;
  size_t box_len;
  g_autofree guint8 *plain = NULL;
  g_autoptr(GError) error = NULL;
  guint8 out[DERP_NONCE_LEN + DERP_BOX_OVERHEAD + sizeof server_info_json];
  ssize_t n;

  if (derp_parse_keyed (f, &key, &box, &box_len) < 0)
    goto bad;
  plain = g_malloc (box_len + 1);
  n = derp_open_info (plain, box_len, box, box_len, key, srv->priv);
  if (n < 0)
    goto bad;
  /* derpserver.go recvClientKey: the JSON must decode; we need none of it. */
  if (!hyphae_json_check_object ((const char *) plain, n, DERP_MAX_CLIENT_INFO, &error))
    goto bad;

  memcpy (c->key, key, DERP_KEY_LEN);
  c->peer = hd_relay_add (srv->relay, c->key, c);
  c->state = HD_CONN_ACTIVE;
  c->deadline = 0;
  c->next_keepalive = g_get_monotonic_time () + DERP_KEEPALIVE_S * G_USEC_PER_SEC +
                      g_random_int_range (0, KEEPALIVE_JITTER_S * 1000) * (gint64) 1000;
  c->gone_tokens = GONE_BURST;
  c->gone_refill = g_get_monotonic_time ();
  srv->metrics.clients_current++;
  srv->metrics.clients_accepted++;

  n = derp_seal_info (out, sizeof out, (const uint8_t *) server_info_json,
                      sizeof server_info_json - 1, c->key, srv->priv);
  g_assert (n > 0);
  queue_frame (c, DERP_FRAME_SERVER_INFO, out, n);
  return;

bad:
  srv->metrics.bad_client_info++;
  hd_conn_close (c, "bad ClientInfo");
}

static void
handle_frame (HdConn *c,
              const struct derp_frame *f)
{
  HdServer *srv = c->srv;

  if (c->state == HD_CONN_LOGIN)
    {
      handle_client_info (c, f);
      return;
    }
  switch ((enum derp_frame_type) f->type)
    {
    case DERP_FRAME_SEND_PACKET:
      handle_send_packet (c, f);
      break;
    case DERP_FRAME_NOTE_PREFERRED:
      if ((f->payload[0] != 0) != c->preferred)
        {
          c->preferred = !c->preferred;
          if (c->preferred)
            srv->metrics.clients_home++;
          else
            srv->metrics.clients_home--;
        }
      break;
    case DERP_FRAME_PING:
      /* Pong with the first 8 bytes; a client that pings without reading loses pongs. */
      srv->metrics.pings++;
      queue_frame (c, DERP_FRAME_PONG, f->payload, DERP_PING_LEN);
      break;
    case DERP_FRAME_SERVER_KEY:
    case DERP_FRAME_CLIENT_INFO:
    case DERP_FRAME_SERVER_INFO:
    case DERP_FRAME_RECV_PACKET:
    case DERP_FRAME_KEEP_ALIVE:
    case DERP_FRAME_PEER_GONE:
    case DERP_FRAME_PEER_PRESENT:
    case DERP_FRAME_FORWARD_PACKET:
    case DERP_FRAME_WATCH_CONNS:
    case DERP_FRAME_CLOSE_PEER:
    case DERP_FRAME_PONG:
    case DERP_FRAME_HEALTH:
    case DERP_FRAME_RESTARTING:
    default:
      g_assert_not_reached (); /* frame_limit skipped or refused them */
    }
}

typedef enum {
  FRAME_READ, /* buffered whole and handled */
  FRAME_SKIP, /* skipped as it streams by */
  FRAME_BAD,  /* over its limit, or not allowed: close */
} FrameRule;

/*
 * What a header may announce. Before login only ClientInfo (≤ 256 KiB);
 * after it the frames a client sends, each within derpserver.go's limits.
 * The mesh frames need a mesh key, which hyphae-derp does not take
 * (derpserver.go: "insufficient permissions"). Others are skipped up to
 * DERP_MAX_FRAME, the largest frame either side accepts.
 */
static FrameRule
frame_rule (HdConn *c,
            guint8 type,
            guint32 len)
{
  if (c->state == HD_CONN_LOGIN)
    return type == DERP_FRAME_CLIENT_INFO && len >= DERP_KEY_LEN + DERP_NONCE_LEN &&
               len <= DERP_MAX_CLIENT_INFO
             ? FRAME_READ
             : FRAME_BAD;
  switch (type)
    {
    case DERP_FRAME_SEND_PACKET:
      return len >= DERP_KEY_LEN && len <= DERP_KEY_LEN + DERP_MAX_PACKET ? FRAME_READ : FRAME_BAD;
    case DERP_FRAME_NOTE_PREFERRED:
      return len == 1 ? FRAME_READ : FRAME_BAD;
    case DERP_FRAME_PING:
      return len >= DERP_PING_LEN && len <= PING_MAX ? FRAME_READ : FRAME_BAD;
    case DERP_FRAME_FORWARD_PACKET:
    case DERP_FRAME_WATCH_CONNS:
    case DERP_FRAME_CLOSE_PEER:
      return FRAME_BAD;
    default:
      return len <= DERP_MAX_FRAME ? FRAME_SKIP : FRAME_BAD;
    }
}

gsize
hd_conn_feed (HdConn *c,
              const guint8 *buf,
              gsize len)
{
  gsize off = 0;

  while (c->state == HD_CONN_LOGIN || c->state == HD_CONN_ACTIVE)
    {
      struct derp_frame f;
      guint32 flen;
      guint8 type;

      if (c->skip > 0)
        {
          gsize n = MIN (c->skip, len - off);

          off += n;
          c->skip -= n;
          if (c->skip > 0)
            break;
          continue;
        }
      if (len - off < DERP_HEADER_LEN)
        break;
      type = buf[off];
      flen = (guint32) buf[off + 1] << 24 | (guint32) buf[off + 2] << 16 |
             (guint32) buf[off + 3] << 8 | buf[off + 4];
      switch (frame_rule (c, type, flen))
        {
        case FRAME_BAD:
          if (c->state == HD_CONN_LOGIN)
            c->srv->metrics.bad_client_info++;
          else
            c->srv->metrics.bad_frames++;
          hd_conn_close (c, "frame over its limit or not allowed");
          return off;
        case FRAME_SKIP:
          c->srv->metrics.unknown_frames++;
          off += DERP_HEADER_LEN;
          c->skip = flen;
          continue;
        case FRAME_READ:
          break;
        }
      if (len - off - DERP_HEADER_LEN < flen)
        break;
      if (derp_frame_parse (buf + off, len - off, flen, &f) != (ssize_t) (DERP_HEADER_LEN + flen))
        g_assert_not_reached ();
      off += DERP_HEADER_LEN + flen;
      handle_frame (c, &f);
    }
  return off;
}

/* ---- input ---------------------------------------------------------------- */

static void
pend_reserve (HdConn *c,
              gsize size)
{
  if (c->pend_cap >= size)
    return;
  c->pend = g_realloc (c->pend, size);
  c->pend_cap = size;
}

static void
pend_keep (HdConn *c,
           const guint8 *rest,
           gsize len)
{
  if (len == 0 && c->pend_cap > PEND_KEEP)
    {
      g_clear_pointer (&c->pend, g_free);
      c->pend_cap = 0;
    }
  if (len > 0)
    {
      pend_reserve (c, MAX (len, (gsize) 256));
      memmove (c->pend, rest, len);
    }
  c->pend_len = len;
}

/* The announced size of the frame whose start pend holds (checked by feed). */
static gsize
pend_frame_size (HdConn *c)
{
  return DERP_HEADER_LEN + ((guint32) c->pend[1] << 24 | (guint32) c->pend[2] << 16 |
                            (guint32) c->pend[3] << 8 | c->pend[4]);
}

static void
start_derp (HdConn *c)
{
  guint8 payload[DERP_MAGIC_LEN + DERP_KEY_LEN];

  memcpy (payload, DERP_MAGIC, DERP_MAGIC_LEN);
  memcpy (payload + DERP_MAGIC_LEN, c->srv->pub, DERP_KEY_LEN);
  c->state = HD_CONN_LOGIN;
  queue_frame (c, DERP_FRAME_SERVER_KEY, payload, sizeof payload);
}

/* Bytes of the request arrived: answer it once it is whole. */
static void
http_input (HdConn *c)
{
  HdHttpRequest req;
  gssize end = hd_http_request_parse ((const char *) c->pend, c->pend_len, &req);
  g_autoptr(GString) out = g_string_new (NULL);
  gsize rest;

  if (end == 0)
    return;
  c->srv->metrics.http_requests++;
  if (end < 0)
    {
      c->srv->metrics.http_bad++;
      hd_http_bad_request (out);
      c->close_after_flush = TRUE;
    }
  else if (hd_http_route (c->srv, &req, c->loopback, out) == HD_HTTP_RESPOND)
    c->close_after_flush = TRUE;
  hd_outq_append (&c->outq, out->str, out->len);
  mark_dirty (c);
  if (c->close_after_flush)
    {
      g_source_destroy (c->in_src);
      g_clear_pointer (&c->in_src, g_source_unref);
      c->state = HD_CONN_RESPONDING; /* no more input is read */
      c->pend_len = 0;
      return;
    }

  start_derp (c);
  rest = c->pend_len - end;
  pend_keep (c, c->pend + end, rest);
  if (rest > 0)
    {
      gsize used = hd_conn_feed (c, c->pend, c->pend_len);

      pend_keep (c, c->pend + used, c->pend_len - used);
    }
}

/* One non-blocking read; FALSE when there is nothing more to read now. */
static gboolean
read_once (HdConn *c)
{
  HdServer *srv = c->srv;
  g_autoptr(GError) error = NULL;
  guint8 *buf;
  gsize size, have = 0;
  gboolean direct = FALSE;
  gssize n;

  if (c->in_src == NULL)
    return FALSE;
  if (c->state == HD_CONN_HTTP)
    {
      pend_reserve (c, HD_HTTP_REQUEST_MAX);
      buf = c->pend + c->pend_len;
      size = HD_HTTP_REQUEST_MAX - c->pend_len;
    }
  else if (c->pend_len >= DERP_HEADER_LEN && c->skip == 0 &&
           pend_frame_size (c) - c->pend_len >= DIRECT_READ_MIN)
    {
      /* A big frame is missing much: read it straight into pend. */
      gsize need = pend_frame_size (c);

      pend_reserve (c, need);
      buf = c->pend + c->pend_len;
      size = need - c->pend_len;
      direct = TRUE;
    }
  else
    {
      have = c->pend_len;
      if (have > 0)
        memcpy (srv->scratch, c->pend, have);
      buf = srv->scratch + have;
      size = srv->scratch_size - have;
    }

  n = g_pollable_input_stream_read_nonblocking (c->in, buf, size, NULL, &error);
  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return FALSE;
  if (n <= 0)
    {
      g_autofree char *why = g_strdup_printf ("read: %s", n == 0 ? "EOF" : error->message);

      hd_conn_close (c, why);
      return FALSE;
    }

  if (c->state == HD_CONN_HTTP)
    {
      c->pend_len += n;
      http_input (c);
    }
  else if (direct)
    {
      c->pend_len += n;
      if (c->pend_len == pend_frame_size (c))
        {
          hd_conn_feed (c, c->pend, c->pend_len);
          pend_keep (c, NULL, 0);
        }
    }
  else
    {
      gsize total = have + n;
      gsize used = hd_conn_feed (c, srv->scratch, total);

      if (c->state != HD_CONN_CLOSED)
        pend_keep (c, srv->scratch + used, total - used);
    }
  return c->state != HD_CONN_CLOSED;
}

static gboolean
on_readable (GObject *stream,
             gpointer user_data)
{
  HdConn *c = user_data;

  g_source_set_ready_time (c->in_src, -1);
  for (guint i = 0; read_once (c); i++)
    if (i + 1 == READ_BUDGET && c->in_src != NULL)
      {
        /* TLS may hold decrypted bytes the socket no longer signals: come back. */
        g_source_set_ready_time (c->in_src, 0);
        break;
      }
  hd_server_flush_dirty (c->srv);
  return G_SOURCE_CONTINUE;
}

static void
conn_start_reading (HdConn *c)
{
  c->in = G_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (c->stream));
  c->out = G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (c->stream));
  c->state = HD_CONN_HTTP;
  c->in_src = g_pollable_input_stream_create_source (c->in, NULL);
  g_source_set_callback (c->in_src, G_SOURCE_FUNC (on_readable), c, NULL);
  g_source_attach (c->in_src, NULL);
}

/* ---- setup ---------------------------------------------------------------- */

static void
on_handshake (GObject *source,
              GAsyncResult *result,
              gpointer user_data)
{
  HdConn *c = user_data;
  g_autoptr(GError) error = NULL;

  c->srv->handshakes--;
  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error))
    {
      if (c->state != HD_CONN_CLOSED)
        {
          g_autofree char *why = g_strdup_printf ("TLS: %s", error->message);

          c->srv->metrics.tls_failed++;
          hd_conn_close (c, why);
        }
    }
  else if (c->state != HD_CONN_CLOSED)
    conn_start_reading (c);
  hd_conn_unref (c);
}

HdConn *
hd_conn_new (HdServer *srv,
             GSocketConnection *connection)
{
  HdConn *c = g_new0 (HdConn, 1);
  GSocket *socket = g_socket_connection_get_socket (connection);
  g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (connection, NULL);

  c->ref_count = 1;
  c->srv = srv;
  c->base = g_object_ref (connection);
  c->cancellable = g_cancellable_new ();
  c->link.data = c;
  c->dirty_link.data = c;
  hd_outq_init (&c->outq, &srv->pool);
  c->deadline = g_get_monotonic_time () + srv->config.login_timeout_us;
  if (G_IS_INET_SOCKET_ADDRESS (remote))
    {
      GInetAddress *ip = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote));
      g_autofree char *ip_text = g_inet_address_to_string (ip);

      c->loopback = g_inet_address_get_is_loopback (ip);
      c->remote = g_strdup_printf ("%s:%u", ip_text,
                                   g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (remote)));
    }
  else
    c->remote = g_strdup ("?");
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  g_queue_push_tail_link (&srv->conns, &c->link);
  srv->metrics.connections++;

  if (srv->cert == NULL)
    {
      c->stream = G_IO_STREAM (g_object_ref (connection));
      conn_start_reading (c);
      return c;
    }

  {
    g_autoptr(GError) error = NULL;
    /* g_tls_server_connection_new() with "database" NULL: clients send no
     * certificate, and the default trust store costs megabytes per process. */
    g_autoptr(GIOStream) buffered = hd_buffered_io_stream_new (G_IO_STREAM (connection));
    GIOStream *tls = g_initable_new (
      g_tls_backend_get_server_connection_type (g_tls_backend_get_default ()), NULL, &error,
      "base-io-stream", buffered, "certificate", srv->cert, "database", NULL, NULL);

    if (tls == NULL)
      {
        g_warning ("TLS: %s", error->message);
        hd_conn_close (c, NULL);
        return c;
      }
    c->stream = tls;
    c->state = HD_CONN_TLS;
    srv->handshakes++;
    g_tls_connection_handshake_async (G_TLS_CONNECTION (tls), G_PRIORITY_DEFAULT, c->cancellable,
                                      on_handshake, conn_ref (c));
  }
  return c;
}

HdConn *
hd_conn_new_detached (HdServer *srv,
                      HdConnState state)
{
  HdConn *c = g_new0 (HdConn, 1);

  c->ref_count = 1;
  c->srv = srv;
  c->state = state;
  c->link.data = c;
  c->dirty_link.data = c;
  c->remote = g_strdup ("detached");
  c->gone_tokens = GONE_BURST;
  c->gone_refill = g_get_monotonic_time ();
  hd_outq_init (&c->outq, &srv->pool);
  g_queue_push_tail_link (&srv->conns, &c->link);
  return c;
}

void
hd_conn_tick (HdConn *c,
              gint64 now)
{
  HdServer *srv = c->srv;

  if (c->deadline != 0 && now > c->deadline && c->state != HD_CONN_ACTIVE)
    {
      hd_conn_close (c, "no login in time");
      return;
    }
  if (c->stall_since != 0 && now - c->stall_since > srv->config.write_timeout_us)
    {
      srv->metrics.write_timeouts++;
      hd_conn_close (c, "write timeout");
      return;
    }
  if (c->peer != NULL && now >= c->next_keepalive)
    {
      queue_frame (c, DERP_FRAME_KEEP_ALIVE, NULL, 0);
      c->next_keepalive = now + DERP_KEEPALIVE_S * G_USEC_PER_SEC +
                          g_random_int_range (0, KEEPALIVE_JITTER_S * 1000) * (gint64) 1000;
    }
}
