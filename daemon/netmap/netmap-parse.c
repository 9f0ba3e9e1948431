/* SPDX-License-Identifier: MIT */
/*
 * One MapResponse message → HyphaeMapUpdate, read with the pull scanner
 * (json-scan.h) straight into nodes, without a tree. See
 * docs/ARCHITECTURE.md "Netmap" for the rules and why not json-glib.
 */
#include "netmap-private.h"
#include "json-scan.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "crypto/keys.h"

static HyphaeMapUpdate *scan_update (const char *json,
                                     gsize len,
                                     GError **error);

/* ---- updates --------------------------------------------------------------- */

static void
ping_request_free (HyphaeMapPingRequest *ping)
{
  g_free (ping->url);
  g_free (ping->types);
  g_free (ping->ip);
  g_clear_pointer (&ping->payload, g_bytes_unref);
  g_free (ping);
}

void
hyphae_map_update_free (HyphaeMapUpdate *update)
{
  if (update == NULL)
    return;
  g_free (update->pop_browser_url);
  g_clear_pointer (&update->node, hyphae_node_unref);
  g_clear_pointer (&update->peers, g_ptr_array_unref);
  g_clear_pointer (&update->peers_changed, g_ptr_array_unref);
  g_clear_pointer (&update->peers_removed, g_array_unref);
  g_clear_pointer (&update->patches, g_array_unref);
  g_clear_pointer (&update->online_change, g_array_unref);
  g_clear_pointer (&update->seen_change, g_array_unref);
  g_clear_pointer (&update->user_profiles, g_ptr_array_unref);
  g_free (update->domain);
  g_clear_pointer (&update->packet_filter, g_ref_string_release);
  g_clear_pointer (&update->packet_filters, g_ptr_array_unref);
  g_clear_pointer (&update->dns_config, g_ref_string_release);
  g_clear_pointer (&update->derp_map, g_ref_string_release);
  g_clear_pointer (&update->ping, ping_request_free);
  g_free (update);
}

static void
patch_clear (gpointer p)
{
  HyphaeNodePatch *patch = p;

  g_strfreev (patch->endpoints);
  g_free (patch->cap_map_json);
}

void
hyphae_user_profile_free (gpointer p)
{
  HyphaeUserProfile *up = p;

  g_free (up->login_name);
  g_free (up->display_name);
  g_free (up);
}

static void
hyphae_named_filter_free (gpointer p)
{
  HyphaeNamedFilter *nf = p;

  g_free (nf->name);
  g_clear_pointer (&nf->rules, g_ref_string_release);
  g_free (nf);
}

static HyphaeMapUpdate *
hyphae_map_update_new (void)
{
  HyphaeMapUpdate *u = g_new0 (HyphaeMapUpdate, 1);

  u->patches = g_array_new (FALSE, TRUE, sizeof (HyphaeNodePatch));
  g_array_set_clear_func (u->patches, patch_clear);
  u->peers_removed = g_array_new (FALSE, FALSE, sizeof (gint64));
  u->online_change = g_array_new (FALSE, FALSE, sizeof (HyphaeIdBool));
  u->seen_change = g_array_new (FALSE, FALSE, sizeof (HyphaeIdBool));
  return u;
}

gboolean
hyphae_map_update_is_keepalive (const HyphaeMapUpdate *update)
{
  g_return_val_if_fail (update != NULL, FALSE);
  return update->keepalive;
}

gint64
hyphae_map_update_get_control_time (const HyphaeMapUpdate *update)
{
  g_return_val_if_fail (update != NULL, 0);
  return update->control_time;
}

const char *
hyphae_map_update_get_pop_browser_url (const HyphaeMapUpdate *update)
{
  g_return_val_if_fail (update != NULL, NULL);
  return update->pop_browser_url;
}

const HyphaeMapPingRequest *
hyphae_map_update_get_ping_request (const HyphaeMapUpdate *update)
{
  g_return_val_if_fail (update != NULL, NULL);
  return update->ping;
}

HyphaeMapUpdate *
hyphae_map_update_parse (const char *json,
                         gsize len,
                         GError **error)
{
  g_return_val_if_fail (json != NULL || len == 0, NULL);

  /* The scanner itself refuses nesting deeper than HYPHAE_JSON_MAX_DEPTH. */
  return scan_update (json, len, error);
}

