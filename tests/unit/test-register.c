/* SPDX-License-Identifier: MIT */
/*
 * daemon/control/hyphae-register.c: the RegisterRequest JSON (exact Go field
 * names, key and time text forms), RegisterResponse parsing (absent fields,
 * wrong types, not JSON, depth bomb), and POST /machine/register against the
 * independent Go control server (tests/ts2021/control.go, -auth-key). The
 * server-building, spawning and dialling helpers are copied from test-h2.c;
 * without Go and Debian's Go packages the interop tests skip, unless $CI is
 * set.
 */
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <sodium.h>

#include "controlbase.h"
#include "crypto/keys.h"
#include "hyphae-h2.h"
#include "hyphae-register.h"
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
  tmp_dir = g_dir_make_tmp ("hyphae-register-XXXXXX", &error);
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


/* Start the server (with one optional flag and value), dial it, wrap the
 * connection; FALSE when skipped. */
static gboolean
client_start (Fixture    *f,
              const char *flag,
              const char *value)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *peer = NULL;
  HyphaeTs2021Conn *conn;
  guint8 machine_priv[32];

  if (!server_start (f, flag, value, NULL))
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

/* ---- unit: the request JSON ------------------------------------------------ */

#define ZERO_NODEKEY "nodekey:0000000000000000000000000000000000000000000000000000000000000000"

static char *
node_key_text (const guint8 key[32])
{
  char text[sizeof KEY_PREFIX_NODE + KEY_HEX_LEN];

  g_assert_cmpint (key_to_text (text, sizeof text, KEY_PREFIX_NODE, key), ==,
                   (int) sizeof text - 1);
  return g_strdup (text);
}

/* Parse the generated JSON back; the root object (owned by *parser). */
static JsonObject *
parse_object (JsonParser *parser,
              const char *json)
{
  g_autoptr(GError) error = NULL;
  JsonNode *root;

  g_test_message ("JSON: %s", json);
  json_parser_load_from_data (parser, json, -1, &error);
  g_assert_no_error (error);
  root = json_parser_get_root (parser);
  g_assert_nonnull (root);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  return json_node_get_object (root);
}

/* The object's member names, sorted and joined with ",". */
static char *
member_names (JsonObject *object)
{
  g_autoptr(GList) names = json_object_get_members (object);
  g_autoptr(GString) out = g_string_new (NULL);

  names = g_list_sort (names, (GCompareFunc) strcmp);
  for (GList *l = names; l; l = l->next)
    g_string_append_printf (out, "%s%s", out->len ? "," : "", (const char *) l->data);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static const char *
string_member (JsonObject *object,
               const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  g_assert_nonnull (node);
  g_assert_true (JSON_NODE_HOLDS_VALUE (node));
  g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_STRING);
  return json_node_get_string (node);
}

