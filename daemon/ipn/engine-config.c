/* SPDX-License-Identifier: MIT */
#include "engine-config.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/ip.h"
#include "hyphae-magicsock.h"
#include "uapi/uapi.h"

/* "ip/len" through the one typed parser (common/ip.h). */
static gboolean
parse_prefix_text (const char *text, struct ip_prefix *p)
{
  return text != NULL && ip_prefix_parse (p, text, strlen (text));
}

gboolean
hyphae_parse_prefix (const char *text,
                     int *family,
                     guint8 addr[16],
                     guint8 *len)
{
  struct ip_prefix p;

  if (!parse_prefix_text (text, &p))
    return FALSE;
  *family = p.addr.family;
  memcpy (addr, p.addr.bytes, 16);
  *len = p.bits;
  return TRUE;
}

/* "ip:port" / "[ip6]:port"; port 0 is no endpoint. */
static gboolean
parse_endpoint_text (const char *text, struct ip_port *ep)
{
  return text != NULL && ip_port_parse (ep, text, strlen (text)) && ep->port != 0;
}

gboolean
hyphae_parse_endpoint (const char *text,
                       int *family,
                       guint8 addr[16],
                       guint16 *port)
{
  struct ip_port ep;

  if (!parse_endpoint_text (text, &ep))
    return FALSE;
  *family = ep.addr.family;
  memcpy (addr, ep.addr.bytes, 16);
  *port = ep.port;
  return TRUE;
}

static char *
prefix_text (const struct ip_prefix *p)
{
  char buf[IP_PREFIX_STRLEN];

  return g_strndup (buf, ip_prefix_format (p, buf));
}

static void
add_unique (GPtrArray *list, const char *s)
{
  for (guint i = 0; i < list->len; i++)
    if (g_str_equal (list->pdata[i], s))
      return;
  g_ptr_array_add (list, g_strdup (s));
}

static char **
strv_from_list (GPtrArray *list)
{
  g_ptr_array_add (list, NULL);
  return (char **) g_ptr_array_free (list, FALSE);
}

static void
engine_peer_free (gpointer data)
{
  HyphaeEnginePeer *p = data;

  g_free (p->stable_id);
  g_strfreev (p->allowed_ips);
  g_free (p->endpoint);
  g_free (p);
}

static const char *
first_endpoint (const HyphaeNode *node)
{
  for (char **e = node->endpoints; e != NULL && *e != NULL; e++)
    {
      struct ip_port ep;

      if (parse_endpoint_text (*e, &ep))
        return *e;
    }
  return NULL;
}

/* A /0 always as the network ("1.2.3.4/0" is 0.0.0.0/0). */
static struct ip_prefix
canonical_prefix (const struct ip_prefix *p)
{
  return ip_prefix_is_default (p) ? ip_prefix_masked (p) : *p;
}

/* As text (a peer's AllowedIPs). */
static void
add_prefix (GPtrArray *list, const struct ip_prefix *p)
{
  struct ip_prefix m = canonical_prefix (p);
  g_autofree char *text = prefix_text (&m);

  add_unique (list, text);
}

/* As a typed value (what netcfg takes). */
static void
add_prefix_value (GArray *list, const struct ip_prefix *p)
{
  struct ip_prefix m = canonical_prefix (p);

  for (guint i = 0; i < list->len; i++)
    if (ip_prefix_equal (&g_array_index (list, struct ip_prefix, i), &m))
      return;
  g_array_append_val (list, m);
}

/*
 * This node's Addresses: only single tailnet IPs go onto the TUN. Tailscale's
 * control only ever assigns those (net/tsaddr; ipn/ipnlocal/local.go counts
 * a node's Tailscale IPs as addr.IsSingleIP() && tsaddr.IsTailscaleIP()); a
 * wider one (10.200.0.1/16) would put the whole LAN behind the TUN.
 */
static void
add_self_addresses (const HyphaeNode *self, GArray *addrs, GPtrArray *rejected)
{
  for (char **a = self != NULL ? self->addresses : NULL; a != NULL && *a != NULL; a++)
    {
      struct ip_prefix p;

      if (parse_prefix_text (*a, &p) && ip_prefix_is_host (&p) && ip_addr_is_tailnet (&p.addr))
        add_prefix_value (addrs, &p);
      else
        g_ptr_array_add (rejected, g_strdup_printf ("self Address %s ignored: not a /32 in "
                                                    "100.64.0.0/10 nor a /128 in "
                                                    "fd7a:115c:a1e0::/48",
                                                    *a));
    }
}

