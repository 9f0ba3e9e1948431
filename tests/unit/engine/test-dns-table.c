/* SPDX-License-Identifier: MIT */
/*
 * Tests for daemon/engine/dns/dns-records (the record table) and dns-resolve
 * (what MagicDNS answers, after tsdns.go).
 *
 *  /dns-table/lookup        case-insensitive names, A/AAAA lists in order,
 *                           duplicates kept once, trailing dots ignored
 *  /dns-table/reverse       address → first name added; unknown → NULL;
 *                           PTR-only entries, which forward names beat
 *  /dns-table/search        a bare name under the search domains, in order;
 *                           dotted names are not searched; names under a
 *                           subdomain host are that host
 *  /dns-table/zones         longest zone; the tailnet reverse zones
 *  /dns-table/bad-input     bad names and families refused
 *  /dns-table/many          10,000 names: every one found, the hash holds
 *  /dns-table/reverse-names in-addr.arpa / ip6.arpa parse and format
 *  /dns-resolve/decide      each verdict: A, AAAA, no-data (+SOA), ANY,
 *                           NOTIMP types, other types, NXDOMAIN under a zone,
 *                           forward outside, PTR (found, NXDOMAIN, forward,
 *                           DNS-SD), the symbolic name both ways, .onion,
 *                           parse errors, no table
 *  /dns-resolve/respond     one call from query bytes to answer bytes
 */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "dns/dns-packet.h"
#include "dns/dns-resolve.h"

static struct ip_addr
addr(const char *s)
{
    struct ip_addr a;

    g_assert_true(ip_addr_parse(&a, s, strlen(s)));
    return a;
}

static void
add(struct dns_table_builder *b, const char *name, const char *ip)
{
    struct ip_addr a = addr(ip);

    g_assert_cmpint(dns_table_builder_add(b, name, &a), ==, 0);
}

static char *
addr_text(const struct ip_addr *a)
{
    char s[IP_ADDR_STRLEN];

    ip_addr_format(a, s);
    return g_strdup(s);
}

static void
assert_addrs(const struct ip_addr *v, size_t n, const char *want)
{
    g_autoptr(GString) got = g_string_new(NULL);

    for (size_t i = 0; i < n; i++) {
        g_autofree char *s = addr_text(&v[i]);

        g_string_append_printf(got, "%s%s", i ? "," : "", s);
    }
    g_assert_cmpstr(got->str, ==, want);
}

/* The tailnet of these tests. */
static struct dns_table *
tailnet(void)
{
    struct dns_table_builder *b = dns_table_builder_new();
    struct ip_addr ptr_only = addr("fd7a:115c:a1e0::3"), taken = addr("100.64.0.2");
    struct dns_table *t;

    /* PTR-only entries: v4only's IPv6 address (its AAAA left out), and one
     * that loses to the forward name added later. */
    g_assert_cmpint(dns_table_builder_add_ptr(b, "v4only.tail1234.ts.net", &ptr_only), ==, 0);
    g_assert_cmpint(dns_table_builder_add_ptr(b, "loser.tail1234.ts.net", &taken), ==, 0);
    add(b, "laptop.tail1234.ts.net.", "100.64.0.1");
    add(b, "laptop.tail1234.ts.net.", "fd7a:115c:a1e0::1");
    add(b, "Server.Tail1234.ts.net", "100.64.0.2");
    add(b, "server.tail1234.ts.net", "100.64.0.2"); /* duplicate */
    add(b, "v4only.tail1234.ts.net", "100.64.0.3");
    add(b, "multi.example.com", "192.0.2.1"); /* an ExtraRecord */
    add(b, "multi.example.com", "192.0.2.2");
    add(b, "alias.tail1234.ts.net", "100.64.0.1"); /* a second name: PTR keeps the first */
    add(b, "box.corp.example", "10.1.2.3");
    g_assert_cmpint(dns_table_builder_add_zone(b, "tail1234.ts.net."), ==, 0);
    g_assert_cmpint(dns_table_builder_add_zone(b, "ts.net"), ==, 0);
    g_assert_cmpint(dns_table_builder_add_tailnet_reverse_zones(b), ==, 0);
    g_assert_cmpint(dns_table_builder_add_subdomain_host(b, "server.tail1234.ts.net"), ==, 0);
    g_assert_cmpint(dns_table_builder_add_subdomain_host(b, "absent.tail1234.ts.net"), ==, 0);
    g_assert_cmpint(dns_table_builder_add_search(b, "corp.example"), ==, 0);
    g_assert_cmpint(dns_table_builder_add_search(b, "tail1234.ts.net"), ==, 0);
    t = dns_table_build(b);
    g_assert_nonnull(t);
    return t;
}

