/* SPDX-License-Identifier: MIT */
#include "prefs.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "advertise-routes.h"
#include "hyphae-json.h"

enum {
  PREFS_MAX_FILE = 64 * 1024
};

void
hyphae_ipn_prefs_init_defaults (HyphaeIpnPrefs *prefs)
{
  *prefs = (HyphaeIpnPrefs) {
    .control_url = g_strdup (HYPHAE_IPN_DEFAULT_CONTROL_URL),
    .hostname = g_strdup (""),
    .exit_node_id = g_strdup (""),
    .corp_dns = TRUE,
  };
}

void
hyphae_ipn_prefs_clear (HyphaeIpnPrefs *prefs)
{
  g_clear_pointer (&prefs->control_url, g_free);
  g_clear_pointer (&prefs->hostname, g_free);
  g_clear_pointer (&prefs->exit_node_id, g_free);
  g_clear_pointer (&prefs->advertise_routes, g_strfreev); /* serve */
}

void
hyphae_ipn_prefs_copy (HyphaeIpnPrefs *dst,
                       const HyphaeIpnPrefs *src)
{
  HyphaeIpnPrefs tmp = *src;

  tmp.control_url = g_strdup (src->control_url ? src->control_url : "");
  tmp.hostname = g_strdup (src->hostname ? src->hostname : "");
  tmp.exit_node_id = g_strdup (src->exit_node_id ? src->exit_node_id : "");
  tmp.advertise_routes = g_strdupv (src->advertise_routes); /* serve */
  hyphae_ipn_prefs_clear (dst);
  *dst = tmp;
}

static void
set_str (char **dst, const char *src)
{
  char *s = g_strdup (src ? src : "");

  g_free (*dst);
  *dst = s;
}

void
hyphae_ipn_prefs_merge (HyphaeIpnPrefs *dst,
                        const HyphaeIpnPrefs *src,
                        HyphaeIpnPrefMask mask)
{
  if (mask & HYPHAE_IPN_PREF_WANT_RUNNING)
    dst->want_running = src->want_running;
  if (mask & HYPHAE_IPN_PREF_CONTROL_URL)
    set_str (&dst->control_url, src->control_url);
  if (mask & HYPHAE_IPN_PREF_HOSTNAME)
    set_str (&dst->hostname, src->hostname);
  if (mask & HYPHAE_IPN_PREF_EXIT_NODE_ID)
    set_str (&dst->exit_node_id, src->exit_node_id);
  if (mask & HYPHAE_IPN_PREF_EXIT_NODE_ALLOW_LAN_ACCESS)
    dst->exit_node_allow_lan_access = src->exit_node_allow_lan_access;
  if (mask & HYPHAE_IPN_PREF_EXIT_NODE_KILL_SWITCH)
    dst->exit_node_kill_switch = src->exit_node_kill_switch;
  if (mask & HYPHAE_IPN_PREF_CORP_DNS)
    dst->corp_dns = src->corp_dns;
  if (mask & HYPHAE_IPN_PREF_ROUTE_ALL)
    dst->route_all = src->route_all;
  if (mask & HYPHAE_IPN_PREF_SHIELDS_UP)
    dst->shields_up = src->shields_up;
  if (mask & HYPHAE_IPN_PREF_ADVERTISE_ROUTES) /* serve */
    {
      char **routes = g_strdupv (src->advertise_routes);

      g_strfreev (dst->advertise_routes);
      dst->advertise_routes = routes;
    }
}

/* NULL and empty are the same list. */
static gboolean
strv_equal (char **a, char **b)
{
  static char *empty[] = { NULL };

  return g_strv_equal ((const char * const *) (a ? a : empty), (const char * const *) (b ? b : empty));
}

gboolean
hyphae_ipn_prefs_equal (const HyphaeIpnPrefs *a,
                        const HyphaeIpnPrefs *b)
{
  return !a->want_running == !b->want_running &&
         g_strcmp0 (a->control_url, b->control_url) == 0 &&
         g_strcmp0 (a->hostname, b->hostname) == 0 &&
         g_strcmp0 (a->exit_node_id, b->exit_node_id) == 0 &&
         !a->exit_node_allow_lan_access == !b->exit_node_allow_lan_access &&
         !a->exit_node_kill_switch == !b->exit_node_kill_switch &&
         !a->corp_dns == !b->corp_dns &&
         !a->route_all == !b->route_all &&
         !a->shields_up == !b->shields_up &&
         strv_equal (a->advertise_routes, b->advertise_routes);
}

char *
hyphae_ipn_prefs_to_json (const HyphaeIpnPrefs *p)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "WantRunning");
  json_builder_add_boolean_value (b, p->want_running);
  json_builder_set_member_name (b, "ControlURL");
  json_builder_add_string_value (b, p->control_url ? p->control_url : "");
  json_builder_set_member_name (b, "Hostname");
  json_builder_add_string_value (b, p->hostname ? p->hostname : "");
  json_builder_set_member_name (b, "ExitNodeID");
  json_builder_add_string_value (b, p->exit_node_id ? p->exit_node_id : "");
  json_builder_set_member_name (b, "ExitNodeAllowLANAccess");
  json_builder_add_boolean_value (b, p->exit_node_allow_lan_access);
  json_builder_set_member_name (b, "ExitNodeKillSwitch");
  json_builder_add_boolean_value (b, p->exit_node_kill_switch);
  json_builder_set_member_name (b, "CorpDNS");
  json_builder_add_boolean_value (b, p->corp_dns);
  json_builder_set_member_name (b, "RouteAll");
  json_builder_add_boolean_value (b, p->route_all);
  json_builder_set_member_name (b, "ShieldsUp");
  json_builder_add_boolean_value (b, p->shields_up);
  /* serve: always written, [] when none, as ipn.Prefs marshals it. */
  json_builder_set_member_name (b, "AdvertiseRoutes");
  json_builder_begin_array (b);
  for (char **r = p->advertise_routes; r != NULL && *r != NULL; r++)
    json_builder_add_string_value (b, *r);
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  return json_generator_to_data (gen, NULL);
}

