/* SPDX-License-Identifier: MIT */
/*
 * Every JSON hyphaed reads from a server or from disk passes the strict,
 * bounded scanner before json-glib (src/common/hyphae-json.c). Each
 * entry point is called directly: the /key answer, the early payload,
 * RegisterResponse and prefs.json. Hostile texts (issue 8 row 1: a comment
 * hiding a quote from the old depth guard, then 300 000 '[' for json-glib
 * to recurse into; comments, single quotes, trailing garbage, depth 65,
 * NaN, a BOM, lone surrogates, oversize) are refused by each with its own
 * error and the scanner's reason; real-shaped answers still parse. The
 * HTTP upgrade answer's parser is checked for its framing here too.
 */
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "crypto/keys.h"
#include "hyphae-json.h"
#include "hyphae-register.h"
#include "hyphae-ts2021.h"
#include "hyphae-ts2021-answers.h"
#include "prefs.h"

#define ROW1_BRACKETS  300000
#define UNDER_THE_CAPS 60000 /* '['s that fit every cap, still far too deep for json-glib */

/* A fixed server key: bytes 1..32. */
static guint8 server_key[32];
static char key_members[256];

typedef struct
{
  const char *name;    /* /key answer, early payload, RegisterResponse, prefs.json */
  const char *members; /* a real-shaped object's members (no braces) */
  gsize max;           /* the entry point's size cap */
  GQuark (*domain) (void);
  int code;
  /* Parses len bytes; on success checks what it read from the members. */
  gboolean (*parse) (const char *json, gsize len, GError **error);
} EntryPoint;

static gboolean
parse_key (const char *json,
           gsize len,
           GError **error)
{
  guint8 key[32];

  if (!hyphae_ts2021_parse_key_answer ((const guint8 *) json, len, key, error))
    return FALSE;
  g_assert_cmpmem (key, 32, server_key, 32);
  return TRUE;
}

/* The JSON framed as the server sends it, then HTTP/2 bytes. */
static gboolean
parse_early (const char *json,
             gsize len,
             GError **error)
{
  g_autoptr(GByteArray) plain = g_byte_array_new ();
  guint8 header[HYPHAE_TS2021_EARLY_HEADER_LEN] = {
    0xff, 0xff, 0xff, 'T', 'S', (guint8) (len >> 24), (guint8) (len >> 16), (guint8) (len >> 8),
    (guint8) len
  };
  gsize consumed = 99;
  int ret;

  g_assert_cmpuint (len, <=, G_MAXUINT32);
  g_byte_array_append (plain, header, sizeof header);
  g_byte_array_append (plain, (const guint8 *) json, len);
  g_byte_array_append (plain, (const guint8 *) "\0\0\x12\x04\0\0\0\0\0", 9);
  ret = hyphae_ts2021_parse_early_payload (plain->data, plain->len, &consumed, error);
  g_assert_cmpint (ret, !=, 0);
  if (ret < 0)
    {
      g_assert_cmpuint (consumed, ==, 0);
      return FALSE;
    }
  g_assert_cmpuint (consumed, ==, sizeof header + len);
  return TRUE;
}

static gboolean
parse_register (const char *json,
                gsize len,
                GError **error)
{
  HyphaeRegisterResponse resp;

  if (!hyphae_register_response_parse (json, len, &resp, error))
    return FALSE;
  g_assert_true (resp.machine_authorized);
  g_assert_cmpstr (resp.login_name, ==, "ann@example.org");
  g_assert_cmpstr (resp.user_display_name, ==, "Ann");
  hyphae_register_response_clear (&resp);
  return TRUE;
}

static gboolean
parse_prefs (const char *json,
             gsize len,
             GError **error)
{
  HyphaeIpnPrefs prefs = { 0 };
  gboolean ok = hyphae_ipn_prefs_from_json (json, len, &prefs, error);

  /* Refused: the defaults. */
  g_assert_true (prefs.route_all == ok);
  g_assert_true (prefs.want_running == ok);
  hyphae_ipn_prefs_clear (&prefs);
  return ok;
}

static GQuark
io_error_quark (void)
{
  return G_IO_ERROR;
}

