/* SPDX-License-Identifier: MIT */
/*
 * `hyphaectl status [--json]` and `hyphaectl ip`: the output habits of the
 * tailscale CLI (cmd/tailscale/cli/status.go, ip.go) and the field names of
 * ipnstate.Status / ipnstate.PeerStatus (ipn/ipnstate/ipnstate.go), so that
 * scripts written for `tailscale status --json` keep working.
 */
#include "hyphaectl.h"

#include <stdio.h>
#include <string.h>

#include <json-glib/json-glib.h>

/* A peer was "active" if WireGuard completed a handshake this recently:
 * WireGuard rekeys every 2 minutes while traffic flows. */
#define ACTIVE_HANDSHAKE_SECONDS 180

static const char *
dict_str (GVariant   *dict,
          const char *key)
{
  const char *s = NULL;

  if (dict == NULL || !g_variant_lookup (dict, key, "&s", &s))
    return "";
  return s;
}

static gboolean
dict_bool (GVariant   *dict,
           const char *key)
{
  gboolean b = FALSE;

  if (dict != NULL)
    g_variant_lookup (dict, key, "b", &b);
  return b;
}

static gint64
dict_x (GVariant   *dict,
        const char *key)
{
  gint64 x = 0;

  if (dict != NULL)
    g_variant_lookup (dict, key, "x", &x);
  return x;
}

static guint64
dict_t (GVariant   *dict,
        const char *key)
{
  guint64 t = 0;

  if (dict != NULL)
    g_variant_lookup (dict, key, "t", &t);
  return t;
}

static char **
dict_strv (GVariant   *dict,
           const char *key)
{
  const char **v = NULL;
  char **copy;

  if (dict == NULL || !g_variant_lookup (dict, key, "^a&s", &v))
    return g_new0 (char *, 1);
  copy = g_strdupv ((char **) v);
  g_free (v);
  return copy;
}

static gboolean
is_active (GVariant *peer)
{
  gint64 hs = dict_x (peer, "LastHandshake");

  return hs != 0 && g_get_real_time () / G_USEC_PER_SEC - hs < ACTIVE_HANDSHAKE_SECONDS;
}

/* ------------------------------------------------------------------- text */

/* "100.64.0.1" (the first address) or "-". */
static char *
first_ip (GVariant *node)
{
  g_auto(GStrv) ips = dict_strv (node, "TailscaleIPs");

  return g_strdup (ips[0] ? ips[0] : "-");
}

/* DNSName minus the MagicDNS suffix, else the quoted host name. */
static char *
display_name (GVariant   *node,
              const char *suffix)
{
  g_autofree char *dns = g_strdup (dict_str (node, "DNSName"));
  gsize len = strlen (dns);

  if (len > 0 && dns[len - 1] == '.')
    dns[--len] = '\0';
  if (suffix != NULL && *suffix != '\0' && g_str_has_suffix (dns, suffix) &&
      len > strlen (suffix) && dns[len - strlen (suffix) - 1] == '.')
    dns[len - strlen (suffix) - 1] = '\0';
  if (*dns != '\0')
    return g_steal_pointer (&dns);
  return g_strdup_printf ("(\"%s\")", dict_str (node, "HostName"));
}

/* "alice@" from "alice@example.com", as tailscale's ownerLogin. */
static char *
owner_login (GVariant *node)
{
  const char *login = dict_str (node, "UserLoginName");
  const char *at = strchr (login, '@');

  if (dict_x (node, "UserID") == 0)
    return g_strdup ("-");
  if (*login == '\0')
    return g_strdup_printf ("%" G_GINT64_FORMAT, dict_x (node, "UserID"));
  return at ? g_strndup (login, at - login + 1) : g_strdup (login);
}

static char *
last_seen_fmt (gint64 last_seen)
{
  gint64 ago;

  if (last_seen == 0)
    return g_strdup ("");
  ago = g_get_real_time () / G_USEC_PER_SEC - last_seen;
  if (ago < 60)
    return g_strdup (", last seen just now");
  if (ago < 3600)
    return g_strdup_printf (", last seen %" G_GINT64_FORMAT "m ago", ago / 60);
  if (ago < 86400)
    return g_strdup_printf (", last seen %" G_GINT64_FORMAT "h ago", ago / 3600);
  return g_strdup_printf (", last seen %" G_GINT64_FORMAT "d ago", ago / 86400);
}

