/* SPDX-License-Identifier: MIT */
/*
 * daemon/netcfg/hyphae-os-dns: the plan (tailnet DNS config → what the OS
 * resolver is told), mode detection from resolv.conf/nsswitch texts, and
 * direct mode on a temporary resolv.conf (HYPHAE_RESOLV_CONF): written with
 * our nameserver, restored byte for byte (a file with its mode, a symlink,
 * no file), someone else's later file left alone, and the state file that
 * hyphae_os_dns_cleanup undoes after a crash. The system bus is pointed
 * nowhere, so detection never finds resolved. Configs are DNSConfig JSON
 * through daemon/dns's reader. systemd-resolved itself is
 * tested for real in tests/integration/os-dns-resolved.sh. NetworkManager
 * mode: its global DNS configuration built from a plan, compared, and a
 * state file kept when NM cannot be reached; NetworkManager itself in
 * tests/integration/os-dns-nm.sh.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hyphae-os-dns-private.h"

/* ---- the tailnet's DNSConfig, as the control server sends it ---- */

static HyphaeDnsConfig *
config_from (const char *json)
{
  g_autoptr(GError) error = NULL;
  HyphaeDnsConfig *c = hyphae_dns_config_parse (json, &error);

  g_assert_no_error (error);
  return c;
}

static char *
joined (char **v)
{
  return g_strjoinv (",", v);
}

/* ---- the plan ---- */

static void
test_plan_not_accepted (void)
{
  g_autoptr(HyphaeDnsConfig) c = config_from ("{\"Proxied\": true, \"Domains\": [\"corp.example\"], "
                                               "\"Resolvers\": [{\"Addr\": \"9.9.9.9\"}]}");
  g_autoptr(HyphaeOsDnsPlan) off = hyphae_os_dns_plan_new (c, "tail1.ts.net", FALSE, TRUE);
  g_autoptr(HyphaeOsDnsPlan) none = hyphae_os_dns_plan_new (NULL, "tail1.ts.net", TRUE, TRUE);

  /* CorpDNS off, or no DNSConfig: leave the OS alone, exit node or not. */
  g_assert_true (hyphae_os_dns_plan_is_empty (off));
  g_assert_true (hyphae_os_dns_plan_is_empty (none));
  g_assert_true (hyphae_os_dns_plan_equal (off, none));
  g_assert_true (hyphae_os_dns_plan_equal (off, NULL));
}

static void
test_plan_magicdns_split (void)
{
  g_autoptr(HyphaeDnsConfig) c = config_from ("{\"Proxied\": true, \"Domains\": [\"corp.example\", \"Tail1.ts.net\"], "
                                               "\"Routes\": {\"internal.example\": [{\"Addr\": \"10.0.0.53\"}]}}");
  g_autoptr(HyphaeOsDnsPlan) p = hyphae_os_dns_plan_new (c, "tail1.ts.net", TRUE, FALSE);
  g_autofree char *ns = joined (p->nameservers);
  g_autofree char *search = joined (p->search_domains);

  g_assert_cmpstr (ns, ==, "100.100.100.100,fd7a:115c:a1e0::53");
  /* The suffix first, then Domains (a case variant of it only once). */
  g_assert_cmpstr (search, ==, "tail1.ts.net,corp.example");
  g_assert_false (p->default_route);
  /* route + suffix + the ip6.arpa zone + 64..127.100.in-addr.arpa, sorted. */
  g_assert_cmpuint (g_strv_length (p->match_domains), ==, 1 + 1 + 1 + 64);
  g_assert_true (g_strv_contains ((const char * const *) p->match_domains, "internal.example"));
  g_assert_true (g_strv_contains ((const char * const *) p->match_domains, "tail1.ts.net"));
  g_assert_true (g_strv_contains ((const char * const *) p->match_domains, "64.100.in-addr.arpa"));
  g_assert_true (g_strv_contains ((const char * const *) p->match_domains, "127.100.in-addr.arpa"));
  g_assert_false (g_strv_contains ((const char * const *) p->match_domains, "128.100.in-addr.arpa"));
  g_assert_true (g_strv_contains ((const char * const *) p->match_domains, "0.e.1.a.c.5.1.1.a.7.d.f.ip6.arpa"));
  for (guint i = 1; p->match_domains[i] != NULL; i++)
    g_assert_cmpint (strcmp (p->match_domains[i - 1], p->match_domains[i]), <, 0);
}

