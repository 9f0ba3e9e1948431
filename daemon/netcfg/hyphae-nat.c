/* SPDX-License-Identifier: MIT */
#include "hyphae-nat.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <nftables/libnftables.h>
#include <string.h>

#define STATE_FILE "forwarding"

/* The forwarding switches, in /proc/sys of the caller's network namespace. */
static const struct {
  const char *key;
  const char *path;
  const char *family_dir; /* absent: the family is off in this kernel (IPv6) */
} sysctls[] = {
  { "net.ipv4.ip_forward", "/proc/sys/net/ipv4/ip_forward", NULL },
  { "net.ipv6.conf.all.forwarding", "/proc/sys/net/ipv6/conf/all/forwarding", "/proc/sys/net/ipv6" },
};

struct _HyphaeNat {
  char *ifname;
  char *state_path; /* NULL: the saved values live in memory only */
  char *saved;      /* the state file's text when there is no state dir */
  gboolean applied;
};

/* An interface name we paste into nft syntax: what the kernel allows, minus
 * anything that could end the quoted string. */
static gboolean
ifname_ok (const char *ifname)
{
  gsize n = ifname != NULL ? strlen (ifname) : 0;

  if (n == 0 || n >= 16)
    return FALSE;
  for (const char *c = ifname; *c != '\0'; c++)
    if (!g_ascii_isalnum (*c) && *c != '-' && *c != '_' && *c != '.')
      return FALSE;
  return TRUE;
}

char *
hyphae_nat_ruleset (const char *ifname)
{
  /* "add" then "delete" first: the batch replaces the table whether or not
   * it existed (nft 1.0.6 has no "destroy"), in one transaction. */
  return g_strdup_printf (
    "add table inet " HYPHAE_NAT_TABLE "\n"
    "delete table inet " HYPHAE_NAT_TABLE "\n"
    "table inet " HYPHAE_NAT_TABLE " {\n"
    "  chain forward {\n"
    "    type filter hook forward priority filter; policy accept;\n"
    "    iifname \"%s\" meta mark set meta mark & 0x%08x | 0x%08x accept\n"
    "    oifname \"%s\" accept\n"
    "  }\n"
    "  chain postrouting {\n"
    "    type nat hook postrouting priority srcnat; policy accept;\n"
    "    meta mark & 0x%08x == 0x%08x oifname != \"%s\" masquerade\n"
    "  }\n"
    "}\n",
    ifname, ~HYPHAE_NAT_FORWARD_MASK, HYPHAE_NAT_FORWARD_MARK, ifname,
    HYPHAE_NAT_FORWARD_MASK, HYPHAE_NAT_FORWARD_MARK, ifname);
}

static gboolean
nft_run (const char *commands, GError **error)
{
  struct nft_ctx *ctx = nft_ctx_new (NFT_CTX_DEFAULT);
  gboolean ok;

  if (ctx == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Cannot create an nftables context");
      return FALSE;
    }
  nft_ctx_buffer_output (ctx);
  nft_ctx_buffer_error (ctx);
  ok = nft_run_cmd_from_buffer (ctx, commands) == 0;
  if (!ok)
    {
      g_autofree char *msg = g_strstrip (g_strdup (nft_ctx_get_error_buffer (ctx)));

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "nftables: %s", *msg ? msg : "failed");
    }
  nft_ctx_free (ctx);
  return ok;
}

static gboolean
delete_table (GError **error)
{
  return nft_run ("add table inet " HYPHAE_NAT_TABLE "\n"
                  "delete table inet " HYPHAE_NAT_TABLE "\n",
                  error);
}

/* "1" / "0" as the kernel prints it, or NULL when the switch does not exist
 * (IPv6 disabled). */
static char *
sysctl_read (const char *path)
{
  g_autofree char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  return g_strdup (g_strstrip (text));
}

static gboolean
sysctl_write (const char *key, const char *path, const char *value, GError **error)
{
  FILE *f = fopen (path, "w");
  int e = 0;

  if (f == NULL)
    e = errno;
  else
    {
      if (fputs (value, f) < 0)
        e = errno;
      if (fclose (f) != 0 && e == 0)
        e = errno;
    }
  if (e != 0)
    {
      /* systemd's ProtectKernelTunables= makes /proc/sys read-only. */
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "Cannot set %s to %s: %s%s",
                   key, value, g_strerror (e),
                   e == EROFS ? " (set it in /etc/sysctl.d: /proc/sys is read-only here)" : "");
      return FALSE;
    }
  return TRUE;
}

/* "key=value" lines for the switches that exist. */
static char *
sysctls_snapshot (void)
{
  GString *s = g_string_new (NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (sysctls); i++)
    {
      g_autofree char *v = sysctl_read (sysctls[i].path);

      if (v != NULL && (g_str_equal (v, "0") || g_str_equal (v, "1") || g_str_equal (v, "2")))
        g_string_append_printf (s, "%s=%s\n", sysctls[i].key, v);
    }
  return g_string_free (s, FALSE);
}

