/* SPDX-License-Identifier: MIT */
/*
 * hyphae-derp's pieces without sockets (server/derp): the send queue, the
 * request reader and its answers, the relay table, and frames fed into
 * connections without a stream (what they queue is read back as frames).
 * The sockets, TLS and real clients: tests/integration/derp-server.sh.
 */
#include <string.h>

#include "crypto/keys.h"
#include "crypto/secmem.h"
#include "hd-conn.h"
#include "hd-http.h"
#include "magicsock/derp-frame.h"

static HdServer *
server_new (void)
{
  HdServerConfig config = { .queue_depth = 4, .write_timeout_us = G_USEC_PER_SEC };
  guint8 *priv = secmem_alloc (KEY_LEN);

  key_generate_private (priv);
  return hd_server_new (&config, priv, NULL);
}

/* Everything queued for c, as one buffer. */
static GByteArray *
queued (HdConn *c)
{
  GByteArray *out = g_byte_array_new ();
  GOutputVector v[64];
  guint n = hd_outq_peek (&c->outq, v, G_N_ELEMENTS (v));

  for (guint i = 0; i < n; i++)
    g_byte_array_append (out, v[i].buffer, v[i].size);
  g_assert_cmpuint (out->len, ==, c->outq.bytes);
  return out;
}

/* The frames queued for c, consumed: "type:len" each, and the last one's payload. */
static char *
take_frames (HdConn *c,
             GBytes **last_payload)
{
  g_autoptr(GByteArray) buf = queued (c);
  GString *s = g_string_new (NULL);
  gsize off = 0;

  while (off < buf->len)
    {
      struct derp_frame f;
      ssize_t n = derp_frame_parse (buf->data + off, buf->len - off, DERP_MAX_FRAME, &f);

      g_assert_cmpint (n, >, 0);
      g_string_append_printf (s, "%s%u:%u", s->len ? " " : "", f.type, f.len);
      if (last_payload != NULL)
        {
          g_clear_pointer (last_payload, g_bytes_unref);
          *last_payload = g_bytes_new (f.payload, f.len);
        }
      off += n;
    }
  hd_outq_consume (&c->outq, buf->len);
  return g_string_free (s, FALSE);
}

static GByteArray *
frame (GByteArray *to,
       guint8 type,
       const void *a,
       gsize alen,
       const void *b,
       gsize blen)
{
  guint8 hdr[DERP_HEADER_LEN];

  derp_frame_header (hdr, type, alen + blen);
  g_byte_array_append (to, hdr, sizeof hdr);
  g_byte_array_append (to, a, alen);
  g_byte_array_append (to, b, blen);
  return to;
}

static HdConn *
logged_in (HdServer *srv,
           guint8 fill)
{
  HdConn *c = hd_conn_new_detached (srv, HD_CONN_ACTIVE);

  memset (c->key, fill, sizeof c->key);
  c->peer = hd_relay_add (srv->relay, c->key, c);
  srv->metrics.clients_current++;
  return c;
}

static void
finish (HdServer *srv)
{
  hd_server_free (srv);
}

/* ---- the send queue ---------------------------------------------------------- */

static void
test_outq (void)
{
  HdChunkPool pool;
  HdOutq q;
  g_autofree guint8 *big = g_malloc (3 * HD_CHUNK_SIZE);
  GOutputVector v[HD_OUTQ_IOV];
  gsize total = 0;
  guint n;

  hd_chunk_pool_init (&pool, 2);
  hd_outq_init (&q, &pool);
  for (gsize i = 0; i < 3 * HD_CHUNK_SIZE; i++)
    big[i] = i * 7;
  /* A packet that spans three chunks, then a small one. */
  hd_outq_append (&q, big, 2 * HD_CHUNK_SIZE + 100);
  hd_outq_end_packet (&q);
  hd_outq_append (&q, "tail", 4);
  hd_outq_end_packet (&q);
  g_assert_cmpuint (hd_outq_packets (&q), ==, 2);
  n = hd_outq_peek (&q, v, HD_OUTQ_IOV);
  g_assert_cmpuint (n, ==, 3);
  for (guint i = 0; i < n; i++)
    total += v[i].size;
  g_assert_cmpuint (total, ==, 2 * HD_CHUNK_SIZE + 104);
  g_assert_cmpmem (v[1].buffer, 16, big + HD_CHUNK_SIZE, 16);

  /* Written up to just before the first packet's end: both still queued. */
  hd_outq_consume (&q, 2 * HD_CHUNK_SIZE + 99);
  g_assert_cmpuint (hd_outq_packets (&q), ==, 2);
  hd_outq_consume (&q, 1);
  g_assert_cmpuint (hd_outq_packets (&q), ==, 1);
  n = hd_outq_peek (&q, v, HD_OUTQ_IOV);
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpmem (v[0].buffer, v[0].size, "tail", 4);
  /* The drained chunks went back to the pool, up to its two. */
  g_assert_cmpuint (pool.free_count, ==, 2);
  g_assert_cmpuint (hd_outq_clear (&q), ==, 1);
  g_assert_cmpuint (q.bytes, ==, 0);
  hd_chunk_pool_clear (&pool);
}