static void
test_request_json (void)
{
  HyphaeRegisterRequest req = { 0 };
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *json = NULL, *names = NULL, *nk = NULL;
  JsonObject *object, *sub;
  JsonNode *version;
  guint8 priv[32];

  key_generate_private (priv);
  g_assert_true (key_public_from_private (req.node_key, priv));
  req.capver = 130;
  req.auth_key = "tskey-abc\"\\";
  req.hostname = "host-a";
  nk = node_key_text (req.node_key);

  json = hyphae_register_request_to_json (&req);
  object = parse_object (parser, json);
  /* Go's exact names: Auth only when there is a key. */
  names = member_names (object);
  g_assert_cmpstr (names, ==, "Auth,Expiry,Followup,Hostinfo,NodeKey,OldNodeKey,Version");

  version = json_object_get_member (object, "Version");
  g_assert_cmpint (json_node_get_value_type (version), ==, G_TYPE_INT64);
  g_assert_cmpint (json_node_get_int (version), ==, 130);
  g_assert_cmpstr (string_member (object, "NodeKey"), ==, nk);
  g_assert_true (g_str_has_prefix (nk, "nodekey:"));
  g_assert_cmpuint (strlen (nk), ==, 8 + 64);
  for (const char *p = nk + 8; *p; p++)
    g_assert_true (g_ascii_isdigit (*p) || (*p >= 'a' && *p <= 'f'));
  /* Not rotating: the zero key in its text form, as Go marshals a zero
   * key.NodePublic (tailcfg's OldNodeKey has no omitempty); never "". */
  g_assert_cmpstr (string_member (object, "OldNodeKey"), ==, ZERO_NODEKEY);
  /* No expiry: Go's zero time, never "". */
  g_assert_cmpstr (string_member (object, "Expiry"), ==, "0001-01-01T00:00:00Z");
  g_assert_cmpstr (string_member (object, "Followup"), ==, "");

  sub = json_object_get_object_member (object, "Auth");
  g_assert_nonnull (sub);
  g_clear_pointer (&names, g_free);
  names = member_names (sub);
  g_assert_cmpstr (names, ==, "AuthKey");
  g_assert_cmpstr (string_member (sub, "AuthKey"), ==, "tskey-abc\"\\");

  sub = json_object_get_object_member (object, "Hostinfo");
  g_assert_nonnull (sub);
  g_clear_pointer (&names, g_free);
  names = member_names (sub);
  g_assert_cmpstr (names, ==, "Hostname");
  g_assert_cmpstr (string_member (sub, "Hostname"), ==, "host-a");
  sodium_memzero (priv, sizeof priv);
}

static void
test_request_json_rotate_logout (void)
{
  HyphaeRegisterRequest req = { 0 };
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *json = NULL, *names = NULL, *nk = NULL, *old = NULL;
  JsonObject *object;

  randombytes_buf (req.node_key, sizeof req.node_key);
  randombytes_buf (req.old_node_key, sizeof req.old_node_key);
  req.has_old_node_key = TRUE;
  req.capver = 106;
  req.expiry_unix = 123;           /* what Go sends to log out */
  req.followup = "https://login.example/a/1";
  req.hostname = "h\xc3\xa9te \"q\"";
  nk = node_key_text (req.node_key);
  old = node_key_text (req.old_node_key);

  json = hyphae_register_request_to_json (&req);
  object = parse_object (parser, json);
  names = member_names (object);
  g_assert_cmpstr (names, ==, "Expiry,Followup,Hostinfo,NodeKey,OldNodeKey,Version");
  g_assert_cmpint (json_object_get_int_member (object, "Version"), ==, 106);
  g_assert_cmpstr (string_member (object, "NodeKey"), ==, nk);
  g_assert_cmpstr (string_member (object, "OldNodeKey"), ==, old);
  g_assert_cmpstr (string_member (object, "Expiry"), ==, "1970-01-01T00:02:03Z");
  g_assert_cmpstr (string_member (object, "Followup"), ==, "https://login.example/a/1");
  g_assert_cmpstr (string_member (json_object_get_object_member (object, "Hostinfo"), "Hostname"),
                   ==, "h\xc3\xa9te \"q\"");

  /* A future expiry, and no hostname: Hostinfo is still an object. */
  g_clear_pointer (&json, g_free);
  g_clear_object (&parser);
  parser = json_parser_new ();
  req.expiry_unix = 1893456000;    /* 2030-01-01 */
  req.hostname = NULL;
  req.followup = NULL;
  json = hyphae_register_request_to_json (&req);
  object = parse_object (parser, json);
  g_assert_cmpstr (string_member (object, "Expiry"), ==, "2030-01-01T00:00:00Z");
  g_assert_cmpstr (string_member (object, "Followup"), ==, "");
  g_assert_cmpuint (json_object_get_size (json_object_get_object_member (object, "Hostinfo")),
                    ==, 0);
}

/* ---- unit: the response ------------------------------------------------------ */

static gboolean
parse (const char              *json,
       HyphaeRegisterResponse  *out,
       GError                 **error)
{
  return hyphae_register_response_parse (json, strlen (json), out, error);
}