static gboolean
get_bool (JsonObject *o, const char *name, gboolean *out, GError **error)
{
  JsonNode *n = json_object_get_member (o, name);

  if (n == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_BOOLEAN)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s is not a boolean", name);
      return FALSE;
    }
  *out = json_node_get_boolean (n);
  return TRUE;
}

static gboolean
get_string (JsonObject *o, const char *name, char **out, GError **error)
{
  JsonNode *n = json_object_get_member (o, name);

  if (n == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s is not a string", name);
      return FALSE;
    }
  set_str (out, json_node_get_string (n));
  return TRUE;
}

/* serve: AdvertiseRoutes, an array of canonical prefixes (null = none). */
static gboolean
get_routes (JsonObject *o, const char *name, char ***out, GError **error)
{
  JsonNode *n = json_object_get_member (o, name);
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func (g_free);
  JsonArray *a;

  if (n == NULL || JSON_NODE_HOLDS_NULL (n))
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (n))
    goto bad;
  a = json_node_get_array (n);
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonNode *e = json_array_get_element (a, i);

      if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_STRING)
        goto bad;
      g_ptr_array_add (list, g_strdup (json_node_get_string (e)));
    }
  g_ptr_array_add (list, NULL);
  g_strfreev (*out);
  *out = hyphae_advertise_routes_normalize ((const char * const *) list->pdata, error);
  return *out != NULL;

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s is not an array of strings", name);
  return FALSE;
}

gboolean
hyphae_ipn_prefs_from_json (const char *json,
                            gsize len,
                            HyphaeIpnPrefs *prefs,
                            GError **error)
{
  g_autoptr(JsonObject) o = NULL;
  HyphaeIpnPrefs p;

  hyphae_ipn_prefs_init_defaults (&p);
  o = hyphae_json_parse_object (json, len, PREFS_MAX_FILE, error);
  if (o == NULL)
    goto fail;
  if (!get_bool (o, "WantRunning", &p.want_running, error) ||
      !get_string (o, "ControlURL", &p.control_url, error) ||
      !get_string (o, "Hostname", &p.hostname, error) ||
      !get_string (o, "ExitNodeID", &p.exit_node_id, error) ||
      !get_bool (o, "ExitNodeAllowLANAccess", &p.exit_node_allow_lan_access, error) ||
      !get_bool (o, "ExitNodeKillSwitch", &p.exit_node_kill_switch, error) ||
      !get_bool (o, "CorpDNS", &p.corp_dns, error) ||
      !get_bool (o, "RouteAll", &p.route_all, error) ||
      !get_bool (o, "ShieldsUp", &p.shields_up, error) ||
      !get_routes (o, "AdvertiseRoutes", &p.advertise_routes, error))
    goto fail;
  if (p.control_url[0] == '\0')
    set_str (&p.control_url, HYPHAE_IPN_DEFAULT_CONTROL_URL);
  hyphae_ipn_prefs_clear (prefs);
  *prefs = p;
  return TRUE;

fail:
  hyphae_ipn_prefs_clear (prefs);
  hyphae_ipn_prefs_clear (&p);
  hyphae_ipn_prefs_init_defaults (prefs);
  return FALSE;
}

gboolean
hyphae_ipn_prefs_load (const char *state_dir,
                       HyphaeIpnPrefs *prefs,
                       char **warning,
                       GError **error)
{
  g_autofree char *path = g_build_filename (state_dir, "prefs.json", NULL);
  g_autofree char *bad = g_strconcat (path, ".bad", NULL);
  g_autofree char *data = NULL;
  g_autoptr(GError) local = NULL;
  gsize len = 0;

  if (warning != NULL)
    *warning = NULL;
  hyphae_ipn_prefs_clear (prefs);
  hyphae_ipn_prefs_init_defaults (prefs);
  if (!g_file_get_contents (path, &data, &len, &local))
    {
      if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_propagate_prefixed_error (error, g_steal_pointer (&local), "Cannot read %s: ", path);
      return FALSE;
    }
  if (hyphae_ipn_prefs_from_json (data, len, prefs, &local))
    return TRUE;

  /* Start from the defaults, keep the bad file for the user to look at. */
  if (warning != NULL)
    *warning = g_strdup_printf ("%s was corrupt (%s); using defaults, kept it as %s",
                                path, local->message, bad);
  if (g_rename (path, bad) != 0)
    g_warning ("Cannot rename %s: %s", path, g_strerror (errno));
  return TRUE;
}

gboolean
hyphae_ipn_prefs_save (const char *state_dir,
                       const HyphaeIpnPrefs *prefs,
                       GError **error)
{
  g_autofree char *path = g_build_filename (state_dir, "prefs.json", NULL);
  g_autofree char *json = hyphae_ipn_prefs_to_json (prefs);

  if (g_mkdir_with_parents (state_dir, 0700) != 0)
    {
      int e = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e),
                   "Cannot create %s: %s", state_dir, g_strerror (e));
      return FALSE;
    }
  return g_file_set_contents_full (path, json, -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                   0600, error);
}
