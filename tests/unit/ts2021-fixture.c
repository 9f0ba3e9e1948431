/* SPDX-License-Identifier: MIT */
/*
 * The shared fixture of the tests against the Go control server; see
 * ts2021-fixture.h.
 */
#include <string.h>

#include <libsoup/soup.h>
#include <sodium.h>

#include "crypto/keys.h"
#include "fixture-missing.h"
#include "fixture-spawn.h"
#include "ts2021-fixture.h"

#define SERVER_TIMEOUT "60s"
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
  fixture_missing ("%s is missing (install golang-go golang-github-flynn-noise-dev "
                   "golang-golang-x-net-dev)",
                   what);
}

/* "hyphae-<test>-XXXXXX", <test> being the program's name without "test-". */
static char *
tmp_template (void)
{
  g_autofree char *base = g_path_get_basename (g_get_prgname () ? g_get_prgname () : "ts2021");
  const char *name = g_str_has_prefix (base, "test-") ? base + strlen ("test-") : base;

  return g_strdup_printf ("hyphae-%s-XXXXXX", name);
}

/* The path of the built server, or NULL when the test was skipped or failed. */
static const char *
need_server (void)
{
  const char * const needed[] = { FLYNN_NOISE, X_CHACHAPOLY, X_HTTP2 };
  g_autofree char *go = NULL, *src = NULL, *shared = NULL;
  g_autofree char *cache = NULL, *bin = NULL, *template = NULL;
  g_auto(GStrv) envp = NULL;
  g_autoptr(GError) error = NULL;

  if (server_bin)
    return server_bin;
  /* Built once by meson (tests/ts2021/meson.build) when Go is there. */
  if (g_getenv ("HYPHAE_TS2021_CONTROL") &&
      g_file_test (g_getenv ("HYPHAE_TS2021_CONTROL"), G_FILE_TEST_IS_EXECUTABLE))
    {
      server_bin = g_strdup (g_getenv ("HYPHAE_TS2021_CONTROL"));
      g_test_message ("using %s", server_bin);
      return server_bin;
    }
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
  template = tmp_template ();
  tmp_dir = g_dir_make_tmp (template, &error);
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

    if (!fixture_spawn_sync (argv, envp, NULL, &error))
      {
        g_test_fail_printf ("go build %s: %s", src, error->message);
        return NULL;
      }
  }
  server_bin = g_steal_pointer (&bin);
  g_test_message ("built %s", server_bin);
  fixture_rm_rf (cache);
  return server_bin;
}

void
ts2021_fixture_cleanup (void)
{
  if (!tmp_dir)
    return;
  fixture_rm_rf (tmp_dir);
  g_clear_pointer (&tmp_dir, g_free);
  g_clear_pointer (&server_bin, g_free);
}

/* ---- fixture: a main loop, an async result, the server -------------------- */

void
ts2021_fixture_setup (Ts2021Fixture *f,
                      gconstpointer user_data)
{
  f->loop = g_main_loop_new (NULL, FALSE);
}

void
ts2021_fixture_teardown (Ts2021Fixture *f,
                         gconstpointer user_data)
{
  if (f->client_started)
    {
      /* The client first: its cancelled read completes in the next iterations. */
      g_clear_pointer (&f->client, hyphae_h2_client_free);
      while (g_main_context_iteration (NULL, FALSE))
        ;
    }
  ts2021_fixture_server_kill (f);
  g_clear_object (&f->result);
  g_clear_pointer (&f->url, g_free);
  g_clear_pointer (&f->loop, g_main_loop_unref);
}

void
ts2021_fixture_server_kill (Ts2021Fixture *f)
{
  char *line;

  if (!f->server)
    return;
  fixture_child_stop (f->server);
  /* The server is dead: its stdout reaches EOF. */
  while ((line = g_data_input_stream_read_line (f->server_out, NULL, NULL, NULL)))
    {
      g_test_message ("server: %s", line);
      g_free (line);
    }
  g_clear_object (&f->server_out);
  g_clear_object (&f->server);
}

gboolean
ts2021_fixture_hang_guard_cb (gpointer user_data)
{
  g_error ("hang guard: nothing happened for %d s while waiting for %s",
           TS2021_FIXTURE_HANG_GUARD_S, (const char *) user_data);
  return G_SOURCE_REMOVE;
}

void
ts2021_fixture_store_result_cb (GObject *source,
                                GAsyncResult *result,
                                gpointer user_data)
{
  Ts2021Fixture *f = user_data;

  g_assert_null (f->result);
  f->result = g_object_ref (result);
  g_main_loop_quit (f->loop);
}

GAsyncResult *
ts2021_fixture_wait_result (Ts2021Fixture *f,
                            const char *what)
{
  guint guard = g_timeout_add_seconds (TS2021_FIXTURE_HANG_GUARD_S, ts2021_fixture_hang_guard_cb,
                                       (gpointer) what);

  while (f->result == NULL)
    g_main_loop_run (f->loop);
  g_source_remove (guard);
  return g_steal_pointer (&f->result);
}

