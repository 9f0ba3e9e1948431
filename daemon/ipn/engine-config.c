/* SPDX-License-Identifier: MIT */
#include "engine-config.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "uapi/uapi.h"

/* Tailscale's ranges (net/tsaddr): routed into the TUN as two coarse routes. */
#define CGNAT_RANGE "100.64.0.0/10"
#define ULA_RANGE   "fd7a:115c:a1e0::/48"

gboolean
hyphae_parse_prefix (const char *text,
                     int        *family,
                     guint8      addr[16],
                     guint8     *len)
{
  const char *slash;
  char ip[INET6_ADDRSTRLEN];
  guint64 bits;
  char *end;
  int max;

  if (text == NULL || (slash = strchr (text, '/')) == NULL)
    return FALSE;
  if ((gsize) (slash - text) >= sizeof ip || slash[1] == '\0')
    return FALSE;
  memcpy (ip, text, slash - text);
  ip[slash - text] = '\0';
  memset (addr, 0, 16);
  if (inet_pton (AF_INET, ip, addr) == 1)
    {
      *family = AF_INET;
      max = 32;
    }
  else if (inet_pton (AF_INET6, ip, addr) == 1)
    {
      *family = AF_INET6;
      max = 128;
    }
  else
    return FALSE;
  if (!g_ascii_isdigit (slash[1]))
    return FALSE;
  bits = g_ascii_strtoull (slash + 1, &end, 10);
  if (*end != '\0' || bits > (guint64) max)
    return FALSE;
  *len = (guint8) bits;
  return TRUE;
}

gboolean
hyphae_parse_endpoint (const char *text,
                       int        *family,
                       guint8      addr[16],
                       guint16    *port)
{
  char ip[INET6_ADDRSTRLEN];
  const char *colon, *host = text;
  gsize host_len;
  guint64 p;
  char *end;

  if (text == NULL)
    return FALSE;
  if (text[0] == '[')
    {
      const char *close = strchr (text, ']');

      if (close == NULL || close[1] != ':')
        return FALSE;
      host = text + 1;
      host_len = close - host;
      colon = close + 1;
    }
  else
    {
      colon = strrchr (text, ':');
      if (colon == NULL || memchr (text, ':', colon - text) != NULL)
        return FALSE;   /* a bare IPv6 address needs brackets */
      host_len = colon - text;
    }
  if (host_len == 0 || host_len >= sizeof ip || !g_ascii_isdigit (colon[1]))
    return FALSE;
  memcpy (ip, host, host_len);
  ip[host_len] = '\0';
  p = g_ascii_strtoull (colon + 1, &end, 10);
  if (*end != '\0' || p == 0 || p > 65535)
    return FALSE;
  memset (addr, 0, 16);
  if (text[0] != '[' && inet_pton (AF_INET, ip, addr) == 1)
    *family = AF_INET;
  else if (text[0] == '[' && inet_pton (AF_INET6, ip, addr) == 1)
    *family = AF_INET6;
  else
    return FALSE;
  *port = (guint16) p;
  return TRUE;
}

static gboolean
is_exit_route (const char *prefix)
{
  return g_strcmp0 (prefix, "0.0.0.0/0") == 0 || g_strcmp0 (prefix, "::/0") == 0;
}

/* Is the prefix inside 100.64.0.0/10 or fd7a:115c:a1e0::/48? */
static gboolean
in_tailnet_ranges (int family, const guint8 addr[16], guint8 len)
{
  static const guint8 ula[6] = { 0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0 };

  if (family == AF_INET)
    return len >= 10 && addr[0] == 100 && (addr[1] & 0xc0) == 64;
  return len >= 48 && memcmp (addr, ula, sizeof ula) == 0;
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
      int family;
      guint8 addr[16];
      guint16 port;

      if (hyphae_parse_endpoint (*e, &family, addr, &port))
        return *e;
    }
  return NULL;
}