/* The "Status" column (cmd/tailscale/cli/status.go printPS). */
static char *
peer_status_text (GVariant *peer,
                  gboolean  is_self)
{
  GString *s = g_string_new (NULL);
  gboolean online = dict_bool (peer, "Online");
  gboolean exit_node = dict_bool (peer, "ExitNode");
  gboolean exit_option = dict_bool (peer, "ExitNodeOption");
  guint64 tx = dict_t (peer, "TxBytes"), rx = dict_t (peer, "RxBytes");
  gboolean any_traffic = tx != 0 || rx != 0;
  g_autofree char *seen = last_seen_fmt (dict_x (peer, "LastSeen"));
  g_autofree char *offline = online ? g_strdup ("") : g_strconcat ("; offline", seen, NULL);

  if (is_self)
    g_string_append (s, "-");
  else if (!is_active (peer))
    {
      if (exit_node)
        g_string_append_printf (s, "idle; exit node%s", offline);
      else if (exit_option)
        g_string_append_printf (s, "idle; offers exit node%s", offline);
      else if (any_traffic)
        g_string_append_printf (s, "idle%s", offline);
      else if (!online)
        g_string_append_printf (s, "offline%s", seen);
      else
        g_string_append (s, "-");
    }
  else
    {
      const char *cur = dict_str (peer, "CurAddr"), *relay = dict_str (peer, "Relay");

      g_string_append (s, "active; ");
      if (exit_node)
        g_string_append (s, "exit node; ");
      else if (exit_option)
        g_string_append (s, "offers exit node; ");
      if (*relay && !*cur)
        g_string_append_printf (s, "relay \"%s\"", relay);
      else if (*cur)
        g_string_append_printf (s, "direct %s", cur);
      if (!online)
        g_string_append (s, offline);
    }
  if (any_traffic && !is_self)
    g_string_append_printf (s, ", tx %" G_GUINT64_FORMAT " rx %" G_GUINT64_FORMAT, tx, rx);
  return g_string_free (s, FALSE);
}

/* ipnstate.SortPeers: by DNS name, then host name, then first address. */
static int
compare_peers (gconstpointer a,
               gconstpointer b)
{
  GVariant *pa = *(GVariant * const *) a, *pb = *(GVariant * const *) b;
  g_autofree char *ia = first_ip (pa), *ib = first_ip (pb);
  int c;

  if ((c = g_strcmp0 (dict_str (pa, "DNSName"), dict_str (pb, "DNSName"))) != 0)
    return c;
  if ((c = g_strcmp0 (dict_str (pa, "HostName"), dict_str (pb, "HostName"))) != 0)
    return c;
  return g_strcmp0 (ia, ib);
}

/* Rows of columns, two spaces apart (Go's tabwriter with padding 2). */
static void
print_table (GPtrArray *rows)
{
  glong widths[5] = { 0 };

  for (guint i = 0; i < rows->len; i++)
    {
      char **cols = g_ptr_array_index (rows, i);

      for (gsize c = 0; c < 4; c++)
        widths[c] = MAX (widths[c], g_utf8_strlen (cols[c], -1));
    }
  for (guint i = 0; i < rows->len; i++)
    {
      char **cols = g_ptr_array_index (rows, i);

      for (gsize c = 0; c < 4; c++)
        printf ("%s%*s", cols[c], (int) (widths[c] - g_utf8_strlen (cols[c], -1) + 2), "");
      printf ("%s\n", cols[4]);
    }
}

