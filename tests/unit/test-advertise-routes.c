/* SPDX-License-Identifier: MIT */
/*
 * The AdvertiseRoutes pref (daemon/ipn/advertise-routes.h): validation as
 * Tailscale's CLI does it (net/netutil/routes.go; its messages), the pref in
 * prefs.json, and the local nets the packet filter gets for it (ipn/ipnlocal
 * local.go shrinkDefaultRoute: a /0 minus the LANs and the private ranges).
 */
#include <string.h>
#include <sys/socket.h>

#include "advertise-routes.h"
#include "prefs.h"

static void
assert_normal (const char * const *in, const char *want)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) out = hyphae_advertise_routes_normalize (in, &error);
  g_autofree char *got = NULL;

  g_assert_no_error (error);
  got = g_strjoinv (",", out);
  g_assert_cmpstr (got, ==, want);
}

static void
assert_refused (const char * const *in, const char *message)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) out = hyphae_advertise_routes_normalize (in, &error);

  g_assert_null (out);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_cmpstr (error->message, ==, message);
}

static void
test_normalize (void)
{
  assert_normal (NULL, "");
  assert_normal ((const char *[]) { NULL }, "");
  /* Sorted by length then address (v4 first), duplicates dropped. */
  assert_normal ((const char *[]) { "10.2.0.0/16", "::/0", "192.168.1.0/24", "0.0.0.0/0",
                                    "10.1.0.0/16", "2001:db8::/32", "10.2.0.0/16", NULL },
                 "0.0.0.0/0,::/0,10.1.0.0/16,10.2.0.0/16,192.168.1.0/24,2001:db8::/32");
  assert_normal ((const char *[]) { "10.0.0.7/32", NULL }, "10.0.0.7/32");
  assert_refused ((const char *[]) { "10.0.0.1/24", NULL },
                  "10.0.0.1/24 has non-address bits set; expected 10.0.0.0/24");
  assert_refused ((const char *[]) { "10.0.0.0/33", NULL },
                  "“10.0.0.0/33” is not a valid IP address or CIDR prefix");
  assert_refused ((const char *[]) { "example.com", NULL },
                  "“example.com” is not a valid IP address or CIDR prefix");
  assert_refused ((const char *[]) { "0.0.0.0/0", NULL },
                  "0.0.0.0/0 advertised without its IPv6 counterpart, please also advertise ::/0");
  assert_refused ((const char *[]) { "::/0", "10.0.0.0/8", NULL },
                  "::/0 advertised without its IPv4 counterpart, please also advertise 0.0.0.0/0");

  g_assert_true (hyphae_advertise_routes_has_exit ((const char *[]) { "0.0.0.0/0", "::/0", NULL }));
  g_assert_false (hyphae_advertise_routes_has_exit ((const char *[]) { "0.0.0.0/0", NULL }));
  g_assert_false (hyphae_advertise_routes_has_exit ((const char *[]) { "10.0.0.0/8", NULL }));
  g_assert_false (hyphae_advertise_routes_has_exit (NULL));
}

static gboolean
from_json (const char *json, HyphaeIpnPrefs *p, GError **error)
{
  return hyphae_ipn_prefs_from_json (json, strlen (json), p, error);
}

/* Written as ipn.Prefs names it, read back; a bad list makes the file corrupt. */
static void
test_prefs_json (void)
{
  g_autoptr(GError) error = NULL;
  HyphaeIpnPrefs p, q, r;
  g_autofree char *json = NULL;

  hyphae_ipn_prefs_init_defaults (&p);
  hyphae_ipn_prefs_init_defaults (&q);
  hyphae_ipn_prefs_init_defaults (&r);
  json = hyphae_ipn_prefs_to_json (&p);
  g_assert_nonnull (strstr (json, "\"AdvertiseRoutes\" : ["));
  g_assert_true (hyphae_ipn_prefs_from_json (json, strlen (json), &q, &error));
  g_assert_null (q.advertise_routes && q.advertise_routes[0] ? q.advertise_routes[0] : NULL);
  p.advertise_routes = g_strdupv ((char *[]) { "0.0.0.0/0", "::/0", "10.1.0.0/24", NULL });
  g_clear_pointer (&json, g_free);
  json = hyphae_ipn_prefs_to_json (&p);
  g_assert_true (hyphae_ipn_prefs_from_json (json, strlen (json), &q, &error));
  g_assert_no_error (error);
  g_assert_true (hyphae_ipn_prefs_equal (&p, &q));
  /* Copies are deep; NULL and [] are the same list. */
  hyphae_ipn_prefs_copy (&r, &q);
  hyphae_ipn_prefs_clear (&q);
  g_assert_true (hyphae_ipn_prefs_equal (&p, &r));
  g_clear_pointer (&p.advertise_routes, g_strfreev);
  p.advertise_routes = g_new0 (char *, 1);
  hyphae_ipn_prefs_merge (&r, &p, HYPHAE_IPN_PREF_ADVERTISE_ROUTES);
  g_assert_true (hyphae_ipn_prefs_equal (&p, &r));
  g_clear_pointer (&p.advertise_routes, g_strfreev);
  g_assert_true (hyphae_ipn_prefs_equal (&p, &r));

  g_assert_false (from_json ("{\"AdvertiseRoutes\": [\"10.0.0.1/8\"]}", &q, &error));
  g_clear_error (&error);
  g_assert_false (from_json ("{\"AdvertiseRoutes\": [1]}", &q, &error));
  g_clear_error (&error);
  g_assert_false (from_json ("{\"AdvertiseRoutes\": \"10.0.0.0/8\"}", &q, &error));
  g_clear_error (&error);
  g_assert_true (from_json ("{\"AdvertiseRoutes\": null}", &q, &error));
  g_assert_null (q.advertise_routes);
  hyphae_ipn_prefs_clear (&p);
  hyphae_ipn_prefs_clear (&q);
  hyphae_ipn_prefs_clear (&r);
}

