/* SPDX-License-Identifier: MIT */
/*
 * daemon/control/hyphae-ts2021.c (/key, the TS2021 HTTP upgrade, the Noise
 * handshake, the early payload) against an independent control server in Go
 * (tests/ts2021/control.go + cbase.go: net/http, flynn/noise, x/net/http2).
 * Building, spawning and reading the server and the main loop are in
 * ts2021-fixture.c; without Go and Debian's Go packages the tests skip,
 * unless $CI is set: then they fail.
 *
 * Each test runs its own server on 127.0.0.1:0 and its own GMainLoop. No
 * timing assumptions: every wait is bounded by a 10 s hang guard that fails
 * the test, and the one timeout (the "silence" case) only triggers a
 * cancellation whose result is checked.
 */
#include <string.h>

#include <gio/gio.h>
#include <sodium.h>
#include <json-glib/json-glib.h>

#include "ts2021/controlbase.h"
#include "crypto/keys.h"
#include "fixture-hex.h"
#include "hyphae-ts2021.h"
#include "ts2021-fixture.h"

#define CAPVER      TS2021_FIXTURE_CAPVER
#define H2_PREFACE  "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_SETTINGS 0x04
#define H2_FLAG_ACK 0x01

/* ---- helpers around the API under test ------------------------------------- */

static gboolean
fetch_key (Ts2021Fixture *f,
           guint8 out_key[32],
           GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  hyphae_ts2021_fetch_key_async (f->url, CAPVER, NULL, ts2021_fixture_store_result_cb, f);
  result = ts2021_fixture_wait_result (f, "GET /key");
  return hyphae_ts2021_fetch_key_finish (result, out_key, error);
}

/* Read one chunk from the connection's stream; 0 at EOF. */
static gsize
conn_read_some (Ts2021Fixture *f,
                HyphaeTs2021Conn *conn,
                guint8 *buf,
                gsize cap)
{
  GInputStream *input = g_io_stream_get_input_stream (hyphae_ts2021_conn_get_stream (conn));
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  gssize n;

  g_input_stream_read_async (input, buf, cap, G_PRIORITY_DEFAULT, NULL,
                             ts2021_fixture_store_result_cb, f);
  result = ts2021_fixture_wait_result (f, "Noise records from the Go server");
  n = g_input_stream_read_finish (input, result, &error);
  g_assert_no_error (error);
  return (gsize) n;
}

/* Append decrypted records to plain until it holds at least want bytes. */
static void
conn_read_plaintext (Ts2021Fixture *f,
                     HyphaeTs2021Conn *conn,
                     GByteArray *plain,
                     gsize want)
{
  struct controlbase *noise = hyphae_ts2021_conn_get_noise (conn);
  g_autofree guint8 *record = g_malloc (CONTROLBASE_MAX_PLAINTEXT);
  guint8 buf[4096];

  while (plain->len < want)
    {
      gsize n = conn_read_some (f, conn, buf, sizeof buf), off = 0;

      if (n == 0)
        g_error ("EOF from the Go server with %u of %zu plaintext bytes", plain->len, want);
      while (off < n)
        {
          size_t out_len = 0;
          bool done = false;
          int ret = controlbase_read (noise, buf + off, n - off, record, &out_len, &done);

          g_assert_cmpint (ret, >=, 0);
          off += (gsize) ret;
          if (done)
            g_byte_array_append (plain, record, (guint) out_len);
        }
    }
}

static void
conn_write_plaintext (Ts2021Fixture *f,
                      HyphaeTs2021Conn *conn,
                      const void *data,
                      gsize len)
{
  GOutputStream *output = g_io_stream_get_output_stream (hyphae_ts2021_conn_get_stream (conn));
  struct controlbase *noise = hyphae_ts2021_conn_get_noise (conn);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  gsize cap = controlbase_sealed_size (len);
  g_autofree guint8 *sealed = g_malloc (cap);
  int ret;

  ret = controlbase_write (noise, data, len, sealed, cap);
  g_assert_cmpint (ret, ==, (int) cap);
  g_output_stream_write_all_async (output, sealed, cap, G_PRIORITY_DEFAULT, NULL,
                                   ts2021_fixture_store_result_cb, f);
  result = ts2021_fixture_wait_result (f, "writing to the Go server");
  g_output_stream_write_all_finish (output, result, NULL, &error);
  g_assert_no_error (error);
}