/* "Logged out." etc. for states other than Running/Starting, or NULL. */
static char *
not_running_text (HyphaeMesh1 *proxy,
                  int         *exit_code)
{
  const char *state = hyphae_mesh1_get_state (proxy);
  g_autofree char *url = NULL;

  *exit_code = CTL_EXIT_FAILED;
  if (g_strcmp0 (state, "Running") == 0 || g_strcmp0 (state, "Starting") == 0)
    return NULL;
  if (g_strcmp0 (state, "Stopped") == 0)
    return g_strdup ("Hyphae is stopped.");
  if (g_strcmp0 (state, "NeedsLogin") == 0)
    {
      url = ctl_get_auth_url (proxy);
      if (url != NULL && *url != '\0')
        {
          *exit_code = CTL_EXIT_NEEDS_LOGIN;
          return g_strdup_printf ("Logged out.\nLog in at: %s", url);
        }
      return g_strdup ("Logged out.");
    }
  if (g_strcmp0 (state, "NeedsMachineAuth") == 0)
    return g_strdup ("Machine is not yet approved by tailnet admin.");
  return g_strdup_printf ("unexpected state: %s", state ? state : "(none)");
}

static void
print_health (HyphaeMesh1 *proxy)
{
  const char * const *health = hyphae_mesh1_get_health (proxy);

  printf ("# Health check:\n");
  for (gsize i = 0; health != NULL && health[i] != NULL; i++)
    printf ("#     - %s\n", health[i]);
}

int
ctl_print_status (HyphaeMesh1 *proxy,
                  GVariant    *peers)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  g_autoptr(GPtrArray) sorted = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  g_autoptr(GVariant) self_node = hyphae_mesh1_dup_self (proxy);
  g_autoptr(GVariant) tailnet = hyphae_mesh1_dup_tailnet (proxy);
  const char * const *health = hyphae_mesh1_get_health (proxy);
  const char *suffix = dict_str (tailnet, "MagicDNSSuffix");
  int code;
  g_autofree char *description = not_running_text (proxy, &code);
  GVariantIter iter;
  GVariant *peer;

  if (description != NULL)
    {
      const char *state = hyphae_mesh1_get_state (proxy);

      if (health != NULL && health[0] != NULL && g_strcmp0 (state, "NoState") == 0)
        {
          print_health (proxy);
          printf ("\n");
        }
      printf ("%s\n", description);
      return code;
    }

  if (self_node != NULL && g_variant_n_children (self_node) > 0)
    {
      char **cols = g_new0 (char *, 6);

      cols[0] = first_ip (self_node);
      cols[1] = display_name (self_node, suffix);
      cols[2] = owner_login (self_node);
      cols[3] = g_strdup (dict_str (self_node, "OS"));
      cols[4] = peer_status_text (self_node, TRUE);
      g_ptr_array_add (rows, cols);
    }
  g_variant_iter_init (&iter, peers);
  while ((peer = g_variant_iter_next_value (&iter)) != NULL)
    g_ptr_array_add (sorted, peer);
  g_ptr_array_sort (sorted, compare_peers);
  for (guint i = 0; i < sorted->len; i++)
    {
      GVariant *p = g_ptr_array_index (sorted, i);
      char **cols = g_new0 (char *, 6);

      cols[0] = first_ip (p);
      cols[1] = display_name (p, suffix);
      cols[2] = owner_login (p);
      cols[3] = g_strdup (dict_str (p, "OS"));
      cols[4] = peer_status_text (p, FALSE);
      g_ptr_array_add (rows, cols);
    }
  print_table (rows);
  if (health != NULL && health[0] != NULL)
    {
      printf ("\n");
      print_health (proxy);
    }
  return CTL_EXIT_OK;
}

/* ------------------------------------------------------------------- JSON */

/* Output as Go's json.MarshalIndent(v, "", "  ") writes it, as
 * `tailscale status --json` does: `"key": value`, `{}` and `[]` when empty,
 * and <, >, &, U+2028, U+2029 escaped, so even scripts that grep the text
 * keep working. */
static void
go_json_string (GString    *out,
                const char *s)
{
  g_string_append_c (out, '"');
  for (const char *p = s; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      switch (c)
        {
        case '"':  g_string_append (out, "\\\""); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\r': g_string_append (out, "\\r"); break;
        case '\t': g_string_append (out, "\\t"); break;
        case '<': case '>': case '&': case 0x2028: case 0x2029:
          g_string_append_printf (out, "\\u%04x", c);
          break;
        default:
          if (c < 0x20)
            g_string_append_printf (out, "\\u%04x", c);
          else
            g_string_append_unichar (out, c);
        }
    }
  g_string_append_c (out, '"');
}

