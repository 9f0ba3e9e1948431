/* SPDX-License-Identifier: MIT */
/*
 * netmap + prefs → engine config (daemon/ipn/engine-config.c), on a real
 * tailscale.com MapResponse (tests/data, see NOTICE.md there) and on small
 * netmaps built by feeding JSON through the real netmap parser: exit node
 * selection, an unknown, expired or offline exit node (the kill switch), RouteAll, expired
 * peers, IPv6 endpoints, and the UAPI set handed to the WireGuard runner.
 * Also the other two pure-ish pieces of ipn: prefs.json and the profile's
 * key file (in a temporary directory).
 */
#include <arpa/inet.h>
#include <glib.h>
#include <string.h>
#include <sys/socket.h>

#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine-config.h"
#include "fixture-files.h"
#include "prefs.h"
#include "profile-keys.h"
#include "uapi/uapi.h"

/* 2026-01-01T00:00:00Z: before every KeyExpiry in the SaaS fixture. */
#define NOW_2026_01_01 1767225600
#define NOW_2026_02_01 1769904000

static HyphaeNetmap *
netmap_from_json (const char *json, gint64 now)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeMapUpdate) up = hyphae_map_update_parse (json, strlen (json), &error);
  HyphaeNetmap *nm;

  g_assert_no_error (error);
  nm = hyphae_netmap_apply (NULL, up, now, &error);
  g_assert_no_error (error);
  return nm;
}

static void
key_of (guint8 k[32], int n)
{
  memset (k, 0, 32);
  k[0] = (guint8) n;
  k[31] = 0x40;
}

static char *
key_text (int n)
{
  guint8 k[32];
  GString *s = g_string_new ("nodekey:");

  key_of (k, n);
  for (int i = 0; i < 32; i++)
    g_string_append_printf (s, "%02x", k[i]);
  return g_string_free (s, FALSE);
}

/* One peer; extra is spliced into the object (",\"Expired\":true" …). */
static char *
peer_json (int n, const char *allowed_extra, const char *endpoints, const char *extra)
{
  g_autofree char *key = key_text (n);
  g_autofree char *allowed = NULL;

  if (allowed_extra != NULL)
    allowed = g_strdup_printf (",\"AllowedIPs\":[\"100.64.0.%d/32\",\"fd7a:115c:a1e0::%d/128\"%s]",
                               n, n, allowed_extra);
  return g_strdup_printf ("{\"ID\":%d,\"StableID\":\"stable-%d\",\"Name\":\"p%d.example.ts.net.\","
                          "\"Key\":\"%s\",\"Addresses\":[\"100.64.0.%d/32\",\"fd7a:115c:a1e0::%d/128\"]"
                          "%s,\"Endpoints\":%s,\"MachineAuthorized\":true%s}",
                          n, n, n, key, n, n, allowed ? allowed : "",
                          endpoints ? endpoints : "null", extra ? extra : "");
}

/*
 * Self = node 1. Peers:
 *  2: plain, IPv4 endpoint
 *  3: exit node option with a subnet route, endpoints v6 first
 *  4: Expired (by control)
 *  5: subnet router 192.168.50.0/24 and a route inside CGNAT, no endpoints
 *  6: KeyExpiry in the past
 *  7: another exit node option
 */
static HyphaeNetmap *
test_netmap (void)
{
  g_autofree char *self = key_text (1);
  g_autofree char *p2 = peer_json (2, NULL, "[\"192.0.2.2:41641\",\"192.0.2.22:1\"]", NULL);
  g_autofree char *p3 = peer_json (3, ",\"0.0.0.0/0\",\"::/0\",\"10.3.0.0/16\"",
                                   "[\"[2001:db8::3]:41641\",\"192.0.2.3:41641\"]", NULL);
  g_autofree char *p4 = peer_json (4, NULL, "[\"192.0.2.4:41641\"]", ",\"Expired\":true");
  g_autofree char *p5 = peer_json (5, ",\"192.168.50.0/24\",\"100.100.0.0/16\",\"fd00:5::/64\"",
                                   NULL, NULL);
  g_autofree char *p6 = peer_json (6, ",\"0.0.0.0/0\",\"::/0\"", "[\"192.0.2.6:41641\"]",
                                   ",\"KeyExpiry\":\"2025-01-01T00:00:00Z\"");
  g_autofree char *p7 = peer_json (7, ",\"0.0.0.0/0\",\"::/0\"", "[\"192.0.2.7:41641\"]",
                                   ",\"KeyExpiry\":\"2030-01-01T00:00:00Z\"");
  g_autofree char *json = g_strdup_printf (
    "{\"Node\":{\"ID\":1,\"StableID\":\"stable-1\",\"Name\":\"self.example.ts.net.\","
    "\"Key\":\"%s\",\"Addresses\":[\"100.64.0.1/32\",\"fd7a:115c:a1e0::1/128\"],"
    "\"MachineAuthorized\":true},"
    "\"Peers\":[%s,%s,%s,%s,%s,%s]}",
    self, p2, p3, p4, p5, p6, p7);

  return netmap_from_json (json, NOW_2026_01_01);
}

static HyphaeIpnPrefs
default_prefs (void)
{
  HyphaeIpnPrefs p = {
    .control_url = (char *) "https://controlplane.tailscale.com",
    .hostname = (char *) "",
    .exit_node_id = (char *) "",
    .corp_dns = TRUE,
  };
  return p;
}

static const HyphaeEnginePeer *
peer_n (const HyphaeEngineConfig *cfg, int n)
{
  guint8 k[32];

  key_of (k, n);
  return hyphae_engine_config_lookup_peer (cfg, k);
}

static gboolean
strv_has (char **v, const char *s)
{
  return v != NULL && g_strv_contains ((const char * const *) v, s);
}

static char *
join (char **v)
{
  return g_strjoinv (" ", v);
}

/* Canonical texts of a struct ip_prefix array, joined by " ". */
static char *
join_prefixes (GArray *v)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < v->len; i++)
    {
      char buf[IP_PREFIX_STRLEN];

      ip_prefix_format (&g_array_index (v, struct ip_prefix, i), buf);
      g_string_append_printf (s, "%s%s", i ? " " : "", buf);
    }
  return g_string_free (s, FALSE);
}