static guint32
h2_length (const guint8 *p)
{
  return (guint32) p[0] << 16 | (guint32) p[1] << 8 | p[2];
}

/*
 * The leftover must start HTTP/2 with the server's SETTINGS; then speak a
 * little HTTP/2 (preface + SETTINGS) and wait for the server's SETTINGS ACK,
 * which proves our send direction (big-endian nonces from 0) works too.
 */
static void
check_http2 (Ts2021Fixture *f,
             HyphaeTs2021Conn *conn)
{
  static const guint8 settings[9] = { 0, 0, 0, H2_SETTINGS, 0, 0, 0, 0, 0 };
  g_autoptr(GByteArray) plain = g_byte_array_new ();
  GBytes *leftover = hyphae_ts2021_conn_get_leftover (conn);
  gsize off = 0;

  g_assert_nonnull (leftover);
  g_byte_array_append (plain, g_bytes_get_data (leftover, NULL),
                       (guint) g_bytes_get_size (leftover));
  g_test_message ("leftover: %zu bytes", g_bytes_get_size (leftover));
  conn_read_plaintext (f, conn, plain, 9);
  g_assert_cmpuint (plain->data[3], ==, H2_SETTINGS);
  g_assert_cmpuint (plain->data[4] & H2_FLAG_ACK, ==, 0);

  conn_write_plaintext (f, conn, H2_PREFACE, strlen (H2_PREFACE));
  conn_write_plaintext (f, conn, settings, sizeof settings);

  /* Walk whole frames until the SETTINGS ACK. */
  for (;;)
    {
      guint32 len;

      conn_read_plaintext (f, conn, plain, off + 9);
      len = h2_length (plain->data + off);
      conn_read_plaintext (f, conn, plain, off + 9 + len);
      if (plain->data[off + 3] == H2_SETTINGS && (plain->data[off + 4] & H2_FLAG_ACK))
        break;
      off += 9 + len;
    }
}

/* ---- tests --------------------------------------------------------------- */

