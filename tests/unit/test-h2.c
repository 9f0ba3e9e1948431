/* SPDX-License-Identifier: MIT */
/*
 * daemon/control/hyphae-h2.c (HTTP/2 with prior knowledge over TS2021
 * records) against the independent Go control server (tests/ts2021/control.go
 * + cbase.go: x/net/http2 ServeConn over the records), which answers /echo,
 * /status/NNN, /big?n=N, /rst and /slow besides "hello". The server is built
 * at test start like in test-ts2021-dial.c (whose helpers are copied here);
 * without Go and Debian's Go packages the tests skip, unless $CI is set.
 *
 * No timing assumptions: every wait is bounded by a hang guard that fails
 * the test; ordering is established by completed requests, never by sleeps.
 */
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include <gio/gio.h>
#include <sodium.h>

#include "controlbase.h"
#include "crypto/keys.h"
#include "hyphae-h2.h"
#include "hyphae-ts2021.h"

#define HANG_GUARD_S   10
#define SERVER_TIMEOUT "60s"
#define CAPVER         130
#define GOPATH_DIR     "/usr/share/gocode"
#define FLYNN_NOISE    GOPATH_DIR "/src/github.com/flynn/noise/state.go"
#define X_CHACHAPOLY   GOPATH_DIR "/src/golang.org/x/crypto/chacha20poly1305/chacha20poly1305.go"
#define X_HTTP2        GOPATH_DIR "/src/golang.org/x/net/http2/server.go"

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
  tmp_dir = g_dir_make_tmp ("hyphae-h2-XXXXXX", &error);
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
  HyphaeH2Client   *client;
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
  /* The client first: its cancelled read completes in the next iterations. */
  g_clear_pointer (&f->client, hyphae_h2_client_free);
  while (g_main_context_iteration (NULL, FALSE))
    ;
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


/* Start the server, dial it, wrap the connection; FALSE when skipped. */
static gboolean
client_start (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *peer = NULL;
  HyphaeTs2021Conn *conn;
  guint8 machine_priv[32];

  if (!server_start (f, NULL))
    return FALSE;
  key_generate_private (machine_priv);
  conn = dial (f, CAPVER, machine_priv, NULL, &error);
  sodium_memzero (machine_priv, sizeof machine_priv);
  g_assert_no_error (error);
  g_assert_nonnull (conn);
  peer = server_expect (f, "PEER");
  f->client = hyphae_h2_client_new (conn, "127.0.0.1");
  g_assert_nonnull (f->client);
  return TRUE;
}

/* One request's outcome. */
typedef struct
{
  HyphaeH2Client *client;
  gboolean        done;
  GBytes         *body;
  guint           status;
  GError         *error;
} Reply;

static void
reply_clear (Reply *r)
{
  g_clear_pointer (&r->body, g_bytes_unref);
  g_clear_error (&r->error);
  r->done = FALSE;
  r->status = 0;
}

static void
reply_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Reply *r = user_data;

  g_assert_null (source);
  g_assert_false (r->done);
  r->body = hyphae_h2_client_request_finish (r->client, result, &r->status, &r->error);
  g_assert_true ((r->body != NULL) != (r->error != NULL));
  r->done = TRUE;
  g_main_context_wakeup (NULL);
}

static void
request_start (Fixture      *f,
               Reply        *r,
               const char   *method,
               const char   *path,
               GBytes       *body,
               GCancellable *cancellable)
{
  reply_clear (r);
  r->client = f->client;
  hyphae_h2_client_request_async (f->client, method, path,
                                  body ? "application/octet-stream" : NULL, body, cancellable,
                                  reply_cb, r);
}

/* Iterate the main context until all n replies are done. */
static void
replies_wait (Reply      *r,
              guint       n,
              const char *what)
{
  guint guard = g_timeout_add_seconds (HANG_GUARD_S, hang_guard_cb, (gpointer) what);

  for (guint i = 0; i < n; i++)
    while (!r[i].done)
      g_main_context_iteration (NULL, TRUE);
  g_source_remove (guard);
}