static gboolean
prefixes_has (GArray *v, const char *text)
{
  struct ip_prefix p;

  g_assert_true (ip_prefix_parse (&p, text, strlen (text)));
  for (guint i = 0; i < v->len; i++)
    if (ip_prefix_equal (&g_array_index (v, struct ip_prefix, i), &p))
      return TRUE;
  return FALSE;
}

static void
test_default_prefs (void)
{
  g_autoptr(HyphaeNetmap) nm = test_netmap ();
  HyphaeIpnPrefs prefs = default_prefs ();
  guint8 self[32];
  g_autoptr(HyphaeEngineConfig) cfg = NULL;
  g_autofree char *routes = NULL, *addrs = NULL, *a3 = NULL, *a5 = NULL;

  key_of (self, 1);
  cfg = hyphae_engine_config_new (nm, &prefs, self);

  addrs = join_prefixes (cfg->addresses);
  g_assert_cmpstr (addrs, ==, "100.64.0.1/32 fd7a:115c:a1e0::1/128");
  routes = join_prefixes (cfg->routes);
  g_assert_cmpstr (routes, ==, "100.64.0.0/10 fd7a:115c:a1e0::/48");
  g_assert_false (cfg->exit_node_selected);
  g_assert_false (cfg->exit_node_found);

  /* Expired peers (4 by control, 6 by KeyExpiry) get no WireGuard peer. */
  g_assert_cmpuint (cfg->peers->len, ==, 4);
  g_assert_nonnull (peer_n (cfg, 2));
  g_assert_nonnull (peer_n (cfg, 3));
  g_assert_null (peer_n (cfg, 4));
  g_assert_nonnull (peer_n (cfg, 5));
  g_assert_null (peer_n (cfg, 6));
  g_assert_nonnull (peer_n (cfg, 7));

  /* Without RouteAll or an exit node: addresses only. */
  a3 = join (peer_n (cfg, 3)->allowed_ips);
  g_assert_cmpstr (a3, ==, "100.64.0.3/32 fd7a:115c:a1e0::3/128");
  a5 = join (peer_n (cfg, 5)->allowed_ips);
  g_assert_cmpstr (a5, ==, "100.64.0.5/32 fd7a:115c:a1e0::5/128");

  /* First parseable endpoint, IPv6 included; none → NULL. */
  g_assert_cmpstr (peer_n (cfg, 2)->endpoint, ==, "192.0.2.2:41641");
  g_assert_cmpstr (peer_n (cfg, 3)->endpoint, ==, "[2001:db8::3]:41641");
  g_assert_null (peer_n (cfg, 5)->endpoint);
  g_assert_cmpstr (peer_n (cfg, 2)->stable_id, ==, "stable-2");
  g_assert_false (peer_n (cfg, 3)->is_exit_node);
}

static void
test_route_all (void)
{
  g_autoptr(HyphaeNetmap) nm = test_netmap ();
  HyphaeIpnPrefs prefs = default_prefs ();
  guint8 self[32];
  g_autoptr(HyphaeEngineConfig) cfg = NULL;
  g_autofree char *routes = NULL, *a3 = NULL, *a5 = NULL;

  key_of (self, 1);
  prefs.route_all = TRUE;
  cfg = hyphae_engine_config_new (nm, &prefs, self);

  a3 = join (peer_n (cfg, 3)->allowed_ips);
  g_assert_cmpstr (a3, ==, "100.64.0.3/32 fd7a:115c:a1e0::3/128 10.3.0.0/16");
  a5 = join (peer_n (cfg, 5)->allowed_ips);
  g_assert_cmpstr (a5, ==, "100.64.0.5/32 fd7a:115c:a1e0::5/128 192.168.50.0/24 100.100.0.0/16 fd00:5::/64");
  /* Subnet routes outside the tailnet ranges become OS routes; never /0. */
  routes = join_prefixes (cfg->routes);
  g_assert_cmpstr (routes, ==, "100.64.0.0/10 fd7a:115c:a1e0::/48 10.3.0.0/16 192.168.50.0/24 fd00:5::/64");
  for (guint i = 0; i < cfg->peers->len; i++)
    {
      const HyphaeEnginePeer *p = cfg->peers->pdata[i];

      g_assert_false (strv_has (p->allowed_ips, "0.0.0.0/0"));
      g_assert_false (strv_has (p->allowed_ips, "::/0"));
    }
}

static void
test_exit_node (void)
{
  g_autoptr(HyphaeNetmap) nm = test_netmap ();
  HyphaeIpnPrefs prefs = default_prefs ();
  guint8 self[32];
  g_autoptr(HyphaeEngineConfig) cfg = NULL;
  g_autofree char *routes = NULL, *a3 = NULL;

  key_of (self, 1);
  prefs.exit_node_id = (char *) "stable-3";
  prefs.exit_node_allow_lan_access = TRUE;
  cfg = hyphae_engine_config_new (nm, &prefs, self);

  g_assert_true (cfg->exit_node_selected);
  g_assert_true (cfg->exit_node_found);
  g_assert_true (cfg->exit_node_allow_lan_access);
  g_assert_true (peer_n (cfg, 3)->is_exit_node);
  /* Only the selected node carries /0; its subnet route still needs RouteAll. */
  a3 = join (peer_n (cfg, 3)->allowed_ips);
  g_assert_cmpstr (a3, ==, "100.64.0.3/32 fd7a:115c:a1e0::3/128 0.0.0.0/0 ::/0");
  g_assert_false (strv_has (peer_n (cfg, 7)->allowed_ips, "0.0.0.0/0"));
  g_assert_false (peer_n (cfg, 7)->is_exit_node);
  routes = join_prefixes (cfg->routes);
  g_assert_cmpstr (routes, ==, "100.64.0.0/10 fd7a:115c:a1e0::/48 0.0.0.0/0 ::/0");
}

/* Unknown, expired and not-an-exit-node choices. Kill switch on: /0 still
 * routed into the TUN and no peer takes it (dropped); off (the default): no
 * /0 route, the LAN takes that traffic. Health says which either way. */
