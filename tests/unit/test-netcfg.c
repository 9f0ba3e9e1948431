/* SPDX-License-Identifier: MIT */
/*
 * daemon/netcfg against the real kernel: a TUN (daemon/engine/tun) and a
 * veth "LAN" link in a fresh network namespace for each test
 * (fixture-netns.h: nothing to clean on the host). Apply, re-apply (idempotent), change
 * (addresses, subnet and exit routes, LAN access), remove; everything is read
 * back with iproute2 (`ip -o`), and the effect is checked with
 * `ip route get` (with and without our bypass mark).
 * Needs root; skipped otherwise, unless $CI is set.
 */
#include <glib.h>
#include <net/if.h>
#include <string.h>

#include "fixture-netns.h"
#include "fixture-spawn.h"
#include "hyphae-netcfg.h"
#include "tun/tun.h"

#define TUN "hyn0"

static int
cmp_lines (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char * const *) a, *(char * const *) b);
}

/* Lines of `cmd`, sorted, whitespace-trimmed, joined by "|". */
static char *
lines (const char *cmd)
{
  g_autofree char *out = fixture_run (cmd);
  g_auto(GStrv) v = g_strsplit (out, "\n", -1);
  g_autoptr(GPtrArray) keep = g_ptr_array_new ();

  for (guint i = 0; v[i]; i++)
    {
      g_strstrip (v[i]);
      if (v[i][0])
        g_ptr_array_add (keep, v[i]);
    }
  g_ptr_array_sort (keep, cmp_lines);
  g_ptr_array_add (keep, NULL);
  return g_strjoinv ("|", (char **) keep->pdata);
}

/* "ip/len" strings → struct ip_prefix array. */
static GArray *
prefixes (const char * const *v)
{
  GArray *out = g_array_new (FALSE, TRUE, sizeof (struct ip_prefix));

  for (; v != NULL && *v != NULL; v++)
    {
      struct ip_prefix p;

      g_assert_true (ip_prefix_parse (&p, *v, strlen (*v)));
      g_array_append_val (out, p);
    }
  return out;
}

static void
apply (HyphaeNetcfg *nc, const char * const *addrs, const char * const *routes, gboolean lan)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) a = prefixes (addrs), r = prefixes (routes);
  HyphaeNetcfgConfig cfg = {
    .addresses = (struct ip_prefix *) (gpointer) a->data,
    .n_addresses = a->len,
    .routes = (struct ip_prefix *) (gpointer) r->data,
    .n_routes = r->len,
    .allow_lan = lan,
  };

  g_assert_true (hyphae_netcfg_apply (nc, &cfg, &error));
  g_assert_no_error (error);
}

static void
assert_lines (const char *cmd, const char *want)
{
  g_autofree char *got = lines (cmd);

  g_assert_cmpstr (got, ==, want);
}

static void
assert_dev (const char *dst, const char *mark, const char *want)
{
  g_autofree char *args = g_strconcat (dst, mark ? " mark " : "", mark, NULL);
  g_autofree char *dev = fixture_route_dev (args);

  g_assert_cmpstr (dev, ==, want);
}

/* The TUN's global addresses, one a line. */
#define TUN_ADDRESSES \
  "sh -c \"ip -o addr show dev " TUN " scope global | awk '{print \\$4}'\""

/* The TUN and a netcfg for it. */
static HyphaeNetcfg *
open_tun (struct tun *tun)
{
  g_autoptr(GError) error = NULL;
  HyphaeNetcfg *nc;

  g_assert_cmpint (tun_open (tun, TUN), ==, 0);
  nc = hyphae_netcfg_new (TUN, &error);
  g_assert_no_error (error);
  return nc;
}

#define RULES4                                              \
  "5210:\tfrom all fwmark 0x80000/0xff0000 lookup main|"    \
  "5230:\tfrom all fwmark 0x80000/0xff0000 lookup default|" \
  "5250:\tfrom all fwmark 0x80000/0xff0000 unreachable|"    \
  "5270:\tfrom all lookup 52"

static void
assert_rules (gboolean present)
{
  g_autofree char *r4 = lines ("sh -c 'ip -4 rule show | grep ^52 || true'");
  g_autofree char *r6 = lines ("sh -c 'ip -6 rule show | grep ^52 || true'");

  if (present)
    {
      g_assert_cmpstr (r4, ==, RULES4);
      g_assert_cmpstr (r6, ==, RULES4);
    }
  else
    {
      g_assert_cmpstr (r4, ==, "");
      g_assert_cmpstr (r6, ==, "");
    }
}