static void
go_json_node (GString  *out,
              JsonNode *node,
              guint     depth)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *obj = json_node_get_object (node);
        g_autoptr(GList) members = json_object_get_members (obj);

        if (members == NULL)
          {
            g_string_append (out, "{}");
            return;
          }
        g_string_append (out, "{\n");
        for (GList *l = members; l != NULL; l = l->next)
          {
            g_string_append_printf (out, "%*s", (int) (depth + 1) * 2, "");
            go_json_string (out, l->data);
            g_string_append (out, ": ");
            go_json_node (out, json_object_get_member (obj, l->data), depth + 1);
            g_string_append (out, l->next ? ",\n" : "\n");
          }
        g_string_append_printf (out, "%*s}", (int) depth * 2, "");
        return;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *arr = json_node_get_array (node);
        guint n = json_array_get_length (arr);

        if (n == 0)
          {
            g_string_append (out, "[]");
            return;
          }
        g_string_append (out, "[\n");
        for (guint i = 0; i < n; i++)
          {
            g_string_append_printf (out, "%*s", (int) (depth + 1) * 2, "");
            go_json_node (out, json_array_get_element (arr, i), depth + 1);
            g_string_append (out, i + 1 < n ? ",\n" : "\n");
          }
        g_string_append_printf (out, "%*s]", (int) depth * 2, "");
        return;
      }
    case JSON_NODE_NULL:
      g_string_append (out, "null");
      return;
    case JSON_NODE_VALUE:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_BOOLEAN:
          g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
          return;
        case G_TYPE_INT64:
          g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
          return;
        case G_TYPE_STRING:
          go_json_string (out, json_node_get_string (node));
          return;
        default:
          g_string_append_printf (out, "%g", json_node_get_double (node));
          return;
        }
    default:
      g_string_append (out, "null");
    }
}

/* Go's time.Time JSON: RFC 3339, the zero time for "never". */
static void
add_time (JsonBuilder *b,
          const char  *name,
          gint64       unix_seconds)
{
  g_autoptr(GDateTime) dt = NULL;
  g_autofree char *s = NULL;

  json_builder_set_member_name (b, name);
  if (unix_seconds == 0 || (dt = g_date_time_new_from_unix_utc (unix_seconds)) == NULL)
    {
      json_builder_add_string_value (b, "0001-01-01T00:00:00Z");
      return;
    }
  s = g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ");
  json_builder_add_string_value (b, s);
}

static void
add_str (JsonBuilder *b,
         const char  *name,
         const char  *value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, value);
}

static void
add_bool (JsonBuilder *b,
          const char  *name,
          gboolean     value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_boolean_value (b, value);
}