static void
test_exit_node_missing (void)
{
  const char *ids[] = { "no-such-node", "stable-6", "stable-4", "stable-2" };
  g_autoptr(HyphaeNetmap) nm = test_netmap ();
  guint8 self[32];

  key_of (self, 1);
  for (guint k = 0; k < G_N_ELEMENTS (ids); k++)
    for (int kill_switch = 0; kill_switch <= 1; kill_switch++)
      {
        HyphaeIpnPrefs prefs = default_prefs ();
        g_autoptr(HyphaeEngineConfig) cfg = NULL;
        g_autofree char *health = NULL, *routes = NULL;
        g_autofree char *name = g_strdup_printf ("Exit node %s is not available", ids[k]);

        prefs.exit_node_id = (char *) ids[k];
        prefs.exit_node_kill_switch = kill_switch;
        cfg = hyphae_engine_config_new (nm, &prefs, self);
        g_assert_true (cfg->exit_node_selected);
        /* stable-2 exists but offers no exit: not "found" either. */
        g_assert_false (cfg->exit_node_found);
        g_assert_cmpint (cfg->exit_node_routed, ==, kill_switch);
        routes = join_prefixes (cfg->routes);
        g_assert_cmpstr (routes, ==, kill_switch ? "100.64.0.0/10 fd7a:115c:a1e0::/48 0.0.0.0/0 ::/0" : "100.64.0.0/10 fd7a:115c:a1e0::/48");
        for (guint i = 0; i < cfg->peers->len; i++)
          {
            const HyphaeEnginePeer *p = cfg->peers->pdata[i];

            g_assert_false (strv_has (p->allowed_ips, "0.0.0.0/0"));
            g_assert_false (strv_has (p->allowed_ips, "::/0"));
          }
        health = hyphae_engine_config_exit_node_health (cfg);
        g_assert_nonnull (health);
        g_assert_true (g_str_has_prefix (health, name));
        g_assert_nonnull (strstr (health, kill_switch ? "is dropped" : "goes out through the local network"));
      }
}

/* Control says the exit node is offline (Node.Online false, in a full
 * netmap or as an OnlineChange): the kill switch decides; an Online that is
 * not given counts as online, and the node coming back brings /0 back. */
static void
test_exit_node_offline (void)
{
  g_autofree char *self_key = key_text (1);
  g_autofree char *p3 = peer_json (3, ",\"0.0.0.0/0\",\"::/0\"", "[\"192.0.2.3:41641\"]", ",\"Online\":false");
  g_autofree char *p7 = peer_json (7, ",\"0.0.0.0/0\",\"::/0\"", "[\"192.0.2.7:41641\"]", NULL);
  g_autofree char *json = g_strdup_printf (
    "{\"Node\":{\"ID\":1,\"StableID\":\"stable-1\",\"Name\":\"self.example.ts.net.\","
    "\"Key\":\"%s\",\"Addresses\":[\"100.64.0.1/32\",\"fd7a:115c:a1e0::1/128\"],"
    "\"MachineAuthorized\":true},\"Peers\":[%s,%s]}",
    self_key, p3, p7);
  const char *back = "{\"OnlineChange\":{\"3\":true,\"7\":false}}";
  g_autoptr(HyphaeNetmap) nm = netmap_from_json (json, NOW_2026_01_01);
  g_autoptr(HyphaeNetmap) nm2 = NULL;
  g_autoptr(HyphaeMapUpdate) up = NULL;
  g_autoptr(GError) error = NULL;
  guint8 self[32];

  key_of (self, 1);
  for (int kill_switch = 0; kill_switch <= 1; kill_switch++)
    {
      HyphaeIpnPrefs prefs = default_prefs ();
      g_autoptr(HyphaeEngineConfig) off = NULL, unknown = NULL;
      g_autofree char *health = NULL, *a3 = NULL;

      prefs.exit_node_id = (char *) "stable-3";
      prefs.exit_node_kill_switch = kill_switch;
      off = hyphae_engine_config_new (nm, &prefs, self);
      g_assert_true (off->exit_node_found);
      g_assert_true (off->exit_node_offline);
      g_assert_cmpint (off->exit_node_routed, ==, kill_switch);
      g_assert_cmpint (prefixes_has (off->routes, "0.0.0.0/0"), ==, kill_switch);
      g_assert_cmpint (prefixes_has (off->routes, "::/0"), ==, kill_switch);
      /* The peer keeps /0: nothing to redo when it comes back. */
      a3 = join (peer_n (off, 3)->allowed_ips);
      g_assert_cmpstr (a3, ==, "100.64.0.3/32 fd7a:115c:a1e0::3/128 0.0.0.0/0 ::/0");
      health = hyphae_engine_config_exit_node_health (off);
      g_assert_cmpstr (health, ==, kill_switch ? "Exit node p3.example.ts.net is offline: internet traffic is "
                                                 "dropped until it is back (exit node kill switch)"
                                               : "Exit node p3.example.ts.net is offline: internet traffic goes "
                                                 "out through the local network until it is back (the exit "
                                                 "node kill switch is off)");

      /* Peer 7 says nothing about Online: usable. */
      prefs.exit_node_id = (char *) "stable-7";
      unknown = hyphae_engine_config_new (nm, &prefs, self);
      g_assert_true (unknown->exit_node_found);
      g_assert_false (unknown->exit_node_offline);
      g_assert_true (unknown->exit_node_routed);
      g_assert_true (prefixes_has (unknown->routes, "0.0.0.0/0"));
      g_assert_null (hyphae_engine_config_exit_node_health (unknown));
    }

  /* An OnlineChange: 3 back, 7 gone offline. */
  up = hyphae_map_update_parse (back, strlen (back), &error);
  g_assert_no_error (error);
  nm2 = hyphae_netmap_apply (nm, up, NOW_2026_01_01, &error);
  g_assert_no_error (error);
  {
    HyphaeIpnPrefs prefs = default_prefs ();
    g_autoptr(HyphaeEngineConfig) c3 = NULL, c7 = NULL;

    prefs.exit_node_id = (char *) "stable-3";
    c3 = hyphae_engine_config_new (nm2, &prefs, self);
    g_assert_false (c3->exit_node_offline);
    g_assert_true (c3->exit_node_routed);
    g_assert_true (prefixes_has (c3->routes, "::/0"));
    g_assert_null (hyphae_engine_config_exit_node_health (c3));
    prefs.exit_node_id = (char *) "stable-7";
    c7 = hyphae_engine_config_new (nm2, &prefs, self);
    g_assert_true (c7->exit_node_offline);
    g_assert_false (c7->exit_node_routed);
    g_assert_false (prefixes_has (c7->routes, "0.0.0.0/0"));
  }
}