/* ---- the request and its answers --------------------------------------------- */

static char *
answer (HdServer *srv,
        const char *request,
        gboolean loopback,
        HdHttpAction *action)
{
  HdHttpRequest req;
  GString *out = g_string_new (NULL);

  g_assert_cmpint (hd_http_request_parse (request, strlen (request), &req), ==, strlen (request));
  *action = hd_http_route (srv, &req, loopback, out);
  return g_string_free (out, FALSE);
}

static void
test_http (void)
{
  HdServer *srv = server_new ();
  HdHttpRequest req;
  HdHttpAction action;
  g_autofree char *upgrade = NULL, *fast = NULL, *no_upgrade = NULL, *probe = NULL;
  g_autofree char *g204 = NULL, *g204_bad = NULL, *metrics_far = NULL, *metrics_lo = NULL;
  g_autofree char *expect_key = g_strdup_printf ("Derp-Public-Key: %s\r\n", srv->pub_hex);

  upgrade = answer (srv, "GET /derp HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: DERP\r\n\r\n",
                    FALSE, &action);
  g_assert_cmpint (action, ==, HD_HTTP_UPGRADE);
  g_assert_true (g_str_has_prefix (upgrade, "HTTP/1.1 101 "));
  g_assert_nonnull (strstr (upgrade, "Derp-Version: 2\r\n"));
  g_assert_nonnull (strstr (upgrade, expect_key));
  fast = answer (srv, "GET /derp HTTP/1.1\r\nUpgrade: derp\r\nDerp-Fast-Start: 1\r\n\r\n", FALSE, &action);
  g_assert_cmpint (action, ==, HD_HTTP_UPGRADE);
  g_assert_cmpstr (fast, ==, "");
  no_upgrade = answer (srv, "GET /derp HTTP/1.1\r\n\r\n", FALSE, &action);
  g_assert_true (g_str_has_prefix (no_upgrade, "HTTP/1.1 426 "));
  probe = answer (srv, "HEAD /derp/latency-check?x HTTP/1.1\r\n\r\n", FALSE, &action);
  g_assert_cmpint (action, ==, HD_HTTP_RESPOND);
  g_assert_true (g_str_has_prefix (probe, "HTTP/1.1 200 "));
  g_assert_nonnull (strstr (probe, "Access-Control-Allow-Origin: *"));
  g204 = answer (srv, "GET /generate_204 HTTP/1.1\r\nX-Tailscale-Challenge: ts_ab.c-d:1\r\n\r\n",
                 FALSE, &action);
  g_assert_true (g_str_has_prefix (g204, "HTTP/1.1 204 "));
  g_assert_nonnull (strstr (g204, "\r\nX-Tailscale-Response: response ts_ab.c-d:1\r\n"));
  g204_bad = answer (srv, "GET /generate_204 HTTP/1.1\r\nX-Tailscale-Challenge: a/b\r\n\r\n", FALSE,
                     &action);
  g_assert_null (strstr (g204_bad, "X-Tailscale-Response"));
  metrics_far = answer (srv, "GET /debug/metrics HTTP/1.1\r\n\r\n", FALSE, &action);
  g_assert_true (g_str_has_prefix (metrics_far, "HTTP/1.1 403 "));
  metrics_lo = answer (srv, "GET /debug/metrics HTTP/1.1\r\n\r\n", TRUE, &action);
  g_assert_true (g_str_has_prefix (metrics_lo, "HTTP/1.1 200 "));
  g_assert_nonnull (strstr (metrics_lo, "\nderp_current_clients 0\n"));

  /* Needs more; refused. */
  g_assert_cmpint (hd_http_request_parse ("GET /derp HTTP/1.1\r\n", 20, &req), ==, 0);
  g_assert_cmpint (hd_http_request_parse ("GET /derp HTTP/1.1\n\n\r\n\r\n", 24, &req), ==, -1);
  g_assert_cmpint (hd_http_request_parse ("GET /derp HTTP/1.1\r\nA: b\r\n c\r\n\r\n", 32, &req), ==, -1);
  g_assert_cmpint (hd_http_request_parse ("GET derp HTTP/1.1\r\n\r\n", 21, &req), ==, -1);
  g_assert_cmpint (hd_http_request_parse ("\x16\x03\x01\r\n\r\n", 7, &req), ==, -1);
  {
    g_autofree char *endless = g_strnfill (HD_HTTP_REQUEST_MAX, 'a');

    g_assert_cmpint (hd_http_request_parse (endless, HD_HTTP_REQUEST_MAX, &req), ==, -1);
  }
  finish (srv);
}