static void
add_int (JsonBuilder *b,
         const char  *name,
         gint64       value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

/* Go encodes a nil slice as null, an empty one as []: we send [] for
 * addresses we know and null where Tailscale's would be nil. */
static void
add_strv (JsonBuilder *b,
          const char  *name,
          char       **strv,
          gboolean     null_if_empty)
{
  json_builder_set_member_name (b, name);
  if (null_if_empty && (strv == NULL || strv[0] == NULL))
    {
      json_builder_add_null_value (b);
      return;
    }
  json_builder_begin_array (b);
  for (gsize i = 0; strv != NULL && strv[i] != NULL; i++)
    json_builder_add_string_value (b, strv[i]);
  json_builder_end_array (b);
}

/* ipnstate.PeerStatus. */
static void
add_peer_status (JsonBuilder *b,
                 GVariant    *node,
                 gboolean     is_self)
{
  g_auto(GStrv) ips = dict_strv (node, "TailscaleIPs");
  g_auto(GStrv) addrs = dict_strv (node, "Addrs");
  gint64 key_expiry = dict_x (node, "KeyExpiry");

  json_builder_begin_object (b);
  add_str (b, "ID", dict_str (node, "ID"));
  add_str (b, "PublicKey", dict_str (node, "PublicKey"));
  add_str (b, "HostName", dict_str (node, "HostName"));
  add_str (b, "DNSName", dict_str (node, "DNSName"));
  add_str (b, "OS", dict_str (node, "OS"));
  add_int (b, "UserID", dict_x (node, "UserID"));
  add_strv (b, "TailscaleIPs", ips, TRUE);
  add_strv (b, "Addrs", addrs, TRUE);
  add_str (b, "CurAddr", dict_str (node, "CurAddr"));
  add_str (b, "Relay", dict_str (node, "Relay"));
  add_int (b, "RxBytes", (gint64) dict_t (node, "RxBytes"));
  add_int (b, "TxBytes", (gint64) dict_t (node, "TxBytes"));
  add_time (b, "Created", 0);
  add_time (b, "LastWrite", 0);
  add_time (b, "LastSeen", dict_x (node, "LastSeen"));
  add_time (b, "LastHandshake", dict_x (node, "LastHandshake"));
  add_bool (b, "Online", dict_bool (node, "Online"));
  add_bool (b, "ExitNode", dict_bool (node, "ExitNode"));
  add_bool (b, "ExitNodeOption", dict_bool (node, "ExitNodeOption"));
  add_bool (b, "Active", !is_self && is_active (node));
  add_bool (b, "InNetworkMap", TRUE);
  add_bool (b, "InMagicSock", FALSE);
  add_bool (b, "InEngine", !is_self);
  /* omitempty in ipnstate.PeerStatus */
  if (dict_bool (node, "Expired"))
    add_bool (b, "Expired", TRUE);
  if (key_expiry != 0)
    add_time (b, "KeyExpiry", key_expiry);
  json_builder_end_object (b);
}

static void
add_user (GHashTable *users,
          GVariant   *node)
{
  gint64 id = dict_x (node, "UserID");

  if (id != 0 && !g_hash_table_contains (users, &id))
    {
      gint64 *key = g_new (gint64, 1);

      *key = id;
      g_hash_table_insert (users, key, g_strdup (dict_str (node, "UserLoginName")));
    }
}

int
ctl_print_status_json (HyphaeMesh1 *proxy,
                       GVariant    *peers)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GVariant) self_node = hyphae_mesh1_dup_self (proxy);
  g_autoptr(GVariant) tailnet = hyphae_mesh1_dup_tailnet (proxy);
  g_autoptr(GHashTable) users = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  g_auto(GStrv) self_ips = NULL;
  const char * const *health = hyphae_mesh1_get_health (proxy);
  gboolean have_self = self_node != NULL && g_variant_n_children (self_node) > 0;
  GVariant *exit_peer = NULL;
  g_autofree char *auth_url = g_strcmp0 (hyphae_mesh1_get_state (proxy), "NeedsLogin") == 0
                              ? ctl_get_auth_url (proxy) : NULL;
  GVariantIter iter;
  GVariant *peer;
  GHashTableIter hi;
  gpointer k, v;

  self_ips = dict_strv (have_self ? self_node : NULL, "TailscaleIPs");
  json_builder_begin_object (b);
  add_str (b, "Version", hyphae_mesh1_get_version (proxy) ? hyphae_mesh1_get_version (proxy) : "");
  add_bool (b, "TUN", TRUE);
  add_str (b, "BackendState", hyphae_mesh1_get_state (proxy) ? hyphae_mesh1_get_state (proxy) : "NoState");
  /* "" unless the daemon lets us see it (docs/ARCHITECTURE.md "The login URL is no property"). */
  add_str (b, "AuthURL", auth_url ? auth_url : "");
  add_strv (b, "TailscaleIPs", self_ips, TRUE);

  json_builder_set_member_name (b, "Self");
  if (have_self)
    {
      add_peer_status (b, self_node, TRUE);
      add_user (users, self_node);
    }
  else
    json_builder_add_null_value (b);

  add_strv (b, "Health", (char **) health, TRUE);
  add_str (b, "MagicDNSSuffix", dict_str (tailnet, "MagicDNSSuffix"));
  json_builder_set_member_name (b, "CurrentTailnet");
  if (tailnet != NULL && g_variant_n_children (tailnet) > 0)
    {
      json_builder_begin_object (b);
      add_str (b, "Name", dict_str (tailnet, "Name"));
      add_str (b, "MagicDNSSuffix", dict_str (tailnet, "MagicDNSSuffix"));
      add_bool (b, "MagicDNSEnabled", dict_bool (tailnet, "MagicDNSEnabled"));
      json_builder_end_object (b);
    }
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "CertDomains");
  json_builder_add_null_value (b);

  /* Peer: keyed by "nodekey:…" (key.NodePublic's text form). */
  json_builder_set_member_name (b, "Peer");
  if (have_self || g_variant_n_children (peers) > 0)
    {
      json_builder_begin_object (b);
      g_variant_iter_init (&iter, peers);
      while ((peer = g_variant_iter_next_value (&iter)) != NULL)
        {
          json_builder_set_member_name (b, dict_str (peer, "PublicKey"));
          add_peer_status (b, peer, FALSE);
          add_user (users, peer);
          if (dict_bool (peer, "ExitNode") && exit_peer == NULL)
            exit_peer = g_variant_ref (peer);
          g_variant_unref (peer);
        }
      json_builder_end_object (b);
    }
  else
    json_builder_add_null_value (b);

  /* User: tailcfg.UserProfile by id (what the netmap gives us). */
  json_builder_set_member_name (b, "User");
  if (g_hash_table_size (users) > 0)
    {
      json_builder_begin_object (b);
      g_hash_table_iter_init (&hi, users);
      while (g_hash_table_iter_next (&hi, &k, &v))
        {
          g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, *(gint64 *) k);

          json_builder_set_member_name (b, id);
          json_builder_begin_object (b);
          add_int (b, "ID", *(gint64 *) k);
          add_str (b, "LoginName", v);
          add_str (b, "DisplayName", "");
          json_builder_end_object (b);
        }
      json_builder_end_object (b);
    }
  else
    json_builder_add_null_value (b);

  /* ExitNodeStatus (omitempty): the selected exit node. */
  if (exit_peer != NULL)
    {
      g_auto(GStrv) ips = dict_strv (exit_peer, "TailscaleIPs");

      json_builder_set_member_name (b, "ExitNodeStatus");
      json_builder_begin_object (b);
      add_str (b, "ID", dict_str (exit_peer, "ID"));
      add_bool (b, "Online", dict_bool (exit_peer, "Online"));
      json_builder_set_member_name (b, "TailscaleIPs");
      json_builder_begin_array (b);
      for (gsize i = 0; ips[i] != NULL; i++)
        {
          g_autofree char *prefix = g_strdup_printf ("%s/%s", ips[i], strchr (ips[i], ':') ? "128" : "32");

          json_builder_add_string_value (b, prefix);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
      g_variant_unref (exit_peer);
    }
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  go_json_node (out, root, 0);
  printf ("%s\n", out->str);
  return CTL_EXIT_OK;
}

/* ------------------------------------------------------------------- ip */

int
ctl_print_ips (HyphaeMesh1 *proxy,
               GVariant    *node,
               int          which)
{
  g_auto(GStrv) ips = dict_strv (node, "TailscaleIPs");
  gboolean printed = FALSE;

  for (int pass = 4; pass <= 6; pass += 2)
    for (gsize i = 0; ips[i] != NULL; i++)
      {
        gboolean v6 = strchr (ips[i], ':') != NULL;

        if ((pass == 6) != v6 || (which != 0 && which != pass))
          continue;
        printf ("%s\n", ips[i]);
        printed = TRUE;
        if (which != 0)
          return CTL_EXIT_OK;   /* `tailscale ip -4`: the first one */
      }
  if (!printed)
    {
      g_printerr ("hyphaectl: no current Tailscale IPs; state: %s\n",
                  hyphae_mesh1_get_state (proxy) ? hyphae_mesh1_get_state (proxy) : "NoState");
      return CTL_EXIT_FAILED;
    }
  return CTL_EXIT_OK;
}
