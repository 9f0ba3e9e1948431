/* SPDX-License-Identifier: MIT */
/*
 * daemon/control/hyphae-register.c: the RegisterRequest JSON (exact Go field
 * names, key and time text forms), RegisterResponse parsing (absent fields,
 * wrong types, not JSON, depth bomb), and POST /machine/register against the
 * independent Go control server (tests/ts2021/control.go, -auth-key). The
 * server-building, spawning and dialling helpers are in ts2021-fixture.c;
 * without Go and Debian's Go packages the interop tests skip, unless $CI is
 * set.
 */
#include <string.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <sodium.h>

#include "ts2021/controlbase.h"
#include "crypto/keys.h"
#include "hyphae-h2.h"
#include "hyphae-register.h"
#include "hyphae-ts2021.h"
#include "ts2021-fixture.h"

#define CAPVER TS2021_FIXTURE_CAPVER

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
  /* The key is escaped by our own code (json-glib never sees it): quotes,
   * backslashes and control characters; a hostname that mimics the member
   * must not be where it goes. */
  req.auth_key = "tskey-abc\"\\\x01";
  req.hostname = "host-a\",\"AuthKey\":\"";
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
  g_assert_cmpstr (string_member (sub, "AuthKey"), ==, "tskey-abc\"\\\x01");

  sub = json_object_get_object_member (object, "Hostinfo");
  g_assert_nonnull (sub);
  g_clear_pointer (&names, g_free);
  names = member_names (sub);
  g_assert_cmpstr (names, ==, "Hostname");
  g_assert_cmpstr (string_member (sub, "Hostname"), ==, "host-a\",\"AuthKey\":\"");
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
  req.expiry_unix = 123; /* what Go sends to log out */
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
  req.expiry_unix = 1893456000; /* 2030-01-01 */
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
parse (const char *json,
       HyphaeRegisterResponse *out,
       GError **error)
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
  g_assert_null (resp.auth_url); /* "" → NULL */
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
  const char * const bodies[] = {
    "{}",
    " { } \n",
    "{\"User\":{},\"Login\":{}}",
    /* Go leaves null at the zero value. */
    ("{\"User\":null,\"Login\":null,\"AuthURL\":null,\"MachineAuthorized\":null,"
     "\"NodeKeyExpired\":null,\"Error\":null}"),
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
            gsize len)
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
  const char * const bodies[] = {
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
  const char * const bodies[] = {
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
                         "\"AuthURL\":\"https://x\"}",
                         &resp, &error));
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
do_register (Ts2021Fixture *f,
             const HyphaeRegisterRequest *req,
             HyphaeRegisterResponse *resp,
             GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  hyphae_register_async (f->client, req, NULL, ts2021_fixture_store_result_cb, f);
  result = ts2021_fixture_wait_result (f, "POST /machine/register");
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
expect_register_line (Ts2021Fixture *f,
                      const HyphaeRegisterRequest *req)
{
  g_autofree char *line = ts2021_fixture_server_expect (f, "REGISTER");
  g_autofree char *nk = node_key_text (req->node_key);
  g_autofree char *want = g_strdup_printf ("%s %s", nk, req->hostname ? req->hostname : "");

  g_assert_cmpstr (line, ==, want);
}

/* Registers, succeeds, and the server saw it. */
static void
register_ok (Ts2021Fixture *f,
             const HyphaeRegisterRequest *req,
             HyphaeRegisterResponse *resp)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (do_register (f, req, resp, &error));
  g_assert_no_error (error);
  expect_register_line (f, req);
}

static void
test_interop_authorized (Ts2021Fixture *f,
                         gconstpointer user_data)
{
  HyphaeRegisterRequest req = { .capver = CAPVER, .auth_key = "tskey-test", .hostname = "hyphae-test" };
  HyphaeRegisterResponse resp;

  if (!ts2021_fixture_client_start (f, NULL, NULL))
    return;
  random_node_key (&req);
  register_ok (f, &req, &resp);
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
  register_ok (f, &req, &resp);
  g_assert_true (resp.machine_authorized);
  hyphae_register_response_clear (&resp);
}

static void
test_interop_custom_key (Ts2021Fixture *f,
                         gconstpointer user_data)
{
  HyphaeRegisterRequest req = { .capver = CAPVER, .auth_key = "tskey-other", .hostname = "h2" };
  HyphaeRegisterResponse resp;
  g_autoptr(GError) error = NULL;

  if (!ts2021_fixture_client_start (f, "-auth-key", "tskey-other"))
    return;
  random_node_key (&req);
  register_ok (f, &req, &resp);
  g_assert_true (resp.machine_authorized);
  hyphae_register_response_clear (&resp);

  /* The default key is now the wrong one. */
  req.auth_key = "tskey-test";
  g_assert_false (do_register (f, &req, &resp, &error));
  g_assert_error (error, HYPHAE_REGISTER_ERROR, HYPHAE_REGISTER_ERROR_REFUSED);
  expect_register_line (f, &req);
}

