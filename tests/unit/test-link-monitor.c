/* SPDX-License-Identifier: MIT */
/*
 * daemon/netcfg/hyphae-link-monitor.c. The datagram parser on malformed and
 * well-formed rtnetlink input (no root needed); then the monitor against the
 * real kernel, in a fresh network namespace for each test (fixture-netns.h:
 * nothing to clean on the host): an address added or removed and a link going down
 * each bring a `changed` whose address list shows it, loopback never listed;
 * a burst queued before the main loop runs is one `changed`; a forged
 * address message from a user socket is none.
 * Waits run the main loop until the condition holds, with a hang guard only.
 * The namespace tests need root; skipped otherwise, unless $CI is set.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fixture-netns.h"
#include "fixture-spawn.h"
#include "hyphae-link-monitor.h"

#define GUARD_S 30

/* `ip ARGS`, which must succeed. */
static void
ip (const char *args)
{
  g_autofree char *cmdline = g_strconcat ("ip ", args, NULL);

  g_free (fixture_run (cmdline));
}

/* ---- the parser ---------------------------------------------------------- */

/* A header saying nlmsg_len and type at buf + off (the body stays zero);
 * the offset of the next message. */
static gsize
put_msg (guint8 *buf, gsize off, guint16 type, guint32 nlmsg_len)
{
  struct nlmsghdr h = { .nlmsg_len = nlmsg_len, .nlmsg_type = type };

  memcpy (buf + off, &h, sizeof h);
  return off + NLMSG_ALIGN (nlmsg_len);
}

static void
test_parse (void)
{
  const guint32 addr_len = NLMSG_LENGTH (sizeof (struct ifaddrmsg));
  const guint32 link_len = NLMSG_LENGTH (sizeof (struct ifinfomsg));
  const guint32 route_len = NLMSG_LENGTH (sizeof (struct rtmsg));
  guint32 words[128];
  guint8 *buf = (guint8 *) words;
  guint8 odd[sizeof words + 1];
  gsize n;

  /* Each of the four kinds, complete. */
  memset (words, 0, sizeof words);
  g_assert_false (hyphae_link_monitor_parse (buf, 0));
  n = put_msg (buf, 0, RTM_NEWADDR, addr_len);
  g_assert_true (hyphae_link_monitor_parse (buf, n));
  put_msg (buf, 0, RTM_DELADDR, addr_len);
  g_assert_true (hyphae_link_monitor_parse (buf, n));
  n = put_msg (buf, 0, RTM_NEWLINK, link_len);
  g_assert_true (hyphae_link_monitor_parse (buf, n));
  put_msg (buf, 0, RTM_DELLINK, link_len);
  g_assert_true (hyphae_link_monitor_parse (buf, n));
  /* Trailing bytes too few for a header are ignored. */
  g_assert_true (hyphae_link_monitor_parse (buf, n + 2));

  /* The fixed header one byte short, in the message or in the datagram. */
  put_msg (buf, 0, RTM_NEWADDR, addr_len - 1);
  g_assert_false (hyphae_link_monitor_parse (buf, addr_len));
  put_msg (buf, 0, RTM_NEWLINK, link_len - 1);
  g_assert_false (hyphae_link_monitor_parse (buf, link_len));
  put_msg (buf, 0, RTM_NEWLINK, link_len);
  g_assert_false (hyphae_link_monitor_parse (buf, link_len - 1));
  /* A datagram shorter than a netlink header. */
  g_assert_false (hyphae_link_monitor_parse (buf, sizeof (struct nlmsghdr) - 1));
  /* Lengths that cannot be: shorter than the header, zero, 4 GiB - 1. */
  put_msg (buf, 0, RTM_NEWADDR, sizeof (struct nlmsghdr) - 1);
  g_assert_false (hyphae_link_monitor_parse (buf, sizeof words));
  put_msg (buf, 0, RTM_NEWADDR, 0);
  g_assert_false (hyphae_link_monitor_parse (buf, sizeof words));
  put_msg (buf, 0, RTM_NEWADDR, G_MAXUINT32);
  g_assert_false (hyphae_link_monitor_parse (buf, sizeof words));
  /* A bad first message hides what follows: there is no way to resync. */
  memset (words, 0, sizeof words);
  n = put_msg (buf, 0, RTM_NEWROUTE, 8);
  n = put_msg (buf, n, RTM_NEWADDR, addr_len);
  g_assert_false (hyphae_link_monitor_parse (buf, n));

  /* Other types alone are nothing; after them, ours still count. */
  memset (words, 0, sizeof words);
  n = put_msg (buf, 0, RTM_NEWROUTE, route_len);
  g_assert_false (hyphae_link_monitor_parse (buf, n));
  put_msg (buf, 0, NLMSG_DONE, NLMSG_LENGTH (sizeof (int)));
  g_assert_false (hyphae_link_monitor_parse (buf, NLMSG_LENGTH (sizeof (int))));
  put_msg (buf, 0, NLMSG_ERROR, NLMSG_LENGTH (sizeof (struct nlmsgerr)));
  g_assert_false (hyphae_link_monitor_parse (buf, NLMSG_LENGTH (sizeof (struct nlmsgerr))));
  n = put_msg (buf, 0, RTM_NEWROUTE, route_len);
  n = put_msg (buf, n, NLMSG_NOOP, sizeof (struct nlmsghdr) + 1); /* padded to 20 */
  n = put_msg (buf, n, RTM_DELADDR, addr_len);
  g_assert_true (hyphae_link_monitor_parse (buf, n));
  /* ... but not when the datagram ends inside them. */
  g_assert_false (hyphae_link_monitor_parse (buf, n - 1));

  /* No alignment is assumed of the buffer (UBSan checks the loads). */
  memset (odd, 0, sizeof odd);
  n = put_msg (odd, 1, RTM_NEWLINK, link_len);
  g_assert_true (hyphae_link_monitor_parse (odd + 1, n - 1));
}

