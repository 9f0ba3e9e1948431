/* SPDX-License-Identifier: MIT */
/*
 * Tests for daemon/dns/hyphae-dns-config (tailcfg.DNSConfig → HyphaeDnsConfig).
 *
 *  /dns-config/tailscale-saas  the DNSConfig tailscale.com sent (tests/data), through the netmap
 *  /dns-config/none            no DNSConfig: empty, not present
 *  /dns-config/resolvers       every Resolver.Addr form, BootstrapResolution, UseWithExitNode,
 *                              tls:// skipped
 *  /dns-config/routes          normalised keys, null and [] answered locally, longest first,
 *                              route_for picks the longest suffix on a label boundary
 *  /dns-config/extra-records   family from the value, other types and non-IPs skipped
 *  /dns-config/names           the name rules (dots, case, label and name lengths)
 *  /dns-config/refused         wrong types, bounds, bad addresses and names, not JSON
 */
#include <arpa/inet.h>
#include <string.h>

#include "fixture-files.h"
#include "hyphae-dns-config.h"
#include "netmap.h"

static HyphaeDnsConfig *
parse_ok (const char *json)
{
  g_autoptr(GError) error = NULL;
  HyphaeDnsConfig *c = hyphae_dns_config_parse (json, &error);

  g_assert_no_error (error);
  g_assert_nonnull (c);
  return c;
}

static void
refused (const char *json,
         const char *what)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeDnsConfig) c = hyphae_dns_config_parse (json, &error);

  g_assert_null (c);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  if (strstr (error->message, what) == NULL)
    g_error ("%s: error \"%s\" does not name %s", json, error->message, what);
}

static const HyphaeDnsResolver *
resolver (GPtrArray *list,
          guint i)
{
  g_assert_cmpuint (i, <, list->len);
  return g_ptr_array_index (list, i);
}

static void
test_tailscale_saas (void)
{
  g_autofree char *json = fixture_file_text (g_getenv ("HYPHAE_TEST_DATA"),
                                             "tailscale-saas-map_response.json");
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeMapUpdate) update = hyphae_map_update_parse (json, strlen (json), &error);
  g_autoptr(HyphaeNetmap) nm = NULL;
  g_autoptr(HyphaeDnsConfig) c = NULL;
  const HyphaeDnsRoute *route;

  g_assert_no_error (error);
  nm = hyphae_netmap_apply (NULL, update, 0, &error);
  g_assert_no_error (error);
  c = parse_ok (hyphae_netmap_get_dns_config_json (nm));

  g_assert_true (c->present);
  g_assert_true (c->proxied);
  g_assert_cmpuint (c->resolvers->len, ==, 0);
  g_assert_cmpstrv (c->domains, ((const char *[]) { "tail252fff.ts.net", NULL }));
  g_assert_cmpuint (c->routes->len, ==, 2);
  /* "tail252fff.ts.net.": null — answered by MagicDNS itself. */
  route = hyphae_dns_config_route_for (c, "peer.tail252fff.ts.net");
  g_assert_nonnull (route);
  g_assert_cmpstr (route->suffix, ==, "tail252fff.ts.net");
  g_assert_cmpuint (route->resolvers->len, ==, 0);
  /* "ts.net.": two UDP resolvers. */
  route = hyphae_dns_config_route_for (c, "other.ts.net");
  g_assert_nonnull (route);
  g_assert_cmpstr (route->suffix, ==, "ts.net");
  g_assert_cmpuint (route->resolvers->len, ==, 2);
  g_assert_cmpint (resolver (route->resolvers, 0)->family, ==, AF_INET);
  g_assert_cmpint (resolver (route->resolvers, 1)->family, ==, AF_INET6);
  g_assert_null (hyphae_dns_config_route_for (c, "example.com"));
  g_assert_cmpstr (hyphae_dns_config_route_for (c, "ts.net")->suffix, ==, "ts.net");
}

static void
test_none (void)
{
  g_autoptr(HyphaeDnsConfig) c = parse_ok (NULL);
  g_autoptr(HyphaeDnsConfig) empty = parse_ok ("{}");

  g_assert_false (c->present);
  g_assert_false (c->proxied);
  g_assert_cmpuint (c->resolvers->len + c->fallback_resolvers->len + c->routes->len, ==, 0);
  g_assert_cmpuint (c->extra_records->len, ==, 0);
  g_assert_nonnull (c->domains);
  g_assert_null (c->domains[0]);
  g_assert_null (c->cert_domains[0]);
  g_assert_null (hyphae_dns_config_route_for (c, "a.b"));

  g_assert_true (empty->present);
  g_assert_nonnull (empty->domains);
  g_assert_null (empty->domains[0]);
  g_assert_nonnull (empty->cert_domains);
}