static void
request (Fixture    *f,
         Reply      *r,
         const char *method,
         const char *path,
         GBytes     *body)
{
  request_start (f, r, method, path, body, NULL);
  replies_wait (r, 1, path);
}

#define HELLO "hello from ts2021 test server\n"

static void
assert_reply (Reply      *r,
              guint       status,
              const char *body)
{
  g_assert_no_error (r->error);
  g_assert_cmpuint (r->status, ==, status);
  g_assert_cmpmem (g_bytes_get_data (r->body, NULL), g_bytes_get_size (r->body), body,
                   strlen (body));
}

/* ---- tests ----------------------------------------------------------------- */

static void
test_get (Fixture       *f,
          gconstpointer  user_data)
{
  Reply r = { 0 };

  if (!client_start (f))
    return;
  request (f, &r, "GET", "/", NULL);
  assert_reply (&r, 200, HELLO);
  /* And again on the same connection. */
  request (f, &r, "GET", "/other", NULL);
  assert_reply (&r, 200, HELLO);
  reply_clear (&r);
}

static GBytes *
random_bytes (gsize len)
{
  guint8 *data = g_malloc (len);

  randombytes_buf (data, len);
  return g_bytes_new_take (data, len);
}

static void
test_echo (Fixture       *f,
           gconstpointer  user_data)
{
  g_autoptr(GBytes) body = random_bytes (100 * 1024);
  Reply r = { 0 };

  if (!client_start (f))
    return;
  request (f, &r, "POST", "/echo", body);
  g_assert_no_error (r.error);
  g_assert_cmpuint (r.status, ==, 200);
  g_assert_true (g_bytes_equal (r.body, body));
  /* An empty body. */
  {
    g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);

    request (f, &r, "POST", "/echo", empty);
    assert_reply (&r, 200, "");
  }
  reply_clear (&r);
}

static void
test_concurrent (Fixture       *f,
                 gconstpointer  user_data)
{
  enum { N = 5 };
  GBytes *bodies[N] = { NULL };
  Reply r[N] = { { 0 } };

  if (!client_start (f))
    return;
  /* Started before any answer: all five streams are open at once. */
  request_start (f, &r[0], "GET", "/", NULL, NULL);
  request_start (f, &r[1], "GET", "/status/404", NULL, NULL);
  for (guint i = 2; i < N; i++)
    {
      bodies[i] = random_bytes (20000 + i * 7001);
      request_start (f, &r[i], "POST", "/echo", bodies[i], NULL);
    }
  replies_wait (r, N, "5 concurrent requests");
  assert_reply (&r[0], 200, HELLO);
  assert_reply (&r[1], 404, "status 404\n");
  for (guint i = 2; i < N; i++)
    {
      g_assert_no_error (r[i].error);
      g_assert_cmpuint (r[i].status, ==, 200);
      g_assert_true (g_bytes_equal (r[i].body, bodies[i]));
    }
  for (guint i = 0; i < N; i++)
    {
      reply_clear (&r[i]);
      g_clear_pointer (&bodies[i], g_bytes_unref);
    }
}

static void
test_status (Fixture       *f,
             gconstpointer  user_data)
{
  Reply r = { 0 };

  if (!client_start (f))
    return;
  request (f, &r, "GET", "/status/500", NULL);
  assert_reply (&r, 500, "status 500\n");
  request (f, &r, "POST", "/status/204", NULL);
  assert_reply (&r, 204, "");
  reply_clear (&r);
}

static void
test_big (Fixture       *f,
          gconstpointer  user_data)
{
  Reply r = { 0 };

  if (!client_start (f))
    return;
  /* Just under the cap works. */
  request (f, &r, "GET", "/big?n=1000000", NULL);
  g_assert_no_error (r.error);
  g_assert_cmpuint (r.status, ==, 200);
  g_assert_cmpuint (g_bytes_get_size (r.body), ==, 1000000);
  g_assert_cmpint (((const char *) g_bytes_get_data (r.body, NULL))[999999], ==, 'x');

  request (f, &r, "GET", "/big?n=17000000", NULL);
  g_assert_error (r.error, HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_TOO_BIG);
  g_assert_null (r.body);
  /* The stream was reset, the connection lives on. */
  request (f, &r, "GET", "/", NULL);
  assert_reply (&r, 200, HELLO);
  reply_clear (&r);
}