static void
test_interop_wrong_key (Ts2021Fixture *f,
                        gconstpointer user_data)
{
  HyphaeRegisterRequest req = { .capver = CAPVER, .auth_key = "tskey-wrong", .hostname = "hyphae-test" };
  HyphaeRegisterResponse resp;
  g_autoptr(GError) error = NULL;

  if (!ts2021_fixture_client_start (f, NULL, NULL))
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
test_interop_interactive (Ts2021Fixture *f,
                          gconstpointer user_data)
{
  HyphaeRegisterRequest req = { .capver = CAPVER, .hostname = "hyphae-test" };
  HyphaeRegisterResponse resp;

  if (!ts2021_fixture_client_start (f, NULL, NULL))
    return;
  random_node_key (&req);
  register_ok (f, &req, &resp);
  g_assert_false (resp.machine_authorized);
  /* The Go server answers <its URL>/auth/<random id> (tests/ts2021/README.md). */
  {
    g_autofree char *prefix = g_strdup_printf ("%s/auth/", f->url);

    g_assert_true (g_str_has_prefix (resp.auth_url, prefix));
  }
  hyphae_register_response_clear (&resp);
}

static void
test_interop_logout (Ts2021Fixture *f,
                     gconstpointer user_data)
{
  HyphaeRegisterRequest req = { .capver = CAPVER, .auth_key = "tskey-test", .hostname = "hyphae-test", .expiry_unix = 123 };
  HyphaeRegisterResponse resp;

  if (!ts2021_fixture_client_start (f, NULL, NULL))
    return;
  random_node_key (&req);
  register_ok (f, &req, &resp);
  g_assert_true (resp.node_key_expired);
  g_assert_false (resp.machine_authorized);
  hyphae_register_response_clear (&resp);

  /* A future expiry is not a logout. */
  req.expiry_unix = g_get_real_time () / G_USEC_PER_SEC + 86400;
  register_ok (f, &req, &resp);
  g_assert_false (resp.node_key_expired);
  g_assert_true (resp.machine_authorized);
  hyphae_register_response_clear (&resp);
}

static void
test_interop_http_error (Ts2021Fixture *f,
                         gconstpointer user_data)
{
  HyphaeRegisterRequest req = { .capver = CAPVER, .auth_key = "tskey-test", .hostname = "zero" };
  HyphaeRegisterResponse resp;
  g_autoptr(GError) error = NULL;

  if (!ts2021_fixture_client_start (f, NULL, NULL))
    return;
  /* The zero node key: the server answers 400. */
  g_assert_false (do_register (f, &req, &resp, &error));
  g_assert_error (error, HYPHAE_REGISTER_ERROR, HYPHAE_REGISTER_ERROR_HTTP);
  g_test_message ("%s", error->message);
  g_assert_cmpstr (error->message, ==, "POST /machine/register: HTTP 400: bad NodeKey");
  expect_register_line (f, &req);
}

static void
test_interop_cancelled (Ts2021Fixture *f,
                        gconstpointer user_data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  HyphaeRegisterRequest req = { .capver = CAPVER, .auth_key = "tskey-test" };
  HyphaeRegisterResponse resp;
  g_autoptr(GError) error = NULL;

  if (!ts2021_fixture_client_start (f, NULL, NULL))
    return;
  random_node_key (&req);
  g_cancellable_cancel (cancellable);
  hyphae_register_async (f->client, &req, cancellable, ts2021_fixture_store_result_cb, f);
  result = ts2021_fixture_wait_result (f, "a cancelled register");
  g_assert_false (hyphae_register_finish (result, &resp, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (resp.auth_url);
}

int
main (int argc,
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
#define ADD(name, fn) TS2021_FIXTURE_ADD ("/register/interop/" name, NULL, fn)
  ADD ("authorized", test_interop_authorized);
  ADD ("custom-auth-key", test_interop_custom_key);
  ADD ("wrong-key", test_interop_wrong_key);
  ADD ("interactive", test_interop_interactive);
  ADD ("logout", test_interop_logout);
  ADD ("http-error", test_interop_http_error);
  ADD ("cancelled", test_interop_cancelled);
#undef ADD

  ret = g_test_run ();
  ts2021_fixture_cleanup ();
  return ret;
}