/* ---- parsing ------------------------------------------------------------------ */

/*
 * MapResponse is read with the pull scanner (json-scan.h) straight into
 * nodes: no tree. Types are checked strictly (a field of the wrong JSON type
 * refuses the message, as Go's decoder would); absent and null both mean
 * "not sent" (the zero value, or unchanged in a delta); unknown fields are
 * skipped (but still validated as JSON). A duplicate key: the last wins.
 */
static gboolean
key_is (const char *key,
        const char *name)
{
  return strcmp (key, name) == 0;
}

/* TRUE when the next value was null (consumed). */
static gboolean
take_null (JsonScan *s)
{
  return json_scan_peek (s) == JSON_SCAN_NULL && json_scan_null (s);
}

static gboolean
scan_dup (JsonScan *s,
          char **out)
{
  const char *v;
  gsize len;

  if (take_null (s))
    return TRUE;
  if (!json_scan_string (s, &v, &len))
    return FALSE;
  g_free (*out);
  *out = g_strndup (v, len);
  return TRUE;
}

static gboolean
scan_bool (JsonScan *s,
           gboolean *present,
           gboolean *out)
{
  if (take_null (s))
    return TRUE;
  if (!json_scan_bool (s, out))
    return FALSE;
  if (present != NULL)
    *present = TRUE;
  return TRUE;
}

static gboolean
scan_i64 (JsonScan *s,
          gint64 *out)
{
  if (take_null (s))
    return TRUE;
  return json_scan_int64 (s, out);
}

static gboolean
scan_int (JsonScan *s,
          int *out)
{
  gint64 v;

  if (take_null (s))
    return TRUE;
  if (!json_scan_int64 (s, &v))
    return FALSE;
  if (v < G_MININT32 || v > G_MAXINT32)
    return json_scan_fail (s, "integer out of range");
  *out = (int) v;
  return TRUE;
}

static gboolean
scan_key (JsonScan *s,
          const char *prefix,
          gboolean *present,
          guint8 out[KEY_LEN])
{
  const char *v;
  gsize len;

  if (take_null (s))
    return TRUE;
  if (!json_scan_string (s, &v, &len))
    return FALSE;
  if (!hyphae_netmap_parse_key (v, len, prefix, out))
    return json_scan_fail (s, "not %s followed by 64 hex digits", prefix);
  if (present != NULL)
    *present = TRUE;
  return TRUE;
}

static gboolean
scan_time (JsonScan *s,
           gboolean *present,
           gint64 *out)
{
  const char *v;
  gsize len;

  if (take_null (s))
    return TRUE;
  if (!json_scan_string (s, &v, &len))
    return FALSE;
  if (!hyphae_netmap_parse_time (v, len, out))
    return json_scan_fail (s, "not an RFC 3339 time");
  if (present != NULL)
    *present = TRUE;
  return TRUE;
}

typedef char *(*ParseItem) (const char *s, gsize len);

static char *
dup_item (const char *s,
          gsize len)
{
  return g_strndup (s, len);
}

/* A string array, each item checked by parse (NULL = bad). Null: *out kept. */
static gboolean
scan_list (JsonScan *s,
           ParseItem parse,
           char ***out)
{
  g_autoptr(GPtrArray) v = NULL;
  int r;

  if (take_null (s))
    return TRUE;
  if (!json_scan_array_begin (s))
    return FALSE;
  v = g_ptr_array_new_with_free_func (g_free);
  while ((r = json_scan_array_next (s)) > 0)
    {
      const char *item;
      gsize len;
      char *parsed;

      if (!json_scan_string (s, &item, &len))
        return FALSE;
      parsed = parse (item, len);
      if (parsed == NULL)
        return json_scan_fail (s, "\"%s\" does not parse", item);
      g_ptr_array_add (v, parsed);
    }
  if (r < 0)
    return FALSE;
  g_ptr_array_add (v, NULL);
  g_ptr_array_set_free_func (v, NULL);
  g_strfreev (*out);
  *out = (char **) g_ptr_array_free (g_steal_pointer (&v), FALSE);
  return TRUE;
}

