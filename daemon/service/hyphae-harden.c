/* SPDX-License-Identifier: MIT */
#include "hyphae-harden.h"

#include <errno.h>
#include <gio/gio.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* CAP_NET_ADMIN: TUN (TUNSETIFF), addresses, routes and rules over rtnetlink,
 * SO_MARK on the WireGuard sockets. Nothing needs CAP_NET_RAW today (no raw
 * IP socket; SO_MARK takes either): see docs/ARCHITECTURE.md. */
static const int kept_caps[] = { CAP_NET_ADMIN };

static gboolean
is_kept (int cap)
{
  for (gsize i = 0; i < G_N_ELEMENTS (kept_caps); i++)
    if (kept_caps[i] == cap)
      return TRUE;
  return FALSE;
}

static gboolean
set_errno_error (GError **error,
                 const char *what)
{
  int e = errno;

  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "%s: %s", what, g_strerror (e));
  return FALSE;
}

gboolean
hyphae_harden_not_dumpable (GError **error)
{
  if (prctl (PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
    return set_errno_error (error, "prctl(PR_SET_DUMPABLE, 0)");
  return TRUE;
}

gboolean
hyphae_harden_drop_capabilities (GError **error)
{
  struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { { 0 } };
  gboolean extra_permitted = FALSE;

  /* The bounding set first: dropping from it needs CAP_SETPCAP, which goes
   * with the capset below. PR_CAPBSET_READ fails (EINVAL) past the last
   * capability this kernel knows. */
  for (int cap = 0; cap < 64; cap++)
    {
      int in_bounding = prctl (PR_CAPBSET_READ, cap, 0, 0, 0);

      if (in_bounding < 0)
        break;
      if (in_bounding == 0 || is_kept (cap))
        continue;
      if (prctl (PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
        {
          /* Without CAP_SETPCAP (systemd started us as User=hyphae with a
           * bounding set it already reduced) the rest is still done. */
          if (errno != EPERM)
            return set_errno_error (error, "prctl(PR_CAPBSET_DROP)");
          g_message ("Cannot shrink the capability bounding set: %s", g_strerror (errno));
          break;
        }
    }
  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    return set_errno_error (error, "prctl(PR_CAP_AMBIENT_CLEAR_ALL)");

  if (syscall (SYS_capget, &header, data) != 0)
    return set_errno_error (error, "capget");
  for (int cap = 0; cap < 32 * _LINUX_CAPABILITY_U32S_3; cap++)
    {
      guint32 bit = 1u << (cap % 32);
      int word = cap / 32;

      if ((data[word].permitted & bit) && !is_kept (cap))
        extra_permitted = TRUE;

      /* A kept capability we never had stays missing: capset cannot add it. */
      if (!is_kept (cap) || !(data[word].permitted & bit))
        {
          data[word].permitted &= ~bit;
          data[word].effective &= ~bit;
        }
      else
        data[word].effective |= bit;
      data[word].inheritable = 0;
    }
  if (syscall (SYS_capset, &header, data) != 0)
    {
      /* The unit's SystemCallFilter=~@privileged answers capset with EPERM.
       * systemd already gave us only what we keep (User=hyphae,
       * AmbientCapabilities=CAP_NET_ADMIN): then nothing is left to drop
       * but the inheritable copy, which exec alone could use, and
       * NoNewPrivileges plus the cleared ambient set make that moot. */
      if (errno == EPERM && !extra_permitted)
        {
          g_debug ("capset refused (seccomp); nothing beyond the kept capabilities is permitted");
          return TRUE;
        }
      return set_errno_error (error, "capset");
    }
  return TRUE;
}