static void
test_lookup(void)
{
    struct dns_table *t = tailnet();
    struct dns_host h;

    g_assert_cmpuint(dns_table_n_names(t), ==, 6);
    g_assert_true(dns_table_lookup(t, "laptop.tail1234.ts.net", 22, &h));
    g_assert_cmpstr(h.name, ==, "laptop.tail1234.ts.net");
    assert_addrs(h.v4, h.n_v4, "100.64.0.1");
    assert_addrs(h.v6, h.n_v6, "fd7a:115c:a1e0::1");
    g_assert_true(dns_table_lookup(t, "server.tail1234.ts.net", 22, &h));
    assert_addrs(h.v4, h.n_v4, "100.64.0.2");
    g_assert_cmpuint(h.n_v6, ==, 0);
    g_assert_true(dns_table_lookup(t, "multi.example.com", 17, &h));
    assert_addrs(h.v4, h.n_v4, "192.0.2.1,192.0.2.2");
    /* Lookups take normalised names: upper case is the caller's job. */
    g_assert_false(dns_table_lookup(t, "LAPTOP.tail1234.ts.net", 22, &h));
    g_assert_false(dns_table_lookup(t, "laptop.tail1234.ts.ne", 21, &h));
    g_assert_false(dns_table_lookup(t, "laptop", 6, &h));
    g_assert_false(dns_table_lookup(t, "", 0, &h));
    dns_table_free(t);
}

static void
test_reverse(void)
{
    struct dns_table *t = tailnet();
    struct ip_addr a = addr("100.64.0.1");

    g_assert_cmpstr(dns_table_lookup_addr(t, &a), ==, "laptop.tail1234.ts.net");
    a = addr("fd7a:115c:a1e0::1");
    g_assert_cmpstr(dns_table_lookup_addr(t, &a), ==, "laptop.tail1234.ts.net");
    a = addr("100.64.0.2");
    g_assert_cmpstr(dns_table_lookup_addr(t, &a), ==, "server.tail1234.ts.net");
    a = addr("100.64.0.9");
    g_assert_null(dns_table_lookup_addr(t, &a));
    /* PTR-only: found in reverse, never forward; forward names win. */
    a = addr("fd7a:115c:a1e0::3");
    g_assert_cmpstr(dns_table_lookup_addr(t, &a), ==, "v4only.tail1234.ts.net");
    g_assert_false(dns_table_lookup(t, "loser.tail1234.ts.net", 21, &(struct dns_host){ 0 }));
    /* Stray bytes past an IPv4 address do not matter. */
    a = addr("100.64.0.2");
    a.bytes[10] = 0xff;
    g_assert_cmpstr(dns_table_lookup_addr(t, &a), ==, "server.tail1234.ts.net");
    dns_table_free(t);
}

static void
test_search(void)
{
    struct dns_table *t = tailnet();
    struct dns_host h;

    g_assert_true(dns_table_lookup_search(t, "laptop", 6, &h));
    g_assert_cmpstr(h.name, ==, "laptop.tail1234.ts.net");
    /* The first search domain wins. */
    g_assert_true(dns_table_lookup_search(t, "box", 3, &h));
    g_assert_cmpstr(h.name, ==, "box.corp.example");
    g_assert_false(dns_table_lookup_search(t, "nobody", 6, &h));
    /* Names with a dot are not searched. */
    g_assert_false(dns_table_lookup_search(t, "laptop.tail1234", 15, &h));
    g_assert_true(dns_table_lookup_search(t, "server.tail1234.ts.net", 22, &h));
    /* Under a subdomain host: its records, at any depth; not under others. */
    g_assert_true(dns_table_lookup_search(t, "a.b.server.tail1234.ts.net", 26, &h));
    g_assert_cmpstr(h.name, ==, "server.tail1234.ts.net");
    g_assert_false(dns_table_lookup_search(t, "a.laptop.tail1234.ts.net", 24, &h));
    g_assert_false(dns_table_lookup_search(t, "a.absent.tail1234.ts.net", 24, &h));
    g_assert_false(dns_table_lookup_search(t, "aserver.tail1234.ts.net", 23, &h));
    dns_table_free(t);
}