static const EntryPoint entry_points[] = {
  { "key-answer", key_members, HYPHAE_TS2021_KEY_ANSWER_MAX,
    hyphae_ts2021_error_quark, HYPHAE_TS2021_ERROR_KEY, parse_key },
  /* tailcfg.EarlyNoise */
  { "early-payload",
    "\"nodeKeyChallenge\":\"chalpub:"
    "9d2c1fa43b7e6a0c5d8f1e2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e\"",
    HYPHAE_TS2021_EARLY_PAYLOAD_MAX, hyphae_ts2021_error_quark, HYPHAE_TS2021_ERROR_PROTOCOL,
    parse_early },
  /* tailcfg.RegisterResponse as Go marshals it */
  { "register-response",
    "\"User\":{\"ID\":7,\"DisplayName\":\"Ann\",\"ProfilePicURL\":\"\","
    "\"Created\":\"2024-01-01T00:00:00Z\"},"
    "\"Login\":{\"ID\":8,\"Provider\":\"github\",\"LoginName\":\"ann@example.org\","
    "\"DisplayName\":\"Ann\",\"ProfilePicURL\":\"\"},"
    "\"NodeKeyExpired\":false,\"MachineAuthorized\":true,\"AuthURL\":\"\","
    "\"NodeKeySignature\":null,\"Error\":\"\"",
    HYPHAE_REGISTER_RESPONSE_MAX, hyphae_register_error_quark, HYPHAE_REGISTER_ERROR_BAD_REPLY,
    parse_register },
  /* ipn.Prefs field names */
  { "prefs",
    "\"ControlURL\":\"https://controlplane.tailscale.com\",\"RouteAll\":true,"
    "\"WantRunning\":true,\"CorpDNS\":true,\"Hostname\":\"\"",
    64 * 1024 /* PREFS_MAX_FILE */, io_error_quark, G_IO_ERROR_INVALID_DATA, parse_prefs },
};

typedef struct
{
  const char *text;   /* %s: the entry point's members */
  const char *reason; /* in the error message */
} Hostile;

static const Hostile hostile[] = {
  { "/* c */{%s}", "unexpected character 0x2f" },
  { "// c\n{%s}", "unexpected character 0x2f" },
  { "{%s} // c", "trailing data" },
  { "{%s /* c */}", "expected ',' or '}'" },
  { "{%s,'x':'y'}", "unexpected character 0x27" },
  { "{%s,\"x\":'y'}", "unexpected character 0x27" },
  { "{%s}x", "trailing data" },
  { "{%s}{}", "trailing data" },
  { "{%s}\0", NULL }, /* the NUL is counted: see below */
  { "{%s,}", "trailing comma" },
  { "{%s,x:1}", "unexpected character 0x78" },
  { "{%s,\"x\":NaN}", "unexpected character 0x4e" },
  { "{%s,\"x\":Infinity}", "unexpected character 0x49" },
  { "{%s,\"x\":-Infinity}", "bad number" },
  { "{%s,\"x\":012}", "leading zero" },
  { "\xef\xbb\xbf{%s}", "unexpected character 0xef" },
  { "{%s,\"x\":\"\\ud800\"}", "lone high surrogate" },
  { "{%s,\"x\":\"\\udc00\"}", "lone low surrogate" },
  { "{%s,\"x\":\"\\ud800\\u0041\"}", "bad surrogate pair" },
  { "{%s,\"x\":\"\xed\xa0\x80\"}", "invalid UTF-8" }, /* a surrogate, UTF-8 encoded */
  { "{%s,\"x\":\"\xc0\xaf\"}", "invalid UTF-8" },     /* overlong */
  { "{%s,\"x\":\"\xff\"}", "invalid UTF-8" },
  { "{%s,\"x\":\"a\tb\"}", "control character" },
  { "{%s,\"x\":\"\\x41\"}", "bad escape" },
  { "[{%s}]", "not a JSON object" },
  { "{%s", "unexpected end" },
};

/* The template with its one "%s" replaced by members. */
static char *
fill (const char *template,
      const char *members)
{
  const char *at = strstr (template, "%s");

  g_assert_nonnull (at);
  return g_strdup_printf ("%.*s%s%s", (int) (at - template), template, members, at + 2);
}

