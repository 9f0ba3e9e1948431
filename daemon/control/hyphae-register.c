/* SPDX-License-Identifier: MIT */
/*
 * Registration (controlclient/direct.go doLogin): POST /machine/register with a JSON
 * RegisterRequest over the Noise HTTP/2 connection, parse the
 * RegisterResponse.
 *
 * The request carries Go's exact field names (tailcfg.RegisterRequest). Like
 * Go, keys are always sent in their text form: a zero OldNodeKey (not
 * rotating) is "nodekey:" followed by 64 zeros (the field has no omitempty in
 * tailcfg; "" would fail Go's strict key parser), and Expiry is always a
 * RFC 3339 time, Go's zero time "0001-01-01T00:00:00Z" when there is none
 * (never ""). Auth is omitted for interactive logins (omitempty in tailcfg).
 *
 * The response is parsed leniently in what may be absent (Go leaves absent
 * fields and null at their zero value; unknown fields are ignored) and
 * strictly in types: a field we read with the wrong JSON type is a bad reply,
 * as it would be for Go's decoder.
 */
#include "hyphae-register.h"
#include "hyphae-json.h"
#include "hyphae-secret.h"

#include <string.h>

#include <json-glib/json-glib.h>
#include <sodium.h>

#include "crypto/keys.h"

#define REGISTER_PATH "/machine/register"
#define ZERO_TIME     "0001-01-01T00:00:00Z" /* Go's time.Time{} */
/* The range GDateTime (and RFC 3339's four-digit years) can represent. */
#define UNIX_MIN       G_GINT64_CONSTANT (-62135596800) /* 0001-01-01T00:00:00Z */
#define UNIX_MAX       G_GINT64_CONSTANT (253402300799) /* 9999-12-31T23:59:59Z */
#define ERROR_BODY_MAX 256                              /* how much of a non-200 body we quote */

/* clang-format off */
G_DEFINE_QUARK (hyphae-register-error-quark, hyphae_register_error)
/* clang-format on */

void
hyphae_register_response_clear (HyphaeRegisterResponse *resp)
{
  g_return_if_fail (resp != NULL);

  g_clear_pointer (&resp->auth_url, g_free);
  g_clear_pointer (&resp->login_name, g_free);
  g_clear_pointer (&resp->user_display_name, g_free);
  resp->machine_authorized = FALSE;
  resp->node_key_expired = FALSE;
}

/* ---- request ---------------------------------------------------------------- */

static void
add_key (JsonBuilder *builder,
         const char *name,
         const guint8 key[KEY_LEN])
{
  char text[sizeof KEY_PREFIX_NODE + KEY_HEX_LEN];
  int n = key_to_text (text, sizeof text, KEY_PREFIX_NODE, key);

  g_assert (n == (int) (sizeof text - 1));
  json_builder_set_member_name (builder, name);
  json_builder_add_string_value (builder, text);
}

/* RFC 3339 in UTC, as Go marshals a time.Time without sub-seconds. */
static char *
expiry_text (gint64 unix_time)
{
  g_autoptr(GDateTime) dt = NULL;

  if (unix_time == 0)
    return g_strdup (ZERO_TIME);
  dt = g_date_time_new_from_unix_utc (CLAMP (unix_time, UNIX_MIN, UNIX_MAX));
  g_assert (dt != NULL);
  return g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ");
}

/* The auth key is written into the request by hand, never handed to
 * json-glib, whose builder, escaper and generator would leave copies of it
 * in freed memory: it goes between the quotes of the empty "AuthKey" value
 * in json (which holds no secret), escaped as JSON needs, in a buffer sized
 * once for the worst case so that it never reallocates. */
static char *
with_auth_key (const char *json,
               const char *key)
{
  static const char member[] = "\"AuthKey\":\"";
  const char *at = strstr (json, member);
  GString *out = g_string_sized_new (strlen (json) + 6 * strlen (key) + 1);

  g_assert (at != NULL);
  g_string_append_len (out, json, (at - json) + (gssize) strlen (member));
  for (const char *c = key; *c; c++)
    {
      char esc[8];
      gsize n = 0;

      if (*c == '"' || *c == '\\')
        {
          esc[n++] = '\\';
          esc[n++] = *c;
        }
      else if ((guchar) *c < 0x20)
        n = (gsize) g_snprintf (esc, sizeof esc, "\\u%04x", (guchar) *c);
      else
        esc[n++] = *c;
      g_assert (out->len + n < out->allocated_len);
      g_string_append_len (out, esc, (gssize) n);
      sodium_memzero (esc, sizeof esc);
    }
  g_string_append (out, at + strlen (member));
  return g_string_free (out, FALSE);
}