static void
test_zones(void)
{
    struct dns_table *t = tailnet();

    g_assert_cmpstr(dns_table_zone_for(t, "x.tail1234.ts.net", 17), ==, "tail1234.ts.net");
    g_assert_cmpstr(dns_table_zone_for(t, "tail1234.ts.net", 15), ==, "tail1234.ts.net");
    g_assert_cmpstr(dns_table_zone_for(t, "other.ts.net", 12), ==, "ts.net");
    g_assert_null(dns_table_zone_for(t, "example.com", 11));
    g_assert_null(dns_table_zone_for(t, "xts.net", 7));
    g_assert_cmpstr(dns_table_zone_for(t, "9.0.64.100.in-addr.arpa", 23), ==,
                    "64.100.in-addr.arpa");
    g_assert_cmpstr(dns_table_zone_for(t, "1.2.127.100.in-addr.arpa", 24), ==,
                    "127.100.in-addr.arpa");
    g_assert_null(dns_table_zone_for(t, "1.2.128.100.in-addr.arpa", 24));
    g_assert_null(dns_table_zone_for(t, "1.2.63.100.in-addr.arpa", 23));
    dns_table_free(t);
}

static void
test_bad_input(void)
{
    struct dns_table_builder *b = dns_table_builder_new();
    struct ip_addr none = { 0 }, a = addr("100.64.0.1");
    struct dns_table *t;

    g_assert_cmpint(dns_table_builder_add(b, "", &a), ==, -EINVAL);
    g_assert_cmpint(dns_table_builder_add(b, ".", &a), ==, -EINVAL);
    g_assert_cmpint(dns_table_builder_add(b, "a..b", &a), ==, -EINVAL);
    g_assert_cmpint(dns_table_builder_add(b, "a b", &a), ==, -EINVAL);
    g_assert_cmpint(dns_table_builder_add(b, "ok", &none), ==, -EINVAL);
    g_assert_cmpint(dns_table_builder_add_zone(b, "a..b"), ==, -EINVAL);
    g_assert_cmpint(dns_table_builder_add_search(b, "x y"), ==, -EINVAL);
    /* An empty table works. */
    t = dns_table_build(b);
    g_assert_nonnull(t);
    g_assert_cmpuint(dns_table_n_names(t), ==, 0);
    g_assert_null(dns_table_lookup_addr(t, &a));
    g_assert_false(dns_table_lookup_search(t, "ok", 2, &(struct dns_host){ 0 }));
    dns_table_free(t);
    /* A builder never built. */
    b = dns_table_builder_new();
    add(b, "x", "100.64.0.1");
    dns_table_builder_free(b);
}

static void
test_many(void)
{
    struct dns_table_builder *b = dns_table_builder_new();
    struct dns_table *t;

    for (unsigned i = 0; i < 10000; i++) {
        g_autofree char *name = g_strdup_printf("node-%u.tail1234.ts.net", i);
        struct ip_addr a = { .family = AF_INET,
                             .bytes = { 100, 64 + (i >> 16), (i >> 8) & 0xff, i & 0xff } };

        g_assert_cmpint(dns_table_builder_add(b, name, &a), ==, 0);
    }
    t = dns_table_build(b);
    g_assert_cmpuint(dns_table_n_names(t), ==, 10000);
    for (unsigned i = 0; i < 10000; i++) {
        g_autofree char *name = g_strdup_printf("node-%u.tail1234.ts.net", i);
        struct ip_addr a = { .family = AF_INET,
                             .bytes = { 100, 64 + (i >> 16), (i >> 8) & 0xff, i & 0xff } };
        struct dns_host h;

        g_assert_true(dns_table_lookup(t, name, strlen(name), &h));
        g_assert_cmpuint(h.n_v4, ==, 1);
        g_assert_cmpmem(h.v4[0].bytes, 4, a.bytes, 4);
        g_assert_cmpstr(dns_table_lookup_addr(t, &a), ==, name);
    }
    dns_table_free(t);
}