/* The value's text if it is of the wanted type (a GRefString); null: kept. */
static gboolean
scan_raw (JsonScan *s,
          JsonScanType want,
          char **out)
{
  JsonScanType t = json_scan_peek (s);
  const char *start;
  gsize len;

  if (t == JSON_SCAN_NULL)
    return json_scan_null (s);
  if (t != want)
    return t != JSON_SCAN_ERROR &&
           json_scan_fail (s, "expected %s", want == JSON_SCAN_ARRAY ? "an array" : "an object");
  if (!json_scan_raw (s, &start, &len))
    return FALSE;
  g_clear_pointer (out, g_ref_string_release);
  *out = g_ref_string_new_len (start, len);
  return TRUE;
}

/* As scan_raw, into a plain string. */
static gboolean
scan_raw_dup (JsonScan *s,
              JsonScanType want,
              char **out)
{
  char *r = NULL;

  if (!scan_raw (s, want, &r))
    return FALSE;
  if (r != NULL)
    {
      g_free (*out);
      *out = g_strdup (r);
      g_ref_string_release (r);
    }
  return TRUE;
}

static char *
parse_addr_only (const char *s,
                 gsize len)
{
  char canon[INET6_ADDRSTRLEN];
  int family;

  return hyphae_netmap_parse_addr (s, len, &family, canon) ? g_strdup (canon) : NULL;
}

static gboolean
scan_addr (JsonScan *s,
           char **out)
{
  const char *v;
  gsize len;

  if (take_null (s))
    return TRUE;
  if (!json_scan_string (s, &v, &len))
    return FALSE;
  g_clear_pointer (out, g_free);
  if (len == 0) /* netip.Addr{} marshals as "" */
    return TRUE;
  *out = parse_addr_only (v, len);
  return *out != NULL || json_scan_fail (s, "\"%s\" is not an IP address", v);
}

static gboolean
scan_services (JsonScan *s,
               HyphaeNode *node)
{
  int r;

  if (take_null (s))
    return TRUE;
  if (!json_scan_array_begin (s))
    return FALSE;
  while ((r = json_scan_array_next (s)) > 0)
    {
      g_autofree char *proto = NULL;
      const char *k;
      int port = 0, rr;

      if (take_null (s))
        continue;
      if (!json_scan_object_begin (s))
        return FALSE;
      while ((rr = json_scan_object_next (s, &k, NULL)) > 0)
        {
          gboolean ok;

          if (key_is (k, "Proto"))
            ok = scan_dup (s, &proto);
          else if (key_is (k, "Port"))
            ok = scan_int (s, &port);
          else
            ok = json_scan_skip (s);
          if (!ok)
            return FALSE;
        }
      if (rr < 0)
        return FALSE;
      if (port < 0 || port > 65535)
        return json_scan_fail (s, "Hostinfo.Services port out of range");
      if (g_strcmp0 (proto, "peerapi4") == 0)
        node->peerapi4_port = port;
      else if (g_strcmp0 (proto, "peerapi6") == 0)
        node->peerapi6_port = port;
    }
  return r == 0;
}

static gboolean
scan_hostinfo (JsonScan *s,
               HyphaeNode *node)
{
  const char *k;
  int r;

  if (take_null (s))
    return TRUE;
  if (!json_scan_object_begin (s))
    return FALSE;
  while ((r = json_scan_object_next (s, &k, NULL)) > 0)
    {
      gboolean ok;

      if (key_is (k, "Hostname"))
        ok = scan_dup (s, &node->hostname);
      else if (key_is (k, "OS"))
        ok = scan_dup (s, &node->os);
      else if (key_is (k, "Services"))
        ok = scan_services (s, node);
      else
        ok = json_scan_skip (s);
      if (!ok)
        return FALSE;
    }
  return r == 0;
}

/* What a node carries that only matters while parsing it. */
typedef struct {
  char *derp;          /* legacy DERP "127.3.3.40:N" */
  char **capabilities; /* deprecated Capabilities */
} NodeExtras;

