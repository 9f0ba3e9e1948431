/* SPDX-License-Identifier: MIT */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/*
 * One object member at a time: json_builder_set_member_name() and its value,
 * for the JSON hyphaed sends (MapRequest), keeps (the netmap) and shows
 * (`hyphaectl status --json`). Call them inside json_builder_begin_object().
 */
void hyphae_json_add_string (JsonBuilder *builder,
                             const char *name,
                             const char *value);
void hyphae_json_add_int (JsonBuilder *builder,
                          const char *name,
                          gint64 value);
void hyphae_json_add_bool (JsonBuilder *builder,
                           const char *name,
                           gboolean value);
/* An array of strings; [] for NULL or empty. */
void hyphae_json_add_strv (JsonBuilder *builder,
                           const char *name,
                           char * const *strv);
/* The same, but null for NULL or empty: Go marshals a nil slice as null,
 * so output in Go's shape writes null where Go's slice would be nil. */
void hyphae_json_add_strv_or_null (JsonBuilder *builder,
                                   const char *name,
                                   char * const *strv);
/* A JSON text our own code kept (already validated when it was read), as a
 * value; null for NULL or text json-glib cannot parse. */
void hyphae_json_add_raw (JsonBuilder *builder,
                          const char *name,
                          const char *json);

G_END_DECLS