static void
test_reverse_names(void)
{
    static const struct {
        const char *ip, *name;
    } cases[] = {
        { "100.64.0.1", "1.0.64.100.in-addr.arpa" },
        { "255.0.10.1", "1.10.0.255.in-addr.arpa" },
        { "fd7a:115c:a1e0::53",
          "3.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.e.1.a.c.5.1.1.a.7.d.f.ip6.arpa" },
    };
    static const char *const bad[] = {
        "1.0.64.in-addr.arpa",
        "01.0.64.100.in-addr.arpa",
        "256.0.64.100.in-addr.arpa",
        "1.0.64.100.1.in-addr.arpa",
        "in-addr.arpa",
        ".1.0.64.100.in-addr.arpa",
        "1.0.64.100.ip6.arpa",
        "3.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.e.1.a.c.5.1.1.a.7.d.g.ip6.arpa",
        "3.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.e.1.a.c.5.1.1.a.7.dd.ip6.arpa",
        "35.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.e.1.a.c.5.1.1.a.7.d.f.ip6.arpa",
    };
    char text[DNS_NAME_TEXT_MAX + 1];

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct ip_addr want = addr(cases[i].ip), got;

        g_assert_true(dns_reverse_name_parse(cases[i].name, strlen(cases[i].name), &got));
        g_assert_true(ip_addr_equal(&got, &want));
        g_assert_cmpuint(dns_reverse_name_format(&want, text), ==, strlen(cases[i].name));
        g_assert_cmpstr(text, ==, cases[i].name);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        struct ip_addr got;

        if (dns_reverse_name_parse(bad[i], strlen(bad[i]), &got))
            g_error("%s parsed", bad[i]);
    }
}

/* ---- decisions ------------------------------------------------------------------ */

static struct dns_query
query(const char *name, uint16_t type)
{
    struct dns_query q = {
        .has_question = true, .qtype = type, .qclass = DNS_CLASS_IN, .udp_size = DNS_UDP_MIN
    };

    q.qname_len = strlen(name);
    memcpy(q.qname, name, q.qname_len + 1);
    return q;
}

/* "VERDICT rcode n_addrs ptr soa" for one decision. */
static char *
decide(const struct dns_table *t, const char *name, uint16_t type)
{
    struct dns_query q = query(name, type);
    struct dns_decision d;
    GString *s = g_string_new(NULL);

    dns_decide(t, DNS_PARSE_OK, &q, &d);
    switch (d.verdict) {
    case DNS_VERDICT_DROP:
        g_string_append(s, "drop");
        break;
    case DNS_VERDICT_FORWARD:
        g_string_append(s, "forward");
        break;
    case DNS_VERDICT_ANSWER:
        g_string_append_printf(s, "rcode=%u", d.reply.rcode);
        for (size_t i = 0; i < d.reply.n_addrs; i++) {
            g_autofree char *a = addr_text(&d.reply.addrs[i]);

            g_string_append_printf(s, " %s", a);
        }
        if (d.reply.ptr_name)
            g_string_append_printf(s, " ptr=%s", d.reply.ptr_name);
        if (d.reply.soa_zone)
            g_string_append_printf(s, " soa=%s", d.reply.soa_zone);
        break;
    }
    return g_string_free(s, FALSE);
}