static void
test_response_good (void)
{
  HyphaeRegisterResponse resp = { 0 };
  g_autoptr(GError) error = NULL;

  g_assert_true (parse ("{\"User\":{\"ID\":7,\"LoginName\":\"old\",\"DisplayName\":\"Ann\","
                        "\"ProfilePicURL\":\"\",\"Created\":\"2024-01-01T00:00:00Z\"},"
                        "\"Login\":{\"ID\":8,\"Provider\":\"github\",\"LoginName\":\"ann@x.org\","
                        "\"DisplayName\":\"Ann\",\"ProfilePicURL\":\"\"},"
                        "\"NodeKeyExpired\":false,\"MachineAuthorized\":true,\"AuthURL\":\"\","
                        "\"NodeKeySignature\":null,\"Error\":\"\",\"Unknown\":[1,{\"a\":2}]}",
                        &resp, &error));
  g_assert_no_error (error);
  g_assert_true (resp.machine_authorized);
  g_assert_false (resp.node_key_expired);
  g_assert_null (resp.auth_url);           /* "" → NULL */
  g_assert_cmpstr (resp.user_display_name, ==, "Ann");
  g_assert_cmpstr (resp.login_name, ==, "ann@x.org");
  hyphae_register_response_clear (&resp);
  g_assert_null (resp.login_name);

  g_assert_true (parse ("{\"AuthURL\":\"https://login.example/a/1\",\"NodeKeyExpired\":true}",
                        &resp, &error));
  g_assert_no_error (error);
  g_assert_false (resp.machine_authorized);
  g_assert_true (resp.node_key_expired);
  g_assert_cmpstr (resp.auth_url, ==, "https://login.example/a/1");
  hyphae_register_response_clear (&resp);
}

static void
test_response_absent (void)
{
  const char *const bodies[] = {
    "{}",
    " { } \n",
    "{\"User\":{},\"Login\":{}}",
    /* Go leaves null at the zero value. */
    "{\"User\":null,\"Login\":null,\"AuthURL\":null,\"MachineAuthorized\":null,"
    "\"NodeKeyExpired\":null,\"Error\":null}",
    "{\"User\":{\"DisplayName\":null},\"Login\":{\"LoginName\":\"\"}}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      HyphaeRegisterResponse resp = { 0 };
      g_autoptr(GError) error = NULL;

      g_test_message ("body: %s", bodies[i]);
      g_assert_true (parse (bodies[i], &resp, &error));
      g_assert_no_error (error);
      g_assert_false (resp.machine_authorized);
      g_assert_false (resp.node_key_expired);
      g_assert_null (resp.auth_url);
      g_assert_null (resp.login_name);
      g_assert_null (resp.user_display_name);
    }
}

static void
assert_bad (const char *json,
            gsize       len)
{
  HyphaeRegisterResponse resp;
  g_autoptr(GError) error = NULL;

  memset (&resp, 0xaa, sizeof resp);
  g_assert_false (hyphae_register_response_parse (json, len, &resp, &error));
  g_assert_error (error, HYPHAE_REGISTER_ERROR, HYPHAE_REGISTER_ERROR_BAD_REPLY);
  g_test_message ("%.60s -> %s", json, error->message);
  /* Nothing to free on failure. */
  g_assert_null (resp.auth_url);
  g_assert_null (resp.login_name);
  g_assert_null (resp.user_display_name);
  g_assert_false (resp.machine_authorized);
}

