/* SPDX-License-Identifier: MIT */
/*
 * daemon/control/hyphae-ts2021.c (/key, the TS2021 HTTP upgrade, the Noise
 * handshake, the early payload) against an independent control server in Go
 * (tests/ts2021/control.go + cbase.go: net/http, flynn/noise, x/net/http2).
 * The server is built at test start in a temporary directory, offline, in
 * GOPATH mode against Debian's packages (golang-go,
 * golang-github-flynn-noise-dev, golang-golang-x-crypto-dev,
 * golang-golang-x-net-dev). Without them the tests skip, unless $CI is set:
 * then they fail.
 *
 * Each test runs its own server on 127.0.0.1:0 and its own GMainLoop. No
 * timing assumptions: every wait is bounded by a 10 s hang guard that fails
 * the test, and the one timeout (the "silence" case) only triggers a
 * cancellation whose result is checked.
 */
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include <gio/gio.h>
#include <sodium.h>
#include <json-glib/json-glib.h>

#include "controlbase.h"
#include "crypto/keys.h"
#include "hyphae-ts2021.h"

#define HANG_GUARD_S   10
#define SERVER_TIMEOUT "60s"
#define CAPVER         130
#define GOPATH_DIR     "/usr/share/gocode"
#define FLYNN_NOISE    GOPATH_DIR "/src/github.com/flynn/noise/state.go"
#define X_CHACHAPOLY   GOPATH_DIR "/src/golang.org/x/crypto/chacha20poly1305/chacha20poly1305.go"
#define X_HTTP2        GOPATH_DIR "/src/golang.org/x/net/http2/server.go"
#define H2_PREFACE     "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_SETTINGS    0x04
#define H2_FLAG_ACK    0x01

/* ---- building the Go server ----------------------------------------------- */

static char *tmp_dir;
static char *server_bin;
static gboolean server_tried;

static void
missing_dependency (const char *what)
{
  if (g_getenv ("CI"))
    g_test_fail_printf ("CI is set but %s is missing", what);
  else
    g_test_skip_printf ("%s is missing (install golang-go golang-github-flynn-noise-dev "
                        "golang-golang-x-net-dev)", what);
}

/* The path of the built server, or NULL when the test was skipped or failed. */
static const char *
need_server (void)
{
  const char *const needed[] = { FLYNN_NOISE, X_CHACHAPOLY, X_HTTP2 };
  g_autofree char *go = NULL, *src = NULL, *shared = NULL, *out = NULL, *err = NULL;
  g_autofree char *cache = NULL, *bin = NULL;
  g_auto(GStrv) envp = NULL;
  g_autoptr(GError) error = NULL;
  int status;

  if (server_bin)
    return server_bin;
  go = g_find_program_in_path ("go");
  if (!go)
    {
      missing_dependency ("the go compiler");
      return NULL;
    }
  for (guint i = 0; i < G_N_ELEMENTS (needed); i++)
    if (!g_file_test (needed[i], G_FILE_TEST_EXISTS))
      {
        missing_dependency (needed[i]);
        return NULL;
      }
  if (server_tried)
    {
      g_test_fail_printf ("the Go control server did not build (see the first test's log)");
      return NULL;
    }
  server_tried = TRUE;

  src = g_test_build_filename (G_TEST_DIST, "..", "ts2021", "control.go", NULL);
  shared = g_test_build_filename (G_TEST_DIST, "..", "ts2021", "cbase.go", NULL);
  if (!g_file_test (src, G_FILE_TEST_EXISTS) || !g_file_test (shared, G_FILE_TEST_EXISTS))
    {
      g_test_fail_printf ("%s or %s not found (G_TEST_SRCDIR?)", src, shared);
      return NULL;
    }
  tmp_dir = g_dir_make_tmp ("hyphae-ts2021-dial-XXXXXX", &error);
  g_assert_no_error (error);
  cache = g_build_filename (tmp_dir, "gocache", NULL);
  bin = g_build_filename (tmp_dir, "ts2021-control", NULL);

  envp = g_get_environ ();
  envp = g_environ_setenv (envp, "GO111MODULE", "off", TRUE);
  envp = g_environ_setenv (envp, "GOPATH", GOPATH_DIR, TRUE);
  envp = g_environ_setenv (envp, "GOCACHE", cache, TRUE);
  envp = g_environ_setenv (envp, "GOFLAGS", "", TRUE);
  envp = g_environ_setenv (envp, "GOENV", "off", TRUE);
  envp = g_environ_setenv (envp, "GOPROXY", "off", TRUE);
  envp = g_environ_setenv (envp, "GOTOOLCHAIN", "local", TRUE);
  envp = g_environ_setenv (envp, "CGO_ENABLED", "0", TRUE);

  {
    const char *argv[] = { go, "build", "-o", bin, src, shared, NULL };

    if (!g_spawn_sync (NULL, (char **) argv, envp, G_SPAWN_STDIN_FROM_DEV_NULL, NULL, NULL,
                       &out, &err, &status, &error))
      {
        g_test_fail_printf ("spawning go build: %s", error->message);
        return NULL;
      }
  }
  if (!g_spawn_check_wait_status (status, &error))
    {
      g_test_message ("go build output:\n%s%s", out, err);
      g_test_fail_printf ("go build %s: %s", src, error->message);
      return NULL;
    }
  server_bin = g_steal_pointer (&bin);
  g_test_message ("built %s", server_bin);
  {
    const char *rm[] = { "rm", "-rf", "--", cache, NULL };

    g_spawn_sync (NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDIN_FROM_DEV_NULL,
                  NULL, NULL, NULL, NULL, NULL, NULL);
  }
  return server_bin;
}