static void
test_plan_default_route (void)
{
  g_autoptr(HyphaeDnsConfig) override = config_from ("{\"Proxied\": true, "
                                                      "\"Routes\": {\"internal.example\": [{\"Addr\": \"10.0.0.53\"}]}, "
                                                      "\"Resolvers\": [{\"Addr\": \"9.9.9.9\"}]}");
  g_autoptr(HyphaeDnsConfig) split = config_from ("{\"Proxied\": true, "
                                                   "\"Routes\": {\"internal.example\": [{\"Addr\": \"10.0.0.53\"}]}}");
  g_autoptr(HyphaeOsDnsPlan) a = hyphae_os_dns_plan_new (override, "tail1.ts.net", TRUE, FALSE);
  g_autoptr(HyphaeOsDnsPlan) b = hyphae_os_dns_plan_new (split, "tail1.ts.net", TRUE, TRUE);
  g_autoptr(HyphaeOsDnsPlan) c = hyphae_os_dns_plan_new (split, "tail1.ts.net", TRUE, FALSE);

  /* "Override local DNS": every name to MagicDNS, no match domains. */
  g_assert_true (a->default_route);
  g_assert_cmpuint (g_strv_length (a->match_domains), ==, 0);
  g_assert_cmpuint (g_strv_length (a->nameservers), ==, 2);
  /* An exit node in use: the same. */
  g_assert_true (b->default_route);
  g_assert_cmpuint (g_strv_length (b->match_domains), ==, 0);
  /* Neither: split DNS only. */
  g_assert_false (c->default_route);
  g_assert_false (hyphae_os_dns_plan_equal (b, c));
}

static void
test_plan_search_only (void)
{
  g_autoptr(HyphaeDnsConfig) c = config_from ("{\"Domains\": [\"corp.example\"]}");
  g_autoptr(HyphaeOsDnsPlan) p = hyphae_os_dns_plan_new (c, "tail1.ts.net", TRUE, FALSE);
  g_autoptr(HyphaeOsDnsPlan) copy = hyphae_os_dns_plan_copy (p);
  g_autofree char *search = joined (p->search_domains);

  /* MagicDNS off and nothing to route: search domains, no nameserver. */
  g_assert_cmpuint (g_strv_length (p->nameservers), ==, 0);
  g_assert_cmpuint (g_strv_length (p->match_domains), ==, 0);
  g_assert_cmpstr (search, ==, "corp.example");
  g_assert_false (hyphae_os_dns_plan_is_empty (p));
  g_assert_true (hyphae_os_dns_plan_equal (p, copy));
}

/* ---- detection ---- */

#define STUB                                                                              \
  "# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).\n" \
  "# Do not edit.\n"                                                                      \
  "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n"