char *
hyphae_register_request_to_json (const HyphaeRegisterRequest *req)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *expiry = NULL;
  g_autofree char *json = NULL;
  static const guint8 zero_key[KEY_LEN] = { 0 };

  g_return_val_if_fail (req != NULL, NULL);

  expiry = expiry_text (req->expiry_unix);

  json_builder_begin_object (builder);

  json_builder_set_member_name (builder, "Version");
  json_builder_add_int_value (builder, req->capver);

  add_key (builder, "NodeKey", req->node_key);
  add_key (builder, "OldNodeKey", req->has_old_node_key ? req->old_node_key : zero_key);

  if (req->auth_key)
    {
      json_builder_set_member_name (builder, "Auth");
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "AuthKey");
      json_builder_add_string_value (builder, ""); /* the key goes in below */
      json_builder_end_object (builder);
    }

  json_builder_set_member_name (builder, "Expiry");
  json_builder_add_string_value (builder, expiry);

  json_builder_set_member_name (builder, "Followup");
  json_builder_add_string_value (builder, req->followup ? req->followup : "");

  json_builder_set_member_name (builder, "Hostinfo");
  json_builder_begin_object (builder);
  if (req->hostname)
    {
      json_builder_set_member_name (builder, "Hostname");
      json_builder_add_string_value (builder, req->hostname);
    }
  json_builder_end_object (builder);

  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json = json_generator_to_data (generator, NULL);
  if (req->auth_key)
    return with_auth_key (json, req->auth_key);
  return g_steal_pointer (&json);
}

/* ---- response --------------------------------------------------------------- */

/* The member, or NULL when absent or null (Go: the zero value). */
static JsonNode *
get_member (JsonObject *object,
            const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  return node;
}

static gboolean
get_bool (JsonObject *object,
          const char *name,
          gboolean *out,
          GError **error)
{
  JsonNode *node = get_member (object, name);

  *out = FALSE;
  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    {
      g_set_error (error, HYPHAE_REGISTER_ERROR, HYPHAE_REGISTER_ERROR_BAD_REPLY,
                   "RegisterResponse: %s is not a boolean", name);
      return FALSE;
    }
  *out = json_node_get_boolean (node);
  return TRUE;
}

/* *out: the string, or NULL when absent, null or "". */
static gboolean
get_string (JsonObject *object,
            const char *prefix,
            const char *name,
            char **out,
            GError **error)
{
  JsonNode *node = get_member (object, name);
  const char *s;

  *out = NULL;
  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, HYPHAE_REGISTER_ERROR, HYPHAE_REGISTER_ERROR_BAD_REPLY,
                   "RegisterResponse: %s%s is not a string", prefix, name);
      return FALSE;
    }
  s = json_node_get_string (node);
  if (s != NULL && s[0] != '\0')
    *out = g_strdup (s);
  return TRUE;
}

/* *out: the object, or NULL when absent or null. */
static gboolean
get_object (JsonObject *object,
            const char *name,
            JsonObject **out,
            GError **error)
{
  JsonNode *node = get_member (object, name);

  *out = NULL;
  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, HYPHAE_REGISTER_ERROR, HYPHAE_REGISTER_ERROR_BAD_REPLY,
                   "RegisterResponse: %s is not an object", name);
      return FALSE;
    }
  *out = json_node_get_object (node);
  return TRUE;
}