HyphaeEngineConfig *
hyphae_engine_config_new (const HyphaeNetmap   *nm,
                          const HyphaeIpnPrefs *prefs,
                          const guint8          self_node_pub[32])
{
  HyphaeEngineConfig *cfg = g_new0 (HyphaeEngineConfig, 1);
  const char *exit_id = prefs->exit_node_id != NULL ? prefs->exit_node_id : "";
  g_autoptr(GPtrArray) routes = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) addrs = g_ptr_array_new_with_free_func (g_free);
  const HyphaeNode *self = hyphae_netmap_get_self (nm);
  guint n = hyphae_netmap_get_n_peers (nm);

  cfg->peers = g_ptr_array_new_with_free_func (engine_peer_free);
  cfg->exit_node_selected = exit_id[0] != '\0';
  cfg->exit_node_allow_lan_access = prefs->exit_node_allow_lan_access;

  for (char **a = self != NULL ? self->addresses : NULL; a != NULL && *a != NULL; a++)
    add_unique (addrs, *a);
  add_unique (routes, CGNAT_RANGE);
  add_unique (routes, ULA_RANGE);

  for (guint i = 0; i < n; i++)
    {
      const HyphaeNode *node = hyphae_netmap_get_peer (nm, i);
      gboolean is_exit = cfg->exit_node_selected && g_strcmp0 (node->stable_id, exit_id) == 0;
      g_autoptr(GPtrArray) allowed = g_ptr_array_new_with_free_func (g_free);
      HyphaeEnginePeer *peer;

      /* No WireGuard peer for an expired node (nor for our own key). */
      if (node->expired || memcmp (node->key, self_node_pub, 32) == 0)
        continue;

      for (char **a = node->addresses; a != NULL && *a != NULL; a++)
        add_unique (allowed, *a);
      for (char **a = node->allowed_ips; a != NULL && *a != NULL; a++)
        {
          int family;
          guint8 addr[16], len;

          if (!hyphae_parse_prefix (*a, &family, addr, &len))
            continue;
          if (is_exit_route (*a))
            {
              if (is_exit)
                add_unique (allowed, *a);
            }
          else if (prefs->route_all)
            {
              add_unique (allowed, *a);
              if (!in_tailnet_ranges (family, addr, len))
                add_unique (routes, *a);
            }
        }
      if (is_exit && node->exit_node_option)
        cfg->exit_node_found = TRUE;

      peer = g_new0 (HyphaeEnginePeer, 1);
      memcpy (peer->public_key, node->key, 32);
      peer->node_id = node->id;
      peer->stable_id = g_strdup (node->stable_id);
      peer->allowed_ips = strv_from_list (g_steal_pointer (&allowed));
      peer->endpoint = g_strdup (first_endpoint (node));
      peer->is_exit_node = is_exit;
      g_ptr_array_add (cfg->peers, peer);
    }

  if (cfg->exit_node_selected)
    {
      add_unique (routes, "0.0.0.0/0");
      add_unique (routes, "::/0");
    }
  cfg->addresses = strv_from_list (g_steal_pointer (&addrs));
  cfg->routes = strv_from_list (g_steal_pointer (&routes));
  return cfg;
}

void
hyphae_engine_config_free (HyphaeEngineConfig *cfg)
{
  if (cfg == NULL)
    return;
  g_ptr_array_unref (cfg->peers);
  g_strfreev (cfg->addresses);
  g_strfreev (cfg->routes);
  g_free (cfg);
}

const HyphaeEnginePeer *
hyphae_engine_config_lookup_peer (const HyphaeEngineConfig *cfg,
                                  const guint8              key[32])
{
  for (guint i = 0; i < cfg->peers->len; i++)
    {
      const HyphaeEnginePeer *p = cfg->peers->pdata[i];

      if (memcmp (p->public_key, key, 32) == 0)
        return p;
    }
  return NULL;
}

struct uapi_set *
hyphae_engine_config_to_uapi (const HyphaeEngineConfig       *cfg,
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

      memcpy (ps->public_key, p->public_key, 32);
      ps->has_preshared_key = TRUE;     /* zero PSK (PROTOCOL.md §5) */
      ps->has_keepalive = TRUE;         /* off: Tailscale sets none */
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

          memcpy (ps->public_key, key, 32);
          ps->remove = TRUE;
        }
    }
  return set;
}