static void
test_uapi (void)
{
  g_autoptr(HyphaeNetmap) nm = test_netmap ();
  HyphaeIpnPrefs prefs = default_prefs ();
  guint8 self[32], k2[32], k9[32];
  g_autoptr(HyphaeEngineConfig) cfg = NULL;
  struct uapi_set *set;
  struct uapi_peer_state cur_peers[2] = { 0 };
  struct uapi_device_state cur = { .n_peers = 2, .peers = cur_peers };
  const struct uapi_peer_set *p3 = NULL;

  key_of (self, 1);
  key_of (k2, 2);
  key_of (k9, 9);
  prefs.exit_node_id = (char *) "stable-3";
  cfg = hyphae_engine_config_new (nm, &prefs, self);

  set = hyphae_engine_config_to_uapi (cfg, NULL);
  g_assert_nonnull (set);
  g_assert_true (set->replace_peers);
  g_assert_false (set->has_private_key);
  g_assert_cmpuint (set->n_peers, ==, 4);
  for (size_t i = 0; i < set->n_peers; i++)
    {
      g_assert_true (set->peers[i].replace_allowed_ips);
      g_assert_false (set->peers[i].remove);
      if (set->peers[i].public_key[0] == 3)
        p3 = &set->peers[i];
    }
  g_assert_nonnull (p3);
  g_assert_true (p3->has_endpoint);
  g_assert_cmpint (p3->endpoint.sa.sa_family, ==, AF_INET6);
  g_assert_cmpuint (ntohs (p3->endpoint.in6.sin6_port), ==, 41641);
  g_assert_cmpuint (p3->n_allowed_ips, ==, 4);
  g_assert_cmpint (p3->allowed_ips[0].family, ==, AF_INET);
  g_assert_cmpuint (p3->allowed_ips[0].cidr, ==, 32);
  g_assert_cmpuint (p3->allowed_ips[0].addr[3], ==, 3);
  g_assert_cmpint (p3->allowed_ips[3].family, ==, AF_INET6);
  g_assert_cmpuint (p3->allowed_ips[3].cidr, ==, 0);
  uapi_set_free (set);

  /* Against a device that has peer 2 (stays) and 9 (gone): 9 is removed alone. */
  memcpy (cur_peers[0].public_key, k2, 32);
  memcpy (cur_peers[1].public_key, k9, 32);
  set = hyphae_engine_config_to_uapi (cfg, &cur);
  g_assert_false (set->replace_peers);
  g_assert_cmpuint (set->n_peers, ==, 5);
  g_assert_true (set->peers[4].remove);
  g_assert_cmpmem (set->peers[4].public_key, 32, k9, 32);
  uapi_set_free (set);
}

static void
test_parsers (void)
{
  const char *bad_prefixes[] = { "", "10.0.0.0", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1",
                                 "::/129", "x/8", "10.0.0.0/8x", "10.0.0.0/ 8", NULL };
  const char *bad_endpoints[] = { "", "1.2.3.4", "1.2.3.4:", "1.2.3.4:0", "1.2.3.4:65536",
                                  "::1:80", "[::1]80", "[1.2.3.4]:80", "[::1]:x", "host:80",
                                  "1.2.3.4:+80", NULL };
  int family;
  guint8 addr[16], len;
  guint16 port;

  g_assert_true (hyphae_parse_prefix ("fd7a:115c:a1e0::/48", &family, addr, &len));
  g_assert_cmpint (family, ==, AF_INET6);
  g_assert_cmpuint (len, ==, 48);
  g_assert_true (hyphae_parse_prefix ("0.0.0.0/0", &family, addr, &len));
  g_assert_cmpuint (len, ==, 0);
  for (guint i = 0; bad_prefixes[i]; i++)
    g_assert_false (hyphae_parse_prefix (bad_prefixes[i], &family, addr, &len));
  g_assert_true (hyphae_parse_endpoint ("[2001:db8::1]:65535", &family, addr, &port));
  g_assert_cmpint (family, ==, AF_INET6);
  g_assert_cmpuint (port, ==, 65535);
  for (guint i = 0; bad_endpoints[i]; i++)
    g_assert_false (hyphae_parse_endpoint (bad_endpoints[i], &family, addr, &port));
}

/*
 * A hostile netmap (issue 8, row 2): self gets extra Addresses that are not
 * single tailnet IPs; peer 2 has the Address 0.0.0.0/0 and peer 3 ::/0 (null
 * AllowedIPs, so they are AllowedIPs too), peer 3 also a /16 and a /64
 * Address, peer 5 the AllowedIPs 1.2.3.4/0 and 1::/0 (a /0 spelt with host
 * bits). None of them is an exit node anyone chose.
 */
static HyphaeNetmap *
hostile_netmap (void)
{
  g_autofree char *self = key_text (1), *k2 = key_text (2), *k3 = key_text (3), *k5 = key_text (5);
  g_autofree char *json = g_strdup_printf (
    "{\"Node\":{\"ID\":1,\"StableID\":\"stable-1\",\"Name\":\"self.example.ts.net.\","
    "\"Key\":\"%s\",\"Addresses\":[\"100.64.0.1/32\",\"10.200.0.1/16\",\"fd7a:115c:a1e0::1/128\","
    "\"fd00:200::1/64\",\"10.9.9.9/32\",\"fd00::9/128\",\"100.64.0.0/10\",\"fd7a:115c:a1e0::/48\","
    "\"::ffff:100.64.0.1/128\"],\"MachineAuthorized\":true},"
    "\"Peers\":["
    "{\"ID\":2,\"StableID\":\"stable-2\",\"Key\":\"%s\",\"MachineAuthorized\":true,"
    "\"Addresses\":[\"100.64.0.2/32\",\"0.0.0.0/0\",\"fd7a:115c:a1e0::2/128\"]},"
    "{\"ID\":3,\"StableID\":\"stable-3\",\"Key\":\"%s\",\"MachineAuthorized\":true,"
    "\"Addresses\":[\"100.64.0.3/32\",\"fd7a:115c:a1e0::3/128\",\"::/0\",\"10.200.0.0/16\","
    "\"fd00:200::/64\"]},"
    "{\"ID\":5,\"StableID\":\"stable-5\",\"Key\":\"%s\",\"MachineAuthorized\":true,"
    "\"Addresses\":[\"100.64.0.5/32\",\"fd7a:115c:a1e0::5/128\"],"
    "\"AllowedIPs\":[\"100.64.0.5/32\",\"fd7a:115c:a1e0::5/128\",\"1.2.3.4/0\",\"1::/0\"]}]}",
    self, k2, k3, k5);

  return netmap_from_json (json, NOW_2026_01_01);
}