static void
test_detect (void)
{
  const char *why = NULL;

  g_assert_cmpint (hyphae_os_dns_detect_mode (NULL, NULL, TRUE, FALSE, &why), ==, HYPHAE_OS_DNS_MODE_DIRECT);
  g_assert_nonnull (why);
  g_assert_cmpint (hyphae_os_dns_detect_mode (STUB, "hosts: files dns\n", TRUE, FALSE, &why), ==,
                   HYPHAE_OS_DNS_MODE_RESOLVED);
  /* resolved named in the header but not in the path: nsswitch asks dns
   * first and the file names another server. */
  g_assert_cmpint (hyphae_os_dns_detect_mode ("# Generated by systemd-resolved\nnameserver 10.1.1.1\n",
                                              "hosts: files dns resolve\n", TRUE, FALSE, NULL),
                   ==, HYPHAE_OS_DNS_MODE_DIRECT);
  g_assert_cmpint (hyphae_os_dns_detect_mode ("# Generated by systemd-resolved\nnameserver 10.1.1.1\n",
                                              "hosts:   files resolve [!UNAVAIL=return] dns\n", TRUE, FALSE, NULL),
                   ==, HYPHAE_OS_DNS_MODE_RESOLVED);
  /* NetworkManager on top of resolved, or on its own. */
  g_assert_cmpint (hyphae_os_dns_detect_mode ("# Generated by NetworkManager\nnameserver 127.0.0.53\n",
                                              NULL, TRUE, FALSE, NULL),
                   ==, HYPHAE_OS_DNS_MODE_RESOLVED);
  g_assert_cmpint (hyphae_os_dns_detect_mode ("# Generated by NetworkManager\nnameserver 192.168.1.1\n",
                                              "hosts: files dns\n", TRUE, FALSE, &why),
                   ==, HYPHAE_OS_DNS_MODE_DIRECT);
  g_assert_nonnull (strstr (why, "NetworkManager"));
  /* The owner comment must come before the first setting. */
  g_assert_cmpint (hyphae_os_dns_detect_mode ("nameserver 127.0.0.53\n# systemd-resolved\n", NULL, TRUE, FALSE, NULL),
                   ==, HYPHAE_OS_DNS_MODE_DIRECT);
  g_assert_cmpint (hyphae_os_dns_detect_mode ("nameserver 10.255.255.53\n", NULL, FALSE, FALSE, NULL), ==,
                   HYPHAE_OS_DNS_MODE_DIRECT);
  /* NetworkManager running and managing the file: its global DNS carries ours. */
  g_assert_cmpint (hyphae_os_dns_detect_mode ("# Generated by NetworkManager\nnameserver 192.168.1.1\n",
                                              "hosts: files dns\n", FALSE, TRUE, &why),
                   ==, HYPHAE_OS_DNS_MODE_NM);
  g_assert_nonnull (strstr (why, "global DNS"));
  /* … but through a real resolved, resolved mode wins; NM does not own other files. */
  g_assert_cmpint (hyphae_os_dns_detect_mode ("# Generated by NetworkManager\nnameserver 127.0.0.53\n",
                                              NULL, TRUE, TRUE, NULL),
                   ==, HYPHAE_OS_DNS_MODE_RESOLVED);
  g_assert_cmpint (hyphae_os_dns_detect_mode (STUB, NULL, TRUE, TRUE, NULL), ==, HYPHAE_OS_DNS_MODE_RESOLVED);
  g_assert_cmpint (hyphae_os_dns_detect_mode ("nameserver 10.1.1.1\n", NULL, FALSE, TRUE, NULL), ==,
                   HYPHAE_OS_DNS_MODE_DIRECT);
  g_assert_cmpstr (hyphae_os_dns_mode_to_string (HYPHAE_OS_DNS_MODE_NM), ==, "NetworkManager");
}

/* ---- NetworkManager's global DNS configuration ---- */