static void
init_key (void)
{
  static const guint8 zero[32];
  char pub[sizeof KEY_PREFIX_MACHINE + KEY_HEX_LEN], legacy[sizeof pub];

  for (guint i = 0; i < 32; i++)
    server_key[i] = (guint8) (i + 1);
  g_assert_cmpint (key_to_text (pub, sizeof pub, KEY_PREFIX_MACHINE, server_key), >, 0);
  g_assert_cmpint (key_to_text (legacy, sizeof legacy, KEY_PREFIX_MACHINE, zero), >, 0);
  /* tailcfg.OverTLSPublicKeyResponse for a current client: legacy key zero. */
  g_snprintf (key_members, sizeof key_members,
              "\"legacyPublicKey\":\"%s\",\"publicKey\":\"%s\"", legacy, pub);
}

static void
assert_refused (const EntryPoint *ep,
                const char *json,
                gsize len,
                const char *reason)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (ep->parse (json, len, &error));
  g_assert_error (error, ep->domain (), ep->code);
  g_test_message ("%s: %.40s… → %s", ep->name, json, error->message);
  if (reason != NULL && strstr (error->message, reason) == NULL)
    g_error ("%s: “%s” does not say “%s”", ep->name, error->message, reason);
}

static void
assert_parses (const EntryPoint *ep,
               const char *json,
               gsize len)
{
  g_autoptr(GError) error = NULL;

  if (!ep->parse (json, len, &error))
    g_error ("%s: %.60s refused: %s", ep->name, json, error->message);
}

/* Issue 8 row 1, exactly: the comment hides a '"' from the old guard, which
 * then saw every '[' as inside a string; json-glib recursed 300 000 deep. */
static char *
row1 (const char *prefix,
      guint brackets,
      gsize *len)
{
  GString *s = g_string_new (prefix);

  for (guint i = 0; i < brackets; i++)
    g_string_append_c (s, '[');
  *len = s->len;
  return g_string_free (s, FALSE);
}