static void
test_apply_change_remove (FixtureNetns *ns,
                          gconstpointer unused)
{
  const char *addrs1[] = { "100.64.0.5/32", "fd7a:115c:a1e0::5/128", NULL };
  const char *routes1[] = { "100.64.0.0/10", "fd7a:115c:a1e0::/48", NULL };
  const char *addrs2[] = { "100.64.0.6/32", NULL };
  const char *routes2[] = { "100.64.0.0/10", "fd7a:115c:a1e0::/48", "10.3.0.0/16",
                            "0.0.0.0/0", "::/0", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeNetcfg) nc = NULL;
  g_autofree char *snap1 = NULL, *snap2 = NULL, *link = NULL;
  struct tun tun;

  if (!fixture_netns_ready (ns))
    return;
  nc = open_tun (&tun);

  /* 1. The tailnet: link up at MTU 1280, two addresses, two routes, the rules. */
  apply (nc, addrs1, routes1, FALSE);
  link = fixture_run ("ip -o link show " TUN);
  g_assert_nonnull (strstr (link, "mtu 1280"));
  g_assert_nonnull (strstr (link, ",UP"));
  assert_lines (TUN_ADDRESSES, "100.64.0.5/32|fd7a:115c:a1e0::5/128");
  assert_lines ("ip -4 route show table 52", "100.64.0.0/10 dev " TUN " proto static scope link");
  assert_lines ("ip -6 route show table 52", "fd7a:115c:a1e0::/48 dev " TUN " proto static metric 1024 pref medium");
  assert_rules (TRUE);
  assert_dev ("100.101.102.103", NULL, TUN);
  assert_dev ("fd7a:115c:a1e0::99", NULL, TUN);
  assert_dev ("192.168.77.5", NULL, "lan0");
  assert_dev ("8.8.8.8", NULL, "lan0");

  /* 2. Again: nothing changes. */
  snap1 = lines ("sh -c 'ip -o addr; ip route show table all; ip -6 route show table all; ip rule; ip -6 rule'");
  apply (nc, addrs1, routes1, FALSE);
  snap2 = lines ("sh -c 'ip -o addr; ip route show table all; ip -6 route show table all; ip rule; ip -6 rule'");
  g_assert_cmpstr (snap1, ==, snap2);

  /* 3. An exit node with LAN access, a subnet route, one address fewer. */
  apply (nc, addrs2, routes2, TRUE);
  assert_lines (TUN_ADDRESSES, "100.64.0.6/32");
  assert_lines ("ip -4 route show table 52",
                "10.3.0.0/16 dev " TUN " proto static scope link|"
                "100.64.0.0/10 dev " TUN " proto static scope link|"
                "default dev " TUN " proto static scope link|"
                "throw 192.168.77.0/24 proto static");
  assert_lines ("ip -6 route show table 52",
                "default dev " TUN " proto static metric 1024 pref medium|"
                "fd7a:115c:a1e0::/48 dev " TUN " proto static metric 1024 pref medium|"
                /* the kernel shows IPv6 throw routes on lo */
                "throw 2001:db8:77::/64 dev lo proto static metric 1024 pref medium");
  assert_rules (TRUE);
  assert_dev ("8.8.8.8", NULL, TUN);
  assert_dev ("2001:4860::1", NULL, TUN);
  assert_dev ("10.3.4.5", NULL, TUN);
  assert_dev ("192.168.77.5", NULL, "lan0");
  assert_dev ("2001:db8:77::5", NULL, "lan0");
  /* Our own UDP (SO_MARK 0x80000) bypasses the tunnel. */
  assert_dev ("8.8.8.8", "0x80000", "lan0");
  assert_dev ("2001:4860::1", "0x80000", "lan0");

  /* 4. No LAN access: the LAN goes into the tunnel too (no leak). */
  apply (nc, addrs2, routes2, FALSE);
  assert_dev ("192.168.77.5", NULL, TUN);
  assert_lines ("sh -c 'ip route show table 52 | grep -c throw || true'", "0");
  assert_dev ("8.8.8.8", "0x80000", "lan0");

  /* 5. Remove: no rules, table 52 empty, addresses gone; the LAN is back. */
  g_assert_true (hyphae_netcfg_remove (nc, &error));
  g_assert_no_error (error);
  assert_rules (FALSE);
  assert_lines ("sh -c 'ip -4 rule show | grep -c ^52 || true'", "0");
  assert_lines ("ip route show table 52", "");
  assert_lines ("ip -6 route show table 52", "");
  assert_lines ("ip -o addr show dev " TUN " scope global", "");
  assert_dev ("8.8.8.8", NULL, "lan0");
  /* Removing twice is fine. */
  g_assert_true (hyphae_netcfg_remove (nc, &error));
  g_assert_no_error (error);

  /* 6. Apply, then the TUN disappears (runner stopped): remove still cleans
   *    the rules and the throw routes that outlive it. */
  apply (nc, addrs1, routes2, TRUE);
  tun_close (&tun);
  g_assert_cmpint (if_nametoindex (TUN), ==, 0);
  g_assert_true (hyphae_netcfg_remove (nc, &error));
  g_assert_no_error (error);
  assert_rules (FALSE);
  assert_lines ("ip route show table 52", "");
  assert_lines ("ip -6 route show table 52", "");
}