/* ---- frames in, frames out ---------------------------------------------------- */

static void
test_relay (void)
{
  HdServer *srv = server_new ();
  HdConn *a = logged_in (srv, 0xaa), *b = logged_in (srv, 0xbb);
  g_autoptr(GByteArray) in = g_byte_array_new ();
  g_autoptr(GBytes) last = NULL;
  g_autofree char *got = NULL;
  guint8 nobody[32];
  guint8 disco[6 + 32 + 24 + 16] = "TS\xf0\x9f\x92\xac";
  gsize used;

  memset (nobody, 0x11, sizeof nobody);
  /* a → b, cut in the middle of the frame: nothing, then all of it. */
  frame (in, DERP_FRAME_SEND_PACKET, b->key, 32, "hello", 5);
  used = hd_conn_feed (a, in->data, 20);
  g_assert_cmpuint (used, ==, 0);
  used = hd_conn_feed (a, in->data, in->len);
  g_assert_cmpuint (used, ==, in->len);
  got = take_frames (b, &last);
  g_assert_cmpstr (got, ==, "5:37");
  g_assert_cmpmem (g_bytes_get_data (last, NULL), 32, a->key, 32);
  g_assert_cmpmem ((const guint8 *) g_bytes_get_data (last, NULL) + 32, 5, "hello", 5);
  g_clear_pointer (&got, g_free);

  /* Ping → Pong with its 8 bytes; an unknown frame, a keep-alive, NotePreferred. */
  g_byte_array_set_size (in, 0);
  frame (in, 0x7e, "zzz", 3, NULL, 0);
  frame (in, DERP_FRAME_KEEP_ALIVE, NULL, 0, NULL, 0);
  frame (in, DERP_FRAME_NOTE_PREFERRED, "\x01", 1, NULL, 0);
  frame (in, DERP_FRAME_PING, "12345678", 8, NULL, 0);
  g_assert_cmpuint (hd_conn_feed (a, in->data, in->len), ==, in->len);
  got = take_frames (a, &last);
  g_assert_cmpstr (got, ==, "19:8");
  g_assert_cmpmem (g_bytes_get_data (last, NULL), 8, "12345678", 8);
  g_assert_cmpuint (srv->metrics.clients_home, ==, 1);
  g_assert_cmpuint (srv->metrics.unknown_frames, ==, 2);
  g_clear_pointer (&got, g_free);

  /* Disco to nobody: PeerGone(not-here), 3 a burst; other packets to nobody: none. */
  g_byte_array_set_size (in, 0);
  frame (in, DERP_FRAME_SEND_PACKET, nobody, 32, "not disco", 9);
  for (int i = 0; i < 5; i++)
    frame (in, DERP_FRAME_SEND_PACKET, nobody, 32, disco, sizeof disco);
  g_assert_cmpuint (hd_conn_feed (a, in->data, in->len), ==, in->len);
  got = take_frames (a, &last);
  g_assert_cmpstr (got, ==, "8:33 8:33 8:33");
  g_assert_cmpmem (g_bytes_get_data (last, NULL), 32, nobody, 32);
  g_assert_cmpuint (((const guint8 *) g_bytes_get_data (last, NULL))[32], ==, DERP_PEER_GONE_NOT_HERE);
  g_assert_cmpuint (srv->metrics.packets_dropped[HD_DROP_UNKNOWN_DEST], ==, 6);
  g_clear_pointer (&got, g_free);

  /* b's queue holds 4 data packets (queue_depth); a stream-less b cannot drain. */
  g_byte_array_set_size (in, 0);
  for (int i = 0; i < 6; i++)
    frame (in, DERP_FRAME_SEND_PACKET, b->key, 32, "data", 4);
  frame (in, DERP_FRAME_SEND_PACKET, b->key, 32, disco, sizeof disco);
  g_assert_cmpuint (hd_conn_feed (a, in->data, in->len), ==, in->len);
  got = take_frames (b, NULL);
  g_assert_cmpstr (got, ==, "5:36 5:36 5:36 5:36 5:110");
  g_assert_cmpuint (srv->metrics.packets_dropped[HD_DROP_QUEUE_FULL], ==, 2);
  g_clear_pointer (&got, g_free);

  /* a leaves: b, which a sent to, hears PeerGone(disconnected); a frame over its limit closes b. */
  hd_conn_close (a, NULL);
  got = take_frames (b, &last);
  g_assert_cmpstr (got, ==, "8:33");
  g_assert_cmpuint (((const guint8 *) g_bytes_get_data (last, NULL))[32], ==, DERP_PEER_GONE_DISCONNECTED);
  g_byte_array_set_size (in, 0);
  g_byte_array_append (in, (const guint8 *) "\x04\x80\x00\x00\x00", 5);
  hd_conn_feed (b, in->data, in->len);
  g_assert_cmpint (b->state, ==, HD_CONN_CLOSED);
  g_assert_cmpuint (srv->metrics.bad_frames, ==, 1);
  g_assert_cmpuint (srv->metrics.clients_current, ==, 0);
  g_assert_cmpuint (hd_relay_keys (srv->relay), ==, 0);
  finish (srv);
}