static void
test_nm_global_dns (void)
{
  char *ours_ns[] = { "100.100.100.100", "fd7a:115c:a1e0::53", NULL };
  char *ours_search[] = { "tail.example", NULL };
  char *none[] = { NULL };
  char *base_ns[] = { "192.0.2.53", NULL };
  char *base_search[] = { "lan.example", "tail.example", NULL };
  HyphaeOsDnsPlan plan = { .nameservers = ours_ns, .search_domains = ours_search, .match_domains = none };
  HyphaeOsDnsPlan search_only = { .nameservers = none, .search_domains = ours_search, .match_domains = none };
  g_autoptr(GVariant) config = g_variant_ref_sink (hyphae_nm_global_dns_new (&plan, base_ns, base_search));
  g_autoptr(GVariant) only = g_variant_ref_sink (hyphae_nm_global_dns_new (&search_only, base_ns, NULL));
  g_autoptr(GVariant) empty = g_variant_ref_sink (g_variant_new ("a{sv}", NULL));
  g_autoptr(GVariant) as_nm = NULL;
  g_autofree char *text = g_variant_print (config, TRUE);
  g_auto(GStrv) servers = hyphae_nm_global_dns_servers (config);
  g_auto(GStrv) searches = hyphae_nm_global_dns_searches (config);
  g_auto(GStrv) only_servers = hyphae_nm_global_dns_servers (only);
  g_auto(GStrv) empty_servers = hyphae_nm_global_dns_servers (empty);
  g_autofree char *servers_joined = joined (servers);
  g_autofree char *searches_joined = joined (searches);
  g_autofree char *only_joined = joined (only_servers);

  /* The property's shape (NetworkManager's D-Bus API): "*" only. */
  g_assert_cmpstr (text, ==,
                   "{'searches': <['tail.example', 'lan.example']>, 'domains': <{'*': <{'servers': "
                   "<['100.100.100.100', 'fd7a:115c:a1e0::53']>}>}>}");
  g_assert_cmpstr (servers_joined, ==, "100.100.100.100,fd7a:115c:a1e0::53");
  /* Ours first, then NM's own, each once. */
  g_assert_cmpstr (searches_joined, ==, "tail.example,lan.example");
  g_assert_true (hyphae_nm_global_dns_has_magic (config));
  /* Search domains only: NM keeps its own nameservers. */
  g_assert_cmpstr (only_joined, ==, "192.0.2.53");
  g_assert_false (hyphae_nm_global_dns_has_magic (only));
  g_assert_null (empty_servers[0]);
  g_assert_false (hyphae_nm_global_dns_has_magic (empty));
  /* As NM reads it back (options added): the same. */
  as_nm = g_variant_ref_sink (g_variant_parse (G_VARIANT_TYPE_VARDICT,
                                               "{'options': <@as []>, 'searches': <['tail.example', "
                                               "'lan.example']>, 'domains': <{'*': <{'servers': "
                                               "<['100.100.100.100', 'fd7a:115c:a1e0::53']>, 'options': "
                                               "<@as []>}>}>}",
                                               NULL, NULL, NULL));
  g_assert_true (hyphae_nm_global_dns_same (config, as_nm));
  g_assert_false (hyphae_nm_global_dns_same (config, only));
  g_assert_false (hyphae_nm_global_dns_same (config, empty));
}

/* ---- direct mode on a temporary resolv.conf ---- */

typedef struct {
  char *dir;
  char *state_dir;
  char *resolv;
} Fixture;

/* An original with no final newline, comments and a 0640 mode: what comes
 * back must be these bytes and this mode. */
#define ORIGINAL "# my own\nnameserver 192.0.2.1\nnameserver 2001:db8::1 # v6\nsearch lan.example\noptions ndots:2"

static void
fixture_setup (Fixture *f,
               gconstpointer data)
{
  f->dir = g_dir_make_tmp ("os-dns-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
  f->state_dir = g_build_filename (f->dir, "state", NULL);
  g_assert_cmpint (g_mkdir (f->state_dir, 0700), ==, 0);
  f->resolv = g_build_filename (f->dir, "resolv.conf", NULL);
  g_setenv ("HYPHAE_RESOLV_CONF", f->resolv, TRUE);
  g_setenv ("HYPHAE_NSSWITCH_CONF", "/nonexistent", TRUE);
}

static void
fixture_teardown (Fixture *f,
                  gconstpointer data)
{
  g_autoptr(GDir) d = g_dir_open (f->dir, 0, NULL);
  g_autoptr(GDir) s = g_dir_open (f->state_dir, 0, NULL);
  const char *name;

  while ((name = g_dir_read_name (s)) != NULL)
    {
      g_autofree char *p = g_build_filename (f->state_dir, name, NULL);

      g_unlink (p);
    }
  g_rmdir (f->state_dir);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *p = g_build_filename (f->dir, name, NULL);

      g_unlink (p);
    }
  g_assert_cmpint (g_rmdir (f->dir), ==, 0);
  g_free (f->dir);
  g_free (f->state_dir);
  g_free (f->resolv);
}

static HyphaeOsDnsPlan *
some_plan (gboolean exit_node)
{
  g_autoptr(HyphaeDnsConfig) c = config_from ("{\"Proxied\": true, \"Domains\": [\"corp.example\"]}");

  return hyphae_os_dns_plan_new (c, "tail1.ts.net", TRUE, exit_node);
}