/*
 * A peer's Addresses: only single IPs count as the peer's own (always
 * routed to it). Anything wider is a route like any AllowedIPs entry, so it
 * needs RouteAll, and /0 needs the exit-node choice (as
 * net/routemanager/routemanager.go splits self addresses from routes).
 */
static void
add_peer_addresses (const HyphaeNode *node, GPtrArray *allowed, GPtrArray *rejected)
{
  for (char **a = node->addresses; a != NULL && *a != NULL; a++)
    {
      struct ip_prefix p;

      if (parse_prefix_text (*a, &p) && ip_prefix_is_host (&p))
        add_prefix (allowed, &p);
      else
        g_ptr_array_add (rejected, g_strdup_printf ("peer %" G_GINT64_FORMAT " Address %s is "
                                                    "not a single IP: not one of its addresses, "
                                                    "only a route the user may accept",
                                                    node->id, *a));
    }
}

/* serve: the masquerade addresses control gave for this peer (capver 59/77/104). */
static void
set_masq (const HyphaeNode *node, struct wg_masq *masq)
{
  struct ip_addr a;

  if (node->self_v4_masq_addr != NULL &&
      ip_addr_parse (&a, node->self_v4_masq_addr, strlen (node->self_v4_masq_addr)) && a.family == AF_INET)
    {
      masq->has4 = TRUE;
      memcpy (masq->addr4, a.bytes, 4);
    }
  if (node->self_v6_masq_addr != NULL &&
      ip_addr_parse (&a, node->self_v6_masq_addr, strlen (node->self_v6_masq_addr)) && a.family == AF_INET6)
    {
      masq->has6 = TRUE;
      memcpy (masq->addr6, a.bytes, 16);
    }
}

/* Public keys are random bytes: their first four are a hash already. */
static guint
public_key_hash (gconstpointer key)
{
  guint h;

  memcpy (&h, key, sizeof h);
  return h;
}

static gboolean
public_key_equal (gconstpointer a,
                  gconstpointer b)
{
  return memcmp (a, b, KEY_LEN) == 0;
}

