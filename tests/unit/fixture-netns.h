/* SPDX-License-Identifier: MIT */
/*
 * Network namespaces for the tests that touch the kernel's network state
 * (TUN, routes, rules, WireGuard sockets): nothing on the host changes, and
 * nothing is left behind, even when a test aborts.
 *
 * main() calls fixture_netns_init() first, while the process has one
 * thread: the process gets a mount namespace of its own with private tmpfs
 * on /run/netns and /run/wireguard (so wg(8) finds only our sockets). A
 * namespace is named hyphae-test-<pid>-<n> in that /run/netns: `ip netns
 * exec` and `ip -n` reach it, and it dies with the process's mount
 * namespace when the test ends however it ends.
 *
 * Each test in a fresh namespace: FIXTURE_NETNS_ADD; the test starts with
 * `if (!fixture_netns_ready (ns)) return;`. A test program whose code starts
 * threads or children that must share the namespace (the engine, GLib's
 * workers, the Go servers) instead calls fixture_netns_setup() in main(),
 * before any thread: threads and children inherit the namespace of the
 * thread that makes them.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  char *name;       /* hyphae-test-<pid>-<n>; NULL when none could be made */
  int fd;           /* the namespace */
  int home_fd;      /* the calling thread's namespace before */
  gboolean entered; /* the calling thread is in it */
} FixtureNetns;

/* First in main(), before any thread exists. */
void fixture_netns_init (void);

/* Make a namespace (loopback up) and enter it on the calling thread; when
 * that is impossible (not root, no CAP_SYS_ADMIN) ns->name stays NULL and
 * fixture_netns_ready() says why. */
void fixture_netns_setup (FixtureNetns *ns,
                          gconstpointer unused);
/* Leave it (back to the namespace before) and delete it. */
void fixture_netns_teardown (FixtureNetns *ns,
                             gconstpointer unused);

/* TRUE when the calling thread is in ns; otherwise the test is skipped
 * (failed when $CI is set) with the reason. */
gboolean fixture_netns_ready (const FixtureNetns *ns);

/* Move the calling thread into ns, and back to where it was. */
void fixture_netns_enter (FixtureNetns *ns);
void fixture_netns_leave (FixtureNetns *ns);

/* The interface a route lookup leaves by (`ip -o route get <args>`, e.g.
 * "8.8.8.8 mark 0x80000"), or "unreachable". */
char *fixture_route_dev (const char *args);

/* g_test_add() of a test taking a FixtureNetns: a fresh namespace each. */
#define FIXTURE_NETNS_ADD(path, data, fn) \
  g_test_add ((path), FixtureNetns, (data), fixture_netns_setup, (fn), fixture_netns_teardown)

G_END_DECLS
