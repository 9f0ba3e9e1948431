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

#include "hyphae-json-builder.h"

static gboolean
is_active (const HyphaePeerInfo *peer)
{
  return hyphae_peer_info_is_active (peer, g_get_real_time () / G_USEC_PER_SEC);
}

/* ------------------------------------------------------------------- text */

/* "100.64.0.1" (the first address) or "-". */
static char *
first_ip (const HyphaePeerInfo *node)
{
  return g_strdup (node->addresses[0] ? node->addresses[0] : "-");
}

/* DNSName minus the MagicDNS suffix, else the quoted host name. */
static char *
display_name (const HyphaePeerInfo *node,
              const char *suffix)
{
  g_autofree char *dns = g_strdup (node->dns_name);
  gsize len = strlen (dns);

  if (len > 0 && dns[len - 1] == '.')
    dns[--len] = '\0';
  if (suffix != NULL && *suffix != '\0' && g_str_has_suffix (dns, suffix) &&
      len > strlen (suffix) && dns[len - strlen (suffix) - 1] == '.')
    dns[len - strlen (suffix) - 1] = '\0';
  if (*dns != '\0')
    return g_steal_pointer (&dns);
  return g_strdup_printf ("(\"%s\")", node->host_name);
}

/* "alice@" from "alice@example.com", as tailscale's ownerLogin. */
static char *
owner_login (const HyphaePeerInfo *node)
{
  const char *login = node->user_login_name;
  const char *at = strchr (login, '@');

  if (node->user_id == 0)
    return g_strdup ("-");
  if (*login == '\0')
    return g_strdup_printf ("%" G_GINT64_FORMAT, node->user_id);
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
peer_status_text (const HyphaePeerInfo *peer,
                  gboolean is_self)
{
  GString *s = g_string_new (NULL);
  gboolean online = peer->online;
  gboolean exit_node = peer->exit_node;
  gboolean exit_option = peer->exit_node_option;
  guint64 tx = peer->tx_bytes, rx = peer->rx_bytes;
  gboolean any_traffic = tx != 0 || rx != 0;
  g_autofree char *seen = last_seen_fmt (peer->last_seen);
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
      const char *cur = peer->cur_addr, *relay = peer->relay;

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
  const HyphaePeerInfo *pa = *(HyphaePeerInfo * const *) a, *pb = *(HyphaePeerInfo * const *) b;
  g_autofree char *ia = first_ip (pa), *ib = first_ip (pb);
  int c;

  if ((c = g_strcmp0 (pa->dns_name, pb->dns_name)) != 0)
    return c;
  if ((c = g_strcmp0 (pa->host_name, pb->host_name)) != 0)
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
                  int *exit_code)
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
      url = hyphae_mesh_get_auth_url (proxy);
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

/* "# Exit node: NAME, kill switch on|off, LAN access allowed|blocked" when
 * one is selected (the ExitNodeID, ExitNodeKillSwitch and
 * ExitNodeAllowLANAccess prefs; whether it is usable is in Health). */
static void
print_exit_node (HyphaeMesh1 *proxy,
                 GPtrArray *peers,
                 const char *suffix)
{
  GVariant *prefs = hyphae_mesh1_get_prefs (proxy);
  const char *id = NULL;
  gboolean kill_switch = FALSE, allow_lan = FALSE;
  g_autofree char *name = NULL;

  if (prefs == NULL || !g_variant_lookup (prefs, "ExitNodeID", "&s", &id) || *id == '\0')
    return;
  g_variant_lookup (prefs, "ExitNodeKillSwitch", "b", &kill_switch);
  g_variant_lookup (prefs, "ExitNodeAllowLANAccess", "b", &allow_lan);
  for (guint i = 0; i < peers->len && name == NULL; i++)
    {
      const HyphaePeerInfo *peer = g_ptr_array_index (peers, i);

      if (g_strcmp0 (peer->stable_id, id) == 0)
        name = display_name (peer, suffix);
    }
  printf ("\n# Exit node: %s, kill switch %s, LAN access %s\n", name ? name : id,
          kill_switch ? "on" : "off", allow_lan ? "allowed" : "blocked");
}

/* One row: IP, name, owner, OS, status. */
static char **
node_row (const HyphaePeerInfo *node,
          const char *suffix,
          gboolean is_self)
{
  char **cols = g_new0 (char *, 6);

  cols[0] = first_ip (node);
  cols[1] = display_name (node, suffix);
  cols[2] = owner_login (node);
  cols[3] = g_strdup (node->os);
  cols[4] = peer_status_text (node, is_self);
  return cols;
}

/* serve: this node's own Status column says what it offers (AdvertiseRoutes):
 * "offers exit node" and the subnets it routes ("routes 10.1.0.0/24"). */
static void
serve_self_status (HyphaeMesh1 *proxy,
                   char **text)
{
  g_autoptr(GVariant) prefs = hyphae_mesh1_dup_prefs (proxy);
  g_autofree const char **routes = NULL;
  g_autoptr(GString) s = g_string_new (NULL);
  g_autoptr(GPtrArray) subnets = g_ptr_array_new ();

  if (prefs == NULL || !g_variant_lookup (prefs, "AdvertiseRoutes", "^a&s", &routes))
    return;
  for (const char **r = routes; r != NULL && *r != NULL; r++)
    if (g_str_equal (*r, "0.0.0.0/0"))
      g_string_append (s, "offers exit node");
    else if (!g_str_equal (*r, "::/0"))
      g_ptr_array_add (subnets, (gpointer) *r);
  g_ptr_array_add (subnets, NULL);
  if (subnets->len > 1)
    {
      g_autofree char *list = g_strjoinv (", ", (char **) subnets->pdata);

      g_string_append_printf (s, "%sroutes %s", s->len ? "; " : "", list);
    }
  if (s->len == 0)
    return;
  g_free (*text);
  *text = g_strdup (s->str);
}

int
ctl_print_status (HyphaeMesh1 *proxy,
                  GPtrArray *peers)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  g_autoptr(GPtrArray) sorted = g_ptr_array_sized_new (peers->len);
  g_autoptr(HyphaePeerInfo) self_node = hyphae_mesh_dup_self (proxy);
  g_autoptr(HyphaeTailnetInfo) tailnet = hyphae_mesh_dup_tailnet (proxy);
  const char * const *health = hyphae_mesh1_get_health (proxy);
  const char *suffix = tailnet ? tailnet->magicdns_suffix : "";
  int code;
  g_autofree char *description = not_running_text (proxy, &code);

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

  if (self_node != NULL)
    {
      char **row = node_row (self_node, suffix, TRUE);

      serve_self_status (proxy, &row[4]); /* serve */
      g_ptr_array_add (rows, row);
    }
  for (guint i = 0; i < peers->len; i++)
    g_ptr_array_add (sorted, g_ptr_array_index (peers, i));
  g_ptr_array_sort (sorted, compare_peers);
  for (guint i = 0; i < sorted->len; i++)
    g_ptr_array_add (rows, node_row (g_ptr_array_index (sorted, i), suffix, FALSE));
  print_table (rows);
  ctl_print_dns_line (proxy);
  if (health != NULL && health[0] != NULL)
    {
      printf ("\n");
      print_health (proxy);
    }
  print_exit_node (proxy, peers, suffix);
  return CTL_EXIT_OK;
}