char *
ts2021_fixture_server_line (Ts2021Fixture *f)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  char *line;

  g_data_input_stream_read_line_async (f->server_out, G_PRIORITY_DEFAULT, NULL,
                                       ts2021_fixture_store_result_cb, f);
  result = ts2021_fixture_wait_result (f, "a line from the Go server");
  line = g_data_input_stream_read_line_finish (f->server_out, result, NULL, &error);
  g_assert_no_error (error);
  return line;
}

char *
ts2021_fixture_server_expect (Ts2021Fixture *f,
                              const char *key)
{
  g_autofree char *line = ts2021_fixture_server_line (f);

  return fixture_line_value (line, key, "the Go server");
}

gboolean
ts2021_fixture_server_start (Ts2021Fixture *f,
                             const char *first_arg,
                             ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
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
  f->server = fixture_child_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDIN_INHERIT,
                                 (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  f->server_out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (f->server));
  g_data_input_stream_set_newline_type (f->server_out, G_DATA_STREAM_NEWLINE_TYPE_LF);

  listen = ts2021_fixture_server_expect (f, "LISTEN");
  g_assert_true (g_str_has_prefix (listen, "127.0.0.1:"));
  g_free (f->url); /* a restarted server */
  f->url = g_strdup_printf ("http://%s", listen);
  pub = ts2021_fixture_server_expect (f, "PUB");
  g_assert_cmpuint (strlen (pub), ==, KEY_HEX_LEN);
  g_assert_true (key_from_hex (f->server_pub, pub, strlen (pub)));
  return TRUE;
}

/* ---- dialling ------------------------------------------------------------- */

HyphaeTs2021Conn *
ts2021_fixture_dial (Ts2021Fixture *f,
                     guint16 capver,
                     const guint8 machine_priv[32],
                     GCancellable *cancellable,
                     GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  hyphae_ts2021_dial_async (f->url, capver, machine_priv, f->server_pub, cancellable,
                            ts2021_fixture_store_result_cb, f);
  result = ts2021_fixture_wait_result (f, "the TS2021 dial");
  return hyphae_ts2021_dial_finish (result, error);
}

gboolean
ts2021_fixture_client_start (Ts2021Fixture *f,
                             const char *flag,
                             const char *value)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *peer = NULL;
  HyphaeTs2021Conn *conn;
  guint8 machine_priv[32];

  f->client_started = TRUE;
  if (!ts2021_fixture_server_start (f, flag, value, NULL))
    return FALSE;
  key_generate_private (machine_priv);
  conn = ts2021_fixture_dial (f, TS2021_FIXTURE_CAPVER, machine_priv, NULL, &error);
  sodium_memzero (machine_priv, sizeof machine_priv);
  g_assert_no_error (error);
  g_assert_nonnull (conn);
  peer = ts2021_fixture_server_expect (f, "PEER");
  f->client = hyphae_h2_client_new (conn, "127.0.0.1");
  g_assert_nonnull (f->client);
  return TRUE;
}

/* ---- additions for the map stream and session tests ---------------------- */

static gboolean
wait_guard_cb (gpointer user_data)
{
  g_error ("hang guard: gave up waiting for %s", (const char *) user_data);
  return G_SOURCE_REMOVE;
}

void
ts2021_fixture_wait_until (Ts2021FixtureCond cond,
                           gpointer data,
                           guint guard_s,
                           const char *what)
{
  guint guard = g_timeout_add_seconds (MAX (guard_s, TS2021_FIXTURE_HANG_GUARD_S), wait_guard_cb,
                                       (gpointer) what);

  while (!cond (data))
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (guard);
}

char *
ts2021_fixture_server_expect_prefix (Ts2021Fixture *f,
                                     const char *prefix)
{
  for (;;)
    {
      g_autofree char *line = ts2021_fixture_server_line (f);

      if (!line)
        g_error ("the Go server ended its output; expected a line \"%s…\"", prefix);
      g_test_message ("server: %s", line);
      if (g_str_has_prefix (line, prefix))
        return g_strdup (line + strlen (prefix));
    }
}

GBytes *
ts2021_fixture_http (Ts2021Fixture *f,
                     const char *method,
                     const char *path,
                     guint *status)
{
  g_autoptr(SoupSession) session = soup_session_new_with_options ("timeout", 10, NULL);
  g_autofree char *uri = g_strconcat (f->url, path, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new (method, uri);
  g_autoptr(GError) error = NULL;
  GBytes *body;

  g_assert_nonnull (msg);
  body = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  *status = soup_message_get_status (msg);
  return body;
}

void
ts2021_fixture_http_ok (Ts2021Fixture *f,
                        const char *method,
                        const char *path)
{
  g_autoptr(GBytes) body = NULL;
  guint status = 0;

  body = ts2021_fixture_http (f, method, path, &status);
  g_assert_cmpuint (status, ==, 200);
}

guint16
ts2021_fixture_port (Ts2021Fixture *f)
{
  const char *colon = strrchr (f->url, ':');

  g_assert_nonnull (colon);
  return (guint16) g_ascii_strtoull (colon + 1, NULL, 10);
}