/* One tailcfg.Node member. */
static gboolean
scan_node_field (JsonScan *s,
                 const char *k,
                 HyphaeNode *n,
                 NodeExtras *x)
{
  switch (k[0])
    {
    case 'A':
      if (key_is (k, "Addresses"))
        return scan_list (s, hyphae_netmap_parse_prefix, &n->addresses);
      if (key_is (k, "AllowedIPs"))
        return scan_list (s, hyphae_netmap_parse_prefix, &n->allowed_ips);
      break;
    case 'C':
      if (key_is (k, "Cap"))
        return scan_int (s, &n->cap);
      if (key_is (k, "CapMap"))
        return scan_raw_dup (s, JSON_SCAN_OBJECT, &n->cap_map_json);
      if (key_is (k, "Capabilities"))
        return scan_list (s, dup_item, &x->capabilities);
      break;
    case 'D':
      if (key_is (k, "DiscoKey"))
        return scan_key (s, KEY_PREFIX_DISCO, &n->has_disco_key, n->disco_key);
      if (key_is (k, "DERP"))
        return scan_dup (s, &x->derp);
      break;
    case 'E':
      if (key_is (k, "Endpoints"))
        return scan_list (s, hyphae_netmap_parse_addr_port, &n->endpoints);
      if (key_is (k, "Expired"))
        return scan_bool (s, NULL, &n->expired_by_control);
      if (key_is (k, "ExitNodeDNSResolvers"))
        return scan_raw_dup (s, JSON_SCAN_ARRAY, &n->exit_node_dns_resolvers_json);
      break;
    case 'H':
      if (key_is (k, "HomeDERP"))
        return scan_int (s, &n->home_derp);
      if (key_is (k, "Hostinfo"))
        return scan_hostinfo (s, n);
      break;
    case 'I':
      if (key_is (k, "ID"))
        return scan_i64 (s, &n->id);
      if (key_is (k, "IsWireGuardOnly"))
        return scan_bool (s, NULL, &n->is_wireguard_only);
      if (key_is (k, "IsJailed"))
        return scan_bool (s, NULL, &n->is_jailed);
      break;
    case 'K':
      if (key_is (k, "Key"))
        return scan_key (s, KEY_PREFIX_NODE, NULL, n->key);
      if (key_is (k, "KeyExpiry"))
        return scan_time (s, NULL, &n->key_expiry_unix);
      break;
    case 'L':
      if (key_is (k, "LastSeen"))
        return scan_time (s, NULL, &n->last_seen_unix);
      break;
    case 'M':
      if (key_is (k, "Machine"))
        return scan_key (s, KEY_PREFIX_MACHINE, &n->has_machine_key, n->machine_key);
      if (key_is (k, "MachineAuthorized"))
        return scan_bool (s, NULL, &n->machine_authorized);
      break;
    case 'N':
      if (key_is (k, "Name"))
        return scan_dup (s, &n->name);
      break;
    case 'O':
      if (key_is (k, "Online"))
        return scan_bool (s, &n->online_known, &n->online);
      break;
    case 'P':
      if (key_is (k, "PrimaryRoutes"))
        return scan_list (s, hyphae_netmap_parse_prefix, &n->primary_routes);
      break;
    case 'S':
      if (key_is (k, "StableID"))
        return scan_dup (s, &n->stable_id);
      if (key_is (k, "Sharer"))
        return scan_i64 (s, &n->sharer_id);
      if (key_is (k, "SelfNodeV4MasqAddrForThisPeer"))
        return scan_addr (s, &n->self_v4_masq_addr);
      if (key_is (k, "SelfNodeV6MasqAddrForThisPeer"))
        return scan_addr (s, &n->self_v6_masq_addr);
      break;
    case 'T':
      if (key_is (k, "Tags"))
        return scan_list (s, dup_item, &n->tags);
      break;
    case 'U':
      if (key_is (k, "User"))
        return scan_i64 (s, &n->user_id);
      if (key_is (k, "UnsignedPeerAPIOnly"))
        return scan_bool (s, NULL, &n->unsigned_peer_api_only);
      break;
    default:
      break;
    }
  return json_scan_skip (s);
}

/* An old server's self Capabilities become CapMap keys with no value
 * (map.go handleNonKeepAliveMapResponse), so later layers read only CapMap. */