/* ------------------------------------------------------------------- JSON */

/* Output as Go's json.MarshalIndent(v, "", "  ") writes it, as
 * `tailscale status --json` does: `"key": value`, `{}` and `[]` when empty,
 * and <, >, &, U+2028, U+2029 escaped, so even scripts that grep the text
 * keep working. */
static void
go_json_string (GString *out,
                const char *s)
{
  g_string_append_c (out, '"');
  for (const char *p = s; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      switch (c)
        {
        case '"': g_string_append (out, "\\\""); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\r': g_string_append (out, "\\r"); break;
        case '\t': g_string_append (out, "\\t"); break;
        case '<':
        case '>':
        case '&':
        case 0x2028:
        case 0x2029:
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
go_json_node (GString *out,
              JsonNode *node,
              guint depth)
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
          const char *name,
          gint64 unix_seconds)
{
  g_autoptr(GDateTime) dt = unix_seconds != 0 ? g_date_time_new_from_unix_utc (unix_seconds) : NULL;
  g_autofree char *s = dt != NULL ? g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ") : NULL;

  hyphae_json_add_string (b, name, s != NULL ? s : "0001-01-01T00:00:00Z");
}

/* ipnstate.PeerStatus. */
static void
add_peer_status (JsonBuilder *b,
                 const HyphaePeerInfo *node,
                 gboolean is_self)
{
  json_builder_begin_object (b);
  hyphae_json_add_string (b, "ID", node->stable_id);
  hyphae_json_add_string (b, "PublicKey", node->public_key);
  hyphae_json_add_string (b, "HostName", node->host_name);
  hyphae_json_add_string (b, "DNSName", node->dns_name);
  hyphae_json_add_string (b, "OS", node->os);
  hyphae_json_add_int (b, "UserID", node->user_id);
  hyphae_json_add_strv_or_null (b, "TailscaleIPs", node->addresses);
  hyphae_json_add_strv_or_null (b, "Addrs", node->endpoints);
  hyphae_json_add_string (b, "CurAddr", node->cur_addr);
  hyphae_json_add_string (b, "Relay", node->relay);
  hyphae_json_add_int (b, "RxBytes", (gint64) node->rx_bytes);
  hyphae_json_add_int (b, "TxBytes", (gint64) node->tx_bytes);
  add_time (b, "Created", 0);
  add_time (b, "LastWrite", 0);
  add_time (b, "LastSeen", node->last_seen);
  add_time (b, "LastHandshake", node->last_handshake);
  hyphae_json_add_bool (b, "Online", node->online);
  hyphae_json_add_bool (b, "ExitNode", node->exit_node);
  hyphae_json_add_bool (b, "ExitNodeOption", node->exit_node_option);
  hyphae_json_add_bool (b, "Active", !is_self && is_active (node));
  hyphae_json_add_bool (b, "InNetworkMap", TRUE);
  hyphae_json_add_bool (b, "InMagicSock", FALSE);
  hyphae_json_add_bool (b, "InEngine", !is_self);
  /* omitempty in ipnstate.PeerStatus */
  if (node->expired)
    hyphae_json_add_bool (b, "Expired", TRUE);
  if (node->key_expiry != 0)
    add_time (b, "KeyExpiry", node->key_expiry);
  json_builder_end_object (b);
}

static void
add_user (GHashTable *users,
          const HyphaePeerInfo *node)
{
  gint64 id = node->user_id;

  if (id != 0 && !g_hash_table_contains (users, &id))
    {
      gint64 *key = g_new (gint64, 1);

      *key = id;
      g_hash_table_insert (users, key, g_strdup (node->user_login_name));
    }
}

int
ctl_print_status_json (HyphaeMesh1 *proxy,
                       GPtrArray *peers)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(HyphaePeerInfo) self_node = hyphae_mesh_dup_self (proxy);
  g_autoptr(HyphaeTailnetInfo) tailnet = hyphae_mesh_dup_tailnet (proxy);
  g_autoptr(GHashTable) users = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  const char * const *health = hyphae_mesh1_get_health (proxy);
  const HyphaePeerInfo *exit_peer = NULL;
  g_autofree char *auth_url = g_strcmp0 (hyphae_mesh1_get_state (proxy), "NeedsLogin") == 0
                                ? hyphae_mesh_get_auth_url (proxy)
                                : NULL;
  GHashTableIter hi;
  gpointer k, v;

  json_builder_begin_object (b);
  hyphae_json_add_string (b, "Version", hyphae_mesh1_get_version (proxy) ? hyphae_mesh1_get_version (proxy) : "");
  hyphae_json_add_bool (b, "TUN", TRUE);
  hyphae_json_add_string (b, "BackendState",
                          hyphae_mesh1_get_state (proxy) ? hyphae_mesh1_get_state (proxy) : "NoState");
  /* "" unless the daemon lets us see it (docs/ARCHITECTURE.md "The login URL is no property"). */
  hyphae_json_add_string (b, "AuthURL", auth_url ? auth_url : "");
  hyphae_json_add_strv_or_null (b, "TailscaleIPs", self_node ? self_node->addresses : NULL);

  json_builder_set_member_name (b, "Self");
  if (self_node != NULL)
    {
      add_peer_status (b, self_node, TRUE);
      add_user (users, self_node);
    }
  else
    json_builder_add_null_value (b);

  hyphae_json_add_strv_or_null (b, "Health", (char * const *) health);
  hyphae_json_add_string (b, "MagicDNSSuffix", tailnet ? tailnet->magicdns_suffix : "");
  json_builder_set_member_name (b, "CurrentTailnet");
  if (tailnet != NULL)
    {
      json_builder_begin_object (b);
      hyphae_json_add_string (b, "Name", tailnet->name);
      hyphae_json_add_string (b, "MagicDNSSuffix", tailnet->magicdns_suffix);
      hyphae_json_add_bool (b, "MagicDNSEnabled", tailnet->magicdns_enabled);
      json_builder_end_object (b);
    }
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "CertDomains");
  json_builder_add_null_value (b);

  /* Peer: keyed by "nodekey:…" (key.NodePublic's text form). */
  json_builder_set_member_name (b, "Peer");
  if (self_node != NULL || peers->len > 0)
    {
      json_builder_begin_object (b);
      for (guint i = 0; i < peers->len; i++)
        {
          const HyphaePeerInfo *peer = g_ptr_array_index (peers, i);

          json_builder_set_member_name (b, peer->public_key);
          add_peer_status (b, peer, FALSE);
          add_user (users, peer);
          if (peer->exit_node && exit_peer == NULL)
            exit_peer = peer;
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
          hyphae_json_add_int (b, "ID", *(gint64 *) k);
          hyphae_json_add_string (b, "LoginName", v);
          hyphae_json_add_string (b, "DisplayName", "");
          json_builder_end_object (b);
        }
      json_builder_end_object (b);
    }
  else
    json_builder_add_null_value (b);

  /* ExitNodeStatus (omitempty): the selected exit node. */
  if (exit_peer != NULL)
    {
      char * const *ips = exit_peer->addresses;

      json_builder_set_member_name (b, "ExitNodeStatus");
      json_builder_begin_object (b);
      hyphae_json_add_string (b, "ID", exit_peer->stable_id);
      hyphae_json_add_bool (b, "Online", exit_peer->online);
      json_builder_set_member_name (b, "TailscaleIPs");
      json_builder_begin_array (b);
      for (gsize i = 0; ips[i] != NULL; i++)
        {
          g_autofree char *prefix = g_strdup_printf ("%s/%s", ips[i], strchr (ips[i], ':') ? "128" : "32");

          json_builder_add_string_value (b, prefix);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
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
               char * const *addresses,
               int which)
{
  char * const *ips = addresses;
  gboolean printed = FALSE;

  for (int pass = 4; pass <= 6; pass += 2)
    for (gsize i = 0; ips != NULL && ips[i] != NULL; i++)
      {
        gboolean v6 = strchr (ips[i], ':') != NULL;

        if ((pass == 6) != v6 || (which != 0 && which != pass))
          continue;
        printf ("%s\n", ips[i]);
        printed = TRUE;
        if (which != 0)
          return CTL_EXIT_OK; /* `tailscale ip -4`: the first one */
      }
  if (!printed)
    {
      g_printerr ("hyphaectl: no current Tailscale IPs; state: %s\n",
                  hyphae_mesh1_get_state (proxy) ? hyphae_mesh1_get_state (proxy) : "NoState");
      return CTL_EXIT_FAILED;
    }
  return CTL_EXIT_OK;
}