static void
test_fetch_key (Ts2021Fixture *f,
                gconstpointer user_data)
{
  g_autoptr(GError) error = NULL;
  guint8 key[32];

  if (!ts2021_fixture_server_start (f, NULL))
    return;
  g_assert_true (fetch_key (f, key, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (key, 32, f->server_pub, 32);
}

static void
test_dial (Ts2021Fixture *f,
           gconstpointer user_data)
{
  g_autoptr(HyphaeTs2021Conn) conn = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *peer = NULL;
  g_autofree char *want_peer = NULL;
  guint8 machine_priv[32], machine_pub[32];
  JsonObject *object;
  const char *early;

  if (!ts2021_fixture_server_start (f, NULL))
    return;
  /* The key from /key, as a real client does. */
  g_assert_true (fetch_key (f, f->server_pub, &error));
  g_assert_no_error (error);

  key_generate_private (machine_priv);
  g_assert_true (key_public_from_private (machine_pub, machine_priv));
  conn = ts2021_fixture_dial (f, CAPVER, machine_priv, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (conn);

  peer = ts2021_fixture_server_expect (f, "PEER");
  want_peer = fixture_hex32 (machine_pub);
  g_assert_cmpstr (peer, ==, want_peer);

  g_assert_nonnull (hyphae_ts2021_conn_get_stream (conn));
  g_assert_cmpint (hyphae_ts2021_conn_get_noise (conn)->state, ==, CONTROLBASE_STATE_ESTABLISHED);
  early = hyphae_ts2021_conn_get_early_payload (conn);
  g_assert_nonnull (early);
  g_test_message ("early payload: %s", early);
  g_assert_true (json_parser_load_from_data (parser, early, -1, &error));
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  object = json_node_get_object (json_parser_get_root (parser));
  g_assert_true (json_object_has_member (object, "nodeKeyChallenge"));
  g_assert_true (g_str_has_prefix (json_object_get_string_member (object, "nodeKeyChallenge"),
                                   "chalpub:"));

  check_http2 (f, conn);
  sodium_memzero (machine_priv, sizeof machine_priv);
}

static void
test_no_early_payload (Ts2021Fixture *f,
                       gconstpointer user_data)
{
  g_autoptr(HyphaeTs2021Conn) conn = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *peer = NULL;
  guint8 machine_priv[32];
  GBytes *leftover;

  if (!ts2021_fixture_server_start (f, "-no-early-payload", NULL))
    return;
  key_generate_private (machine_priv);
  conn = ts2021_fixture_dial (f, CAPVER, machine_priv, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (conn);
  peer = ts2021_fixture_server_expect (f, "PEER");

  g_assert_null (hyphae_ts2021_conn_get_early_payload (conn));
  /* The 9 bytes peeked for the magic are HTTP/2 and stay in the leftover. */
  leftover = hyphae_ts2021_conn_get_leftover (conn);
  g_assert_cmpuint (g_bytes_get_size (leftover), >=, 9);
  g_assert_cmpuint (((const guint8 *) g_bytes_get_data (leftover, NULL))[3], ==, H2_SETTINGS);
  check_http2 (f, conn);
}

static void
test_min_version (Ts2021Fixture *f,
                  gconstpointer user_data)
{
  g_autoptr(HyphaeTs2021Conn) conn = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *reject = NULL;
  guint8 machine_priv[32];

  if (!ts2021_fixture_server_start (f, "-min-version", "200", NULL))
    return;
  key_generate_private (machine_priv);
  conn = ts2021_fixture_dial (f, CAPVER, machine_priv, NULL, &error);
  g_assert_null (conn);
  g_assert_nonnull (error);
  g_test_message ("error: %s", error->message);
  g_assert_true (error->domain == HYPHAE_TS2021_ERROR);
  g_assert_true (error->code == HYPHAE_TS2021_ERROR_UPGRADE ||
                 error->code == HYPHAE_TS2021_ERROR_HANDSHAKE);
  reject = ts2021_fixture_server_expect (f, "REJECT");
  g_assert_cmpstr (reject, ==, "version 130");
}

typedef struct
{
  const char *mode;
  int code;
  const char *in_message; /* NULL: anything */
} HostileCase;

static const HostileCase key_cases[] = {
  { "key-404", HYPHAE_TS2021_ERROR_KEY, "404" },
  { "key-500", HYPHAE_TS2021_ERROR_KEY, "500" },
  { "key-notjson", HYPHAE_TS2021_ERROR_KEY, "JSON" },
  { "key-short", HYPHAE_TS2021_ERROR_KEY, "mkey:" },
  { "key-zero", HYPHAE_TS2021_ERROR_KEY, "zero" },
};

static const HostileCase dial_cases[] = {
  { "upgrade-200", HYPHAE_TS2021_ERROR_UPGRADE, "200" },
  { "upgrade-wrong", HYPHAE_TS2021_ERROR_UPGRADE, "websocket" },
  { "upgrade-close", HYPHAE_TS2021_ERROR_UPGRADE, NULL },
  { "noise-error", HYPHAE_TS2021_ERROR_HANDSHAKE, "go away" },
  { "noise-badtag", HYPHAE_TS2021_ERROR_HANDSHAKE, NULL },
  { "record-oversize", HYPHAE_TS2021_ERROR_PROTOCOL, NULL },
  { "early-big", HYPHAE_TS2021_ERROR_PROTOCOL, "limit" },
  { "early-badjson", HYPHAE_TS2021_ERROR_PROTOCOL, "JSON" },
  { "early-deep", HYPHAE_TS2021_ERROR_PROTOCOL, "deep" },
};

static void
check_error (const GError *error,
             const HostileCase *c)
{
  g_assert_nonnull (error);
  g_test_message ("%s: %s", c->mode, error->message);
  g_assert_error (error, HYPHAE_TS2021_ERROR, c->code);
  if (c->in_message)
    g_assert_nonnull (strstr (error->message, c->in_message));
}

static void
test_hostile_key (Ts2021Fixture *f,
                  gconstpointer user_data)
{
  const HostileCase *c = user_data;
  g_autoptr(GError) error = NULL;
  guint8 key[32];

  if (!ts2021_fixture_server_start (f, "-hostile", c->mode, NULL))
    return;
  g_assert_false (fetch_key (f, key, &error));
  check_error (error, c);
}

static void
test_hostile_dial (Ts2021Fixture *f,
                   gconstpointer user_data)
{
  const HostileCase *c = user_data;
  g_autoptr(HyphaeTs2021Conn) conn = NULL;
  g_autoptr(GError) error = NULL;
  guint8 machine_priv[32];

  if (!ts2021_fixture_server_start (f, "-hostile", c->mode, NULL))
    return;
  key_generate_private (machine_priv);
  conn = ts2021_fixture_dial (f, CAPVER, machine_priv, NULL, &error);
  g_assert_null (conn);
  check_error (error, c);
}

static gboolean
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

/* The server sends the 101 and the Noise response, then nothing: only cancelling ends the dial. */
static void
test_silence_cancelled (Ts2021Fixture *f,
                        gconstpointer user_data)
{
  g_autoptr(HyphaeTs2021Conn) conn = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *peer = NULL;
  guint8 machine_priv[32];

  if (!ts2021_fixture_server_start (f, "-hostile", "silence", NULL))
    return;
  key_generate_private (machine_priv);
  g_timeout_add_full (G_PRIORITY_DEFAULT, 200, cancel_cb, g_object_ref (cancellable),
                      g_object_unref);
  conn = ts2021_fixture_dial (f, CAPVER, machine_priv, cancellable, &error);
  g_assert_null (conn);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  peer = ts2021_fixture_server_expect (f, "PEER");
}

static void
test_bad_url (Ts2021Fixture *f,
              gconstpointer user_data)
{
  const char * const urls[] = { "ftp://example.com", "not a url", "http://", "http://h:0" };
  guint8 key[32] = { 1 };

  for (guint i = 0; i < G_N_ELEMENTS (urls); i++)
    {
      g_autoptr(GAsyncResult) r1 = NULL, r2 = NULL;
      g_autoptr(GError) e1 = NULL, e2 = NULL;
      g_autoptr(HyphaeTs2021Conn) conn = NULL;
      guint8 out[32];

      hyphae_ts2021_fetch_key_async (urls[i], CAPVER, NULL, ts2021_fixture_store_result_cb, f);
      r1 = ts2021_fixture_wait_result (f, "fetch_key with a bad URL");
      g_assert_false (hyphae_ts2021_fetch_key_finish (r1, out, &e1));
      g_assert_error (e1, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);

      hyphae_ts2021_dial_async (urls[i], CAPVER, key, key, NULL,
                                ts2021_fixture_store_result_cb, f);
      r2 = ts2021_fixture_wait_result (f, "dial with a bad URL");
      conn = hyphae_ts2021_dial_finish (r2, &e2);
      g_assert_null (conn);
      g_assert_error (e2, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    }
}

int
main (int argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);

  TS2021_FIXTURE_ADD ("/ts2021-dial/bad-url", NULL, test_bad_url);
  TS2021_FIXTURE_ADD ("/ts2021-dial/fetch-key", NULL, test_fetch_key);
  TS2021_FIXTURE_ADD ("/ts2021-dial/dial", NULL, test_dial);
  TS2021_FIXTURE_ADD ("/ts2021-dial/no-early-payload", NULL, test_no_early_payload);
  TS2021_FIXTURE_ADD ("/ts2021-dial/min-version", NULL, test_min_version);
  for (guint i = 0; i < G_N_ELEMENTS (key_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/ts2021-dial/hostile/%s", key_cases[i].mode);

      TS2021_FIXTURE_ADD (path, &key_cases[i], test_hostile_key);
    }
  for (guint i = 0; i < G_N_ELEMENTS (dial_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/ts2021-dial/hostile/%s", dial_cases[i].mode);

      TS2021_FIXTURE_ADD (path, &dial_cases[i], test_hostile_dial);
    }
  TS2021_FIXTURE_ADD ("/ts2021-dial/hostile/silence", NULL, test_silence_cancelled);

  ret = g_test_run ();
  ts2021_fixture_cleanup ();
  return ret;
}