/* ---- the monitor in a namespace ----------------------------------------- */

typedef struct {
  guint n_changed;
  GArray *seen; /* the address list as of the last `changed` */
} Watch;

static void
on_changed (HyphaeLinkMonitor *monitor, gpointer user_data)
{
  Watch *w = user_data;
  g_autoptr(GError) error = NULL;

  w->n_changed++;
  g_clear_pointer (&w->seen, g_array_unref);
  w->seen = hyphae_link_monitor_list_addresses (&error);
  g_assert_no_error (error);
}

static HyphaeLinkMonitor *
watch_start (Watch *w)
{
  g_autoptr(GError) error = NULL;
  HyphaeLinkMonitor *monitor = hyphae_link_monitor_new (&error);

  g_assert_no_error (error);
  g_assert_nonnull (monitor);
  g_signal_connect (monitor, "changed", G_CALLBACK (on_changed), w);
  return monitor;
}

/* Entries of the last seen list on ifname, with address ip (any if NULL). */
static guint
seen_count (const Watch *w, const char *ifname, const char *ip)
{
  struct ip_addr want = { 0 };
  guint n = 0;

  if (ip != NULL)
    g_assert_true (ip_addr_parse (&want, ip, strlen (ip)));
  for (guint i = 0; w->seen != NULL && i < w->seen->len; i++)
    {
      const HyphaeLocalAddress *la = &g_array_index (w->seen, HyphaeLocalAddress, i);

      if (strcmp (la->ifname, ifname) == 0 && (ip == NULL || ip_addr_equal (&la->addr, &want)))
        n++;
    }
  return n;
}

static gboolean
hang_guard_cb (gpointer user_data)
{
  g_error ("hang guard: no `changed` showing %s within %d s", (const char *) user_data, GUARD_S);
  return G_SOURCE_REMOVE;
}