static void
cleanup_tmp (void)
{
  const char *argv[] = { "rm", "-rf", "--", tmp_dir, NULL };

  if (!tmp_dir)
    return;
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDIN_FROM_DEV_NULL,
                NULL, NULL, NULL, NULL, NULL, NULL);
  g_clear_pointer (&tmp_dir, g_free);
  g_clear_pointer (&server_bin, g_free);
}

/* ---- fixture: a main loop, an async result, the server -------------------- */

typedef struct
{
  GMainLoop        *loop;
  GAsyncResult     *result;
  GSubprocess      *server;
  GDataInputStream *server_out;
  char             *url;
  guint8            server_pub[32];
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  user_data)
{
  f->loop = g_main_loop_new (NULL, FALSE);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  user_data)
{
  if (f->server)
    {
      char *line;

      g_subprocess_force_exit (f->server);
      /* The server is dead: its stdout reaches EOF. */
      while ((line = g_data_input_stream_read_line (f->server_out, NULL, NULL, NULL)))
        {
          g_test_message ("server: %s", line);
          g_free (line);
        }
      g_subprocess_wait (f->server, NULL, NULL);
    }
  g_clear_object (&f->server_out);
  g_clear_object (&f->server);
  g_clear_object (&f->result);
  g_clear_pointer (&f->url, g_free);
  g_clear_pointer (&f->loop, g_main_loop_unref);
}

static gboolean
hang_guard_cb (gpointer user_data)
{
  g_error ("hang guard: nothing happened for %d s while waiting for %s",
           HANG_GUARD_S, (const char *) user_data);
  return G_SOURCE_REMOVE;
}

static void
store_result_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Fixture *f = user_data;

  g_assert_null (f->result);
  f->result = g_object_ref (result);
  g_main_loop_quit (f->loop);
}

/* Run the loop until store_result_cb fired; the caller owns the result. */
static GAsyncResult *
wait_result (Fixture    *f,
             const char *what)
{
  guint guard = g_timeout_add_seconds (HANG_GUARD_S, hang_guard_cb, (gpointer) what);

  while (f->result == NULL)
    g_main_loop_run (f->loop);
  g_source_remove (guard);
  return g_steal_pointer (&f->result);
}

/* The next line of the server's stdout, or NULL at EOF. */
static char *
server_line (Fixture *f)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  char *line;

  g_data_input_stream_read_line_async (f->server_out, G_PRIORITY_DEFAULT, NULL,
                                       store_result_cb, f);
  result = wait_result (f, "a line from the Go server");
  line = g_data_input_stream_read_line_finish (f->server_out, result, NULL, &error);
  g_assert_no_error (error);
  return line;
}

/* The value of the next line, which must be "<key> <value>". */
static char *
server_expect (Fixture    *f,
               const char *key)
{
  g_autofree char *line = server_line (f);
  size_t klen = strlen (key);

  if (!line)
    g_error ("the Go server ended its output; expected a %s line", key);
  if (strncmp (line, key, klen) != 0 || line[klen] != ' ')
    g_error ("expected a %s line from the Go server, got \"%s\"", key, line);
  return g_strdup (line + klen + 1);
}

