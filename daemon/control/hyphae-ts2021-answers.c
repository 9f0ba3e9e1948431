/* SPDX-License-Identifier: MIT */
/*
 * The control server's answers while we dial (hyphae-ts2021-answers.h):
 * the /key JSON, the 101 to POST /ts2021 and the early payload frame. Pure
 * functions over bytes; the dialler in hyphae-ts2021.c only moves bytes.
 */
#include "hyphae-ts2021-answers.h"
#include "hyphae-ts2021.h"
#include "hyphae-json.h"

#include <string.h>

#include "crypto/keys.h"
#include "hyphae-log-escape.h"

#define EARLY_MAGIC     "\xff\xff\xffTS"
#define EARLY_MAGIC_LEN 5

/* ---- GET /key ------------------------------------------------------------- */

gboolean
hyphae_ts2021_parse_key_answer (const guint8 *body,
                                gsize len,
                                guint8 out_key[KEY_LEN],
                                GError **error)
{
  g_autoptr(JsonObject) object = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonNode *member;
  const char *text;

  if (len == 0)
    {
      g_set_error_literal (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_KEY,
                           "GET /key: empty body (capability version too old for the server?)");
      return FALSE;
    }
  object = hyphae_json_parse_object ((const char *) body, len, HYPHAE_TS2021_KEY_ANSWER_MAX,
                                     &local_error);
  if (object == NULL)
    {
      g_set_error (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_KEY,
                   "GET /key: %s", local_error->message);
      return FALSE;
    }

  member = json_object_get_member (object, "publicKey");
  if (member == NULL || !JSON_NODE_HOLDS_VALUE (member) ||
      json_node_get_value_type (member) != G_TYPE_STRING)
    {
      g_set_error_literal (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_KEY,
                           "GET /key: no publicKey string");
      return FALSE;
    }

  text = json_node_get_string (member);
  if (key_from_text (out_key, KEY_PREFIX_MACHINE, text, strlen (text)) != 0)
    {
      g_set_error_literal (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_KEY,
                           "GET /key: publicKey is not “mkey:” followed by 64 hex digits");
      return FALSE;
    }

  if (key_is_zero (out_key))
    {
      g_set_error_literal (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_KEY,
                           "GET /key: publicKey is the zero key");
      return FALSE;
    }

  return TRUE;
}

/* ---- the 101 ------------------------------------------------------------- */

/* Whether the header block (status line + headers, no final CRLF CRLF) is a good 101. */
static gboolean
check_upgrade_headers (const char *block,
                       gsize len,
                       GError **error)
{
  g_auto(GStrv) lines = NULL;
  g_autofree char *text = NULL;
  const char *upgrade = NULL;
  const char *status_line;
  guint status = 0;

  if (memchr (block, '\0', len) != NULL)
    {
      g_set_error_literal (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_UPGRADE,
                           "HTTP upgrade: NUL byte in the response headers");
      return FALSE;
    }
  text = g_strndup (block, len);
  lines = g_strsplit (text, "\r\n", -1);

  /* HTTP/1.x SP 3DIGIT [SP reason]; an empty block splits into no lines. */
  status_line = lines[0] != NULL ? lines[0] : "";
  if (!g_str_has_prefix (status_line, "HTTP/1.") || strlen (status_line) < 12 ||
      !g_ascii_isdigit (status_line[7]) || status_line[8] != ' ' ||
      !g_ascii_isdigit (status_line[9]) || !g_ascii_isdigit (status_line[10]) ||
      !g_ascii_isdigit (status_line[11]) ||
      (status_line[12] != '\0' && status_line[12] != ' '))
    {
      g_autofree char *shown = hyphae_log_escape (status_line, -1);

      g_set_error (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_UPGRADE,
                   "HTTP upgrade: malformed status line “%.64s”", shown);
      return FALSE;
    }
  status = (guint) (status_line[9] - '0') * 100 + (guint) (status_line[10] - '0') * 10 +
           (guint) (status_line[11] - '0');
  if (status != 101)
    {
      g_set_error (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_UPGRADE,
                   "HTTP upgrade: status %u (want 101 Switching Protocols)", status);
      return FALSE;
    }

  for (guint i = 1; lines[i] != NULL; i++)
    {
      char *colon = strchr (lines[i], ':');

      if (colon == NULL)
        {
          g_set_error_literal (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_UPGRADE,
                               "HTTP upgrade: malformed header line in the 101 response");
          return FALSE;
        }
      *colon = '\0';
      /* Like Go's Header.Get: the first Upgrade header counts. */
      if (upgrade == NULL && g_ascii_strcasecmp (lines[i], "Upgrade") == 0)
        upgrade = g_strstrip (colon + 1);
    }

  if (upgrade == NULL)
    {
      g_set_error_literal (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_UPGRADE,
                           "HTTP upgrade: status 101 without an Upgrade header");
      return FALSE;
    }
  if (strcmp (upgrade, HYPHAE_TS2021_UPGRADE) != 0)
    {
      g_autofree char *shown = hyphae_log_escape (upgrade, -1);

      g_set_error (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_UPGRADE,
                   "HTTP upgrade: status 101 with Upgrade “%.64s” (want “" HYPHAE_TS2021_UPGRADE "”)", shown);
      return FALSE;
    }

  return TRUE;
}