static void
merge_capabilities (HyphaeNode *n,
                    char **caps)
{
  g_autoptr(JsonNode) root = json_from_string (n->cap_map_json != NULL ? n->cap_map_json : "{}",
                                                NULL);
  JsonObject *o;

  if (caps == NULL || caps[0] == NULL || root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return;
  o = json_node_get_object (root);
  for (guint i = 0; caps[i] != NULL; i++)
    if (!json_object_has_member (o, caps[i]))
      json_object_set_null_member (o, caps[i]);
  g_free (n->cap_map_json);
  n->cap_map_json = json_to_string (root, FALSE);
}

static HyphaeNode *
scan_node (JsonScan *s,
           gboolean self)
{
  g_autoptr(HyphaeNode) node = hyphae_node_new ();
  NodeExtras x = { NULL, NULL };
  const char *k;
  int r;

  if (!json_scan_object_begin (s))
    return NULL;
  while ((r = json_scan_object_next (s, &k, NULL)) > 0)
    if (!scan_node_field (s, k, node, &x))
      break;
  if (r != 0)
    {
      g_free (x.derp);
      g_strfreev (x.capabilities);
      return NULL;
    }
  if (node->has_disco_key && key_is_zero (node->disco_key))
    node->has_disco_key = FALSE;
  node->expired = node->expired_by_control;
  if (self)
    merge_capabilities (node, x.capabilities);
  hyphae_node_finish (node, x.derp);
  g_free (x.derp);
  g_strfreev (x.capabilities);
  return g_steal_pointer (&node);
}

/* Peers / PeersChanged: null elements are refused (Go would dereference nil). */
static gboolean
scan_node_list (JsonScan *s,
                GPtrArray **out)
{
  int r;

  if (take_null (s))
    return TRUE;
  if (!json_scan_array_begin (s))
    return FALSE;
  g_clear_pointer (out, g_ptr_array_unref);
  *out = g_ptr_array_new_with_free_func ((GDestroyNotify) hyphae_node_unref);
  while ((r = json_scan_array_next (s)) > 0)
    {
      HyphaeNode *node = scan_node (s, FALSE);

      if (node == NULL)
        return FALSE;
      g_ptr_array_add (*out, node);
    }
  return r == 0;
}

static gboolean
scan_patch (JsonScan *s,
            HyphaeNodePatch *p)
{
  gboolean has_id = FALSE;
  const char *k;
  int r;

  if (!json_scan_object_begin (s))
    return FALSE;
  while ((r = json_scan_object_next (s, &k, NULL)) > 0)
    {
      gboolean ok;

      if (key_is (k, "NodeID"))
        {
          ok = json_scan_int64 (s, &p->id);
          has_id = TRUE;
        }
      else if (key_is (k, "DERPRegion"))
        ok = scan_int (s, &p->derp_region);
      else if (key_is (k, "Cap"))
        ok = scan_int (s, &p->cap);
      else if (key_is (k, "Endpoints"))
        ok = scan_list (s, hyphae_netmap_parse_addr_port, &p->endpoints);
      else if (key_is (k, "Key"))
        ok = scan_key (s, KEY_PREFIX_NODE, &p->has_key, p->key);
      else if (key_is (k, "DiscoKey"))
        ok = scan_key (s, KEY_PREFIX_DISCO, &p->has_disco_key, p->disco_key);
      else if (key_is (k, "Online"))
        ok = scan_bool (s, &p->has_online, &p->online);
      else if (key_is (k, "LastSeen"))
        ok = scan_time (s, &p->has_last_seen, &p->last_seen);
      else if (key_is (k, "KeyExpiry"))
        ok = scan_time (s, &p->has_key_expiry, &p->key_expiry);
      else if (key_is (k, "CapMap"))
        ok = scan_raw_dup (s, JSON_SCAN_OBJECT, &p->cap_map_json);
      else
        ok = json_scan_skip (s);
      if (!ok)
        return FALSE;
    }
  if (r < 0)
    return FALSE;
  if (!has_id)
    return json_scan_fail (s, "PeersChangedPatch entry without NodeID");
  p->has_endpoints = p->endpoints != NULL;
  p->has_cap_map = p->cap_map_json != NULL;
  return TRUE;
}

static gboolean
scan_patches (JsonScan *s,
              GArray *out)
{
  int r;

  if (take_null (s))
    return TRUE;
  if (!json_scan_array_begin (s))
    return FALSE;
  while ((r = json_scan_array_next (s)) > 0)
    {
      HyphaeNodePatch p = { 0 };

      if (take_null (s))
        continue; /* a nil *PeerChange */
      g_array_append_val (out, p);
      if (!scan_patch (s, &g_array_index (out, HyphaeNodePatch, out->len - 1)))
        return FALSE;
    }
  return r == 0;
}

static gboolean
scan_ids (JsonScan *s,
          GArray *out)
{
  int r;

  if (take_null (s))
    return TRUE;
  if (!json_scan_array_begin (s))
    return FALSE;
  while ((r = json_scan_array_next (s)) > 0)
    {
      gint64 id;

      if (!json_scan_int64 (s, &id))
        return FALSE;
      g_array_append_val (out, id);
    }
  return r == 0;
}

/* {"<NodeID>": bool} */
static gboolean
scan_id_bools (JsonScan *s,
               GArray *out)
{
  const char *k;
  int r;

  if (take_null (s))
    return TRUE;
  if (!json_scan_object_begin (s))
    return FALSE;
  while ((r = json_scan_object_next (s, &k, NULL)) > 0)
    {
      HyphaeIdBool e;

      if (!g_ascii_string_to_signed (k, 10, G_MININT64, G_MAXINT64, &e.id, NULL))
        return json_scan_fail (s, "key \"%s\" is not a node ID", k);
      if (!json_scan_bool (s, &e.value))
        return FALSE;
      g_array_append_val (out, e);
    }
  return r == 0;
}

static gboolean
scan_profiles (JsonScan *s,
               GPtrArray **out)
{
  int r;

  if (take_null (s))
    return TRUE;
  if (!json_scan_array_begin (s))
    return FALSE;
  if (*out == NULL)
    *out = g_ptr_array_new_with_free_func (hyphae_user_profile_free);
  while ((r = json_scan_array_next (s)) > 0)
    {
      HyphaeUserProfile *up;
      const char *k;
      int rr;

      if (take_null (s))
        continue;
      if (!json_scan_object_begin (s))
        return FALSE;
      up = g_new0 (HyphaeUserProfile, 1);
      g_ptr_array_add (*out, up);
      while ((rr = json_scan_object_next (s, &k, NULL)) > 0)
        {
          gboolean ok;

          if (key_is (k, "ID"))
            ok = scan_i64 (s, &up->id);
          else if (key_is (k, "LoginName"))
            ok = scan_dup (s, &up->login_name);
          else if (key_is (k, "DisplayName"))
            ok = scan_dup (s, &up->display_name);
          else
            ok = json_scan_skip (s);
          if (!ok)
            return FALSE;
        }
      if (rr < 0)
        return FALSE;
      if (up->login_name == NULL)
        up->login_name = g_strdup ("");
      if (up->display_name == NULL)
        up->display_name = g_strdup ("");
    }
  return r == 0;
}

static gboolean
scan_packet_filters (JsonScan *s,
                     GPtrArray **out)
{
  const char *k;
  int r;

  if (take_null (s))
    return TRUE;
  if (!json_scan_object_begin (s))
    return FALSE;
  if (*out == NULL)
    *out = g_ptr_array_new_with_free_func (hyphae_named_filter_free);
  while ((r = json_scan_object_next (s, &k, NULL)) > 0)
    {
      HyphaeNamedFilter *nf = g_new0 (HyphaeNamedFilter, 1);

      nf->name = g_strdup (k);
      g_ptr_array_add (*out, nf);
      if (!scan_raw (s, JSON_SCAN_ARRAY, &nf->rules))
        return FALSE;
    }
  return r == 0;
}

/* Standard base64 with padding, as Go's encoding/json writes []byte; NULL
 * (and *too_big) when over max decoded bytes. g_base64_decode validates
 * nothing, so the alphabet and padding are checked here first. */
static GBytes *
decode_base64_strict (const char *v,
                      gsize len,
                      gsize max,
                      gboolean *too_big)
{
  g_autofree char *copy = NULL;
  gsize pad = 0, out_len = 0;
  guchar *out;

  *too_big = FALSE;
  if (len % 4 != 0)
    return NULL;
  if (len / 4 * 3 > max + 2)
    {
      *too_big = TRUE;
      return NULL;
    }
  for (gsize i = 0; i < len; i++)
    {
      char c = v[i];

      if (c == '=')
        {
          if (i < len - 2)
            return NULL;
          pad++;
        }
      else if (pad > 0 || !(g_ascii_isalnum (c) || c == '+' || c == '/'))
        return NULL;
    }
  if (len == 0)
    return g_bytes_new (NULL, 0);
  copy = g_strndup (v, len);
  out = g_base64_decode (copy, &out_len);
  if (out_len > max)
    {
      g_free (out);
      *too_big = TRUE;
      return NULL;
    }
  return g_bytes_new_take (out, out_len);
}

/* tailcfg.PingRequest; null: absent. */
static gboolean
scan_ping_request (JsonScan *s,
                   HyphaeMapPingRequest **out)
{
  g_autoptr(GBytes) payload = NULL;
  g_autofree char *url = NULL, *types = NULL, *ip = NULL;
  gboolean noise = FALSE, log = FALSE;
  const char *k;
  int r;

  if (take_null (s))
    return TRUE;
  if (!json_scan_object_begin (s))
    return FALSE;
  while ((r = json_scan_object_next (s, &k, NULL)) > 0)
    {
      gboolean ok;

      if (key_is (k, "URL"))
        ok = scan_dup (s, &url);
      else if (key_is (k, "URLIsNoise"))
        ok = scan_bool (s, NULL, &noise);
      else if (key_is (k, "Log"))
        ok = scan_bool (s, NULL, &log);
      else if (key_is (k, "Types"))
        ok = scan_dup (s, &types);
      else if (key_is (k, "IP"))
        ok = scan_addr (s, &ip);
      else if (key_is (k, "Payload"))
        {
          const char *v;
          gsize len;
          gboolean too_big;

          g_clear_pointer (&payload, g_bytes_unref);
          if (take_null (s))
            continue;
          if (!json_scan_string (s, &v, &len))
            return FALSE;
          payload = decode_base64_strict (v, len, HYPHAE_PING_PAYLOAD_MAX, &too_big);
          if (payload == NULL && too_big)
            return json_scan_fail (s, "PingRequest.Payload over %u bytes",
                                   (guint) HYPHAE_PING_PAYLOAD_MAX);
          if (payload == NULL)
            return json_scan_fail (s, "PingRequest.Payload is not base64");
          ok = TRUE;
        }
      else
        ok = json_scan_skip (s);
      if (!ok)
        return FALSE;
    }
  if (r != 0)
    return FALSE;
  if (url != NULL && strlen (url) > HYPHAE_PING_URL_MAX)
    return json_scan_fail (s, "PingRequest.URL over %u bytes", (guint) HYPHAE_PING_URL_MAX);
  if (*out != NULL)
    ping_request_free (*out);
  *out = g_new0 (HyphaeMapPingRequest, 1);
  (*out)->url = url != NULL ? g_steal_pointer (&url) : g_strdup ("");
  (*out)->types = types != NULL ? g_steal_pointer (&types) : g_strdup ("");
  (*out)->ip = g_steal_pointer (&ip);
  (*out)->url_is_noise = noise;
  (*out)->log = log;
  (*out)->payload = g_steal_pointer (&payload);
  return TRUE;
}

static gboolean
scan_map_response (JsonScan *s,
                   HyphaeMapUpdate *u)
{
  const char *k;
  int r;

  if (!json_scan_object_begin (s))
    return FALSE;
  while ((r = json_scan_object_next (s, &k, NULL)) > 0)
    {
      gboolean ok;

      if (key_is (k, "KeepAlive"))
        ok = scan_bool (s, NULL, &u->keepalive);
      else if (key_is (k, "PopBrowserURL"))
        ok = scan_dup (s, &u->pop_browser_url);
      else if (key_is (k, "ControlTime"))
        ok = scan_time (s, NULL, &u->control_time);
      else if (key_is (k, "Node"))
        {
          if (take_null (s))
            continue;
          g_clear_pointer (&u->node, hyphae_node_unref);
          u->node = scan_node (s, TRUE);
          ok = u->node != NULL;
        }
      else if (key_is (k, "Peers"))
        ok = scan_node_list (s, &u->peers);
      else if (key_is (k, "PeersChanged"))
        ok = scan_node_list (s, &u->peers_changed);
      else if (key_is (k, "PeersRemoved"))
        ok = scan_ids (s, u->peers_removed);
      else if (key_is (k, "PeersChangedPatch"))
        ok = scan_patches (s, u->patches);
      else if (key_is (k, "OnlineChange"))
        ok = scan_id_bools (s, u->online_change);
      else if (key_is (k, "PeerSeenChange"))
        ok = scan_id_bools (s, u->seen_change);
      else if (key_is (k, "UserProfiles"))
        ok = scan_profiles (s, &u->user_profiles);
      else if (key_is (k, "Domain"))
        ok = scan_dup (s, &u->domain);
      else if (key_is (k, "PacketFilter"))
        ok = scan_raw (s, JSON_SCAN_ARRAY, &u->packet_filter);
      else if (key_is (k, "PacketFilters"))
        ok = scan_packet_filters (s, &u->packet_filters);
      else if (key_is (k, "DNSConfig"))
        ok = scan_raw (s, JSON_SCAN_OBJECT, &u->dns_config);
      else if (key_is (k, "DERPMap"))
        ok = scan_raw (s, JSON_SCAN_OBJECT, &u->derp_map);
      else if (key_is (k, "PingRequest"))
        ok = scan_ping_request (s, &u->ping);
      else
        ok = json_scan_skip (s);
      if (!ok)
        return FALSE;
    }
  return r == 0 && json_scan_end (s);
}

static HyphaeMapUpdate *
scan_update (const char *json,
             gsize len,
             GError **error)
{
  g_autoptr(HyphaeMapUpdate) u = hyphae_map_update_new ();
  JsonScan s;
  gboolean ok;

  json_scan_init (&s, json, len);
  ok = scan_map_response (&s, u);
  if (!ok)
    g_set_error (error, HYPHAE_NETMAP_ERROR, HYPHAE_NETMAP_ERROR_PARSE,
                 "MapResponse: %s", json_scan_error (&s) != NULL ? json_scan_error (&s) : "malformed");
  json_scan_clear (&s);
  if (!ok)
    return NULL;

  if (u->pop_browser_url != NULL && u->pop_browser_url[0] == '\0')
    g_clear_pointer (&u->pop_browser_url, g_free);
  if (u->keepalive)
    {
      /* "When true, all other fields except PingRequest, ControlTime, and
       * PopBrowserURL are ignored" (tailcfg.MapResponse.KeepAlive; direct.go
       * skips the netmap for it). */
      g_clear_pointer (&u->node, hyphae_node_unref);
      g_clear_pointer (&u->peers, g_ptr_array_unref);
      g_clear_pointer (&u->peers_changed, g_ptr_array_unref);
      g_array_set_size (u->peers_removed, 0);
      g_array_set_size (u->patches, 0);
      g_array_set_size (u->online_change, 0);
      g_array_set_size (u->seen_change, 0);
      g_clear_pointer (&u->user_profiles, g_ptr_array_unref);
      g_clear_pointer (&u->domain, g_free);
      g_clear_pointer (&u->packet_filter, g_ref_string_release);
      g_clear_pointer (&u->packet_filters, g_ptr_array_unref);
      g_clear_pointer (&u->dns_config, g_ref_string_release);
      g_clear_pointer (&u->derp_map, g_ref_string_release);
    }
  if (u->domain != NULL && u->domain[0] == '\0')
    g_clear_pointer (&u->domain, g_free);
  u->changes = u->node != NULL || u->peers != NULL || u->peers_changed != NULL ||
               u->peers_removed->len > 0 || u->patches->len > 0 ||
               u->online_change->len > 0 || u->seen_change->len > 0 ||
               u->user_profiles != NULL || u->domain != NULL ||
               u->packet_filter != NULL || u->packet_filters != NULL ||
               u->dns_config != NULL || u->derp_map != NULL;
  return g_steal_pointer (&u);
}