/* In the child before exec: die with the test (an aborted test leaves no server behind). */
static void
server_child_setup (gpointer unused)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* Start the server with extra flags (NULL-terminated); FALSE when skipped or failed. */
static gboolean
server_start (Fixture    *f,
              const char *first_arg,
              ...)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *cmdline = NULL;
  g_autofree char *listen = NULL;
  g_autofree char *pub = NULL;
  const char *bin = need_server ();
  const char *arg;
  va_list ap;

  if (!bin)
    return FALSE;

  g_ptr_array_add (argv, (char *) bin);
  g_ptr_array_add (argv, (char *) "-listen");
  g_ptr_array_add (argv, (char *) "127.0.0.1:0");
  g_ptr_array_add (argv, (char *) "-timeout");
  g_ptr_array_add (argv, (char *) SERVER_TIMEOUT);
  va_start (ap, first_arg);
  for (arg = first_arg; arg; arg = va_arg (ap, const char *))
    g_ptr_array_add (argv, (char *) arg);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  cmdline = g_strjoinv (" ", (char **) argv->pdata);
  g_test_message ("spawn: %s", cmdline);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDIN_INHERIT);
  g_subprocess_launcher_set_child_setup (launcher, server_child_setup, NULL, NULL);
  f->server = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  f->server_out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (f->server));
  g_data_input_stream_set_newline_type (f->server_out, G_DATA_STREAM_NEWLINE_TYPE_LF);

  listen = server_expect (f, "LISTEN");
  g_assert_true (g_str_has_prefix (listen, "127.0.0.1:"));
  f->url = g_strdup_printf ("http://%s", listen);
  pub = server_expect (f, "PUB");
  g_assert_cmpuint (strlen (pub), ==, KEY_HEX_LEN);
  g_assert_true (key_from_hex (f->server_pub, pub, strlen (pub)));
  return TRUE;
}

/* ---- helpers around the API under test ------------------------------------- */

static gboolean
fetch_key (Fixture  *f,
           guint8    out_key[32],
           GError  **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  hyphae_ts2021_fetch_key_async (f->url, CAPVER, NULL, store_result_cb, f);
  result = wait_result (f, "GET /key");
  return hyphae_ts2021_fetch_key_finish (result, out_key, error);
}

static HyphaeTs2021Conn *
dial (Fixture       *f,
      guint16        capver,
      const guint8   machine_priv[32],
      GCancellable  *cancellable,
      GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  hyphae_ts2021_dial_async (f->url, capver, machine_priv, f->server_pub, cancellable,
                            store_result_cb, f);
  result = wait_result (f, "the TS2021 dial");
  return hyphae_ts2021_dial_finish (result, error);
}

/* Read one chunk from the connection's stream; 0 at EOF. */
static gsize
conn_read_some (Fixture          *f,
                HyphaeTs2021Conn *conn,
                guint8           *buf,
                gsize             cap)
{
  GInputStream *input = g_io_stream_get_input_stream (hyphae_ts2021_conn_get_stream (conn));
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  gssize n;

  g_input_stream_read_async (input, buf, cap, G_PRIORITY_DEFAULT, NULL, store_result_cb, f);
  result = wait_result (f, "Noise records from the Go server");
  n = g_input_stream_read_finish (input, result, &error);
  g_assert_no_error (error);
  return (gsize) n;
}