static void
assert_no_default (const HyphaeEngineConfig *cfg)
{
  for (guint i = 0; i < cfg->peers->len; i++)
    {
      const HyphaeEnginePeer *p = cfg->peers->pdata[i];

      for (char **a = p->allowed_ips; *a != NULL; a++)
        {
          int family;
          guint8 addr[16], len;

          g_assert_true (hyphae_parse_prefix (*a, &family, addr, &len));
          if (len == 0)
            g_error ("peer %" G_GINT64_FORMAT " got AllowedIP %s", p->node_id, *a);
        }
    }
}

/* Only single tailnet IPs of self reach the TUN, whatever the prefs. */
static void
test_hostile_self_addresses (void)
{
  g_autoptr(HyphaeNetmap) nm = hostile_netmap ();
  guint8 self[32];

  key_of (self, 1);
  for (int route_all = 0; route_all <= 1; route_all++)
    {
      HyphaeIpnPrefs prefs = default_prefs ();
      g_autoptr(HyphaeEngineConfig) cfg = NULL;
      g_autofree char *addrs = NULL;

      prefs.route_all = route_all;
      cfg = hyphae_engine_config_new (nm, &prefs, self);
      addrs = join_prefixes (cfg->addresses);
      g_assert_cmpstr (addrs, ==, "100.64.0.1/32 fd7a:115c:a1e0::1/128");
      /* ... and no route for what was refused (with RouteAll, peer 3's
       * 10.200.0.0/16 is a route the user took: see the next test). */
      if (!route_all)
        {
          g_autofree char *routes = join_prefixes (cfg->routes);

          g_assert_cmpstr (routes, ==, "100.64.0.0/10 fd7a:115c:a1e0::/48");
        }
    }
}

/* A peer's wide Addresses: no /0 without an exit node chosen, a /16 only
 * with RouteAll, the peer's host addresses always. */
static void
test_hostile_peer_addresses (void)
{
  g_autoptr(HyphaeNetmap) nm = hostile_netmap ();
  HyphaeIpnPrefs prefs = default_prefs ();
  g_autoptr(HyphaeEngineConfig) cfg = NULL, all = NULL, exit2 = NULL;
  g_autofree char *a2 = NULL, *a3 = NULL, *a5 = NULL, *all3 = NULL, *all5 = NULL, *routes = NULL;
  g_autofree char *exit_a2 = NULL, *exit_a3 = NULL, *exit_a5 = NULL;
  guint8 self[32];

  key_of (self, 1);
  cfg = hyphae_engine_config_new (nm, &prefs, self);
  assert_no_default (cfg);
  a2 = join (peer_n (cfg, 2)->allowed_ips);
  g_assert_cmpstr (a2, ==, "100.64.0.2/32 fd7a:115c:a1e0::2/128");
  a3 = join (peer_n (cfg, 3)->allowed_ips);
  g_assert_cmpstr (a3, ==, "100.64.0.3/32 fd7a:115c:a1e0::3/128");
  a5 = join (peer_n (cfg, 5)->allowed_ips);
  g_assert_cmpstr (a5, ==, "100.64.0.5/32 fd7a:115c:a1e0::5/128");

  /* RouteAll: the /16 and /64 are routes the user accepts; /0 still not. */
  prefs.route_all = TRUE;
  all = hyphae_engine_config_new (nm, &prefs, self);
  assert_no_default (all);
  all3 = join (peer_n (all, 3)->allowed_ips);
  g_assert_cmpstr (all3, ==, "100.64.0.3/32 fd7a:115c:a1e0::3/128 10.200.0.0/16 fd00:200::/64");
  all5 = join (peer_n (all, 5)->allowed_ips);
  g_assert_cmpstr (all5, ==, "100.64.0.5/32 fd7a:115c:a1e0::5/128");
  routes = join_prefixes (all->routes);
  g_assert_cmpstr (routes, ==, "100.64.0.0/10 fd7a:115c:a1e0::/48 10.200.0.0/16 fd00:200::/64");

  /* Choosing peer 5 as exit node gives it the /0s (as networks), nobody else. */
  prefs.route_all = FALSE;
  prefs.exit_node_id = (char *) "stable-5";
  exit2 = hyphae_engine_config_new (nm, &prefs, self);
  exit_a5 = join (peer_n (exit2, 5)->allowed_ips);
  g_assert_cmpstr (exit_a5, ==, "100.64.0.5/32 fd7a:115c:a1e0::5/128 0.0.0.0/0 ::/0");
  exit_a2 = join (peer_n (exit2, 2)->allowed_ips);
  g_assert_cmpstr (exit_a2, ==, "100.64.0.2/32 fd7a:115c:a1e0::2/128");
  exit_a3 = join (peer_n (exit2, 3)->allowed_ips);
  g_assert_cmpstr (exit_a3, ==, "100.64.0.3/32 fd7a:115c:a1e0::3/128");
}

/* Each refused entry is logged once, not again on the next netmap apply;
 * the rest of the netmap is applied (the tests above). */