int
hyphae_ts2021_parse_upgrade_answer (const guint8 *buf,
                                    gsize len,
                                    gsize *consumed,
                                    GError **error)
{
  *consumed = 0;
  for (gsize i = 0; i + 4 <= len; i++)
    if (memcmp (buf + i, "\r\n\r\n", 4) == 0)
      {
        if (i + 4 > HYPHAE_TS2021_UPGRADE_ANSWER_MAX)
          break;
        if (!check_upgrade_headers ((const char *) buf, i, error))
          return -1;
        *consumed = i + 4;
        return 1;
      }
  if (len >= HYPHAE_TS2021_UPGRADE_ANSWER_MAX)
    {
      g_set_error (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_UPGRADE,
                   "HTTP upgrade: response headers larger than %u bytes",
                   (guint) HYPHAE_TS2021_UPGRADE_ANSWER_MAX);
      return -1;
    }
  return 0;
}

/* ---- the early payload ----------------------------------------------------- */

int
hyphae_ts2021_parse_early_payload (const guint8 *plain,
                                   gsize len,
                                   gsize *consumed,
                                   GError **error)
{
  g_autoptr(GError) local_error = NULL;
  guint32 json_len;

  *consumed = 0;
  if (len < HYPHAE_TS2021_EARLY_HEADER_LEN)
    return 0;
  if (memcmp (plain, EARLY_MAGIC, EARLY_MAGIC_LEN) != 0)
    return 1; /* no early payload: these bytes are HTTP/2 */

  json_len = (guint32) plain[5] << 24 | (guint32) plain[6] << 16 | (guint32) plain[7] << 8 |
             plain[8];
  if (json_len > HYPHAE_TS2021_EARLY_PAYLOAD_MAX)
    {
      g_set_error (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_PROTOCOL,
                   "Early payload: %u bytes (limit %u)", json_len,
                   (guint) HYPHAE_TS2021_EARLY_PAYLOAD_MAX);
      return -1;
    }
  if (len - HYPHAE_TS2021_EARLY_HEADER_LEN < json_len)
    return 0;
  if (!hyphae_json_check_object ((const char *) plain + HYPHAE_TS2021_EARLY_HEADER_LEN, json_len,
                                 HYPHAE_TS2021_EARLY_PAYLOAD_MAX, &local_error))
    {
      g_set_error (error, HYPHAE_TS2021_ERROR, HYPHAE_TS2021_ERROR_PROTOCOL,
                   "Early payload: %s", local_error->message);
      return -1;
    }
  *consumed = HYPHAE_TS2021_EARLY_HEADER_LEN + json_len;
  return 1;
}