/* Append decrypted records to plain until it holds at least want bytes. */
static void
conn_read_plaintext (Fixture          *f,
                     HyphaeTs2021Conn *conn,
                     GByteArray       *plain,
                     gsize             want)
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
conn_write_plaintext (Fixture          *f,
                      HyphaeTs2021Conn *conn,
                      const void       *data,
                      gsize             len)
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
                                   store_result_cb, f);
  result = wait_result (f, "writing to the Go server");
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
check_http2 (Fixture          *f,
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

static char *
hex32 (const guint8 k[32])
{
  char *s = g_malloc (KEY_HEX_LEN + 1);

  key_to_hex (s, k);
  return s;
}

/* ---- tests --------------------------------------------------------------- */

static void
test_fetch_key (Fixture       *f,
                gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  guint8 key[32];

  if (!server_start (f, NULL))
    return;
  g_assert_true (fetch_key (f, key, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (key, 32, f->server_pub, 32);
}

static void
test_dial (Fixture       *f,
           gconstpointer  user_data)
{
  g_autoptr(HyphaeTs2021Conn) conn = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *peer = NULL;
  g_autofree char *want_peer = NULL;
  guint8 machine_priv[32], machine_pub[32];
  JsonObject *object;
  const char *early;

  if (!server_start (f, NULL))
    return;
  /* The key from /key, as a real client does. */
  g_assert_true (fetch_key (f, f->server_pub, &error));
  g_assert_no_error (error);

  key_generate_private (machine_priv);
  g_assert_true (key_public_from_private (machine_pub, machine_priv));
  conn = dial (f, CAPVER, machine_priv, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (conn);

  peer = server_expect (f, "PEER");
  want_peer = hex32 (machine_pub);
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
test_no_early_payload (Fixture       *f,
                       gconstpointer  user_data)
{
  g_autoptr(HyphaeTs2021Conn) conn = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *peer = NULL;
  guint8 machine_priv[32];
  GBytes *leftover;

  if (!server_start (f, "-no-early-payload", NULL))
    return;
  key_generate_private (machine_priv);
  conn = dial (f, CAPVER, machine_priv, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (conn);
  peer = server_expect (f, "PEER");

  g_assert_null (hyphae_ts2021_conn_get_early_payload (conn));
  /* The 9 bytes peeked for the magic are HTTP/2 and stay in the leftover. */
  leftover = hyphae_ts2021_conn_get_leftover (conn);
  g_assert_cmpuint (g_bytes_get_size (leftover), >=, 9);
  g_assert_cmpuint (((const guint8 *) g_bytes_get_data (leftover, NULL))[3], ==, H2_SETTINGS);
  check_http2 (f, conn);
}

static void
test_min_version (Fixture       *f,
                  gconstpointer  user_data)
{
  g_autoptr(HyphaeTs2021Conn) conn = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *reject = NULL;
  guint8 machine_priv[32];

  if (!server_start (f, "-min-version", "200", NULL))
    return;
  key_generate_private (machine_priv);
  conn = dial (f, CAPVER, machine_priv, NULL, &error);
  g_assert_null (conn);
  g_assert_nonnull (error);
  g_test_message ("error: %s", error->message);
  g_assert_true (error->domain == HYPHAE_TS2021_ERROR);
  g_assert_true (error->code == HYPHAE_TS2021_ERROR_UPGRADE ||
                 error->code == HYPHAE_TS2021_ERROR_HANDSHAKE);
  reject = server_expect (f, "REJECT");
  g_assert_cmpstr (reject, ==, "version 130");
}

typedef struct
{
  const char *mode;
  int         code;
  const char *in_message;   /* NULL: anything */
} HostileCase;

static const HostileCase key_cases[] = {
  { "key-404",     HYPHAE_TS2021_ERROR_KEY, "404" },
  { "key-500",     HYPHAE_TS2021_ERROR_KEY, "500" },
  { "key-notjson", HYPHAE_TS2021_ERROR_KEY, "JSON" },
  { "key-short",   HYPHAE_TS2021_ERROR_KEY, "mkey:" },
  { "key-zero",    HYPHAE_TS2021_ERROR_KEY, "zero" },
};

static const HostileCase dial_cases[] = {
  { "upgrade-200",     HYPHAE_TS2021_ERROR_UPGRADE,   "200" },
  { "upgrade-wrong",   HYPHAE_TS2021_ERROR_UPGRADE,   "websocket" },
  { "upgrade-close",   HYPHAE_TS2021_ERROR_UPGRADE,   NULL },
  { "noise-error",     HYPHAE_TS2021_ERROR_HANDSHAKE, "go away" },
  { "noise-badtag",    HYPHAE_TS2021_ERROR_HANDSHAKE, NULL },
  { "record-oversize", HYPHAE_TS2021_ERROR_PROTOCOL,  NULL },
  { "early-big",       HYPHAE_TS2021_ERROR_PROTOCOL,  "limit" },
  { "early-badjson",   HYPHAE_TS2021_ERROR_PROTOCOL,  "JSON" },
  { "early-deep",      HYPHAE_TS2021_ERROR_PROTOCOL,  "deep" },
};

static void
check_error (const GError      *error,
             const HostileCase *c)
{
  g_assert_nonnull (error);
  g_test_message ("%s: %s", c->mode, error->message);
  g_assert_error (error, HYPHAE_TS2021_ERROR, c->code);
  if (c->in_message)
    g_assert_nonnull (strstr (error->message, c->in_message));
}

static void
test_hostile_key (Fixture       *f,
                  gconstpointer  user_data)
{
  const HostileCase *c = user_data;
  g_autoptr(GError) error = NULL;
  guint8 key[32];

  if (!server_start (f, "-hostile", c->mode, NULL))
    return;
  g_assert_false (fetch_key (f, key, &error));
  check_error (error, c);
}

static void
test_hostile_dial (Fixture       *f,
                   gconstpointer  user_data)
{
  const HostileCase *c = user_data;
  g_autoptr(HyphaeTs2021Conn) conn = NULL;
  g_autoptr(GError) error = NULL;
  guint8 machine_priv[32];

  if (!server_start (f, "-hostile", c->mode, NULL))
    return;
  key_generate_private (machine_priv);
  conn = dial (f, CAPVER, machine_priv, NULL, &error);
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
test_silence_cancelled (Fixture       *f,
                        gconstpointer  user_data)
{
  g_autoptr(HyphaeTs2021Conn) conn = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *peer = NULL;
  guint8 machine_priv[32];

  if (!server_start (f, "-hostile", "silence", NULL))
    return;
  key_generate_private (machine_priv);
  g_timeout_add_full (G_PRIORITY_DEFAULT, 200, cancel_cb, g_object_ref (cancellable),
                      g_object_unref);
  conn = dial (f, CAPVER, machine_priv, cancellable, &error);
  g_assert_null (conn);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  peer = server_expect (f, "PEER");
}

static void
test_bad_url (Fixture       *f,
              gconstpointer  user_data)
{
  const char *const urls[] = { "ftp://example.com", "not a url", "http://", "http://h:0" };
  guint8 key[32] = { 1 };

  for (guint i = 0; i < G_N_ELEMENTS (urls); i++)
    {
      g_autoptr(GAsyncResult) r1 = NULL, r2 = NULL;
      g_autoptr(GError) e1 = NULL, e2 = NULL;
      g_autoptr(HyphaeTs2021Conn) conn = NULL;
      guint8 out[32];

      hyphae_ts2021_fetch_key_async (urls[i], CAPVER, NULL, store_result_cb, f);
      r1 = wait_result (f, "fetch_key with a bad URL");
      g_assert_false (hyphae_ts2021_fetch_key_finish (r1, out, &e1));
      g_assert_error (e1, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);

      hyphae_ts2021_dial_async (urls[i], CAPVER, key, key, NULL, store_result_cb, f);
      r2 = wait_result (f, "dial with a bad URL");
      conn = hyphae_ts2021_dial_finish (r2, &e2);
      g_assert_null (conn);
      g_assert_error (e2, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    }
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);

  g_test_add ("/ts2021-dial/bad-url", Fixture, NULL, fixture_setup, test_bad_url,
              fixture_teardown);
  g_test_add ("/ts2021-dial/fetch-key", Fixture, NULL, fixture_setup, test_fetch_key,
              fixture_teardown);
  g_test_add ("/ts2021-dial/dial", Fixture, NULL, fixture_setup, test_dial, fixture_teardown);
  g_test_add ("/ts2021-dial/no-early-payload", Fixture, NULL, fixture_setup,
              test_no_early_payload, fixture_teardown);
  g_test_add ("/ts2021-dial/min-version", Fixture, NULL, fixture_setup, test_min_version,
              fixture_teardown);
  for (guint i = 0; i < G_N_ELEMENTS (key_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/ts2021-dial/hostile/%s", key_cases[i].mode);

      g_test_add (path, Fixture, &key_cases[i], fixture_setup, test_hostile_key,
                  fixture_teardown);
    }
  for (guint i = 0; i < G_N_ELEMENTS (dial_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/ts2021-dial/hostile/%s", dial_cases[i].mode);

      g_test_add (path, Fixture, &dial_cases[i], fixture_setup, test_hostile_dial,
                  fixture_teardown);
    }
  g_test_add ("/ts2021-dial/hostile/silence", Fixture, NULL, fixture_setup,
              test_silence_cancelled, fixture_teardown);

  ret = g_test_run ();
  cleanup_tmp ();
  return ret;
}
