/* SPDX-License-Identifier: MIT */
/*
 * daemon/engine/common/ip: parse and format against Go's net/netip. The
 * vectors (ip-vectors.h) were printed by gen-ip-vectors.go, so no Go is
 * needed here; contains, masking and the tailnet ranges by hand.
 */
#include <glib.h>
#include <string.h>

#include "common/ip.h"

struct addr_vec {
    const char *in;
    size_t len;
    int ok;
    const char *canon;
    int tailnet;
};

struct prefix_vec {
    const char *in;
    size_t len;
    int ok;
    const char *canon, *masked;
    int host, in_tailnet;
};

struct port_vec {
    const char *in;
    size_t len;
    int ok;
    const char *canon;
};

#include "ip-vectors.h"

static void
test_addr_vectors(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(addr_vecs); i++) {
        const struct addr_vec *v = &addr_vecs[i];
        struct ip_addr a, again;
        char out[IP_ADDR_STRLEN];

        g_test_message("addr %zu: %s", i, v->in);
        g_assert_cmpint(ip_addr_parse(&a, v->in, v->len), ==, v->ok);
        if (!v->ok) {
            g_assert_cmpint(a.family, ==, 0);
            continue;
        }
        g_assert_cmpuint(ip_addr_format(&a, out), ==, strlen(v->canon));
        g_assert_cmpstr(out, ==, v->canon);
        g_assert_cmpint(ip_addr_is_tailnet(&a), ==, v->tailnet);
        /* Canonical text parses back to the same value. */
        g_assert_true(ip_addr_parse(&again, out, strlen(out)));
        g_assert_true(ip_addr_equal(&a, &again));
    }
}

static void
test_prefix_vectors(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(prefix_vecs); i++) {
        const struct prefix_vec *v = &prefix_vecs[i];
        struct ip_prefix p, m;
        char out[IP_PREFIX_STRLEN];

        g_test_message("prefix %zu: %s", i, v->in);
        g_assert_cmpint(ip_prefix_parse(&p, v->in, v->len), ==, v->ok);
        if (!v->ok)
            continue;
        g_assert_cmpuint(ip_prefix_format(&p, out), ==, strlen(v->canon));
        g_assert_cmpstr(out, ==, v->canon);
        m = ip_prefix_masked(&p);
        ip_prefix_format(&m, out);
        g_assert_cmpstr(out, ==, v->masked);
        g_assert_cmpint(ip_prefix_is_host(&p), ==, v->host);
        g_assert_cmpint(ip_prefix_is_tailnet(&p), ==, v->in_tailnet);
        g_assert_cmpint(ip_prefix_is_default(&p), ==, p.bits == 0);
        g_assert_true(ip_prefix_contains_addr(&p, &p.addr));
        g_assert_true(ip_prefix_contains_prefix(&p, &p));
        g_assert_true(ip_prefix_contains_prefix(&m, &p));
    }
}

static void
test_port_vectors(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(port_vecs); i++) {
        const struct port_vec *v = &port_vecs[i];
        struct ip_port p, again;
        char out[IP_PORT_STRLEN];

        g_test_message("port %zu: %s", i, v->in);
        g_assert_cmpint(ip_port_parse(&p, v->in, v->len), ==, v->ok);
        if (!v->ok)
            continue;
        g_assert_cmpuint(ip_port_format(&p, out), ==, strlen(v->canon));
        g_assert_cmpstr(out, ==, v->canon);
        g_assert_true(ip_port_parse(&again, out, strlen(out)));
        g_assert_true(ip_port_equal(&p, &again));
    }
}

static struct ip_prefix
P(const char *s) {
    struct ip_prefix p;

    g_assert_true(ip_prefix_parse(&p, s, strlen(s)));
    return p;
}

static struct ip_addr
A(const char *s) {
    struct ip_addr a;

    g_assert_true(ip_addr_parse(&a, s, strlen(s)));
    return a;
}

/* Pointers to a parsed temporary, for one-line checks. */
#define PA(s) ((struct ip_addr[]){ A(s) })
#define PP(s) ((struct ip_prefix[]){ P(s) })