static struct ip_prefix
prefix (const char *text)
{
  struct ip_prefix p;

  g_assert_true (ip_prefix_parse (&p, text, strlen (text)));
  return p;
}

static gboolean
contains (GArray *nets, const char *addr)
{
  struct ip_addr a;

  g_assert_true (ip_addr_parse (&a, addr, strlen (addr)));
  for (guint i = 0; i < nets->len; i++)
    if (ip_prefix_contains_addr (&g_array_index (nets, struct ip_prefix, i), &a))
      return TRUE;
  return FALSE;
}

static void
test_local_nets (void)
{
  /* This host: a LAN 198.51.100.0/24 (a public range, so that only the
   * interface rule removes it), an uplink 10.1.2.3/16, a tailnet address. */
  struct ip_prefix iface[] = { prefix ("198.51.100.20/24"), prefix ("10.1.2.3/16"),
                               prefix ("100.64.0.1/32"), prefix ("2001:db8:5::20/64") };
  g_autoptr(GArray) subnet = NULL, exit = NULL;

  /* A subnet route: exactly that subnet. */
  subnet = hyphae_advertise_routes_local_nets ((const char *[]) { "10.9.0.0/16", NULL }, iface,
                                               G_N_ELEMENTS (iface));
  g_assert_cmpuint (subnet->len, ==, 1);
  g_assert_true (contains (subnet, "10.9.255.1"));
  g_assert_false (contains (subnet, "8.8.8.8"));

  /* An exit node: the internet, not the LANs, not the private ranges. */
  exit = hyphae_advertise_routes_local_nets ((const char *[]) { "0.0.0.0/0", "::/0", NULL }, iface,
                                             G_N_ELEMENTS (iface));
  g_assert_true (contains (exit, "8.8.8.8"));
  g_assert_true (contains (exit, "203.0.113.9"));
  g_assert_true (contains (exit, "198.51.101.1"));
  g_assert_true (contains (exit, "2606:4700::1111"));
  g_assert_false (contains (exit, "198.51.100.7")); /* our LAN */
  g_assert_true (contains (exit, "198.51.100.20")); /* but our own address on it */
  g_assert_false (contains (exit, "10.1.2.3"));     /* private: never, even ours */
  g_assert_false (contains (exit, "192.168.1.1"));
  g_assert_false (contains (exit, "172.16.0.1"));
  g_assert_false (contains (exit, "169.254.1.1"));
  g_assert_false (contains (exit, "224.0.0.1"));
  g_assert_false (contains (exit, "100.64.0.7"));
  g_assert_false (contains (exit, "2001:db8:5::7"));
  g_assert_true (contains (exit, "2001:db8:5::20"));
  g_assert_false (contains (exit, "fe80::1"));
  g_assert_false (contains (exit, "ff02::1"));
  g_assert_false (contains (exit, "fd7a:115c:a1e0::1"));
  /* Bounded: a few prefixes per removed range and bit, not an explosion. */
  g_assert_cmpuint (exit->len, <, 600);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/advertise-routes/normalize", test_normalize);
  g_test_add_func ("/advertise-routes/prefs-json", test_prefs_json);
  g_test_add_func ("/advertise-routes/local-nets", test_local_nets);
  return g_test_run ();
}