HyphaeEngineConfig *
hyphae_engine_config_new (const HyphaeNetmap *nm,
                          const HyphaeIpnPrefs *prefs,
                          const guint8 self_node_pub[KEY_LEN])
{
  HyphaeEngineConfig *cfg = g_new0 (HyphaeEngineConfig, 1);
  const char *exit_id = prefs->exit_node_id != NULL ? prefs->exit_node_id : "";
  GArray *routes = g_array_new (FALSE, TRUE, sizeof (struct ip_prefix));
  GArray *addrs = g_array_new (FALSE, TRUE, sizeof (struct ip_prefix));
  g_autoptr(GPtrArray) rejected = g_ptr_array_new_with_free_func (g_free);
  const HyphaeNode *self = hyphae_netmap_get_self (nm);
  guint n = hyphae_netmap_get_n_peers (nm);

  cfg->peers = g_ptr_array_new_with_free_func (engine_peer_free);
  cfg->by_key = g_hash_table_new (public_key_hash, public_key_equal);
  cfg->exit_node_selected = exit_id[0] != '\0';
  cfg->exit_node_kill_switch = prefs->exit_node_kill_switch;
  cfg->exit_node_allow_lan_access = prefs->exit_node_allow_lan_access;
  if (cfg->exit_node_selected)
    cfg->exit_node_name = g_strdup (exit_id);

  add_self_addresses (self, addrs, rejected);
  add_prefix_value (routes, &ip_tailnet_v4);
  add_prefix_value (routes, &ip_tailnet_v6);

  for (guint i = 0; i < n; i++)
    {
      const HyphaeNode *node = hyphae_netmap_get_peer (nm, i);
      gboolean is_exit = cfg->exit_node_selected && g_strcmp0 (node->stable_id, exit_id) == 0;
      g_autoptr(GPtrArray) allowed = g_ptr_array_new_with_free_func (g_free);
      HyphaeEnginePeer *peer;

      /* No WireGuard peer for an expired node (nor for our own key). */
      if (node->expired || memcmp (node->key, self_node_pub, KEY_LEN) == 0)
        continue;

      add_peer_addresses (node, allowed, rejected);
      for (char **a = node->allowed_ips; a != NULL && *a != NULL; a++)
        {
          struct ip_prefix p;

          if (!parse_prefix_text (*a, &p))
            continue;
          if (ip_prefix_is_default (&p))
            {
              if (is_exit)
                add_prefix (allowed, &p);
            }
          else if (prefs->route_all)
            {
              add_prefix (allowed, &p);
              if (!ip_prefix_is_tailnet (&p))
                add_prefix_value (routes, &p);
            }
        }
      if (is_exit && node->exit_node_option && !cfg->exit_node_found)
        {
          cfg->exit_node_found = TRUE;
          cfg->exit_node_offline = node->online_known && !node->online;
          if (node->name != NULL && node->name[0] != '\0')
            {
              g_free (cfg->exit_node_name);
              cfg->exit_node_name = g_strndup (node->name, strlen (node->name) -
                                                             g_str_has_suffix (node->name, "."));
            }
        }

      peer = g_new0 (HyphaeEnginePeer, 1);
      memcpy (peer->public_key, node->key, KEY_LEN);
      peer->node_id = node->id;
      peer->stable_id = g_strdup (node->stable_id);
      peer->allowed_ips = strv_from_list (g_steal_pointer (&allowed));
      peer->disco = hyphae_node_has_disco (node);
      peer->endpoint = peer->disco ? NULL : g_strdup (first_endpoint (node));
      peer->is_exit_node = is_exit;
      set_masq (node, &peer->masq); /* serve */
      g_ptr_array_add (cfg->peers, peer);
      /* Two nodes with one key: the first wins, as a linear search found. */
      if (!g_hash_table_contains (cfg->by_key, peer->public_key))
        g_hash_table_insert (cfg->by_key, peer->public_key, peer);
    }

  cfg->exit_node_routed = cfg->exit_node_selected &&
                          ((cfg->exit_node_found && !cfg->exit_node_offline) ||
                           cfg->exit_node_kill_switch);
  if (cfg->exit_node_routed)
    {
      static const struct ip_prefix v4 = { .addr.family = AF_INET };
      static const struct ip_prefix v6 = { .addr.family = AF_INET6 };

      add_prefix_value (routes, &v4);
      add_prefix_value (routes, &v6);
    }
  cfg->addresses = addrs;
  cfg->routes = routes;
  cfg->rejected = strv_from_list (g_steal_pointer (&rejected));
  return cfg;
}

guint
hyphae_engine_config_log_rejected (const HyphaeEngineConfig *cfg,
                                   const HyphaeEngineConfig *prev)
{
  guint n = 0;

  for (char **r = cfg->rejected; r != NULL && *r != NULL; r++)
    {
      if (prev != NULL && prev->rejected != NULL &&
          g_strv_contains ((const char * const *) prev->rejected, *r))
        continue;
      g_warning ("Netmap: %s", *r);
      n++;
    }
  return n;
}

char *
hyphae_engine_config_exit_node_health (const HyphaeEngineConfig *cfg)
{
  const char *why, *what;

  if (!cfg->exit_node_selected || (cfg->exit_node_found && !cfg->exit_node_offline))
    return NULL;
  why = cfg->exit_node_found ? "is offline"
                             : "is not available (not in the network map, expired, or not "
                               "offering to be an exit node)";
  what = cfg->exit_node_routed ? "internet traffic is dropped until it is back (exit node kill switch)"
                               : "internet traffic goes out through the local network until it "
                                 "is back (the exit node kill switch is off)";
  return g_strdup_printf ("Exit node %s %s: %s", cfg->exit_node_name, why, what);
}

void
hyphae_engine_config_free (HyphaeEngineConfig *cfg)
{
  if (cfg == NULL)
    return;
  g_hash_table_unref (cfg->by_key);
  g_ptr_array_unref (cfg->peers);
  g_array_unref (cfg->addresses);
  g_array_unref (cfg->routes);
  g_strfreev (cfg->rejected);
  g_free (cfg->exit_node_name);
  g_free (cfg);
}

const HyphaeEnginePeer *
hyphae_engine_config_lookup_peer (const HyphaeEngineConfig *cfg,
                                  const guint8 key[KEY_LEN])
{
  return g_hash_table_lookup (cfg->by_key, key);
}