static void
check_udp (const HyphaeDnsResolver *r,
           int family,
           const char *ip,
           guint16 port)
{
  guint8 want[16] = { 0 };

  g_assert_cmpint (r->kind, ==, HYPHAE_DNS_RESOLVER_UDP);
  g_assert_cmpint (r->family, ==, family);
  g_assert_cmpint (inet_pton (family, ip, want), ==, 1);
  g_assert_cmpmem (r->ip, family == AF_INET ? 4 : 16, want, family == AF_INET ? 4 : 16);
  g_assert_cmpuint (r->port, ==, port);
  g_assert_null (r->url);
}

static void
test_resolvers (void)
{
  g_autoptr(HyphaeDnsConfig) c = parse_ok (
    "{\"Resolvers\":["
    "{\"Addr\":\"1.2.3.4\"},"
    "{\"Addr\":\"5.6.7.8:5353\",\"UseWithExitNode\":true},"
    "{\"Addr\":\"fd00::1\"},"
    "{\"Addr\":\"[fd00::2]:54\"},"
    "{\"Addr\":\"https://dns.example/dns-query\",\"BootstrapResolution\":[\"9.9.9.9\",\"2620:fe::FE\"]},"
    "{\"Addr\":\"http://100.64.0.7:4455/dns-query\"},"
    "{\"Addr\":\"tls://dns.example\"}],"
    "\"FallbackResolvers\":[{\"Addr\":\"8.8.8.8\"}],"
    "\"Nameservers\":[\"1.1.1.1\"],\"Unknown\":{\"x\":[1,2]}}");
  const HyphaeDnsResolver *r;

  g_assert_cmpuint (c->resolvers->len, ==, 6); /* tls:// skipped */
  check_udp (resolver (c->resolvers, 0), AF_INET, "1.2.3.4", 53);
  g_assert_false (resolver (c->resolvers, 0)->use_with_exit_node);
  g_assert_cmpstr (resolver (c->resolvers, 0)->addr, ==, "1.2.3.4");
  check_udp (resolver (c->resolvers, 1), AF_INET, "5.6.7.8", 5353);
  g_assert_true (resolver (c->resolvers, 1)->use_with_exit_node);
  check_udp (resolver (c->resolvers, 2), AF_INET6, "fd00::1", 53);
  check_udp (resolver (c->resolvers, 3), AF_INET6, "fd00::2", 54);
  r = resolver (c->resolvers, 4);
  g_assert_cmpint (r->kind, ==, HYPHAE_DNS_RESOLVER_DOH);
  g_assert_cmpstr (r->url, ==, "https://dns.example/dns-query");
  g_assert_cmpstrv (r->bootstrap, ((const char *[]) { "9.9.9.9", "2620:fe::fe", NULL }));
  r = resolver (c->resolvers, 5);
  g_assert_cmpint (r->kind, ==, HYPHAE_DNS_RESOLVER_DOH);
  g_assert_cmpstr (r->url, ==, "http://100.64.0.7:4455/dns-query");
  g_assert_cmpstrv (r->bootstrap, ((const char *[]) { NULL }));
  check_udp (resolver (c->fallback_resolvers, 0), AF_INET, "8.8.8.8", 53);

  /* The same reader for what the OS had (osdns's fallback). */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(HyphaeDnsResolver) copy = NULL;
    g_autoptr(HyphaeDnsResolver) ok = hyphae_dns_resolver_parse ("[::1]:53", &error);

    g_assert_no_error (error);
    check_udp (ok, AF_INET6, "::1", 53);
    copy = hyphae_dns_resolver_copy (ok);
    check_udp (copy, AF_INET6, "::1", 53);
    g_assert_cmpstr (copy->addr, ==, "[::1]:53");
    g_assert_null (hyphae_dns_resolver_parse ("tls://x", &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
    g_clear_error (&error);
    for (const char * const *bad = (const char * const[]) { "", "1.2.3", "1.2.3.4:0", "1.2.3.4:65536",
                                                            "1.2.3.4:x", "[1.2.3.4]:53", "fd00::1:53:",
                                                            "[fd00::1]", "[fd00::1]53", "fe80::1%eth0",
                                                            "dns.example", "https://", "https:///path",
                                                            NULL };
         *bad != NULL; bad++)
      {
        g_autoptr(HyphaeDnsResolver) no = hyphae_dns_resolver_parse (*bad, &error);

        if (no != NULL)
          g_error ("resolver \"%s\" accepted", *bad);
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
        g_clear_error (&error);
      }
  }
}

static void
test_routes (void)
{
  g_autoptr(HyphaeDnsConfig) c = parse_ok (
    "{\"Routes\":{"
    "\"Corp.Example.\":[{\"Addr\":\"10.0.0.1\"}],"
    "\"example\":[{\"Addr\":\"10.0.0.2\"},{\"Addr\":\"10.0.0.3\"}],"
    "\"local.corp.example\":[],"
    "\".ts.example\":null,"
    "\"b.corp.example\":[{\"Addr\":\"10.0.0.4\"}]}}");
  const char *order[] = { "local.corp.example", "b.corp.example", "corp.example", "ts.example", "example" };

  g_assert_cmpuint (c->routes->len, ==, G_N_ELEMENTS (order));
  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    g_assert_cmpstr (((HyphaeDnsRoute *) g_ptr_array_index (c->routes, i))->suffix, ==, order[i]);

  g_assert_cmpstr (hyphae_dns_config_route_for (c, "x.local.corp.example")->suffix, ==, "local.corp.example");
  g_assert_cmpuint (hyphae_dns_config_route_for (c, "x.local.corp.example")->resolvers->len, ==, 0);
  g_assert_cmpstr (hyphae_dns_config_route_for (c, "xlocal.corp.example")->suffix, ==, "corp.example");
  g_assert_cmpstr (hyphae_dns_config_route_for (c, "corp.example")->suffix, ==, "corp.example");
  g_assert_cmpstr (hyphae_dns_config_route_for (c, "a.b.corp.example")->suffix, ==, "b.corp.example");
  g_assert_cmpuint (hyphae_dns_config_route_for (c, "ts.example")->resolvers->len, ==, 0);
  g_assert_cmpuint (hyphae_dns_config_route_for (c, "foo.example")->resolvers->len, ==, 2);
  g_assert_null (hyphae_dns_config_route_for (c, "notexample"));
  g_assert_null (hyphae_dns_config_route_for (c, "example.org"));

  g_assert_true (hyphae_dns_name_has_suffix ("a.b", "b"));
  g_assert_true (hyphae_dns_name_has_suffix ("b", "b"));
  g_assert_false (hyphae_dns_name_has_suffix ("ab", "b"));
  g_assert_false (hyphae_dns_name_has_suffix ("b", "a.b"));
}

static void
test_extra_records (void)
{
  g_autoptr(HyphaeDnsConfig) c = parse_ok (
    "{\"ExtraRecords\":["
    "{\"Name\":\"Web.Corp.\",\"Value\":\"10.1.2.3\"},"
    "{\"Name\":\"web.corp\",\"Type\":\"AAAA\",\"Value\":\"fd00::5\"},"
    "{\"Name\":\"v4.corp\",\"Type\":\"AAAA\",\"Value\":\"10.9.9.9\"},"
    "{\"Name\":\"txt.corp\",\"Type\":\"TXT\",\"Value\":\"hello\"},"
    "{\"Name\":\"bad.corp\",\"Value\":\"not-an-ip\"}]}");
  const HyphaeDnsExtraRecord *rec;
  guint8 want[16];

  g_assert_cmpuint (c->extra_records->len, ==, 3);
  rec = &g_array_index (c->extra_records, HyphaeDnsExtraRecord, 0);
  g_assert_cmpstr (rec->name, ==, "web.corp");
  g_assert_cmpuint (rec->type, ==, 1);
  inet_pton (AF_INET, "10.1.2.3", want);
  g_assert_cmpmem (rec->ip, 4, want, 4);
  rec = &g_array_index (c->extra_records, HyphaeDnsExtraRecord, 1);
  g_assert_cmpuint (rec->type, ==, 28);
  inet_pton (AF_INET6, "fd00::5", want);
  g_assert_cmpmem (rec->ip, 16, want, 16);
  rec = &g_array_index (c->extra_records, HyphaeDnsExtraRecord, 2);
  g_assert_cmpstr (rec->name, ==, "v4.corp");
  g_assert_cmpuint (rec->type, ==, 1); /* from the value, as tailscaled */
}

static void
test_names (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *long_label = g_strnfill (63, 'a');
  g_autofree char *too_long_label = g_strnfill (64, 'a');
  g_autofree char *name253 = NULL;
  g_autofree char *name254 = NULL;
  char *n;

  n = hyphae_dns_name_normalize (".Foo.Example.", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (n, ==, "foo.example");
  g_free (n);
  n = hyphae_dns_name_normalize (long_label, &error);
  g_assert_no_error (error);
  g_free (n);
  /* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 */
  name253 = g_strdup_printf ("%s.%s.%s.%.61s", long_label, long_label, long_label, long_label);
  name254 = g_strdup_printf ("%s.%s.%s.%.62s", long_label, long_label, long_label, long_label);
  n = hyphae_dns_name_normalize (name253, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (n), ==, 253);
  g_free (n);
  for (const char * const *bad = (const char * const[]) { "", ".", "..", "a..b", "a b", "a\tb", "\xc3\xa9.com",
                                                          too_long_label, name254, NULL };
       *bad != NULL; bad++)
    {
      g_assert_null (hyphae_dns_name_normalize (*bad, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      g_clear_error (&error);
    }
}

static void
test_refused (void)
{
  GString *big = g_string_new ("{\"Routes\":{");

  refused ("", "DNSConfig");
  refused ("[]", "DNSConfig");
  refused ("{\"Proxied\":1}", "Proxied");
  refused ("{\"Proxied\":\"true\"}", "Proxied");
  refused ("{\"Resolvers\":{}}", "Resolvers");
  refused ("{\"Resolvers\":[1]}", "Resolvers[0]");
  refused ("{\"Resolvers\":[{\"Addr\":5}]}", "Addr");
  refused ("{\"Resolvers\":[{\"Addr\":\"bogus\"}]}", "Resolvers[0].Addr");
  refused ("{\"Resolvers\":[{\"Addr\":\"1.1.1.1\",\"BootstrapResolution\":[\"x\"]}]}", "BootstrapResolution[0]");
  refused ("{\"Resolvers\":[{\"Addr\":\"1.1.1.1\",\"BootstrapResolution\":[\"1.1.1.1\",7]}]}",
           "BootstrapResolution[1]");
  refused ("{\"Resolvers\":[{\"Addr\":\"1.1.1.1\",\"UseWithExitNode\":\"yes\"}]}", "UseWithExitNode");
  refused ("{\"FallbackResolvers\":[{\"Addr\":\"\"}]}", "FallbackResolvers[0]");
  refused ("{\"Routes\":[]}", "Routes");
  refused ("{\"Routes\":{\"a\":{}}}", "Routes[a]");
  refused ("{\"Routes\":{\".\":null}}", "Routes key");
  refused ("{\"Routes\":{\"a..b\":null}}", "Routes key");
  refused ("{\"Routes\":{\"a\":null,\"A.\":null}}", "twice");
  refused ("{\"Routes\":{\"a\":[{\"Addr\":\"1.2.3.4:99999\"}]}}", "Routes[a][0].Addr");
  refused ("{\"Domains\":\"a\"}", "Domains");
  refused ("{\"Domains\":[\"ok\",7]}", "Domains[1]");
  refused ("{\"Domains\":[\"a..b\"]}", "Domains[0]");
  refused ("{\"CertDomains\":[\"\"]}", "CertDomains[0]");
  refused ("{\"ExtraRecords\":{}}", "ExtraRecords");
  refused ("{\"ExtraRecords\":[\"x\"]}", "ExtraRecords[0]");
  refused ("{\"ExtraRecords\":[{\"Name\":\"\",\"Value\":\"1.2.3.4\"}]}", "ExtraRecords[0].Name");
  refused ("{\"ExtraRecords\":[{\"Name\":\"a\",\"Value\":1}]}", "ExtraRecords[0].Value");
  refused ("{\"Proxied\":true} x", "DNSConfig");
  refused ("{\"Proxied\":true,}", "DNSConfig");

  /* Bounds. */
  for (int i = 0; i < 257; i++)
    g_string_append_printf (big, "%s\"r%d.example\":null", i ? "," : "", i);
  g_string_append (big, "}}");
  refused (big->str, "Routes: 257");
  g_string_assign (big, "{\"Routes\":{\"a\":[");
  for (int i = 0; i < 65; i++)
    g_string_append_printf (big, "%s{\"Addr\":\"10.0.0.%d\"}", i ? "," : "", i);
  g_string_append (big, "]}}");
  refused (big->str, "65 resolvers");
  g_string_assign (big, "{\"ExtraRecords\":[");
  for (int i = 0; i < 10001; i++)
    g_string_append_printf (big, "%s{\"Name\":\"h%d\",\"Value\":\"10.0.0.1\"}", i ? "," : "", i);
  g_string_append (big, "]}");
  refused (big->str, "ExtraRecords: 10001");
  g_string_free (big, TRUE);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/dns-config/tailscale-saas", test_tailscale_saas);
  g_test_add_func ("/dns-config/none", test_none);
  g_test_add_func ("/dns-config/resolvers", test_resolvers);
  g_test_add_func ("/dns-config/routes", test_routes);
  g_test_add_func ("/dns-config/extra-records", test_extra_records);
  g_test_add_func ("/dns-config/names", test_names);
  g_test_add_func ("/dns-config/refused", test_refused);
  return g_test_run ();
}