static void
test_row1 (gconstpointer user_data)
{
  const EntryPoint *ep = user_data;
  /* The text, and the same trick with a line comment and with a
   * single-quoted string hiding the quote. */
  const struct {
    const char *prefix, *reason;
  } variants[] = {
    { "/*\"*/", "JSON at byte 0: unexpected character 0x2f" },
    { "//\"\n", "JSON at byte 0: unexpected character 0x2f" },
    { "{'\"':", "JSON at byte 1: unexpected character 0x27" },
    { "", "nested deeper than 64" },
    { "{\"a\":", "nested deeper than 64" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (variants); i++)
    {
      gsize len;
      g_autofree char *json = row1 (variants[i].prefix, ROW1_BRACKETS, &len);
      g_autofree char *shorter = row1 (variants[i].prefix, UNDER_THE_CAPS, &len);

      /* 300 KB: over the /key and prefs.json caps already... */
      len = strlen (json);
      assert_refused (ep, json, len, len > ep->max ? "limit" : variants[i].reason);
      /* ...so also the same trick under every cap. */
      len = strlen (shorter);
      g_assert_cmpuint (len, <=, ep->max);
      assert_refused (ep, shorter, len, variants[i].reason);
    }
}

static void
test_hostile (gconstpointer user_data)
{
  const EntryPoint *ep = user_data;

  for (guint i = 0; i < G_N_ELEMENTS (hostile); i++)
    {
      g_autofree char *json = fill (hostile[i].text, ep->members);
      gsize len = strlen (json);

      /* "{%s}\0": a NUL after the value is trailing garbage too. */
      if (hostile[i].reason == NULL)
        assert_refused (ep, json, len + 1, "trailing data");
      else
        assert_refused (ep, json, len, hostile[i].reason);
    }
}

static void
test_depth (gconstpointer user_data)
{
  const EntryPoint *ep = user_data;

  /* The root object is level 1: 63 arrays inside make 64, allowed; 65 is not. */
  for (guint arrays = 63; arrays <= 64; arrays++)
    {
      g_autoptr(GString) s = g_string_new (NULL);

      g_string_printf (s, "{%s,\"x\":", ep->members);
      for (guint i = 0; i < arrays; i++)
        g_string_append_c (s, '[');
      for (guint i = 0; i < arrays; i++)
        g_string_append_c (s, ']');
      g_string_append_c (s, '}');
      if (arrays == 63)
        assert_parses (ep, s->str, s->len);
      else
        assert_refused (ep, s->str, s->len, "nested deeper than 64");
    }
}

static void
test_size_cap (gconstpointer user_data)
{
  const EntryPoint *ep = user_data;
  g_autoptr(GString) s = g_string_new (NULL);

  /* Whitespace after the value is allowed, up to the cap. */
  g_string_printf (s, "{%s}", ep->members);
  while (s->len < ep->max)
    g_string_append_c (s, s->len % 2 ? ' ' : '\n');
  assert_parses (ep, s->str, s->len);
  g_string_append_c (s, ' ');
  assert_refused (ep, s->str, s->len, "limit");
  assert_refused (ep, "", 0, NULL);
}

static void
test_valid (gconstpointer user_data)
{
  const EntryPoint *ep = user_data;
  const char * const shapes[] = {
    "{%s}",
    " \r\n\t{ %s } \r\n\t",
    "{\"Future\":[1,-2.5e+3,true,false,null,{\"a\":\"\\ud83d\\ude00 \xc3\xa9\\u00e9\\/\"}],%s}",
    /* A member twice: the last wins, as in Go. */
    "{%s,\"Unknown\":{},\"Unknown\":[]}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (shapes); i++)
    {
      g_autofree char *json = fill (shapes[i], ep->members);

      assert_parses (ep, json, strlen (json));
    }
}

/* prefs.json on disk: the row-1 text is refused, kept as .bad, defaults used. */
static void
test_prefs_file (void)
{
  g_autofree char *dir = g_dir_make_tmp ("json-prefs-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "prefs.json", NULL);
  g_autofree char *bad = g_build_filename (dir, "prefs.json.bad", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *warning = NULL;
  g_autofree char *json = NULL;
  HyphaeIpnPrefs prefs = { 0 };
  gsize len;

  json = row1 ("/*\"*/", UNDER_THE_CAPS, &len);
  g_assert_true (g_file_set_contents (path, json, (gssize) len, NULL));
  g_assert_true (hyphae_ipn_prefs_load (dir, &prefs, &warning, &error));
  g_assert_no_error (error);
  g_assert_nonnull (warning);
  g_test_message ("%s", warning);
  g_assert_nonnull (strstr (warning, "unexpected character 0x2f"));
  g_assert_false (prefs.want_running);
  g_assert_true (g_file_test (bad, G_FILE_TEST_EXISTS));
  hyphae_ipn_prefs_clear (&prefs);
  g_assert_cmpint (g_remove (bad), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* The early payload frame as it arrives: undecided until whole. */
static void
test_early_framing (void)
{
  const char json[] = "{\"nodeKeyChallenge\":\"chalpub:"
                      "9d2c1fa43b7e6a0c5d8f1e2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e\"}";
  const guint8 http2[] = { 0, 0, 18, 4, 0, 0, 0, 0, 0 }; /* a SETTINGS frame header */
  g_autoptr(GByteArray) plain = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  gsize n = sizeof json - 1, consumed;

  g_byte_array_append (plain, (const guint8 *) "\xff\xff\xffTS", 5);
  g_byte_array_append (plain, (const guint8[]) { 0, 0, 0, (guint8) n }, 4);
  g_byte_array_append (plain, (const guint8 *) json, n);
  g_byte_array_append (plain, http2, sizeof http2);
  for (gsize len = 0; len < 9 + n; len++)
    {
      g_assert_cmpint (hyphae_ts2021_parse_early_payload (plain->data, len, &consumed, &error),
                       ==, 0);
      g_assert_no_error (error);
    }
  g_assert_cmpint (hyphae_ts2021_parse_early_payload (plain->data, plain->len, &consumed, &error),
                   ==, 1);
  g_assert_cmpuint (consumed, ==, 9 + n);

  /* No magic: the bytes are HTTP/2, none consumed. */
  g_assert_cmpint (hyphae_ts2021_parse_early_payload (http2, sizeof http2, &consumed, &error),
                   ==, 1);
  g_assert_cmpuint (consumed, ==, 0);

  /* A length over the cap is refused from the header alone. */
  g_assert_cmpint (hyphae_ts2021_parse_early_payload ((const guint8 *) "\xff\xff\xffTS\0\xa0\0\x01",
                                                      9, &consumed, &error),
                   ==, -1);
  g_assert_error (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "limit"));
}

static void
test_upgrade_answer (void)
{
  const char good[] = "HTTP/1.1 101 Switching Protocols\r\n"
                      "Upgrade: tailscale-control-protocol\r\n"
                      "Connection: upgrade\r\n\r\n"
                      "NOISE";
  gsize n = sizeof good - 1, consumed;
  g_autoptr(GString) big = g_string_new ("HTTP/1.1 101 Switching Protocols\r\n"
                                          "Upgrade: tailscale-control-protocol\r\n");
  g_autoptr(GError) error = NULL;

  for (gsize len = 0; len < n - 5; len++)
    g_assert_cmpint (hyphae_ts2021_parse_upgrade_answer ((const guint8 *) good, len, &consumed,
                                                         &error),
                     ==, 0);
  g_assert_no_error (error);
  g_assert_cmpint (hyphae_ts2021_parse_upgrade_answer ((const guint8 *) good, n, &consumed,
                                                       &error),
                   ==, 1);
  g_assert_cmpuint (consumed, ==, n - 5);

  /* Headers up to the cap (CRLF CRLF included) pass; one byte more does not. */
  g_string_append (big, "X-Pad: ");
  while (big->len < HYPHAE_TS2021_UPGRADE_ANSWER_MAX - 4)
    g_string_append_c (big, 'a');
  g_string_append (big, "\r\n\r\n");
  g_assert_cmpuint (big->len, ==, HYPHAE_TS2021_UPGRADE_ANSWER_MAX);
  g_assert_cmpint (hyphae_ts2021_parse_upgrade_answer ((const guint8 *) big->str, big->len,
                                                       &consumed, &error),
                   ==, 1);
  g_assert_no_error (error);
  g_string_insert_c (big, big->len - 5, 'a');
  g_assert_cmpint (hyphae_ts2021_parse_upgrade_answer ((const guint8 *) big->str, big->len,
                                                       &consumed, &error),
                   ==, -1);
  g_assert_error (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_UPGRADE);
  g_assert_nonnull (strstr (error->message, "larger than"));
  g_clear_error (&error);

  g_assert_cmpint (hyphae_ts2021_parse_upgrade_answer ((const guint8 *) "HTTP/1.1 200 OK\r\n\r\n",
                                                       19, &consumed, &error),
                   ==, -1);
  g_assert_error (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_UPGRADE);
  g_clear_error (&error);

  /* No status line at all (found by fuzz-upgrade-answer: a NULL dereference). */
  g_assert_cmpint (hyphae_ts2021_parse_upgrade_answer ((const guint8 *) "\r\n\r\nP", 5,
                                                       &consumed, &error),
                   ==, -1);
  g_assert_error (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_UPGRADE);
  g_assert_nonnull (strstr (error->message, "malformed status line"));
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  init_key ();

  for (guint i = 0; i < G_N_ELEMENTS (entry_points); i++)
    {
      const EntryPoint *ep = &entry_points[i];
      const struct {
        const char *name;
        GTestDataFunc func;
      } tests[] = {
        { "row1", test_row1 },
        { "hostile", test_hostile },
        { "depth", test_depth },
        { "size-cap", test_size_cap },
        { "valid", test_valid },
      };

      for (guint t = 0; t < G_N_ELEMENTS (tests); t++)
        {
          g_autofree char *path = g_strdup_printf ("/json/%s/%s", ep->name, tests[t].name);

          g_test_add_data_func (path, ep, tests[t].func);
        }
    }
  g_test_add_func ("/json/prefs/file", test_prefs_file);
  g_test_add_func ("/json/early-payload/framing", test_early_framing);
  g_test_add_func ("/json/upgrade-answer", test_upgrade_answer);
  return g_test_run ();
}
