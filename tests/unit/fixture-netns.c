/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fixture-missing.h"
#include "fixture-netns.h"
#include "fixture-spawn.h"

#define NETNS_DIR     "/run/netns"
#define WIREGUARD_DIR "/run/wireguard"

static gboolean initialised;
static char *unavailable; /* why no namespace can be made */

static void
set_unavailable (const char *what)
{
  if (unavailable == NULL)
    unavailable = g_strdup_printf ("needs root and namespaces: %s: %s", what, g_strerror (errno));
}

static gboolean
mount_private_tmpfs (const char *dir)
{
  g_mkdir_with_parents (dir, 0755);
  return mount ("tmpfs", dir, "tmpfs", 0, "mode=0755") == 0;
}

void
fixture_netns_init (void)
{
  g_assert_false (initialised);
  initialised = TRUE;
  if (geteuid () != 0)
    unavailable = g_strdup ("needs root");
  else if (unshare (CLONE_NEWNS) != 0)
    set_unavailable ("unshare(CLONE_NEWNS)");
  /* Mounts from here on stay in this process's mount namespace. */
  else if (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
    set_unavailable ("making / private");
  else if (!mount_private_tmpfs (NETNS_DIR))
    set_unavailable ("a tmpfs on " NETNS_DIR);
  else if (!mount_private_tmpfs (WIREGUARD_DIR))
    set_unavailable ("a tmpfs on " WIREGUARD_DIR);
}

static void
lo_up (void)
{
  struct ifreq ifr = { .ifr_name = "lo" };
  int fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ioctl (fd, SIOCGIFFLAGS, &ifr), ==, 0);
  ifr.ifr_flags |= IFF_UP;
  g_assert_cmpint (ioctl (fd, SIOCSIFFLAGS, &ifr), ==, 0);
  close (fd);
}

static char *
ns_path (const FixtureNetns *ns)
{
  return g_build_filename (NETNS_DIR, ns->name, NULL);
}

void
fixture_netns_setup (FixtureNetns *ns,
                     gconstpointer unused)
{
  static guint counter;
  g_autofree char *path = NULL;
  int fd;

  g_assert_true (initialised);
  *ns = (FixtureNetns) { .fd = -1, .home_fd = -1 };
  if (unavailable != NULL)
    return;
  ns->home_fd = open ("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (ns->home_fd, >=, 0);
  if (unshare (CLONE_NEWNET) != 0)
    {
      set_unavailable ("unshare(CLONE_NEWNET)");
      close (ns->home_fd);
      ns->home_fd = -1;
      return;
    }
  /* Named as `ip netns add` names one: a bind mount of the namespace. */
  ns->name = g_strdup_printf ("hyphae-test-%d-%u", (int) getpid (), counter++);
  ns->entered = TRUE;
  path = ns_path (ns);
  fd = open (path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  g_assert_cmpint (fd, >=, 0);
  close (fd);
  g_assert_cmpint (mount ("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL), ==, 0);
  ns->fd = open (path, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (ns->fd, >=, 0);
  lo_up ();
}

void
fixture_netns_teardown (FixtureNetns *ns,
                        gconstpointer unused)
{
  g_autofree char *path = NULL;

  if (ns->name == NULL)
    return;
  fixture_netns_leave (ns);
  path = ns_path (ns);
  g_assert_cmpint (umount2 (path, MNT_DETACH), ==, 0);
  g_assert_cmpint (g_unlink (path), ==, 0);
  close (ns->fd);
  close (ns->home_fd);
  ns->fd = ns->home_fd = -1;
  g_clear_pointer (&ns->name, g_free);
}

gboolean
fixture_netns_ready (const FixtureNetns *ns)
{
  if (ns->entered)
    {
      g_test_message ("in network namespace %s", ns->name);
      return TRUE;
    }
  fixture_missing ("%s", unavailable ? unavailable : "not in a network namespace");
  return FALSE;
}

void
fixture_netns_enter (FixtureNetns *ns)
{
  g_assert_nonnull (ns->name);
  g_assert_cmpint (setns (ns->fd, CLONE_NEWNET), ==, 0);
  ns->entered = TRUE;
}

void
fixture_netns_leave (FixtureNetns *ns)
{
  if (!ns->entered)
    return;
  g_assert_cmpint (setns (ns->home_fd, CLONE_NEWNET), ==, 0);
  ns->entered = FALSE;
}

char *
fixture_route_dev (const char *args)
{
  g_autofree char *cmd = g_strdup_printf ("ip -o route get %s", args);
  gboolean ok;
  g_autofree char *out = fixture_run_status (cmd, &ok);
  const char *dev;

  if (!ok)
    return g_strdup ("unreachable");
  dev = strstr (out, " dev ");
  g_assert_nonnull (dev);
  return g_strndup (dev + 5, strcspn (dev + 5, " \n"));
}