/* Routes of ours outside table 52: main's routes through the TUN, minus the
 * kernel's own IPv6 link-local and multicast ones. */
#define MAIN_ROUTES_VIA_TUN                       \
  "sh -c 'ip route show table main dev " TUN "; " \
  "ip -6 route show table main dev " TUN " | grep -v -e ^fe80: -e ^ff00: || true'"

/*
 * Addresses carry IFA_F_NOPREFIXROUTE, so the kernel adds no prefix route to
 * main, for a /128 nor for a wider address that got this far (engine-config
 * keeps those out; netcfg must not route a LAN even then). An address of
 * ours without the flag (an older hyphaed's) is replaced.
 */
static void
test_no_prefix_route (FixtureNetns *ns,
                      gconstpointer unused)
{
  const char *addrs[] = { "100.64.0.5/32", "fd7a:115c:a1e0::5/128", "10.200.0.1/16",
                          "fd00:200::1/64", NULL };
  const char *addrs2[] = { "100.64.0.7/32", NULL };
  const char *routes[] = { "100.64.0.0/10", "fd7a:115c:a1e0::/48", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeNetcfg) nc = NULL;
  struct tun tun;

  if (!fixture_netns_ready (ns))
    return;
  nc = open_tun (&tun);

  apply (nc, addrs, routes, FALSE);
  assert_lines (TUN_ADDRESSES, "10.200.0.1/16|100.64.0.5/32|fd00:200::1/64|fd7a:115c:a1e0::5/128");
  assert_lines ("sh -c 'ip -o addr show dev " TUN " scope global | grep -vc noprefixroute || true'",
                "0");
  assert_lines (MAIN_ROUTES_VIA_TUN, "");
  assert_dev ("10.200.5.5", NULL, "lan0");
  assert_dev ("fd00:200::9", NULL, "lan0");

  /* Someone else's copy of the address, with a prefix route: replaced. */
  g_free (fixture_run ("ip addr add 100.64.0.7/32 dev " TUN));
  g_free (fixture_run ("ip -6 addr add fd7a:115c:a1e0::7/128 dev " TUN " nodad"));
  apply (nc, addrs2, routes, FALSE);
  assert_lines ("sh -c 'ip -o addr show dev " TUN " scope global | grep -c noprefixroute'", "1");
  assert_lines (TUN_ADDRESSES, "100.64.0.7/32");
  assert_lines (MAIN_ROUTES_VIA_TUN, "");

  g_assert_true (hyphae_netcfg_remove (nc, &error));
  g_assert_no_error (error);
  tun_close (&tun);
}

static void
test_errors (FixtureNetns *ns,
             gconstpointer unused)
{
  const struct ip_prefix bad[] = { { .bits = 32 } }; /* no family */
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeNetcfg) nc = NULL;
  HyphaeNetcfgConfig cfg = { .addresses = bad, .n_addresses = 1 };
  struct tun tun;

  if (!fixture_netns_ready (ns))
    return;
  nc = hyphae_netcfg_new ("hyn-none", &error);
  g_assert_no_error (error);
  g_assert_false (hyphae_netcfg_apply (nc, &cfg, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SUCH_DEVICE);
  g_clear_error (&error);
  g_clear_pointer (&nc, hyphae_netcfg_free);

  g_assert_cmpint (tun_open (&tun, TUN), ==, 0);
  nc = hyphae_netcfg_new (TUN, &error);
  g_assert_false (hyphae_netcfg_apply (nc, &cfg, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  tun_close (&tun);
}

/* A fresh namespace with a LAN and a gateway, so that marked traffic has
 * somewhere to go. */
static void
lan_setup (FixtureNetns *ns,
           gconstpointer unused)
{
  fixture_netns_setup (ns, unused);
  if (!ns->entered)
    return;
  g_free (fixture_run ("ip link add lan0 type veth peer name lan1"));
  g_free (fixture_run ("ip link set lan1 up"));
  g_free (fixture_run ("ip link set lan0 up"));
  g_free (fixture_run ("ip addr add 192.168.77.10/24 dev lan0"));
  g_free (fixture_run ("ip -6 addr add 2001:db8:77::10/64 dev lan0 nodad"));
  g_free (fixture_run ("ip route add default via 192.168.77.1 dev lan0"));
  g_free (fixture_run ("ip -6 route add default via 2001:db8:77::1 dev lan0"));
}

#define LAN_TEST_ADD(path, fn) \
  g_test_add ((path), FixtureNetns, NULL, lan_setup, (fn), fixture_netns_teardown)

int
main (int argc, char **argv)
{
  fixture_netns_init ();
  g_test_init (&argc, &argv, NULL);
  LAN_TEST_ADD ("/netcfg/apply-change-remove", test_apply_change_remove);
  LAN_TEST_ADD ("/netcfg/no-prefix-route", test_no_prefix_route);
  LAN_TEST_ADD ("/netcfg/errors", test_errors);
  return g_test_run ();
}
