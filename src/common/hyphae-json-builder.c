/* SPDX-License-Identifier: MIT */
#include "hyphae-json-builder.h"

void
hyphae_json_add_string (JsonBuilder *builder,
                        const char *name,
                        const char *value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_string_value (builder, value);
}

void
hyphae_json_add_int (JsonBuilder *builder,
                     const char *name,
                     gint64 value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, value);
}

void
hyphae_json_add_bool (JsonBuilder *builder,
                      const char *name,
                      gboolean value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_boolean_value (builder, value);
}

void
hyphae_json_add_strv (JsonBuilder *builder,
                      const char *name,
                      char * const *strv)
{
  json_builder_set_member_name (builder, name);
  json_builder_begin_array (builder);
  for (gsize i = 0; strv != NULL && strv[i] != NULL; i++)
    json_builder_add_string_value (builder, strv[i]);
  json_builder_end_array (builder);
}

void
hyphae_json_add_strv_or_null (JsonBuilder *builder,
                              const char *name,
                              char * const *strv)
{
  if (strv != NULL && strv[0] != NULL)
    {
      hyphae_json_add_strv (builder, name, strv);
      return;
    }
  json_builder_set_member_name (builder, name);
  json_builder_add_null_value (builder);
}

void
hyphae_json_add_raw (JsonBuilder *builder,
                     const char *name,
                     const char *json)
{
  JsonNode *node = json != NULL ? json_from_string (json, NULL) : NULL;

  json_builder_set_member_name (builder, name);
  if (node != NULL)
    json_builder_add_value (builder, node);
  else
    json_builder_add_null_value (builder);
}
