/* SPDX-License-Identifier: MIT */
#include "hyphae-json.h"

#include "json-scan.h"

gboolean
hyphae_json_check_object (const char *data,
                          gsize len,
                          gsize max_len,
                          GError **error)
{
  JsonScan s;
  JsonScanType type;
  gboolean ok;

  g_return_val_if_fail (data != NULL || len == 0, FALSE);
  g_return_val_if_fail (max_len <= G_MAXSSIZE, FALSE);

  if (len == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "empty, not JSON");
      return FALSE;
    }
  if (len > max_len)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%" G_GSIZE_FORMAT " bytes of JSON (limit %" G_GSIZE_FORMAT ")", len, max_len);
      return FALSE;
    }

  /* The whole text first, so a depth bomb is called one whatever its root. */
  json_scan_init (&s, data, len);
  type = json_scan_peek (&s);
  ok = json_scan_skip (&s) && json_scan_end (&s);
  if (!ok)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, json_scan_error (&s));
  else if (type != JSON_SCAN_OBJECT)
    {
      ok = FALSE;
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "not a JSON object");
    }
  json_scan_clear (&s);
  return ok;
}

JsonObject *
hyphae_json_parse_object (const char *data,
                          gsize len,
                          gsize max_len,
                          GError **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;

  if (!hyphae_json_check_object (data, len, max_len, error))
    return NULL;

  parser = json_parser_new_immutable ();
  /* The scanner accepted an object, so json-glib should too (the fuzz
   * targets check that it does); if it ever disagrees, the text is refused. */
  if (!json_parser_load_from_data (parser, data, (gssize) len, &local_error))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s", local_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "not a JSON object");
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}
