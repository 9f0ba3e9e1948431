/* SPDX-License-Identifier: MIT */
/*
 * hyphae_harden_drop_capabilities under the systemd unit's system call filter:
 * SystemCallFilter=~@privileged answers capset(2) with EPERM (systemd.exec(5),
 * SystemCallErrorNumber=EPERM). Each case runs in a forked child that installs
 * the same rule as a seccomp filter, then calls the function:
 *   - systemd already left only CAP_NET_ADMIN permitted (User=hyphae,
 *     AmbientCapabilities=CAP_NET_ADMIN): nothing is left to drop, so hyphaed
 *     must go on (it used to exit at start);
 *   - more is permitted (root without systemd, then filtered): it must refuse,
 *     not run with capabilities it meant to drop.
 * Needs root for the second case and to lower the sets in the first.
 */
#include <errno.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>

#include "fixture-missing.h"
#include "hyphae-harden.h"

static void
get_caps (struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3])
{
  struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };

  g_assert_cmpint (syscall (SYS_capget, &header, data), ==, 0);
}

/* Permitted and effective = CAP_NET_ADMIN only, as systemd starts the unit. */
static gboolean
lower_to_net_admin (void)
{
  struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { { 0 } };
  guint32 bit = 1u << CAP_NET_ADMIN;

  data[0].permitted = data[0].effective = data[0].inheritable = bit;
  return syscall (SYS_capset, &header, data) == 0;
}

/* capset → EPERM, everything else allowed (native architecture only, as the
 * unit's SystemCallArchitectures=native). */
static gboolean
filter_capset (void)
{
  struct sock_filter code[] = {
    BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, nr)),
    BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, SYS_capset, 0, 1),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = { .len = G_N_ELEMENTS (code), .filter = code };

  return prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         prctl (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0;
}

/* The child's exit status: 0 dropped (or nothing to drop), 1 refused, 2 the
 * set-up failed. */
static int
run_child (gboolean only_net_admin)
{
  pid_t pid = fork ();
  int status = 0;

  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      g_autoptr(GError) error = NULL;
      struct __user_cap_data_struct after[_LINUX_CAPABILITY_U32S_3];

      if ((only_net_admin && !lower_to_net_admin ()) || !filter_capset ())
        _exit (2);
      if (!hyphae_harden_drop_capabilities (&error))
        {
          g_printerr ("# refused: %s\n", error->message);
          _exit (1);
        }
      /* Whatever it claims, nothing beyond CAP_NET_ADMIN may be left. */
      get_caps (after);
      _exit (after[0].permitted & ~(1u << CAP_NET_ADMIN) || after[1].permitted ? 3 : 0);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  return WEXITSTATUS (status);
}

static gboolean
is_root (void)
{
  if (geteuid () == 0)
    return TRUE;
  fixture_missing ("needs root");
  return FALSE;
}

static void
test_filtered_nothing_to_drop (void)
{
  if (!is_root ())
    return;
  g_assert_cmpint (run_child (TRUE), ==, 0);
}

static void
test_filtered_more_permitted (void)
{
  if (!is_root ())
    return;
  g_assert_cmpint (run_child (FALSE), ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/harden/capset-filtered/nothing-to-drop", test_filtered_nothing_to_drop);
  g_test_add_func ("/harden/capset-filtered/more-permitted", test_filtered_more_permitted);
  return g_test_run ();
}