static void
test_duplicate_key (void)
{
  HdServer *srv = server_new ();
  HdConn *a = logged_in (srv, 0xaa), *old = logged_in (srv, 0xbb), *newest = logged_in (srv, 0xbb);
  g_autoptr(GByteArray) in = g_byte_array_new ();
  g_autofree char *got_old = NULL, *got_new = NULL, *gone = NULL;

  g_assert_true (hd_relay_lookup (srv->relay, old->key) == newest);
  frame (in, DERP_FRAME_SEND_PACKET, old->key, 32, "x", 1);
  hd_conn_feed (a, in->data, in->len);
  got_old = take_frames (old, NULL);
  got_new = take_frames (newest, NULL);
  g_assert_cmpstr (got_old, ==, "");
  g_assert_cmpstr (got_new, ==, "5:33");

  /* The newest leaves: the older one receives again, and nobody hears PeerGone. */
  frame (in, DERP_FRAME_SEND_PACKET, a->key, 32, "y", 1);
  hd_conn_feed (newest, in->data + 38, in->len - 38);
  g_clear_pointer (&got_new, g_free);
  got_new = take_frames (a, NULL);
  g_assert_cmpstr (got_new, ==, "5:33");
  hd_conn_close (newest, NULL);
  g_assert_true (hd_relay_lookup (srv->relay, old->key) == old);
  gone = take_frames (a, NULL);
  g_assert_cmpstr (gone, ==, "");
  finish (srv);
}

static void
test_login_refused (void)
{
  HdServer *srv = server_new ();
  HdConn *c = hd_conn_new_detached (srv, HD_CONN_LOGIN);
  g_autoptr(GByteArray) in = g_byte_array_new ();
  guint8 junk[32 + 24 + 40];

  /* A frame other than ClientInfo first closes; so does a box that does not open. */
  frame (in, DERP_FRAME_PING, "12345678", 8, NULL, 0);
  hd_conn_feed (c, in->data, in->len);
  g_assert_cmpint (c->state, ==, HD_CONN_CLOSED);
  c = hd_conn_new_detached (srv, HD_CONN_LOGIN);
  memset (junk, 7, sizeof junk);
  g_byte_array_set_size (in, 0);
  frame (in, DERP_FRAME_CLIENT_INFO, junk, sizeof junk, NULL, 0);
  hd_conn_feed (c, in->data, in->len);
  g_assert_cmpint (c->state, ==, HD_CONN_CLOSED);
  g_assert_cmpuint (srv->metrics.bad_client_info, ==, 2);
  g_assert_cmpuint (srv->metrics.clients_current, ==, 0);
  finish (srv);
}