static void
test_rst (Fixture       *f,
          gconstpointer  user_data)
{
  Reply r = { 0 };

  if (!client_start (f))
    return;
  request (f, &r, "GET", "/rst", NULL);
  g_assert_error (r.error, HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_RESET);
  request (f, &r, "GET", "/", NULL);
  assert_reply (&r, 200, HELLO);
  reply_clear (&r);
}

static void
test_cancel (Fixture       *f,
             gconstpointer  user_data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GCancellable) pre = g_cancellable_new ();
  Reply slow = { 0 }, r = { 0 };

  if (!client_start (f))
    return;
  request_start (f, &slow, "GET", "/slow", NULL, cancellable);
  /* The server handles frames in order: once "/" is answered it has /slow. */
  request (f, &r, "GET", "/", NULL);
  assert_reply (&r, 200, HELLO);
  g_assert_false (slow.done);

  g_cancellable_cancel (cancellable);
  replies_wait (&slow, 1, "the cancelled /slow");
  g_assert_error (slow.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (slow.body);

  request (f, &r, "GET", "/", NULL);
  assert_reply (&r, 200, HELLO);

  /* Already cancelled: fails without a stream. */
  g_cancellable_cancel (pre);
  request_start (f, &r, "GET", "/", NULL, pre);
  replies_wait (&r, 1, "an already-cancelled request");
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  request (f, &r, "GET", "/", NULL);
  assert_reply (&r, 200, HELLO);
  reply_clear (&slow);
  reply_clear (&r);
}

static void
assert_dead (const GError *error)
{
  g_assert_nonnull (error);
  g_test_message ("dead: %s", error->message);
  g_assert_true (g_error_matches (error, HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_CLOSED) ||
                 g_error_matches (error, HYPHAE_H2_ERROR, HYPHAE_H2_ERROR_PROTOCOL));
}

static void
test_server_killed (Fixture       *f,
                    gconstpointer  user_data)
{
  Reply slow = { 0 }, r = { 0 };

  if (!client_start (f))
    return;
  request_start (f, &slow, "GET", "/slow", NULL, NULL);
  request (f, &r, "GET", "/", NULL);
  assert_reply (&r, 200, HELLO);

  g_subprocess_force_exit (f->server);
  replies_wait (&slow, 1, "/slow after the server died");
  assert_dead (slow.error);
  request (f, &r, "GET", "/", NULL);
  assert_dead (r.error);
  reply_clear (&slow);
  reply_clear (&r);
}

static void
test_free_pending (Fixture       *f,
                   gconstpointer  user_data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Reply slow = { 0 }, r = { 0 };

  if (!client_start (f))
    return;
  request_start (f, &slow, "GET", "/slow", NULL, cancellable);
  request (f, &r, "GET", "/", NULL);
  assert_reply (&r, 200, HELLO);
  g_clear_pointer (&f->client, hyphae_h2_client_free);
  replies_wait (&slow, 1, "/slow after free");
  g_assert_error (slow.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  /* Cancelling afterwards touches nothing that is gone. */
  g_cancellable_cancel (cancellable);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  reply_clear (&slow);
  reply_clear (&r);
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  if (sodium_init () < 0)
    g_error ("sodium_init failed");

#define ADD(name, fn) g_test_add ("/h2/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("get", test_get);
  ADD ("echo", test_echo);
  ADD ("concurrent", test_concurrent);
  ADD ("status", test_status);
  ADD ("too-big", test_big);
  ADD ("rst", test_rst);
  ADD ("cancel", test_cancel);
  ADD ("server-killed", test_server_killed);
  ADD ("free-pending", test_free_pending);
#undef ADD

  ret = g_test_run ();
  cleanup_tmp ();
  return ret;
}