gboolean
hyphae_register_response_parse (const char *json,
                                gsize len,
                                HyphaeRegisterResponse *out,
                                GError **error)
{
  g_autoptr(JsonObject) object = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *refusal = NULL;
  HyphaeRegisterResponse resp = { 0 };
  JsonObject *user, *login;

  g_return_val_if_fail (json != NULL || len == 0, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  memset (out, 0, sizeof *out);

  object = hyphae_json_parse_object (json, len, HYPHAE_REGISTER_RESPONSE_MAX, &local_error);
  if (object == NULL)
    {
      g_set_error (error, HYPHAE_REGISTER_ERROR, HYPHAE_REGISTER_ERROR_BAD_REPLY,
                   "RegisterResponse: %s", local_error->message);
      return FALSE;
    }

  /* Every field is type-checked before the refusal is reported, so that a
   * malformed reply is always BAD_REPLY. */
  if (!get_string (object, "", "Error", &refusal, error) ||
      !get_bool (object, "MachineAuthorized", &resp.machine_authorized, error) ||
      !get_bool (object, "NodeKeyExpired", &resp.node_key_expired, error) ||
      !get_string (object, "", "AuthURL", &resp.auth_url, error) ||
      !get_object (object, "User", &user, error) ||
      !get_object (object, "Login", &login, error) ||
      (user && !get_string (user, "User.", "DisplayName", &resp.user_display_name, error)) ||
      (login && !get_string (login, "Login.", "LoginName", &resp.login_name, error)))
    {
      hyphae_register_response_clear (&resp);
      return FALSE;
    }

  if (refusal)
    {
      hyphae_register_response_clear (&resp);
      g_set_error (error, HYPHAE_REGISTER_ERROR, HYPHAE_REGISTER_ERROR_REFUSED,
                   "%s", refusal);
      return FALSE;
    }

  *out = resp;
  return TRUE;
}

/* ---- the request over HTTP/2 ------------------------------------------------ */

static void
response_free (gpointer data)
{
  HyphaeRegisterResponse *resp = data;

  hyphae_register_response_clear (resp);
  g_free (resp);
}

static void
register_request_cb (GObject *source,
                     GAsyncResult *result,
                     gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  HyphaeH2Client *client = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autofree HyphaeRegisterResponse *resp = NULL;
  const char *data;
  gsize len;
  guint status = 0;

  body = hyphae_h2_client_request_finish (client, result, &status, &error);
  if (!body)
    {
      g_prefix_error (&error, "POST " REGISTER_PATH ": ");
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  data = g_bytes_get_data (body, &len);
  if (status != 200)
    {
      g_autoptr(GString) quoted = g_string_new (NULL);

      /* A short, printable excerpt of the server's explanation. */
      while (len > 0 && g_ascii_isspace (data[len - 1]))
        len--;
      for (gsize i = 0; i < len && i < ERROR_BODY_MAX; i++)
        {
          guchar c = (guchar) data[i];

          g_string_append_c (quoted, (c >= 0x20 && c < 0x7f) ? (char) c : '?');
        }
      g_task_return_new_error (task, HYPHAE_REGISTER_ERROR, HYPHAE_REGISTER_ERROR_HTTP,
                               "POST " REGISTER_PATH ": HTTP %u%s%s", status,
                               quoted->str[0] ? ": " : "", quoted->str);
      return;
    }

  resp = g_new0 (HyphaeRegisterResponse, 1);
  if (!hyphae_register_response_parse (data, len, resp, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_pointer (task, g_steal_pointer (&resp), response_free);
}

void
hyphae_register_async (HyphaeH2Client *client,
                       const HyphaeRegisterRequest *req,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GBytes) body = NULL;
  char *json;

  g_return_if_fail (client != NULL);
  g_return_if_fail (req != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, hyphae_register_async);
  /* Not owned: only passed back to request_finish, which does not use it. */
  g_task_set_task_data (task, client, NULL);

  json = hyphae_register_request_to_json (req);
  body = hyphae_secret_bytes_new_take (json, strlen (json)); /* may carry the auth key */
  hyphae_h2_client_request_async (client, "POST", REGISTER_PATH, "application/json", body,
                                  cancellable, register_request_cb, g_steal_pointer (&task));
}

gboolean
hyphae_register_finish (GAsyncResult *result,
                        HyphaeRegisterResponse *out,
                        GError **error)
{
  HyphaeRegisterResponse *resp;

  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == hyphae_register_async, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  memset (out, 0, sizeof *out);
  resp = g_task_propagate_pointer (G_TASK (result), error);
  if (!resp)
    return FALSE;
  *out = *resp;
  g_free (resp);
  return TRUE;
}