static void
test_rejected_logged_once (void)
{
  g_autoptr(HyphaeNetmap) nm = hostile_netmap ();
  HyphaeIpnPrefs prefs = default_prefs ();
  g_autoptr(HyphaeEngineConfig) first = NULL, second = NULL;
  guint8 self[32];

  key_of (self, 1);
  first = hyphae_engine_config_new (nm, &prefs, self);
  /* self: 7 refused; peer 2: 1; peer 3: 3. Peer 5's AllowedIPs are routes. */
  g_assert_cmpuint (g_strv_length (first->rejected), ==, 11);
  g_test_expect_message ("hyphae-ipn", G_LOG_LEVEL_WARNING, "*self Address 10.200.0.1/16*");
  g_test_expect_message ("hyphae-ipn", G_LOG_LEVEL_WARNING, "*self Address fd00:200::1/64*");
  g_test_expect_message ("hyphae-ipn", G_LOG_LEVEL_WARNING, "*self Address 10.9.9.9/32*");
  g_test_expect_message ("hyphae-ipn", G_LOG_LEVEL_WARNING, "*self Address fd00::9/128*");
  g_test_expect_message ("hyphae-ipn", G_LOG_LEVEL_WARNING, "*self Address 100.64.0.0/10*");
  g_test_expect_message ("hyphae-ipn", G_LOG_LEVEL_WARNING, "*self Address fd7a:115c:a1e0::/48*");
  g_test_expect_message ("hyphae-ipn", G_LOG_LEVEL_WARNING, "*self Address ::ffff:100.64.0.1/128*");
  g_test_expect_message ("hyphae-ipn", G_LOG_LEVEL_WARNING, "*peer 2 Address 0.0.0.0/0*");
  g_test_expect_message ("hyphae-ipn", G_LOG_LEVEL_WARNING, "*peer 3 Address ::/0*");
  g_test_expect_message ("hyphae-ipn", G_LOG_LEVEL_WARNING, "*peer 3 Address 10.200.0.0/16*");
  g_test_expect_message ("hyphae-ipn", G_LOG_LEVEL_WARNING, "*peer 3 Address fd00:200::/64*");
  g_assert_cmpuint (hyphae_engine_config_log_rejected (first, NULL), ==, 11);
  g_test_assert_expected_messages ();

  /* The next apply of the same netmap: nothing new, nothing logged (an
   * unexpected warning would abort the test). */
  second = hyphae_engine_config_new (nm, &prefs, self);
  g_assert_cmpuint (hyphae_engine_config_log_rejected (second, first), ==, 0);
  g_test_assert_expected_messages ();
}

/* The real tailscale.com MapResponse: every live peer becomes a WireGuard peer. */
static void
test_saas_fixture (void)
{
  const char *dir = g_getenv ("HYPHAE_TEST_DATA");
  g_autofree char *path = NULL, *json = NULL, *routes = NULL;
  g_autoptr(GError) error = NULL;
  HyphaeIpnPrefs prefs = default_prefs ();
  guint8 self[32] = { 0 };

  g_assert_nonnull (dir);
  path = g_build_filename (dir, "tailscale-saas-map_response.json", NULL);
  g_file_get_contents (path, &json, NULL, &error);
  g_assert_no_error (error);

  /* All five peers' keys are valid on 2026-01-01. */
  {
    g_autoptr(HyphaeNetmap) nm = netmap_from_json (json, NOW_2026_01_01);
    g_autoptr(HyphaeEngineConfig) cfg = hyphae_engine_config_new (nm, &prefs, self);
    const HyphaeEnginePeer *p = NULL;

    g_assert_cmpuint (hyphae_netmap_get_n_peers (nm), ==, 5);
    g_assert_cmpuint (cfg->peers->len, ==, 5);
    routes = join_prefixes (cfg->routes);
    g_assert_cmpstr (routes, ==, "100.64.0.0/10 fd7a:115c:a1e0::/48");
    g_assert_true (prefixes_has (cfg->addresses, "100.93.205.110/32"));
    g_assert_true (prefixes_has (cfg->addresses, "fd7a:115c:a1e0::b601:cd6e/128"));
    for (guint i = 0; i < cfg->peers->len; i++)
      {
        p = cfg->peers->pdata[i];
        if (g_strcmp0 (p->stable_id, "nT8AH9jY7E11CNTRL") == 0)
          break;
      }
    g_assert_cmpstr (p->stable_id, ==, "nT8AH9jY7E11CNTRL");
    /* A real SaaS peer has a disco key: its endpoint is the magicsock's. */
    g_assert_true (p->disco);
    g_assert_null (p->endpoint);
    g_assert_cmpuint (g_strv_length (p->allowed_ips), ==, 2);
    g_assert_true (strv_has (p->allowed_ips, "100.96.162.64/32"));
  }
  /* On 2026-02-01 the three keys that expired on 2026-01-25 are out. */
  {
    g_autoptr(HyphaeNetmap) nm = netmap_from_json (json, NOW_2026_02_01);
    g_autoptr(HyphaeEngineConfig) cfg = hyphae_engine_config_new (nm, &prefs, self);

    g_assert_cmpuint (cfg->peers->len, ==, 2);
    for (guint i = 0; i < cfg->peers->len; i++)
      {
        const HyphaeEnginePeer *p = cfg->peers->pdata[i];

        g_assert_true (g_str_equal (p->stable_id, "n8dpQZ3gNh11CNTRL") ||
                       g_str_equal (p->stable_id, "nKSACd4XXq11CNTRL"));
      }
  }
}

static guint
file_mode (const char *path)
{
  struct stat st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_mode & 07777;
}