static void
test_login (void)
{
  HdServer *srv = server_new ();
  HdConn *c = hd_conn_new_detached (srv, HD_CONN_LOGIN);
  g_autoptr(GByteArray) in = g_byte_array_new ();
  g_autoptr(GBytes) last = NULL;
  g_autofree char *got = NULL;
  guint8 client_priv[32], client_pub[32], box[256], plain[64];
  const char *info = "{\"version\":2,\"CanAckPings\":true}";
  ssize_t n;

  key_generate_private (client_priv);
  key_public_from_private (client_pub, client_priv);
  n = derp_seal_info (box, sizeof box, (const uint8_t *) info, strlen (info), srv->pub, client_priv);
  g_assert_cmpint (n, >, 0);
  frame (in, DERP_FRAME_CLIENT_INFO, client_pub, 32, box, n);
  g_assert_cmpuint (hd_conn_feed (c, in->data, in->len), ==, in->len);
  g_assert_cmpint (c->state, ==, HD_CONN_ACTIVE);
  g_assert_true (hd_relay_lookup (srv->relay, client_pub) == c);
  got = take_frames (c, &last);
  g_assert_cmpstr (got, ==, "3:53");
  n = derp_open_info (plain, sizeof plain, g_bytes_get_data (last, NULL), g_bytes_get_size (last),
                      srv->pub, client_priv);
  g_assert_cmpint (n, ==, 13);
  g_assert_cmpmem (plain, n, "{\"version\":2}", 13);
  g_assert_cmpuint (srv->metrics.clients_accepted, ==, 1);
  finish (srv);
}

/* The 1 s tick with its clock passed in: keep-alives, the login deadline, write stalls. */
static void
test_tick (void)
{
  HdServer *srv = server_new ();
  HdConn *a = logged_in (srv, 0xaa), *stuck = logged_in (srv, 0xbb);
  HdConn *slow = hd_conn_new_detached (srv, HD_CONN_LOGIN);
  gint64 now = g_get_monotonic_time ();
  g_autofree char *none = NULL, *ka = NULL;

  a->next_keepalive = now + DERP_KEEPALIVE_S * G_USEC_PER_SEC;
  slow->deadline = now + 10 * G_USEC_PER_SEC;
  stuck->stall_since = now;
  hd_conn_tick (a, now + G_USEC_PER_SEC);
  hd_conn_tick (slow, now + G_USEC_PER_SEC);
  hd_conn_tick (stuck, now + G_USEC_PER_SEC / 2);
  none = take_frames (a, NULL);
  g_assert_cmpstr (none, ==, "");
  g_assert_cmpint (slow->state, ==, HD_CONN_LOGIN);
  g_assert_cmpint (stuck->state, ==, HD_CONN_ACTIVE);

  /* 60 s on: a keep-alive, and the next one 60 to 65 s after it. */
  hd_conn_tick (a, now + DERP_KEEPALIVE_S * G_USEC_PER_SEC);
  ka = take_frames (a, NULL);
  g_assert_cmpstr (ka, ==, "6:0");
  g_assert_cmpint (a->next_keepalive, >=, now + 2 * DERP_KEEPALIVE_S * G_USEC_PER_SEC);
  g_assert_cmpint (a->next_keepalive, <=, now + (2 * DERP_KEEPALIVE_S + 5) * G_USEC_PER_SEC);
  /* No ClientInfo in 10 s; a socket that took nothing for over 1 s (the config). */
  hd_conn_tick (slow, now + 11 * G_USEC_PER_SEC);
  g_assert_cmpint (slow->state, ==, HD_CONN_CLOSED);
  hd_conn_tick (stuck, now + 2 * G_USEC_PER_SEC);
  g_assert_cmpint (stuck->state, ==, HD_CONN_CLOSED);
  g_assert_cmpuint (srv->metrics.write_timeouts, ==, 1);
  finish (srv);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/hyphae-derp/outq", test_outq);
  g_test_add_func ("/hyphae-derp/http", test_http);
  g_test_add_func ("/hyphae-derp/relay", test_relay);
  g_test_add_func ("/hyphae-derp/duplicate-key", test_duplicate_key);
  g_test_add_func ("/hyphae-derp/login", test_login);
  g_test_add_func ("/hyphae-derp/login-refused", test_login_refused);
  g_test_add_func ("/hyphae-derp/tick", test_tick);
  return g_test_run ();
}