/* Run the main loop until a `changed` shows want entries on ifname (with
 * address ip, any if NULL). Each caller flips the condition first, so only
 * a `changed` after that step can satisfy it. */
static void
wait_seen (Watch *w, const char *ifname, const char *ip, guint want)
{
  g_autofree char *what = g_strdup_printf ("%s on %s listed %u time(s)",
                                           ip ? ip : "any address", ifname, want);
  guint guard = g_timeout_add_seconds (GUARD_S, hang_guard_cb, what);

  while (seen_count (w, ifname, ip) != want)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (guard);
}

/* Run the main loop until the next `changed`. */
static void
wait_changed (Watch *w)
{
  guint n = w->n_changed;
  guint guard = g_timeout_add_seconds (GUARD_S, hang_guard_cb, (gpointer) "a kernel message");

  while (w->n_changed == n)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (guard);
}

static void
drain_main_context (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
veth_add (const char *a, const char *b)
{
  g_autofree char *add = g_strdup_printf ("link add %s type veth peer name %s", a, b);
  g_autofree char *gen_a = g_strdup_printf ("link set %s addrgenmode none", a);
  g_autofree char *gen_b = g_strdup_printf ("link set %s addrgenmode none", b);
  g_autofree char *up_b = g_strdup_printf ("link set %s up", b);
  g_autofree char *up_a = g_strdup_printf ("link set %s up", a);

  /* No IPv6 link-local (addrgenmode none): only the addresses we add. */
  ip (add);
  ip (gen_a);
  ip (gen_b);
  ip (up_b);
  ip (up_a);
}

static void
test_changes (FixtureNetns *ns,
              gconstpointer unused)
{
  g_autoptr(HyphaeLinkMonitor) monitor = NULL;
  Watch w = { 0 };

  if (!fixture_netns_ready (ns))
    return;
  veth_add ("hlm0", "hlm1");
  monitor = watch_start (&w);

  ip ("addr add 198.51.100.7/24 dev hlm0");
  wait_seen (&w, "hlm0", "198.51.100.7", 1);
  ip ("-6 addr add 2001:db8:51::7/64 dev hlm0 nodad");
  wait_seen (&w, "hlm0", "2001:db8:51::7", 1);
  ip ("addr del 198.51.100.7/24 dev hlm0");
  wait_seen (&w, "hlm0", "198.51.100.7", 0);
  g_assert_cmpuint (seen_count (&w, "hlm0", "2001:db8:51::7"), ==, 1);

  /* Loopback (127.0.0.1 and ::1 once lo is up) is never listed. */
  ip ("link set lo up");
  ip ("addr add 198.51.100.8/24 dev hlm0");
  wait_seen (&w, "hlm0", "198.51.100.8", 1);
  g_assert_cmpuint (seen_count (&w, "lo", NULL), ==, 0);

  /* A link that goes down takes its addresses out of the list. */
  ip ("link set hlm0 down");
  wait_seen (&w, "hlm0", NULL, 0);
  g_assert_cmpuint (w.n_changed, >=, 5);

  ip ("link del hlm0");
  g_signal_handlers_disconnect_by_data (monitor, &w);
  g_clear_pointer (&w.seen, g_array_unref);
}

static void
test_burst (FixtureNetns *ns,
            gconstpointer unused)
{
  g_autoptr(HyphaeLinkMonitor) monitor = NULL;
  Watch w = { 0 };
  guint guard;

  if (!fixture_netns_ready (ns))
    return;
  veth_add ("hlb0", "hlb1");
  monitor = watch_start (&w);

  /* ip(8) returns after the kernel queued its notification on our socket
   * (IPv4 addresses are announced synchronously), so all three are waiting
   * when the main loop first runs: one wakeup, one `changed`. */
  ip ("addr add 203.0.113.1/24 dev hlb0");
  ip ("addr add 203.0.113.2/24 dev hlb0");
  ip ("addr add 203.0.113.3/24 dev hlb0");
  guard = g_timeout_add_seconds (GUARD_S, hang_guard_cb, (gpointer) "the burst");
  g_main_context_iteration (NULL, TRUE);
  g_source_remove (guard);
  g_assert_cmpuint (w.n_changed, ==, 1);
  g_assert_cmpuint (seen_count (&w, "hlb0", NULL), ==, 3);

  ip ("link del hlb0");
  wait_seen (&w, "hlb0", NULL, 0);
  g_signal_handlers_disconnect_by_data (monitor, &w);
  g_clear_pointer (&w.seen, g_array_unref);
}

/* Our monitor's netlink port and bytes queued on it, from the namespace's
 * /proc/net/netlink (the only NETLINK_ROUTE socket with our three groups). */
static gboolean
monitor_port (guint32 *port, guint *rmem)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) rows = NULL;
  gboolean found = FALSE;

  g_assert_true (g_file_get_contents ("/proc/self/net/netlink", &text, NULL, NULL));
  rows = g_strsplit (text, "\n", -1);
  for (guint i = 1; rows[i] != NULL; i++)
    {
      unsigned long long sk;
      unsigned eth, pid, groups, rm;

      if (sscanf (rows[i], "%llx %u %u %x %u", &sk, &eth, &pid, &groups, &rm) == 5 &&
          eth == NETLINK_ROUTE && groups == (RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR))
        {
          g_assert_false (found);
          found = TRUE;
          *port = pid;
          *rmem = rm;
        }
    }
  return found;
}