/* Put back what a snapshot holds; unknown lines are ignored. */
static gboolean
sysctls_restore (const char *snapshot, GError **error)
{
  g_auto(GStrv) lines = g_strsplit (snapshot, "\n", -1);
  gboolean ok = TRUE;

  for (char **l = lines; *l != NULL; l++)
    {
      const char *eq = strchr (*l, '=');

      if (eq == NULL)
        continue;
      for (gsize i = 0; i < G_N_ELEMENTS (sysctls); i++)
        {
          const char *v = eq + 1;

          if (strncmp (*l, sysctls[i].key, eq - *l) != 0 || sysctls[i].key[eq - *l] != '\0')
            continue;
          if (!g_str_equal (v, "0") && !g_str_equal (v, "1") && !g_str_equal (v, "2"))
            continue;
          if (!sysctl_write (sysctls[i].key, sysctls[i].path, v, ok ? error : NULL))
            ok = FALSE;
        }
    }
  return ok;
}

HyphaeNat *
hyphae_nat_new (const char *ifname,
                const char *state_dir)
{
  HyphaeNat *nat = g_new0 (HyphaeNat, 1);

  nat->ifname = g_strdup (ifname);
  if (state_dir != NULL)
    nat->state_path = g_build_filename (state_dir, STATE_FILE, NULL);
  return nat;
}

void
hyphae_nat_free (HyphaeNat *nat)
{
  g_autoptr(GError) error = NULL;

  if (nat == NULL)
    return;
  if (nat->applied && !hyphae_nat_remove (nat, &error))
    g_warning ("Cannot remove the exit node's forwarding: %s", error->message);
  g_free (nat->ifname);
  g_free (nat->state_path);
  g_free (nat->saved);
  g_free (nat);
}

/* The values from before us, saved once: a state file left by a crash
 * already holds them (the switches are ours now). */
static gboolean
save_sysctls (HyphaeNat *nat, GError **error)
{
  g_autofree char *snapshot = NULL;

  if (nat->state_path == NULL)
    {
      if (nat->saved == NULL)
        nat->saved = sysctls_snapshot ();
      return TRUE;
    }
  if (g_file_test (nat->state_path, G_FILE_TEST_EXISTS))
    return TRUE;
  snapshot = sysctls_snapshot ();
  return g_file_set_contents_full (nat->state_path, snapshot, -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                   0600, error);
}

gboolean
hyphae_nat_apply (HyphaeNat *nat,
                  GError **error)
{
  g_autofree char *rules = NULL;

  if (!ifname_ok (nat->ifname))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "Bad interface name for nftables: %s",
                   nat->ifname);
      return FALSE;
    }
  if (!save_sysctls (nat, error))
    return FALSE;
  nat->applied = TRUE;
  for (gsize i = 0; i < G_N_ELEMENTS (sysctls); i++)
    {
      g_autofree char *v = sysctl_read (sysctls[i].path);

      if (v == NULL)
        {
          /* IPv6 off in this kernel: nothing to forward there. */
          if (sysctls[i].family_dir != NULL && g_file_test ("/proc/sys/net/ipv4", G_FILE_TEST_IS_DIR) &&
              !g_file_test (sysctls[i].family_dir, G_FILE_TEST_EXISTS))
            continue;
          /* Otherwise /proc/sys is hidden (systemd's ProcSubset=pid). */
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "Cannot read %s (%s)", sysctls[i].key,
                       sysctls[i].path);
          return FALSE;
        }
      if (!g_str_equal (v, "1") && !sysctl_write (sysctls[i].key, sysctls[i].path, "1", error))
        return FALSE;
    }
  rules = hyphae_nat_ruleset (nat->ifname);
  return nft_run (rules, error);
}

static gboolean
restore_from_file (const char *path, GError **error)
{
  g_autofree char *snapshot = NULL;
  g_autoptr(GError) local = NULL;

  if (!g_file_get_contents (path, &snapshot, NULL, &local))
    {
      if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (!sysctls_restore (snapshot, error))
    return FALSE;
  if (g_unlink (path) != 0 && errno != ENOENT)
    {
      int e = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "Cannot remove %s: %s", path,
                   g_strerror (e));
      return FALSE;
    }
  return TRUE;
}

gboolean
hyphae_nat_remove (HyphaeNat *nat,
                   GError **error)
{
  gboolean ok = delete_table (error);

  if (nat->state_path != NULL)
    ok = restore_from_file (nat->state_path, ok ? error : NULL) && ok;
  else if (nat->saved != NULL)
    {
      ok = sysctls_restore (nat->saved, ok ? error : NULL) && ok;
      g_clear_pointer (&nat->saved, g_free);
    }
  nat->applied = FALSE;
  return ok;
}

gboolean
hyphae_nat_is_applied (HyphaeNat *nat)
{
  return nat->applied;
}

gboolean
hyphae_nat_cleanup (const char *state_dir,
                    GError **error)
{
  g_autofree char *path = g_build_filename (state_dir, STATE_FILE, NULL);
  gboolean ok;

  /* No saved values: we never set anything up here (or cleaned up already);
   * a host without nftables is not an error then. */
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return TRUE;
  ok = delete_table (error);
  return restore_from_file (path, ok ? error : NULL) && ok;
}