static char *
read_text (const char *path)
{
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return text;
}

static gboolean
state_exists (Fixture *f)
{
  g_autofree char *p = g_build_filename (f->state_dir, HYPHAE_OS_DNS_STATE_FILE, NULL);

  return g_file_test (p, G_FILE_TEST_EXISTS);
}

static void
assert_original_back (Fixture *f)
{
  g_autofree char *text = read_text (f->resolv);
  g_autofree char *backup = g_build_filename (f->state_dir, HYPHAE_OS_DNS_BACKUP_FILE, NULL);
  struct stat st;

  g_assert_cmpstr (text, ==, ORIGINAL);
  g_assert_cmpint (lstat (f->resolv, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpint (st.st_mode & 07777, ==, 0640);
  g_assert_false (state_exists (f));
  g_assert_false (g_file_test (backup, G_FILE_TEST_EXISTS));
}

static void
write_original (Fixture *f)
{
  g_assert_true (g_file_set_contents (f->resolv, ORIGINAL, -1, NULL));
  g_assert_cmpint (g_chmod (f->resolv, 0640), ==, 0);
}

static void
test_direct_apply_revert (Fixture *f,
                          gconstpointer data)
{
  g_autoptr(HyphaeOsDns) dns = hyphae_os_dns_new ("hyn-none0", f->state_dir);
  g_autoptr(HyphaeOsDnsPlan) plan = some_plan (FALSE);
  g_autoptr(HyphaeOsDnsPlan) plan2 = some_plan (TRUE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) status = NULL;
  g_auto(GStrv) base = NULL;
  g_autofree char *text = NULL;
  g_autofree char *text2 = NULL;
  g_autofree char *base_joined = NULL;
  const char *mode = NULL, *err = NULL;

  write_original (f);
  g_assert_true (hyphae_os_dns_apply (dns, plan, &error));
  g_assert_no_error (error);
  g_assert_cmpint (hyphae_os_dns_get_mode (dns), ==, HYPHAE_OS_DNS_MODE_DIRECT);
  text = read_text (f->resolv);
  g_assert_true (hyphae_resolv_conf_is_ours (text));
  g_assert_nonnull (strstr (text, "\nnameserver 100.100.100.100\n"));
  g_assert_null (strstr (text, "192.0.2.1"));
  /* Ours first, then what the machine searched. */
  g_assert_nonnull (strstr (text, "\nsearch tail1.ts.net corp.example lan.example\n"));
  g_assert_true (state_exists (f));
  /* What the OS had is MagicDNS's fallback. */
  base = hyphae_os_dns_dup_base_nameservers (dns);
  base_joined = joined (base);
  g_assert_cmpstr (base_joined, ==, "192.0.2.1,2001:db8::1");

  status = g_variant_ref_sink (hyphae_os_dns_get_status (dns));
  g_assert_true (g_variant_lookup (status, "Mode", "&s", &mode));
  g_assert_cmpstr (mode, ==, "direct");
  g_assert_true (g_variant_lookup (status, "Error", "&s", &err));
  g_assert_cmpstr (err, ==, "");

  /* A new plan rewrites our file; the backup stays the original. */
  g_assert_true (hyphae_os_dns_apply (dns, plan2, &error));
  g_assert_no_error (error);
  text2 = read_text (f->resolv);
  g_assert_true (hyphae_resolv_conf_is_ours (text2));
  g_strfreev (base);
  base = hyphae_os_dns_dup_base_nameservers (dns);
  g_assert_cmpuint (g_strv_length (base), ==, 2);

  g_assert_true (hyphae_os_dns_revert (dns, &error));
  g_assert_no_error (error);
  assert_original_back (f);
  g_assert_null (hyphae_os_dns_dup_base_nameservers (dns));
  /* Twice is fine. */
  g_assert_true (hyphae_os_dns_revert (dns, &error));
  g_assert_no_error (error);
}

static void
test_direct_empty_plan_reverts (Fixture *f,
                                gconstpointer data)
{
  g_autoptr(HyphaeOsDns) dns = hyphae_os_dns_new ("hyn-none0", f->state_dir);
  g_autoptr(HyphaeOsDnsPlan) plan = some_plan (FALSE);
  g_autoptr(HyphaeOsDnsPlan) off = hyphae_os_dns_plan_new (NULL, NULL, FALSE, FALSE);
  g_autoptr(GError) error = NULL;

  write_original (f);
  g_assert_true (hyphae_os_dns_apply (dns, plan, &error));
  g_assert_true (hyphae_os_dns_apply (dns, off, &error));
  g_assert_no_error (error);
  assert_original_back (f);
}

static void
test_direct_symlink_and_missing (Fixture *f,
                                 gconstpointer data)
{
  g_autoptr(HyphaeOsDnsPlan) plan = some_plan (FALSE);
  g_autoptr(GError) error = NULL;
  g_autofree char *target = g_build_filename (f->dir, "real-resolv.conf", NULL);
  g_autofree char *link = NULL;
  g_autofree char *target_text = NULL;
  struct stat st;

  /* A symlink (as to resolvconf's or resolved's file) comes back as the
   * same symlink; its target is never written. */
  g_assert_true (g_file_set_contents (target, "nameserver 192.0.2.9\n", -1, NULL));
  g_assert_cmpint (symlink ("real-resolv.conf", f->resolv), ==, 0);
  {
    g_autoptr(HyphaeOsDns) dns = hyphae_os_dns_new ("hyn-none0", f->state_dir);

    g_assert_true (hyphae_os_dns_apply (dns, plan, &error));
    g_assert_no_error (error);
    g_assert_cmpint (lstat (f->resolv, &st), ==, 0);
    g_assert_true (S_ISREG (st.st_mode));
    g_assert_true (hyphae_os_dns_revert (dns, &error));
    g_assert_no_error (error);
  }
  link = g_file_read_link (f->resolv, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (link, ==, "real-resolv.conf");
  target_text = read_text (target);
  g_assert_cmpstr (target_text, ==, "nameserver 192.0.2.9\n");
  g_unlink (f->resolv);

  /* No resolv.conf at all: ours while up, none after. */
  {
    g_autoptr(HyphaeOsDns) dns = hyphae_os_dns_new ("hyn-none0", f->state_dir);

    g_assert_true (hyphae_os_dns_apply (dns, plan, &error));
    g_assert_no_error (error);
    g_assert_true (g_file_test (f->resolv, G_FILE_TEST_EXISTS));
    g_assert_true (hyphae_os_dns_revert (dns, &error));
    g_assert_no_error (error);
    g_assert_false (g_file_test (f->resolv, G_FILE_TEST_EXISTS));
  }
}

static void
test_direct_trampled (Fixture *f,
                      gconstpointer data)
{
  g_autoptr(HyphaeOsDns) dns = hyphae_os_dns_new ("hyn-none0", f->state_dir);
  g_autoptr(HyphaeOsDnsPlan) plan = some_plan (FALSE);
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  write_original (f);
  g_assert_true (hyphae_os_dns_apply (dns, plan, &error));
  /* Another program (DHCP, NetworkManager) wrote its own since: newer than
   * our backup, so it stays. */
  g_assert_true (g_file_set_contents (f->resolv, "nameserver 198.51.100.7\n", -1, NULL));
  g_assert_true (hyphae_os_dns_revert (dns, &error));
  g_assert_no_error (error);
  text = read_text (f->resolv);
  g_assert_cmpstr (text, ==, "nameserver 198.51.100.7\n");
  g_assert_false (state_exists (f));
}

static gboolean
file_is_ours (gpointer path)
{
  g_autofree char *text = NULL;

  return g_file_get_contents (path, &text, NULL, NULL) && hyphae_resolv_conf_is_ours (text);
}

static gboolean
timed_out (gpointer flag)
{
  *(gboolean *) flag = TRUE;
  return G_SOURCE_REMOVE;
}

static void
test_direct_rewritten_by_another (Fixture *f,
                                  gconstpointer data)
{
  g_autoptr(HyphaeOsDns) dns = hyphae_os_dns_new ("hyn-none0", f->state_dir);
  g_autoptr(HyphaeOsDnsPlan) plan = some_plan (FALSE);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) base = NULL;
  g_autofree char *text = NULL;
  gboolean late = FALSE;
  guint guard;

  write_original (f);
  g_assert_true (hyphae_os_dns_apply (dns, plan, &error));
  /* NetworkManager (or DHCP) writes its own, with a new nameserver. */
  g_assert_true (g_file_set_contents (f->resolv, "# Generated by NetworkManager\nnameserver 198.51.100.7\n", -1,
                                      NULL));
  guard = g_timeout_add_seconds (10, timed_out, &late);
  while (!late && !file_is_ours (f->resolv))
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (late);
  g_source_remove (guard);
  /* Ours on top again; the newer file is now what MagicDNS falls back to… */
  base = hyphae_os_dns_dup_base_nameservers (dns);
  g_assert_cmpstr (base[0], ==, "198.51.100.7");
  g_assert_null (base[1]);
  /* … and what comes back. */
  g_assert_true (hyphae_os_dns_revert (dns, &error));
  g_assert_no_error (error);
  text = read_text (f->resolv);
  g_assert_cmpstr (text, ==, "# Generated by NetworkManager\nnameserver 198.51.100.7\n");
}

static void
test_direct_crash_cleanup (Fixture *f,
                           gconstpointer data)
{
  g_autoptr(HyphaeOsDnsPlan) plan = some_plan (FALSE);
  g_autoptr(GError) error = NULL;
  HyphaeOsDns *dns = hyphae_os_dns_new ("hyn-none0", f->state_dir);
  g_autofree char *text = NULL;

  write_original (f);
  g_assert_true (hyphae_os_dns_apply (dns, plan, &error));
  /* The daemon dies: nothing reverted, only the state file knows. */
  hyphae_os_dns_free (dns);
  text = read_text (f->resolv);
  g_assert_true (hyphae_resolv_conf_is_ours (text));
  g_assert_true (state_exists (f));

  g_assert_true (hyphae_os_dns_cleanup (f->state_dir, &error));
  g_assert_no_error (error);
  assert_original_back (f);
  /* Nothing left to do the second time. */
  g_assert_true (hyphae_os_dns_cleanup (f->state_dir, &error));
  g_assert_no_error (error);
}

static void
test_direct_other_objects_state (Fixture *f,
                                 gconstpointer data)
{
  g_autoptr(HyphaeOsDns) live = hyphae_os_dns_new ("hyn-none0", f->state_dir);
  g_autoptr(HyphaeOsDns) second = hyphae_os_dns_new ("hyn-none0", f->state_dir);
  g_autoptr(HyphaeOsDnsPlan) plan = some_plan (FALSE);
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  write_original (f);
  g_assert_true (hyphae_os_dns_apply (live, plan, &error));
  /* A second hyphaed starting up (it reverts before it knows better) leaves
   * the live one's resolv.conf and state alone. */
  g_assert_true (hyphae_os_dns_revert (second, &error));
  g_assert_no_error (error);
  text = read_text (f->resolv);
  g_assert_true (hyphae_resolv_conf_is_ours (text));
  g_assert_true (state_exists (f));
  g_assert_true (hyphae_os_dns_revert (live, &error));
  assert_original_back (f);
}

static void
test_cleanup_unknown_state (Fixture *f,
                            gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *p = g_build_filename (f->state_dir, HYPHAE_OS_DNS_STATE_FILE, NULL);

  /* A state file we cannot read is kept for a hyphaed that can. */
  g_assert_true (g_file_set_contents (p, "[os-dns]\nmode=future\n", -1, NULL));
  g_assert_false (hyphae_os_dns_cleanup (f->state_dir, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_true (state_exists (f));
}

/* NetworkManager mode's state with no NM to ask: kept for the next try. */
static void
test_cleanup_nm_unreachable (Fixture *f,
                             gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *p = g_build_filename (f->state_dir, HYPHAE_OS_DNS_STATE_FILE, NULL);

  g_assert_true (g_file_set_contents (p,
                                      "[os-dns]\nmode=NetworkManager\nnm-previous={}\n"
                                      "nm-ours={'domains': <{'*': <{'servers': <['100.100.100.100']>}>}>}\n",
                                      -1, NULL));
  g_assert_false (hyphae_os_dns_cleanup (f->state_dir, &error));
  g_assert_nonnull (error);
  g_assert_true (state_exists (f));
  /* Nothing set yet (no nm-previous): nothing to undo. */
  g_assert_true (g_file_set_contents (p, "[os-dns]\nmode=NetworkManager\n", -1, NULL));
  g_assert_true (hyphae_os_dns_cleanup (f->state_dir, NULL));
  g_assert_false (state_exists (f));
}

static void
test_resolv_conf_text (void)
{
  g_autofree char *none = hyphae_resolv_conf_render (&(HyphaeOsDnsPlan) {
                                                       .nameservers = (char *[]) { NULL },
                                                       .search_domains = (char *[]) { NULL },
                                                       .match_domains = (char *[]) { NULL },
                                                     },
                                                     NULL);
  g_auto(GStrv) ns = hyphae_resolv_conf_parse_nameservers ("nameserver 100.100.100.100\n"
                                                            "  nameserver\t10.0.0.1\n"
                                                            "#nameserver 10.0.0.2\n"
                                                            "nameserver fd7a:115c:a1e0::53\n");
  g_auto(GStrv) search = hyphae_resolv_conf_parse_search ("domain a.example\nsearch b.example a.example\n");
  g_autofree char *ns_joined = joined (ns);
  g_autofree char *search_joined = joined (search);

  g_assert_true (hyphae_resolv_conf_is_ours (none));
  /* Our own addresses are never someone's fallback. */
  g_assert_cmpstr (ns_joined, ==, "10.0.0.1");
  g_assert_cmpstr (search_joined, ==, "a.example,b.example");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* No system bus: detection must not find a real resolved. */
  g_setenv ("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus", TRUE);

  g_test_add_func ("/os-dns/plan/not-accepted", test_plan_not_accepted);
  g_test_add_func ("/os-dns/plan/magicdns-split", test_plan_magicdns_split);
  g_test_add_func ("/os-dns/plan/default-route", test_plan_default_route);
  g_test_add_func ("/os-dns/plan/search-only", test_plan_search_only);
  g_test_add_func ("/os-dns/detect", test_detect);
  g_test_add_func ("/os-dns/resolv-conf/parse", test_resolv_conf_text);
  g_test_add_func ("/os-dns/nm/global-dns", test_nm_global_dns);
  g_test_add ("/os-dns/direct/apply-revert", Fixture, NULL, fixture_setup, test_direct_apply_revert,
              fixture_teardown);
  g_test_add ("/os-dns/direct/empty-plan-reverts", Fixture, NULL, fixture_setup,
              test_direct_empty_plan_reverts, fixture_teardown);
  g_test_add ("/os-dns/direct/symlink-and-missing", Fixture, NULL, fixture_setup,
              test_direct_symlink_and_missing, fixture_teardown);
  g_test_add ("/os-dns/direct/trampled", Fixture, NULL, fixture_setup, test_direct_trampled,
              fixture_teardown);
  g_test_add ("/os-dns/direct/rewritten-by-another", Fixture, NULL, fixture_setup,
              test_direct_rewritten_by_another, fixture_teardown);
  g_test_add ("/os-dns/direct/crash-cleanup", Fixture, NULL, fixture_setup, test_direct_crash_cleanup,
              fixture_teardown);
  g_test_add ("/os-dns/direct/other-objects-state", Fixture, NULL, fixture_setup,
              test_direct_other_objects_state, fixture_teardown);
  g_test_add ("/os-dns/cleanup/unknown-state", Fixture, NULL, fixture_setup, test_cleanup_unknown_state,
              fixture_teardown);
  g_test_add ("/os-dns/cleanup/nm-unreachable", Fixture, NULL, fixture_setup, test_cleanup_nm_unreachable,
              fixture_teardown);
  return g_test_run ();
}