static void
test_decide(void)
{
    static const struct {
        const char *name;
        uint16_t type;
        const char *want;
    } cases[] = {
        { "laptop.tail1234.ts.net", DNS_TYPE_A, "rcode=0 100.64.0.1" },
        { "laptop.tail1234.ts.net", DNS_TYPE_AAAA, "rcode=0 fd7a:115c:a1e0::1" },
        { "laptop.tail1234.ts.net", DNS_TYPE_ANY, "rcode=0 100.64.0.1 fd7a:115c:a1e0::1" },
        { "v4only.tail1234.ts.net", DNS_TYPE_AAAA, "rcode=0 soa=tail1234.ts.net" },
        { "v4only.tail1234.ts.net", DNS_TYPE_ANY, "rcode=0 100.64.0.3" },
        { "v4only.tail1234.ts.net", 16 /* TXT */, "rcode=0" },
        { "v4only.tail1234.ts.net", 15 /* MX */, "rcode=0" },
        { "v4only.tail1234.ts.net", DNS_TYPE_NS, "rcode=4" },
        { "v4only.tail1234.ts.net", DNS_TYPE_SOA, "rcode=4" },
        { "v4only.tail1234.ts.net", DNS_TYPE_AXFR, "rcode=4" },
        { "v4only.tail1234.ts.net", DNS_TYPE_HINFO, "rcode=4" },
        { "multi.example.com", DNS_TYPE_A, "rcode=0 192.0.2.1 192.0.2.2" },
        { "multi.example.com", DNS_TYPE_AAAA, "rcode=0" }, /* exists, no zone: no SOA */
        { "laptop", DNS_TYPE_A, "rcode=0 100.64.0.1" },
        { "nobody.tail1234.ts.net", DNS_TYPE_A, "rcode=3 soa=tail1234.ts.net" },
        { "www.server.tail1234.ts.net", DNS_TYPE_A, "rcode=0 100.64.0.2" },
        { "www.laptop.tail1234.ts.net", DNS_TYPE_A, "rcode=3 soa=tail1234.ts.net" },
        { "tail1234.ts.net", DNS_TYPE_A, "rcode=3 soa=tail1234.ts.net" },
        { "other.ts.net", DNS_TYPE_AAAA, "rcode=3 soa=ts.net" },
        { "example.com", DNS_TYPE_A, "forward" },
        { "nobody", DNS_TYPE_A, "forward" },
        { "", DNS_TYPE_NS, "forward" },
        { "x.onion", DNS_TYPE_A, "rcode=3" },
        { "onion", DNS_TYPE_A, "forward" },
        { DNS_SYMBOLIC_NAME, DNS_TYPE_A, "rcode=0 100.100.100.100" },
        { DNS_SYMBOLIC_NAME, DNS_TYPE_AAAA, "rcode=0 fd7a:115c:a1e0::53" },
        { "1.0.64.100.in-addr.arpa", DNS_TYPE_PTR, "rcode=0 ptr=laptop.tail1234.ts.net" },
        { "2.0.64.100.in-addr.arpa", DNS_TYPE_PTR, "rcode=0 ptr=server.tail1234.ts.net" },
        { "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.e.1.a.c.5.1.1.a.7.d.f.ip6.arpa", DNS_TYPE_PTR,
          "rcode=0 ptr=laptop.tail1234.ts.net" },
        { "1.2.3.4.in-addr.arpa", DNS_TYPE_PTR, "forward" },
        { "1.2.192.0.in-addr.arpa", DNS_TYPE_PTR, "forward" },
        { "1.2.192.in-addr.arpa", DNS_TYPE_PTR, "forward" }, /* not a whole address */
        { "9.0.64.100.in-addr.arpa", DNS_TYPE_PTR, "rcode=3 soa=64.100.in-addr.arpa" },
        { "3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.e.1.a.c.5.1.1.a.7.d.f.ip6.arpa", DNS_TYPE_PTR,
          "rcode=0 ptr=v4only.tail1234.ts.net" },
        { "9.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.e.1.a.c.5.1.1.a.7.d.f.ip6.arpa", DNS_TYPE_PTR,
          "rcode=3 soa=0.e.1.a.c.5.1.1.a.7.d.f.ip6.arpa" },
        { "100.100.100.100.in-addr.arpa", DNS_TYPE_PTR, "rcode=0 ptr=" DNS_SYMBOLIC_NAME },
        { "b._dns-sd._udp.0.0.64.100.in-addr.arpa", DNS_TYPE_PTR, "forward" },
        { "laptop.tail1234.ts.net", DNS_TYPE_PTR, "forward" },
    };
    struct dns_table *t = tailnet();

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *got = decide(t, cases[i].name, cases[i].type);

        if (g_strcmp0(got, cases[i].want) != 0)
            g_error("%s type %u: got \"%s\", want \"%s\"", cases[i].name, cases[i].type, got,
                    cases[i].want);
    }
    {
        struct dns_query q = query("laptop.tail1234.ts.net", DNS_TYPE_A);
        struct dns_decision d;

        dns_decide(NULL, DNS_PARSE_OK, &q, &d);
        g_assert_cmpint(d.verdict, ==, DNS_VERDICT_FORWARD);
        dns_decide(t, DNS_PARSE_DROP, &q, &d);
        g_assert_cmpint(d.verdict, ==, DNS_VERDICT_DROP);
        dns_decide(NULL, DNS_PARSE_FORMERR, &q, &d);
        g_assert_cmpint(d.verdict, ==, DNS_VERDICT_ANSWER);
        g_assert_cmpuint(d.reply.rcode, ==, DNS_RCODE_FORMERR);
        dns_decide(t, DNS_PARSE_NOTIMP, &q, &d);
        g_assert_cmpuint(d.reply.rcode, ==, DNS_RCODE_NOTIMP);
        dns_decide(t, DNS_PARSE_BADVERS, &q, &d);
        g_assert_cmpuint(d.reply.rcode, ==, DNS_RCODE_BADVERS);
    }
    dns_table_free(t);
}