static void
test_response_wrong_types (void)
{
  const char *const bodies[] = {
    "{\"MachineAuthorized\":\"true\"}",
    "{\"MachineAuthorized\":1}",
    "{\"NodeKeyExpired\":{}}",
    "{\"AuthURL\":5}",
    "{\"AuthURL\":[\"x\"]}",
    "{\"Error\":true}",
    "{\"User\":\"Ann\"}",
    "{\"Login\":[]}",
    "{\"User\":{\"DisplayName\":3}}",
    "{\"Login\":{\"LoginName\":{}}}",
    /* A later wrong field spoils an earlier good one. */
    "{\"MachineAuthorized\":true,\"User\":{\"DisplayName\":\"A\"},\"Login\":{\"LoginName\":false}}",
    /* The root must be an object. */
    "[]",
    "\"MachineAuthorized\"",
    "5",
    "null",
    "true",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
    assert_bad (bodies[i], strlen (bodies[i]));
}

static void
test_response_not_json (void)
{
  const char *const bodies[] = {
    "",
    "<html><body>502 Bad Gateway</body></html>",
    "{",
    "{bad}",
    "{\"MachineAuthorized\":true",
    "{\"MachineAuthorized\":tru}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
    assert_bad (bodies[i], strlen (bodies[i]));
  /* An embedded NUL, and a length that stops mid-document. */
  assert_bad ("{\"AuthURL\":\"a\0b\"}", 17);
  assert_bad ("{\"MachineAuthorized\":true}", 10);
}

static void
test_response_depth (void)
{
  g_autoptr(GString) deep = g_string_new (NULL);
  HyphaeRegisterResponse resp = { 0 };
  g_autoptr(GError) error = NULL;

  /* A depth bomb: refused before json-glib recurses. */
  for (guint i = 0; i < 100000; i++)
    g_string_append_c (deep, '[');
  assert_bad (deep->str, deep->len);

  g_string_truncate (deep, 0);
  for (guint i = 0; i < 100000; i++)
    g_string_append (deep, "{\"User\":");
  assert_bad (deep->str, deep->len);

  /* 64 levels in all (the root object + 63 arrays) is allowed... */
  g_string_assign (deep, "{\"MachineAuthorized\":true,\"X\":");
  for (guint i = 0; i < 63; i++)
    g_string_append_c (deep, '[');
  for (guint i = 0; i < 63; i++)
    g_string_append_c (deep, ']');
  g_string_append_c (deep, '}');
  g_assert_true (hyphae_register_response_parse (deep->str, deep->len, &resp, &error));
  g_assert_no_error (error);
  g_assert_true (resp.machine_authorized);
  hyphae_register_response_clear (&resp);

  /* ...65 is not. */
  g_string_assign (deep, "{\"X\":");
  for (guint i = 0; i < 64; i++)
    g_string_append_c (deep, '[');
  for (guint i = 0; i < 64; i++)
    g_string_append_c (deep, ']');
  g_string_append_c (deep, '}');
  assert_bad (deep->str, deep->len);

  /* Brackets inside strings do not count. */
  g_string_assign (deep, "{\"AuthURL\":\"");
  for (guint i = 0; i < 1000; i++)
    g_string_append (deep, "[{\\\"");
  g_string_append (deep, "\"}");
  g_assert_true (hyphae_register_response_parse (deep->str, deep->len, &resp, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (resp.auth_url), ==, 3000);
  hyphae_register_response_clear (&resp);
}

static void
test_response_refused (void)
{
  HyphaeRegisterResponse resp;
  g_autoptr(GError) error = NULL;

  memset (&resp, 0xaa, sizeof resp);
  g_assert_false (parse ("{\"Error\":\"invalid auth key\",\"MachineAuthorized\":true,"
                         "\"AuthURL\":\"https://x\"}", &resp, &error));
  g_assert_error (error, HYPHAE_REGISTER_ERROR, HYPHAE_REGISTER_ERROR_REFUSED);
  g_assert_cmpstr (error->message, ==, "invalid auth key");
  g_assert_null (resp.auth_url);
  g_assert_false (resp.machine_authorized);
  g_clear_error (&error);

  /* A refusal with a malformed field is a bad reply. */
  {
    const char *bad = "{\"Error\":\"no\",\"MachineAuthorized\":\"x\"}";

    assert_bad (bad, strlen (bad));
  }
}

/* ---- interop against the Go control server ----------------------------------- */

static gboolean
do_register (Fixture                     *f,
             const HyphaeRegisterRequest *req,
             HyphaeRegisterResponse      *resp,
             GError                     **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  hyphae_register_async (f->client, req, NULL, store_result_cb, f);
  result = wait_result (f, "POST /machine/register");
  return hyphae_register_finish (result, resp, error);
}

static void
random_node_key (HyphaeRegisterRequest *req)
{
  guint8 priv[32];

  key_generate_private (priv);
  g_assert_true (key_public_from_private (req->node_key, priv));
  sodium_memzero (priv, sizeof priv);
}

/* The server's REGISTER line must show our node key and hostname. */
static void
expect_register_line (Fixture                     *f,
                      const HyphaeRegisterRequest *req)
{
  g_autofree char *line = server_expect (f, "REGISTER");
  g_autofree char *nk = node_key_text (req->node_key);
  g_autofree char *want = g_strdup_printf ("%s %s", nk, req->hostname ? req->hostname : "");

  g_assert_cmpstr (line, ==, want);
}

static void
test_interop_authorized (Fixture       *f,
                         gconstpointer  user_data)
{
  HyphaeRegisterRequest req = { .capver = CAPVER, .auth_key = "tskey-test",
                                .hostname = "hyphae-test" };
  HyphaeRegisterResponse resp;
  g_autoptr(GError) error = NULL;

  if (!client_start (f, NULL, NULL))
    return;
  random_node_key (&req);
  g_assert_true (do_register (f, &req, &resp, &error));
  g_assert_no_error (error);
  expect_register_line (f, &req);
  g_assert_true (resp.machine_authorized);
  g_assert_false (resp.node_key_expired);
  g_assert_null (resp.auth_url);
  g_assert_cmpstr (resp.user_display_name, ==, "Test User");
  g_assert_cmpstr (resp.login_name, ==, "test@example.com");
  hyphae_register_response_clear (&resp);

  /* Key rotation on the same connection: OldNodeKey is the previous key. */
  memcpy (req.old_node_key, req.node_key, sizeof req.node_key);
  req.has_old_node_key = TRUE;
  random_node_key (&req);
  g_assert_true (do_register (f, &req, &resp, &error));
  g_assert_no_error (error);
  expect_register_line (f, &req);
  g_assert_true (resp.machine_authorized);
  hyphae_register_response_clear (&resp);
}

static void
test_interop_custom_key (Fixture       *f,
                         gconstpointer  user_data)
{
  HyphaeRegisterRequest req = { .capver = CAPVER, .auth_key = "tskey-other",
                                .hostname = "h2" };
  HyphaeRegisterResponse resp;
  g_autoptr(GError) error = NULL;

  if (!client_start (f, "-auth-key", "tskey-other"))
    return;
  random_node_key (&req);
  g_assert_true (do_register (f, &req, &resp, &error));
  g_assert_no_error (error);
  expect_register_line (f, &req);
  g_assert_true (resp.machine_authorized);
  hyphae_register_response_clear (&resp);

  /* The default key is now the wrong one. */
  req.auth_key = "tskey-test";
  g_assert_false (do_register (f, &req, &resp, &error));
  g_assert_error (error, HYPHAE_REGISTER_ERROR, HYPHAE_REGISTER_ERROR_REFUSED);
  expect_register_line (f, &req);
}

static void
test_interop_wrong_key (Fixture       *f,
                        gconstpointer  user_data)
{
  HyphaeRegisterRequest req = { .capver = CAPVER, .auth_key = "tskey-wrong",
                                .hostname = "hyphae-test" };
  HyphaeRegisterResponse resp;
  g_autoptr(GError) error = NULL;

  if (!client_start (f, NULL, NULL))
    return;
  random_node_key (&req);
  g_assert_false (do_register (f, &req, &resp, &error));
  g_assert_error (error, HYPHAE_REGISTER_ERROR, HYPHAE_REGISTER_ERROR_REFUSED);
  g_assert_cmpstr (error->message, ==, "invalid auth key");
  g_assert_false (resp.machine_authorized);
  g_assert_null (resp.auth_url);
  expect_register_line (f, &req);
}

static void
test_interop_interactive (Fixture       *f,
                          gconstpointer  user_data)
{
  HyphaeRegisterRequest req = { .capver = CAPVER, .hostname = "hyphae-test" };
  HyphaeRegisterResponse resp;
  g_autoptr(GError) error = NULL;

  if (!client_start (f, NULL, NULL))
    return;
  random_node_key (&req);
  g_assert_true (do_register (f, &req, &resp, &error));
  g_assert_no_error (error);
  expect_register_line (f, &req);
  g_assert_false (resp.machine_authorized);
  g_assert_cmpstr (resp.auth_url, ==, "http://127.0.0.1/a/xyz");
  hyphae_register_response_clear (&resp);
}

static void
test_interop_logout (Fixture       *f,
                     gconstpointer  user_data)
{
  HyphaeRegisterRequest req = { .capver = CAPVER, .auth_key = "tskey-test",
                                .hostname = "hyphae-test", .expiry_unix = 123 };
  HyphaeRegisterResponse resp;
  g_autoptr(GError) error = NULL;

  if (!client_start (f, NULL, NULL))
    return;
  random_node_key (&req);
  g_assert_true (do_register (f, &req, &resp, &error));
  g_assert_no_error (error);
  expect_register_line (f, &req);
  g_assert_true (resp.node_key_expired);
  g_assert_false (resp.machine_authorized);
  hyphae_register_response_clear (&resp);

  /* A future expiry is not a logout. */
  req.expiry_unix = g_get_real_time () / G_USEC_PER_SEC + 86400;
  g_assert_true (do_register (f, &req, &resp, &error));
  g_assert_no_error (error);
  expect_register_line (f, &req);
  g_assert_false (resp.node_key_expired);
  g_assert_true (resp.machine_authorized);
  hyphae_register_response_clear (&resp);
}

static void
test_interop_http_error (Fixture       *f,
                         gconstpointer  user_data)
{
  HyphaeRegisterRequest req = { .capver = CAPVER, .auth_key = "tskey-test",
                                .hostname = "zero" };
  HyphaeRegisterResponse resp;
  g_autoptr(GError) error = NULL;

  if (!client_start (f, NULL, NULL))
    return;
  /* The zero node key: the server answers 400. */
  g_assert_false (do_register (f, &req, &resp, &error));
  g_assert_error (error, HYPHAE_REGISTER_ERROR, HYPHAE_REGISTER_ERROR_HTTP);
  g_test_message ("%s", error->message);
  g_assert_cmpstr (error->message, ==, "POST /machine/register: HTTP 400: bad NodeKey");
  expect_register_line (f, &req);
}

static void
test_interop_cancelled (Fixture       *f,
                        gconstpointer  user_data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  HyphaeRegisterRequest req = { .capver = CAPVER, .auth_key = "tskey-test" };
  HyphaeRegisterResponse resp;
  g_autoptr(GError) error = NULL;

  if (!client_start (f, NULL, NULL))
    return;
  random_node_key (&req);
  g_cancellable_cancel (cancellable);
  hyphae_register_async (f->client, &req, cancellable, store_result_cb, f);
  result = wait_result (f, "a cancelled register");
  g_assert_false (hyphae_register_finish (result, &resp, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (resp.auth_url);
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  if (sodium_init () < 0)
    g_error ("sodium_init failed");

  g_test_add_func ("/register/request-json", test_request_json);
  g_test_add_func ("/register/request-json-rotate-logout", test_request_json_rotate_logout);
  g_test_add_func ("/register/response-good", test_response_good);
  g_test_add_func ("/register/response-absent", test_response_absent);
  g_test_add_func ("/register/response-wrong-types", test_response_wrong_types);
  g_test_add_func ("/register/response-not-json", test_response_not_json);
  g_test_add_func ("/register/response-depth", test_response_depth);
  g_test_add_func ("/register/response-refused", test_response_refused);
#define ADD(name, fn) \
  g_test_add ("/register/interop/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("authorized", test_interop_authorized);
  ADD ("custom-auth-key", test_interop_custom_key);
  ADD ("wrong-key", test_interop_wrong_key);
  ADD ("interactive", test_interop_interactive);
  ADD ("logout", test_interop_logout);
  ADD ("http-error", test_interop_http_error);
  ADD ("cancelled", test_interop_cancelled);
#undef ADD

  ret = g_test_run ();
  cleanup_tmp ();
  return ret;
}
