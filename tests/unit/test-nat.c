/* SPDX-License-Identifier: MIT */
/*
 * HyphaeNat (daemon/netcfg/hyphae-nat.h) in a network namespace of its own:
 * forwarding and the `inet hyphae` table come and go, the sysctls come back
 * as they were (whatever they were), apply is idempotent, a table deleted by
 * hand comes back, and hyphae_nat_cleanup undoes what a crashed daemon left
 * (the state file) and does nothing without one. Needs root (skipped, failed
 * under CI, without).
 */
#include <glib/gstdio.h>
#include <string.h>

#include "fixture-netns.h"
#include "fixture-spawn.h"
#include "hyphae-nat.h"

static char *
sysctls (void)
{
  g_autofree char *v4 = NULL, *v6 = NULL;

  g_assert_true (g_file_get_contents ("/proc/sys/net/ipv4/ip_forward", &v4, NULL, NULL));
  g_assert_true (g_file_get_contents ("/proc/sys/net/ipv6/conf/all/forwarding", &v6, NULL, NULL));
  return g_strdup_printf ("%s %s", g_strstrip (v4), g_strstrip (v6));
}

/* /proc/sys takes no rename: written in place. */
static void
write_proc (const char *path, const char *value)
{
  FILE *f = fopen (path, "w");

  g_assert_nonnull (f);
  g_assert_cmpint (fputs (value, f), >=, 0);
  g_assert_cmpint (fclose (f), ==, 0);
}

static void
set_sysctls (const char *v4, const char *v6)
{
  write_proc ("/proc/sys/net/ipv4/ip_forward", v4);
  write_proc ("/proc/sys/net/ipv6/conf/all/forwarding", v6);
}

/* The table as nft prints it, or NULL when there is none. */
static char *
table (void)
{
  gboolean ok = FALSE;
  char *out = fixture_run_status ("nft list table inet hyphae", &ok);

  if (!ok)
    g_clear_pointer (&out, g_free);
  return out;
}

static void
assert_applied (void)
{
  g_autofree char *t = table ();
  g_autofree char *s = sysctls ();

  g_assert_nonnull (t);
  g_assert_nonnull (strstr (t, "hook forward"));
  /* nft prints the mask with the mark folded in: (m & 0xff00ffff) | 0x40000. */
  g_assert_nonnull (strstr (t, "iifname \"hyn0\" meta mark set meta mark & 0xff04ffff | 0x00040000 accept"));
  g_assert_nonnull (strstr (t, "oifname \"hyn0\" accept"));
  g_assert_nonnull (strstr (t, "hook postrouting"));
  g_assert_nonnull (strstr (t, "meta mark & 0x00ff0000 == 0x00040000 oifname != \"hyn0\" masquerade"));
  g_assert_cmpstr (s, ==, "1 1");
}

static void
assert_removed (const char *want_sysctls)
{
  g_autofree char *t = table ();
  g_autofree char *s = sysctls ();

  g_assert_null (t);
  g_assert_cmpstr (s, ==, want_sysctls);
}

static void
test_apply_remove (FixtureNetns *ns,
                   gconstpointer unused)
{
  g_autofree char *dir = NULL;
  g_autofree char *state = NULL;
  g_autoptr(GError) error = NULL;
  HyphaeNat *nat;

  if (!fixture_netns_ready (ns))
    return;
  dir = g_dir_make_tmp ("test-nat-XXXXXX", &error);
  g_assert_no_error (error);
  state = g_build_filename (dir, "forwarding", NULL);

  /* IPv4 forwarding was on already, IPv6's off: both come back as they were. */
  set_sysctls ("1", "0");
  nat = hyphae_nat_new ("hyn0", dir);
  g_assert_true (hyphae_nat_apply (nat, &error));
  g_assert_no_error (error);
  assert_applied ();
  g_assert_true (g_file_test (state, G_FILE_TEST_EXISTS));

  /* Again, and after the table was deleted by hand: one table, as before. */
  g_assert_true (hyphae_nat_apply (nat, &error));
  g_assert_no_error (error);
  assert_applied ();
  g_free (fixture_run ("nft delete table inet hyphae"));
  g_assert_true (hyphae_nat_apply (nat, &error));
  g_assert_no_error (error);
  assert_applied ();

  g_assert_true (hyphae_nat_remove (nat, &error));
  g_assert_no_error (error);
  assert_removed ("1 0");
  g_assert_false (g_file_test (state, G_FILE_TEST_EXISTS));
  /* Twice is fine too. */
  g_assert_true (hyphae_nat_remove (nat, &error));
  g_assert_no_error (error);
  assert_removed ("1 0");

  /* Freed while applied: removed. */
  set_sysctls ("0", "0");
  g_assert_true (hyphae_nat_apply (nat, &error));
  assert_applied ();
  hyphae_nat_free (nat);
  assert_removed ("0 0");
  fixture_rm_rf (dir);
}