static void
test_foreign_sender (FixtureNetns *ns,
                     gconstpointer unused)
{
  g_autoptr(HyphaeLinkMonitor) monitor = NULL;
  Watch w = { 0 };
  struct {
    struct nlmsghdr h;
    struct ifaddrmsg ifa;
  } msg = {
    .h = { .nlmsg_len = sizeof msg, .nlmsg_type = RTM_NEWADDR },
    .ifa = { .ifa_family = AF_INET, .ifa_prefixlen = 24, .ifa_index = 1 },
  };
  struct sockaddr_nl to = { .nl_family = AF_NETLINK };
  guint rmem = 0;
  int fd;

  if (!fixture_netns_ready (ns))
    return;
  monitor = watch_start (&w);
  drain_main_context ();
  w.n_changed = 0;
  g_assert_true (monitor_port (&to.nl_pid, &rmem));
  g_assert_cmpuint (rmem, ==, 0);

  /* A well-formed RTM_NEWADDR, unicast from a user socket: read, ignored. */
  g_assert_true (hyphae_link_monitor_parse (&msg, sizeof msg));
  fd = socket (AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (sendto (fd, &msg, sizeof msg, 0, (struct sockaddr *) &to, sizeof to), ==, sizeof msg);
  close (fd);
  g_assert_true (monitor_port (&to.nl_pid, &rmem));
  g_assert_cmpuint (rmem, >, 0);
  drain_main_context ();
  g_assert_true (monitor_port (&to.nl_pid, &rmem));
  g_assert_cmpuint (rmem, ==, 0);
  g_assert_cmpuint (w.n_changed, ==, 0);

  /* The same from the kernel counts. */
  ip ("addr add 192.0.2.99/32 dev lo");
  wait_changed (&w);
  ip ("addr del 192.0.2.99/32 dev lo");
  g_signal_handlers_disconnect_by_data (monitor, &w);
  g_clear_pointer (&w.seen, g_array_unref);
}

int
main (int argc, char **argv)
{
  fixture_netns_init ();
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/link-monitor/parse", test_parse);
  FIXTURE_NETNS_ADD ("/link-monitor/foreign-sender", NULL, test_foreign_sender);
  FIXTURE_NETNS_ADD ("/link-monitor/burst", NULL, test_burst);
  FIXTURE_NETNS_ADD ("/link-monitor/changes", NULL, test_changes);
  return g_test_run ();
}