static void
test_prefs_roundtrip (void)
{
  g_autofree char *dir = g_dir_make_tmp ("ipn-prefs-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "sub", "prefs.json", NULL);
  g_autofree char *sub = g_build_filename (dir, "sub", NULL);
  g_autoptr(GError) error = NULL;
  HyphaeIpnPrefs a = { 0 }, b = { 0 }, c = { 0 };
  char *warning = NULL;

  /* Missing file: the defaults. */
  g_assert_true (hyphae_ipn_prefs_load (sub, &a, &warning, &error));
  g_assert_no_error (error);
  g_assert_null (warning);
  g_assert_false (a.want_running);
  g_assert_cmpstr (a.control_url, ==, "https://controlplane.tailscale.com");
  g_assert_true (a.corp_dns);
  g_assert_false (a.route_all);
  g_assert_cmpstr (a.exit_node_id, ==, "");
  g_assert_false (a.exit_node_kill_switch);

  a.want_running = TRUE;
  g_free (a.control_url);
  a.control_url = g_strdup ("http://127.0.0.1:8080");
  g_free (a.exit_node_id);
  a.exit_node_id = g_strdup ("nT8AH9jY7E11CNTRL");
  a.route_all = TRUE;
  a.corp_dns = FALSE;
  a.exit_node_allow_lan_access = TRUE;
  a.exit_node_kill_switch = TRUE;
  g_assert_true (hyphae_ipn_prefs_save (sub, &a, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (file_mode (path), ==, 0600);
  g_assert_cmpuint (file_mode (sub), ==, 0700);
  g_assert_true (hyphae_ipn_prefs_load (sub, &b, &warning, &error));
  g_assert_null (warning);
  g_assert_true (hyphae_ipn_prefs_equal (&a, &b));
  {
    g_autofree char *text = fixture_file_text (sub, "prefs.json");

    g_assert_nonnull (strstr (text, "\"ExitNodeID\" : \"nT8AH9jY7E11CNTRL\""));
    g_assert_nonnull (strstr (text, "\"WantRunning\" : true"));
    g_assert_nonnull (strstr (text, "\"ExitNodeKillSwitch\" : true"));
  }

  /* Merge by mask: only the named fields change. */
  hyphae_ipn_prefs_init_defaults (&c);
  hyphae_ipn_prefs_merge (&b, &c, HYPHAE_IPN_PREF_EXIT_NODE_ID | HYPHAE_IPN_PREF_CORP_DNS);
  g_assert_cmpstr (b.exit_node_id, ==, "");
  g_assert_true (b.corp_dns);
  g_assert_true (b.route_all);
  g_assert_true (b.exit_node_kill_switch);
  g_assert_cmpstr (b.control_url, ==, "http://127.0.0.1:8080");
  g_assert_false (hyphae_ipn_prefs_equal (&a, &b));
  hyphae_ipn_prefs_copy (&b, &a);
  g_assert_true (hyphae_ipn_prefs_equal (&a, &b));

  hyphae_ipn_prefs_clear (&a);
  hyphae_ipn_prefs_clear (&b);
  hyphae_ipn_prefs_clear (&c);
  g_assert_cmpint (g_remove (path), ==, 0);
  g_assert_cmpint (g_rmdir (sub), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

static void
test_prefs_corrupt (void)
{
  const char *bad[] = {
    "{",
    "[]",
    "{\"WantRunning\": 1}",
    "{\"ControlURL\": false}",
    "\"x\"",
    "",
    "{\"CorpDNS\": null}",
  };
  g_autofree char *dir = g_dir_make_tmp ("ipn-prefs-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "prefs.json", NULL);
  g_autofree char *bad_path = g_build_filename (dir, "prefs.json.bad", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *warning = NULL, *kept = NULL;
      HyphaeIpnPrefs p = { 0 };

      g_assert_true (g_file_set_contents (path, bad[i], -1, NULL));
      g_assert_true (hyphae_ipn_prefs_load (dir, &p, &warning, &error));
      g_assert_no_error (error);
      g_assert_nonnull (warning);
      g_test_message ("%s", warning);
      g_assert_false (p.want_running);
      g_assert_true (p.corp_dns);
      g_assert_cmpstr (p.control_url, ==, HYPHAE_IPN_DEFAULT_CONTROL_URL);
      g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
      kept = fixture_file_text (dir, "prefs.json.bad");
      g_assert_cmpstr (kept, ==, bad[i]);
      hyphae_ipn_prefs_clear (&p);
    }
  /* Unknown fields are fine; absent ones take the default. */
  {
    HyphaeIpnPrefs p = { 0 };
    const char *ok = "{\"RouteAll\": true, \"FutureThing\": [1, {\"a\": 2}]}";

    g_assert_true (hyphae_ipn_prefs_from_json (ok, strlen (ok), &p, NULL));
    g_assert_true (p.route_all);
    g_assert_true (p.corp_dns);
    hyphae_ipn_prefs_clear (&p);
  }
  g_assert_cmpint (g_remove (bad_path), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

static void
test_profile_keys (void)
{
  g_autofree char *dir = g_dir_make_tmp ("ipn-keys-XXXXXX", NULL);
  g_autofree char *path = hyphae_profile_keys_path (dir, "default");
  g_autofree char *pdir = g_path_get_dirname (path);
  g_autoptr(HyphaeProfileKeys) a = hyphae_profile_keys_new ();
  g_autoptr(HyphaeProfileKeys) b = hyphae_profile_keys_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  g_assert_false (hyphae_profile_keys_load (a, dir, "default", &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_clear_error (&error);

  g_assert_true (hyphae_profile_keys_fill (a));
  g_assert_false (hyphae_profile_keys_fill (a));
  g_assert_true (a->has_machine && a->has_node);
  g_assert_cmpmem (a->machine, 32, a->machine, 32);
  g_assert_true (hyphae_profile_keys_save (a, dir, "default", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (file_mode (path), ==, 0600);
  g_assert_cmpuint (file_mode (pdir), ==, 0700);
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_assert_true (g_str_has_prefix (text, "machine=privkey:"));
  g_assert_nonnull (strstr (text, "\nnode=privkey:"));

  g_assert_true (hyphae_profile_keys_load (b, dir, "default", &error));
  g_assert_no_error (error);
  g_assert_true (b->persist);
  g_assert_cmpmem (a->machine, 32, b->machine, 32);
  g_assert_cmpmem (a->node, 32, b->node, 32);

  /* Logout: the node key goes, the machine key stays. */
  b->has_node = FALSE;
  g_assert_true (hyphae_profile_keys_save (b, dir, "default", &error));
  g_assert_true (hyphae_profile_keys_load (b, dir, "default", &error));
  g_assert_true (b->has_machine);
  g_assert_false (b->has_node);
  g_assert_cmpmem (a->machine, 32, b->machine, 32);

  /* Readable by others: refused unread, whatever it holds (issue 8). */
  g_assert_cmpint (chmod (path, 0644), ==, 0);
  g_assert_false (hyphae_profile_keys_load (b, dir, "default", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_nonnull (strstr (error->message, "mode 0644"));
  g_clear_error (&error);
  g_assert_false (b->has_machine);
  g_assert_cmpint (chmod (path, 0600), ==, 0);
  /* A symlink is not followed. */
  {
    g_autofree char *elsewhere = g_build_filename (dir, "elsewhere", NULL);

    g_assert_cmpint (g_rename (path, elsewhere), ==, 0);
    g_assert_cmpint (symlink (elsewhere, path), ==, 0);
    g_assert_false (hyphae_profile_keys_load (b, dir, "default", &error));
    g_assert_nonnull (error);
    g_clear_error (&error);
    g_assert_cmpint (g_remove (path), ==, 0);
    g_assert_cmpint (g_rename (elsewhere, path), ==, 0);
  }

  /* A damaged file is refused, not half-read. */
  g_assert_true (g_file_set_contents_full (path, "machine=privkey:00\n", -1,
                                           G_FILE_SET_CONTENTS_NONE, 0600, NULL));
  g_assert_false (hyphae_profile_keys_load (b, dir, "default", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_false (b->has_machine);

  g_assert_cmpint (g_remove (path), ==, 0);
  g_assert_cmpint (g_rmdir (pdir), ==, 0);
  {
    g_autofree char *profiles = g_path_get_dirname (pdir);

    g_assert_cmpint (g_rmdir (profiles), ==, 0);
  }
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* Peers with a disco key have their endpoint set by the magicsock, not by the
 * UAPI set; a zero DiscoKey or IsWireGuardOnly keeps the first endpoint. */
static void
test_disco_peers (void)
{
  g_autofree char *self = key_text (1);
  g_autofree char *p2 = peer_json (2, NULL, "[\"192.0.2.2:41641\"]",
                                   ",\"DiscoKey\":\"discokey:2222222222222222222222222222222222222222222222222222222222222222\"");
  g_autofree char *p3 = peer_json (3, NULL, "[\"192.0.2.3:41641\"]",
                                   ",\"DiscoKey\":\"discokey:0000000000000000000000000000000000000000000000000000000000000000\"");
  g_autofree char *p4 = peer_json (4, NULL, "[\"192.0.2.4:41641\"]",
                                   ",\"DiscoKey\":\"discokey:4444444444444444444444444444444444444444444444444444444444444444\","
                                   "\"IsWireGuardOnly\":true");
  g_autofree char *json = g_strdup_printf (
    "{\"Node\":{\"ID\":1,\"StableID\":\"stable-1\",\"Name\":\"self.example.ts.net.\","
    "\"Key\":\"%s\",\"Addresses\":[\"100.64.0.1/32\"],\"MachineAuthorized\":true},"
    "\"Peers\":[%s,%s,%s]}",
    self, p2, p3, p4);
  g_autoptr(HyphaeNetmap) nm = netmap_from_json (json, NOW_2026_01_01);
  HyphaeIpnPrefs prefs = default_prefs ();
  g_autoptr(HyphaeEngineConfig) cfg = NULL;
  struct uapi_set *set;
  guint8 key[32];

  key_of (key, 1);
  cfg = hyphae_engine_config_new (nm, &prefs, key);
  g_assert_true (peer_n (cfg, 2)->disco);
  g_assert_null (peer_n (cfg, 2)->endpoint);
  g_assert_false (peer_n (cfg, 3)->disco);
  g_assert_cmpstr (peer_n (cfg, 3)->endpoint, ==, "192.0.2.3:41641");
  g_assert_false (peer_n (cfg, 4)->disco);
  g_assert_cmpstr (peer_n (cfg, 4)->endpoint, ==, "192.0.2.4:41641");
  /* The UAPI set leaves the disco peer's endpoint alone. */
  set = hyphae_engine_config_to_uapi (cfg, NULL);
  key_of (key, 2);
  for (size_t i = 0; i < set->n_peers; i++)
    if (memcmp (set->peers[i].public_key, key, 32) == 0)
      g_assert_false (set->peers[i].has_endpoint);
  uapi_set_free (set);
}

/* A netcheck report as NetInfo: opt.Bools, one DERPLatency per family. */
static void
test_net_info (void)
{
  HyphaeNetcheckLatency lat[] = { { 900, 0.01, 0 }, { 901, 0.02, 0.03 } };
  HyphaeNetcheckReport rep = { .working_udp = TRUE, .preferred_derp = 900, .mapping_varies_by_dest_ip = HYPHAE_NETCHECK_UNSET, .n_latency = 2, .latency = lat };
  HyphaeMapNetInfo ni;

  hyphae_ipn_net_info_from_report (&rep, &ni);
  g_assert_cmpint (ni.preferred_derp, ==, 900);
  g_assert_cmpint (ni.working_udp, ==, HYPHAE_OPT_BOOL_TRUE);
  g_assert_cmpint (ni.working_ipv6, ==, HYPHAE_OPT_BOOL_FALSE);
  g_assert_cmpint (ni.mapping_varies_by_dest_ip, ==, HYPHAE_OPT_BOOL_UNSET);
  g_assert_cmpuint (ni.n_derp_latency, ==, 3);
  g_assert_cmpint (ni.derp_latency[0].region_id, ==, 900);
  g_assert_false (ni.derp_latency[0].ipv6);
  g_assert_cmpint (ni.derp_latency[2].region_id, ==, 901);
  g_assert_true (ni.derp_latency[2].ipv6);
  g_assert_cmpfloat (ni.derp_latency[2].seconds, ==, 0.03);
  rep.mapping_varies_by_dest_ip = HYPHAE_NETCHECK_TRUE;
  hyphae_ipn_net_info_from_report (&rep, &ni);
  g_assert_cmpint (ni.mapping_varies_by_dest_ip, ==, HYPHAE_OPT_BOOL_TRUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ipn-config/default-prefs", test_default_prefs);
  g_test_add_func ("/ipn-config/route-all", test_route_all);
  g_test_add_func ("/ipn-config/exit-node", test_exit_node);
  g_test_add_func ("/ipn-config/exit-node-missing", test_exit_node_missing);
  g_test_add_func ("/ipn-config/exit-node-offline", test_exit_node_offline);
  g_test_add_func ("/ipn-config/uapi", test_uapi);
  g_test_add_func ("/ipn-config/disco-peers", test_disco_peers);
  g_test_add_func ("/ipn-config/net-info", test_net_info);
  g_test_add_func ("/ipn-config/parsers", test_parsers);
  g_test_add_func ("/ipn-config/hostile-self-addresses", test_hostile_self_addresses);
  g_test_add_func ("/ipn-config/hostile-peer-addresses", test_hostile_peer_addresses);
  g_test_add_func ("/ipn-config/rejected-logged-once", test_rejected_logged_once);
  g_test_add_func ("/ipn-config/saas-fixture", test_saas_fixture);
  g_test_add_func ("/ipn-prefs/roundtrip", test_prefs_roundtrip);
  g_test_add_func ("/ipn-prefs/corrupt", test_prefs_corrupt);
  g_test_add_func ("/ipn-keys/profile", test_profile_keys);
  return g_test_run ();
}