struct uapi_set *
hyphae_engine_config_to_uapi (const HyphaeEngineConfig *cfg,
                              const struct uapi_device_state *current)
{
  struct uapi_set *set = calloc (1, sizeof *set);
  size_t n_current = current != NULL ? current->n_peers : 0;

  if (set == NULL)
    return NULL;
  set->replace_peers = current == NULL;
  set->peers = calloc (MAX (cfg->peers->len + n_current, 1), sizeof *set->peers);
  if (set->peers == NULL)
    {
      free (set);
      return NULL;
    }
  for (guint i = 0; i < cfg->peers->len; i++)
    {
      const HyphaeEnginePeer *p = cfg->peers->pdata[i];
      struct uapi_peer_set *ps = &set->peers[set->n_peers++];
      guint n_ips = p->allowed_ips != NULL ? g_strv_length (p->allowed_ips) : 0;
      int family;
      guint8 addr[16];
      guint16 port;

      memcpy (ps->public_key, p->public_key, KEY_LEN);
      ps->has_preshared_key = TRUE; /* zero PSK (wgengine/wgcfg has none) */
      ps->has_keepalive = TRUE;     /* off: Tailscale sets none */
      ps->replace_allowed_ips = TRUE;
      ps->allowed_ips = calloc (MAX (n_ips, 1), sizeof *ps->allowed_ips);
      if (ps->allowed_ips == NULL)
        {
          uapi_set_free (set);
          return NULL;
        }
      for (guint k = 0; k < n_ips; k++)
        {
          struct uapi_allowed_ip *ip = &ps->allowed_ips[ps->n_allowed_ips];
          guint8 len;

          if (!hyphae_parse_prefix (p->allowed_ips[k], &family, ip->addr, &len))
            continue;
          ip->family = (guint8) family;
          ip->cidr = len;
          ps->n_allowed_ips++;
        }
      if (p->endpoint != NULL && hyphae_parse_endpoint (p->endpoint, &family, addr, &port))
        {
          ps->has_endpoint = TRUE;
          if (family == AF_INET)
            {
              ps->endpoint.in4.sin_family = AF_INET;
              ps->endpoint.in4.sin_port = htons (port);
              memcpy (&ps->endpoint.in4.sin_addr, addr, 4);
            }
          else
            {
              ps->endpoint.in6.sin6_family = AF_INET6;
              ps->endpoint.in6.sin6_port = htons (port);
              memcpy (&ps->endpoint.in6.sin6_addr, addr, 16);
            }
        }
    }
  /* Peers that are gone are removed one by one; the others keep their sessions. */
  for (size_t i = 0; i < n_current; i++)
    {
      const guint8 *key = current->peers[i].public_key;

      if (hyphae_engine_config_lookup_peer (cfg, key) == NULL)
        {
          struct uapi_peer_set *ps = &set->peers[set->n_peers++];

          memcpy (ps->public_key, key, KEY_LEN);
          ps->remove = TRUE;
        }
    }
  return set;
}

void
hyphae_ipn_net_info_from_report (const HyphaeNetcheckReport *rep,
                                 HyphaeMapNetInfo *ni)
{
  static const HyphaeOptBool opt[] = {
    [HYPHAE_NETCHECK_UNSET] = HYPHAE_OPT_BOOL_UNSET,
    [HYPHAE_NETCHECK_FALSE] = HYPHAE_OPT_BOOL_FALSE,
    [HYPHAE_NETCHECK_TRUE] = HYPHAE_OPT_BOOL_TRUE,
  };

  memset (ni, 0, sizeof *ni);
  ni->preferred_derp = rep->preferred_derp;
  ni->working_udp = rep->working_udp ? HYPHAE_OPT_BOOL_TRUE : HYPHAE_OPT_BOOL_FALSE;
  ni->working_ipv6 = rep->working_ipv6 ? HYPHAE_OPT_BOOL_TRUE : HYPHAE_OPT_BOOL_FALSE;
  ni->mapping_varies_by_dest_ip = opt[rep->mapping_varies_by_dest_ip];
  for (guint i = 0; i < rep->n_latency; i++)
    {
      const HyphaeNetcheckLatency *l = &rep->latency[i];

      if (l->v4_seconds > 0 && ni->n_derp_latency < HYPHAE_NET_INFO_MAX_LATENCY)
        ni->derp_latency[ni->n_derp_latency++] = (HyphaeDerpLatency) { l->region_id, FALSE, l->v4_seconds };
      if (l->v6_seconds > 0 && ni->n_derp_latency < HYPHAE_NET_INFO_MAX_LATENCY)
        ni->derp_latency[ni->n_derp_latency++] = (HyphaeDerpLatency) { l->region_id, TRUE, l->v6_seconds };
    }
}