static void
test_respond(void)
{
    /* `dig LapTop.Tail1234.ts.net. AAAA +noedns`, id 0x2a40. */
    static const uint8_t q_aaaa[] = { 0x2a, 0x40, 0x01, 0x20, 0,   1,   0,   0,   0,   0,
                                      0,    0,    6,    'L',  'a', 'p', 'T', 'o', 'p', 8,
                                      'T',  'a',  'i',  'l',  '1', '2', '3', '4', 2,   't',
                                      's',  3,    'n',  'e',  't', 0,   0,   28,  0,   1 };
    struct dns_table *t = tailnet();
    struct dns_query q;
    uint8_t out[DNS_ANSWER_MAX], msg[sizeof(q_aaaa)];
    size_t n;

    g_assert_cmpint(dns_respond(t, q_aaaa, sizeof(q_aaaa), 1252, &q, out, sizeof(out), &n), ==,
                    DNS_VERDICT_ANSWER);
    g_assert_cmpuint(n, ==, sizeof(q_aaaa) + 28);
    g_assert_cmpmem(out + 12, sizeof(q_aaaa) - 12, q_aaaa + 12, sizeof(q_aaaa) - 12);
    g_assert_cmpmem(out + n - 16, 16, addr("fd7a:115c:a1e0::1").bytes, 16);

    /* Not ours: forward, nothing written. */
    memcpy(msg, q_aaaa, sizeof(msg));
    msg[14] = 'X'; /* "LXpTop" */
    g_assert_cmpint(dns_respond(t, msg, sizeof(msg), 1252, &q, out, sizeof(out), &n), ==,
                    DNS_VERDICT_ANSWER);
    g_assert_cmphex(out[3] & 0xf, ==, DNS_RCODE_NXDOMAIN);
    msg[32] = 'x'; /* "ts.xet": outside every zone */
    g_assert_cmpint(dns_respond(t, msg, sizeof(msg), 1252, &q, out, sizeof(out), &n), ==,
                    DNS_VERDICT_FORWARD);
    g_assert_cmpuint(n, ==, 0);
    g_assert_cmpstr(q.qname, ==, "lxptop.tail1234.ts.xet");
    /* A response is never answered. */
    msg[2] |= 0x80;
    g_assert_cmpint(dns_respond(t, msg, sizeof(msg), 1252, &q, out, sizeof(out), &n), ==,
                    DNS_VERDICT_DROP);
    /* Garbage after the header: FORMERR, even without a table. */
    msg[2] &= 0x7f;
    msg[12] = 0xc0;
    g_assert_cmpint(dns_respond(NULL, msg, sizeof(msg), 1252, &q, out, sizeof(out), &n), ==,
                    DNS_VERDICT_ANSWER);
    g_assert_cmpuint(n, ==, 12);
    g_assert_cmphex(out[3] & 0xf, ==, DNS_RCODE_FORMERR);
    dns_table_free(t);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/dns-table/lookup", test_lookup);
    g_test_add_func("/dns-table/reverse", test_reverse);
    g_test_add_func("/dns-table/search", test_search);
    g_test_add_func("/dns-table/zones", test_zones);
    g_test_add_func("/dns-table/bad-input", test_bad_input);
    g_test_add_func("/dns-table/many", test_many);
    g_test_add_func("/dns-table/reverse-names", test_reverse_names);
    g_test_add_func("/dns-resolve/decide", test_decide);
    g_test_add_func("/dns-resolve/respond", test_respond);
    return g_test_run();
}