static void
test_contains(void)
{
    struct ip_prefix cgnat = P("100.64.0.0/10"), host = P("100.64.0.5/32");
    struct ip_prefix v4def = P("0.0.0.0/0"), v6def = P("::/0"), odd = P("10.1.2.3/8");
    struct ip_addr a;

    g_assert_true(ip_prefix_contains_addr(&cgnat, PA("100.127.0.1")));
    g_assert_false(ip_prefix_contains_addr(&cgnat, PA("100.128.0.1")));
    /* Families never mix: 4in6 is not in an IPv4 prefix, nor IPv4 in ::/0. */
    a = A("::ffff:100.64.0.1");
    g_assert_false(ip_prefix_contains_addr(&cgnat, &a));
    g_assert_false(ip_prefix_contains_addr(&v4def, &a));
    g_assert_true(ip_prefix_contains_addr(&v6def, &a));
    a = A("1.2.3.4");
    g_assert_false(ip_prefix_contains_addr(&v6def, &a));
    g_assert_true(ip_prefix_contains_addr(&v4def, &a));
    /* Host bits of the outer prefix do not matter. */
    g_assert_true(ip_prefix_contains_addr(&odd, PA("10.200.0.1")));
    g_assert_true(ip_prefix_contains_prefix(&cgnat, &host));
    g_assert_false(ip_prefix_contains_prefix(&host, &cgnat));
    g_assert_false(ip_prefix_contains_prefix(&cgnat, PP("100.0.0.0/8")));
    g_assert_true(ip_prefix_contains_prefix(&v4def, &cgnat));
    g_assert_false(ip_prefix_contains_prefix(&v6def, &cgnat));
    g_assert_true(ip_prefix_is_default(PP("1.2.3.4/0")));
    g_assert_false(ip_prefix_is_default(PP("0.0.0.0/1")));
    g_assert_true(ip_prefix_equal(&ip_tailnet_v4, &cgnat));
    g_assert_true(ip_prefix_equal(&ip_tailnet_v6, PP("fd7a:115c:a1e0::/48")));
    /* Equal only with equal host bits; masked they match. */
    g_assert_false(ip_prefix_equal(&odd, PP("10.0.0.0/8")));
    {
        struct ip_prefix m = ip_prefix_masked(&odd);

        g_assert_true(ip_prefix_equal(&m, PP("10.0.0.0/8")));
    }
}

/* Every byte string of up to 3 bytes from a small alphabet: no crash, and
 * whatever parses formats to text that parses back to the same value. */
static void
test_exhaustive_short(void)
{
    static const char alpha[] = "0129af:./[]%";
    const size_t n = sizeof(alpha) - 1;
    char s[3];

    for (size_t len = 0; len <= 3; len++) {
        size_t total = 1;

        for (size_t k = 0; k < len; k++)
            total *= n;
        for (size_t i = 0; i < total; i++) {
            size_t x = i;
            struct ip_addr a, b;
            struct ip_prefix p, q;
            struct ip_port r, t;
            char out[IP_PORT_STRLEN];

            for (size_t k = 0; k < len; k++, x /= n)
                s[k] = alpha[x % n];
            if (ip_addr_parse(&a, s, len)) {
                ip_addr_format(&a, out);
                g_assert_true(ip_addr_parse(&b, out, strlen(out)) && ip_addr_equal(&a, &b));
            }
            if (ip_prefix_parse(&p, s, len)) {
                ip_prefix_format(&p, out);
                g_assert_true(ip_prefix_parse(&q, out, strlen(out)) && ip_prefix_equal(&p, &q));
            }
            if (ip_port_parse(&r, s, len)) {
                ip_port_format(&r, out);
                g_assert_true(ip_port_parse(&t, out, strlen(out)) && ip_port_equal(&r, &t));
            }
        }
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ip/addr-vectors", test_addr_vectors);
    g_test_add_func("/ip/prefix-vectors", test_prefix_vectors);
    g_test_add_func("/ip/port-vectors", test_port_vectors);
    g_test_add_func("/ip/contains", test_contains);
    g_test_add_func("/ip/exhaustive-short", test_exhaustive_short);
    return g_test_run();
}