/* A daemon that died with the table in place: cleanup (next start, or
 * `hyphaed --cleanup`) restores the values from before it, even though a
 * second apply (the restarted daemon) saw forwarding on already. */
static void
test_cleanup_after_crash (FixtureNetns *ns,
                          gconstpointer unused)
{
  g_autofree char *dir = NULL;
  g_autoptr(GError) error = NULL;
  HyphaeNat *first, *second;

  if (!fixture_netns_ready (ns))
    return;
  dir = g_dir_make_tmp ("test-nat-XXXXXX", &error);
  g_assert_no_error (error);

  /* Nothing to do, no error, no table made. */
  g_assert_true (hyphae_nat_cleanup (dir, &error));
  g_assert_no_error (error);

  set_sysctls ("0", "0");
  first = hyphae_nat_new ("hyn0", dir);
  g_assert_true (hyphae_nat_apply (first, &error));
  /* The crashed daemon's successor applies again before any cleanup: it
   * finds forwarding on, but the state file keeps what was there before. */
  second = hyphae_nat_new ("hyn0", dir);
  g_assert_true (hyphae_nat_apply (second, &error));
  g_assert_no_error (error);
  assert_applied ();

  g_assert_true (hyphae_nat_cleanup (dir, &error));
  g_assert_no_error (error);
  assert_removed ("0 0");

  /* Whatever the objects still think, removing again changes nothing. */
  g_assert_true (hyphae_nat_remove (first, &error));
  g_assert_true (hyphae_nat_remove (second, &error));
  g_assert_no_error (error);
  assert_removed ("0 0");
  hyphae_nat_free (first);
  hyphae_nat_free (second);
  fixture_rm_rf (dir);
}

/* A read-only /proc/sys (systemd's ProtectKernelTunables=yes): apply fails
 * and says where to set forwarding instead; no table without forwarding. */
static void
test_read_only_sysctls (FixtureNetns *ns,
                        gconstpointer unused)
{
  g_autofree char *dir = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeNat) nat = NULL;

  if (!fixture_netns_ready (ns))
    return;
  dir = g_dir_make_tmp ("test-nat-XXXXXX", &error);
  g_assert_no_error (error);
  set_sysctls ("0", "0");
  /* The test process has a mount namespace of its own (fixture-netns.h). */
  g_free (fixture_run ("sh -c 'mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys'"));
  nat = hyphae_nat_new ("hyn0", dir);
  g_assert_false (hyphae_nat_apply (nat, &error));
  g_free (fixture_run ("umount /proc/sys"));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "net.ipv4.ip_forward"));
  g_assert_nonnull (strstr (error->message, "/etc/sysctl.d"));
  assert_removed ("0 0");
  g_assert_true (hyphae_nat_remove (nat, NULL));
  assert_removed ("0 0");
  fixture_rm_rf (dir);
}

static void
test_ruleset_refuses_bad_names (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeNat) nat = hyphae_nat_new ("a\"b", NULL);

  g_assert_false (hyphae_nat_apply (nat, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_false (hyphae_nat_is_applied (nat));
}

int
main (int argc, char **argv)
{
  fixture_netns_init ();
  g_test_init (&argc, &argv, NULL);
  FIXTURE_NETNS_ADD ("/nat/apply-remove", NULL, test_apply_remove);
  FIXTURE_NETNS_ADD ("/nat/cleanup-after-crash", NULL, test_cleanup_after_crash);
  FIXTURE_NETNS_ADD ("/nat/read-only-sysctls", NULL, test_read_only_sysctls);
  g_test_add_func ("/nat/bad-ifname", test_ruleset_refuses_bad_names);
  return g_test_run ();
}
