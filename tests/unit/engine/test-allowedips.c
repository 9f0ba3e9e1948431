/* SPDX-License-Identifier: MIT */
/*
 * AllowedIPs trie: the kernel selftest's directed cases (selftest/allowedips.c)
 * restated, /0 and full-length edge cases, and a randomized differential test
 * against a naive linear table (as the kernel's "horrible_allowedips" and
 * wireguard-go's TestTrieRandom do).
 */
#include <errno.h>
#include <glib.h>
#include <string.h>
#include <sys/socket.h>

#include "wg/allowedips.h"

static char peer_store[256];
#define PEER(i) ((void *)&peer_store[(i)])

static const uint8_t *
ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    static uint8_t ip[4];

    ip[0] = a, ip[1] = b, ip[2] = c, ip[3] = d;
    return ip;
}

static const uint8_t *
ip6(uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    static uint8_t ip[16];
    uint32_t w[4] = { GUINT32_TO_BE(a), GUINT32_TO_BE(b), GUINT32_TO_BE(c), GUINT32_TO_BE(d) };

    memcpy(ip, w, 16);
    return ip;
}

#define INS4(t, p, a, b, c, d, cidr)                                                               \
    g_assert_cmpint(allowedips_insert(t, AF_INET, ip4(a, b, c, d), cidr, p), ==, 0)
#define INS6(t, p, a, b, c, d, cidr)                                                               \
    g_assert_cmpint(allowedips_insert(t, AF_INET6, ip6(a, b, c, d), cidr, p), ==, 0)
#define LK4(t, a, b, c, d) allowedips_lookup(t, AF_INET, ip4(a, b, c, d))
#define LK6(t, a, b, c, d) allowedips_lookup(t, AF_INET6, ip6(a, b, c, d))

/* ---- directed (kernel selftest) ---- */

static void
test_kernel_directed(void)
{
    void *a = PEER(0), *b = PEER(1), *c = PEER(2), *d = PEER(3), *e = PEER(4), *f = PEER(5),
         *g = PEER(6), *h = PEER(7);
    struct allowedips *t = allowedips_new();

    INS4(t, a, 192, 168, 4, 0, 24);
    INS4(t, b, 192, 168, 4, 4, 32);
    INS4(t, c, 192, 168, 0, 0, 16);
    INS4(t, d, 192, 95, 5, 64, 27);
    INS4(t, c, 192, 95, 5, 65, 27); /* same prefix once masked: moves to c */
    INS6(t, d, 0x26075300, 0x60006b00, 0, 0xc05f0543, 128);
    INS6(t, c, 0x26075300, 0x60006b00, 0, 0, 64);
    INS4(t, e, 0, 0, 0, 0, 0);
    INS6(t, e, 0, 0, 0, 0, 0);
    INS6(t, f, 0, 0, 0, 0, 0); /* moves ::/0 to f */
    INS6(t, g, 0x24046800, 0, 0, 0, 32);
    INS6(t, h, 0x24046800, 0x40040800, 0xdeadbeef, 0xdeadbeef, 64); /* host bits masked */
    INS6(t, a, 0x24046800, 0x40040800, 0xdeadbeef, 0xdeadbeef, 128);
    INS6(t, c, 0x24446800, 0x40e40800, 0xdeaebeef, 0xdefbeef, 128);
    INS6(t, b, 0x24446800, 0xf0e40800, 0xeeaebeef, 0, 98);
    INS4(t, g, 64, 15, 112, 0, 20);
    INS4(t, h, 64, 15, 123, 211, 25); /* host bits masked */
    INS4(t, a, 10, 0, 0, 0, 25);
    INS4(t, b, 10, 0, 0, 128, 25);
    INS4(t, a, 10, 1, 0, 0, 30);
    INS4(t, b, 10, 1, 0, 4, 30);
    INS4(t, c, 10, 1, 0, 8, 29);
    INS4(t, d, 10, 1, 0, 16, 29);
    g_assert_cmpuint(allowedips_count(t), ==, 21);

    g_assert_true(LK4(t, 192, 168, 4, 20) == a);
    g_assert_true(LK4(t, 192, 168, 4, 0) == a);
    g_assert_true(LK4(t, 192, 168, 4, 4) == b);
    g_assert_true(LK4(t, 192, 168, 200, 182) == c);
    g_assert_true(LK4(t, 192, 95, 5, 68) == c);
    g_assert_true(LK4(t, 192, 95, 5, 96) == e);
    g_assert_true(LK6(t, 0x26075300, 0x60006b00, 0, 0xc05f0543) == d);
    g_assert_true(LK6(t, 0x26075300, 0x60006b00, 0, 0xc02e01ee) == c);
    g_assert_true(LK6(t, 0x26075300, 0x60006b01, 0, 0) == f);
    g_assert_true(LK6(t, 0x24046800, 0x40040806, 0, 0x1006) == g);
    g_assert_true(LK6(t, 0x24046800, 0x40040806, 0x1234, 0x5678) == g);
    g_assert_true(LK6(t, 0x240467ff, 0x40040806, 0x1234, 0x5678) == f);
    g_assert_true(LK6(t, 0x24046801, 0x40040806, 0x1234, 0x5678) == f);
    g_assert_true(LK6(t, 0x24046800, 0x40040800, 0x1234, 0x5678) == h);
    g_assert_true(LK6(t, 0x24046800, 0x40040800, 0, 0) == h);
    g_assert_true(LK6(t, 0x24046800, 0x40040800, 0x10101010, 0x10101010) == h);
    g_assert_true(LK6(t, 0x24046800, 0x40040800, 0xdeadbeef, 0xdeadbeef) == a);
    g_assert_true(LK4(t, 64, 15, 116, 26) == g);
    g_assert_true(LK4(t, 64, 15, 127, 3) == g);
    g_assert_true(LK4(t, 64, 15, 123, 1) == g);
    g_assert_true(LK4(t, 64, 15, 123, 128) == h);
    g_assert_true(LK4(t, 64, 15, 123, 129) == h);
    g_assert_true(LK4(t, 10, 0, 0, 52) == a);
    g_assert_true(LK4(t, 10, 0, 0, 220) == b);
    g_assert_true(LK4(t, 10, 1, 0, 2) == a);
    g_assert_true(LK4(t, 10, 1, 0, 6) == b);
    g_assert_true(LK4(t, 10, 1, 0, 10) == c);
    g_assert_true(LK4(t, 10, 1, 0, 20) == d);

    INS4(t, a, 1, 0, 0, 0, 32);
    INS4(t, a, 64, 0, 0, 0, 32);
    INS4(t, a, 128, 0, 0, 0, 32);
    INS4(t, a, 192, 0, 0, 0, 32);
    INS4(t, a, 255, 0, 0, 0, 32);
    allowedips_remove_by_peer(t, a);
    g_assert_true(LK4(t, 1, 0, 0, 0) != a);
    g_assert_true(LK4(t, 64, 0, 0, 0) != a);
    g_assert_true(LK4(t, 128, 0, 0, 0) != a);
    g_assert_true(LK4(t, 192, 0, 0, 0) != a);
    g_assert_true(LK4(t, 255, 0, 0, 0) != a);
    /* Those fell back to the /0 of e; other peers' prefixes survived. */
    g_assert_true(LK4(t, 1, 0, 0, 0) == e);
    g_assert_true(LK4(t, 10, 0, 0, 220) == b);
    allowedips_free(t);

    t = allowedips_new();
    INS4(t, a, 192, 168, 0, 0, 16);
    INS4(t, a, 192, 168, 0, 0, 24);
    allowedips_remove_by_peer(t, a);
    g_assert_null(LK4(t, 192, 168, 0, 1));
    g_assert_cmpuint(allowedips_count(t), ==, 0);
    g_assert_cmpuint(allowedips_node_count(t), ==, 0);

    /* 128 host routes, each all-ones but one bit: deep branching at every bit. */
    for (unsigned i = 0; i < 128; i++) {
        uint8_t ip[16];

        memset(ip, 0xff, 16);
        ip[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
        g_assert_cmpint(allowedips_insert(t, AF_INET6, ip, 128, PEER(i)), ==, 0);
    }
    g_assert_cmpuint(allowedips_count(t), ==, 128);
    for (unsigned i = 0; i < 128; i++) {
        uint8_t ip[16];

        memset(ip, 0xff, 16);
        ip[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
        g_assert_true(allowedips_lookup(t, AF_INET6, ip) == PEER(i));
    }
    allowedips_free(t);
}

struct seen {
    unsigned count, a, b, c, d, e, other;
};

static bool
collect_cb(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
    struct seen *s = ctx;

    s->count++;
    if (family == AF_INET && cidr == 27 && !memcmp(addr, ip4(192, 95, 5, 64), 4))
        s->a++;
    else if (family == AF_INET6 && cidr == 128 &&
             !memcmp(addr, ip6(0x26075300, 0x60006b00, 0, 0xc05f0543), 16))
        s->b++;
    else if (family == AF_INET && cidr == 29 && !memcmp(addr, ip4(10, 1, 0, 16), 4))
        s->c++;
    else if (family == AF_INET6 && cidr == 83 &&
             !memcmp(addr, ip6(0x26075300, 0x6d8a6bf8, 0xdab1e000, 0), 16))
        s->d++;
    else if (family == AF_INET6 && cidr == 21 && !memcmp(addr, ip6(0x26075000, 0, 0, 0), 16))
        s->e++;
    else
        s->other++;
    return true;
}

static bool
stop_cb(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
    (*(unsigned *)ctx)++;
    return false;
}

static void
test_kernel_foreach(void)
{
    struct allowedips *t = allowedips_new();
    void *a = PEER(0), *b = PEER(1);
    struct seen s = { 0 };
    unsigned calls = 0;

    INS4(t, a, 192, 95, 5, 93, 27);
    INS6(t, a, 0x26075300, 0x60006b00, 0, 0xc05f0543, 128);
    INS4(t, a, 10, 1, 0, 20, 29);
    INS6(t, a, 0x26075300, 0x6d8a6bf8, 0xdab1f1df, 0xc05f1523, 83);
    INS6(t, a, 0x26075300, 0x6d8a6bf8, 0xdab1f1df, 0xc05f1523, 21);
    INS4(t, b, 10, 1, 0, 0, 16);
    allowedips_foreach_by_peer(t, a, collect_cb, &s);
    g_assert_cmpuint(s.count, ==, 5);
    g_assert_cmpuint(s.a, ==, 1);
    g_assert_cmpuint(s.b, ==, 1);
    g_assert_cmpuint(s.c, ==, 1);
    g_assert_cmpuint(s.d, ==, 1);
    g_assert_cmpuint(s.e, ==, 1);
    g_assert_cmpuint(s.other, ==, 0);

    allowedips_foreach_by_peer(t, a, stop_cb, &calls);
    g_assert_cmpuint(calls, ==, 1);
    calls = 0;
    allowedips_foreach_by_peer(t, PEER(9), stop_cb, &calls);
    g_assert_cmpuint(calls, ==, 0);
    allowedips_free(t);
}

/* ---- edge cases of ours ---- */

static void
test_zero_prefix(void)
{
    struct allowedips *t = allowedips_new();
    void *a = PEER(0), *b = PEER(1), *c = PEER(2);

    g_assert_null(LK4(t, 1, 2, 3, 4));
    INS4(t, a, 9, 9, 9, 9, 0); /* host bits masked: 0.0.0.0/0 */
    g_assert_true(LK4(t, 1, 2, 3, 4) == a);
    g_assert_true(LK4(t, 255, 255, 255, 255) == a);
    g_assert_null(LK6(t, 0, 0, 0, 1)); /* families are separate */
    INS4(t, b, 128, 0, 0, 0, 1);
    INS4(t, c, 0, 0, 0, 0, 1);
    g_assert_true(LK4(t, 200, 0, 0, 1) == b);
    g_assert_true(LK4(t, 1, 2, 3, 4) == c);
    g_assert_cmpint(allowedips_remove(t, AF_INET, ip4(0, 0, 0, 0), 1, c), ==, 0);
    g_assert_true(LK4(t, 1, 2, 3, 4) == a);
    /* /0 removal keeps the /1 below it. */
    g_assert_cmpint(allowedips_remove(t, AF_INET, ip4(0, 0, 0, 0), 0, b), ==, -ENOENT);
    g_assert_cmpint(allowedips_remove(t, AF_INET, ip4(1, 1, 1, 1), 0, a), ==, 0);
    g_assert_null(LK4(t, 1, 2, 3, 4));
    g_assert_true(LK4(t, 200, 0, 0, 1) == b);
    g_assert_cmpuint(allowedips_count(t), ==, 1);
    g_assert_cmpuint(allowedips_node_count(t), ==, 1);

    INS6(t, a, 0, 0, 0, 0, 0);
    INS6(t, b, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 128);
    INS6(t, c, 0, 0, 0, 0, 128);
    g_assert_true(LK6(t, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff) == b);
    g_assert_true(LK6(t, 0xffffffff, 0xffffffff, 0xffffffff, 0xfffffffe) == a);
    g_assert_true(LK6(t, 0, 0, 0, 0) == c);
    g_assert_true(LK6(t, 0, 0, 0, 1) == a);
    g_assert_true(LK4(t, 1, 2, 3, 4) == NULL);
    INS4(t, c, 1, 2, 3, 4, 32);
    g_assert_true(LK4(t, 1, 2, 3, 4) == c);
    g_assert_null(LK4(t, 1, 2, 3, 5));
    allowedips_remove_by_peer(t, a);
    g_assert_null(LK6(t, 0, 0, 0, 1));
    g_assert_true(LK6(t, 0, 0, 0, 0) == c);
    allowedips_free(t);
}

static void
test_remove_rules(void)
{
    struct allowedips *t = allowedips_new();
    void *a = PEER(0), *b = PEER(1);

    INS4(t, a, 192, 168, 4, 0, 24);
    INS4(t, b, 192, 168, 4, 0, 25);
    /* Only the exact prefix, only its owner; host bits are masked. */
    g_assert_cmpint(allowedips_remove(t, AF_INET, ip4(192, 168, 4, 0), 24, b), ==, -ENOENT);
    g_assert_cmpint(allowedips_remove(t, AF_INET, ip4(192, 168, 4, 0), 23, a), ==, -ENOENT);
    g_assert_cmpint(allowedips_remove(t, AF_INET, ip4(192, 168, 4, 0), 26, b), ==, -ENOENT);
    g_assert_cmpint(allowedips_remove(t, AF_INET, ip4(10, 0, 0, 0), 8, a), ==, -ENOENT);
    g_assert_cmpuint(allowedips_count(t), ==, 2);
    g_assert_cmpint(allowedips_remove(t, AF_INET, ip4(192, 168, 4, 77), 24, a), ==, 0);
    g_assert_cmpint(allowedips_remove(t, AF_INET, ip4(192, 168, 4, 77), 24, a), ==, -ENOENT);
    g_assert_null(LK4(t, 192, 168, 4, 200));
    g_assert_true(LK4(t, 192, 168, 4, 100) == b);

    /* Re-insert moves; the old owner can no longer remove it. */
    INS4(t, a, 192, 168, 4, 0, 25);
    g_assert_true(LK4(t, 192, 168, 4, 100) == a);
    g_assert_cmpint(allowedips_remove(t, AF_INET, ip4(192, 168, 4, 0), 25, b), ==, -ENOENT);
    g_assert_cmpuint(allowedips_count(t), ==, 1);

    /* A glue node is not a prefix anyone owns. */
    INS4(t, b, 10, 0, 0, 0, 24);
    INS4(t, b, 10, 0, 1, 0, 24); /* glue at 10.0.0.0/23, and at /0 above 192.168.4.0/25 */
    g_assert_cmpuint(allowedips_node_count(t), ==, 5);
    g_assert_cmpint(allowedips_remove(t, AF_INET, ip4(10, 0, 0, 0), 23, b), ==, -ENOENT);
    g_assert_null(LK4(t, 10, 0, 2, 1));
    /* Owning the glue's prefix turns it into a real node. */
    INS4(t, a, 10, 0, 0, 0, 23);
    g_assert_cmpuint(allowedips_node_count(t), ==, 5);
    g_assert_cmpuint(allowedips_count(t), ==, 4);
    g_assert_cmpint(allowedips_remove(t, AF_INET, ip4(10, 0, 0, 0), 24, b), ==, 0);
    g_assert_true(LK4(t, 10, 0, 0, 1) == a);
    g_assert_true(LK4(t, 10, 0, 1, 1) == b);
    allowedips_remove_by_peer(t, b);
    allowedips_remove_by_peer(t, b); /* idempotent */
    allowedips_remove_by_peer(t, a);
    g_assert_cmpuint(allowedips_count(t), ==, 0);
    g_assert_cmpuint(allowedips_node_count(t), ==, 0);

    /* Bad arguments. */
    g_assert_cmpint(allowedips_insert(t, AF_INET, ip4(1, 2, 3, 4), 33, a), ==, -EINVAL);
    g_assert_cmpint(allowedips_insert(t, AF_INET6, ip6(0, 0, 0, 0), 129, a), ==, -EINVAL);
    g_assert_cmpint(allowedips_insert(t, AF_UNIX, ip4(1, 2, 3, 4), 8, a), ==, -EAFNOSUPPORT);
    g_assert_cmpint(allowedips_insert(t, AF_INET, ip4(1, 2, 3, 4), 8, NULL), ==, -EINVAL);
    g_assert_cmpint(allowedips_remove(t, AF_INET, ip4(1, 2, 3, 4), 33, a), ==, -EINVAL);
    g_assert_null(allowedips_lookup(t, AF_UNIX, ip4(1, 2, 3, 4)));
    g_assert_cmpuint(allowedips_count(t), ==, 0);
    allowedips_free(t);
    allowedips_free(NULL);
}

/* ---- randomized differential test ---- */

enum {
    NPEERS = 64,
    NBASE = 200,     /* random prefixes per family ... */
    NMUTATE = 15,    /* ... each with this many neighbours sharing a random-length prefix */
    NQUERIES = 4000, /* per check */
};

struct ref {
    int family;
    uint8_t addr[16]; /* masked */
    uint8_t cidr;
    void *peer;
};

struct reftab {
    GArray *e; /* struct ref */
};

static void
mask_addr(uint8_t *addr, unsigned len, unsigned cidr)
{
    for (unsigned i = 0; i < len; i++) {
        unsigned keep = cidr >= (i + 1) * 8 ? 8 : cidr > i * 8 ? cidr - i * 8 : 0;

        addr[i] &= (uint8_t)(0xff00 >> keep);
    }
}

static unsigned
alen(int family)
{
    return family == AF_INET ? 4 : 16;
}

static int
ref_find(struct reftab *r, int family, const uint8_t *addr, unsigned cidr)
{
    for (guint i = 0; i < r->e->len; i++) {
        struct ref *x = &g_array_index(r->e, struct ref, i);

        if (x->family == family && x->cidr == cidr && !memcmp(x->addr, addr, alen(family)))
            return (int)i;
    }
    return -1;
}

static void
ref_insert(struct reftab *r, int family, const uint8_t *addr, unsigned cidr, void *peer)
{
    struct ref x = { .family = family, .cidr = (uint8_t)cidr, .peer = peer };
    int i;

    memcpy(x.addr, addr, alen(family));
    mask_addr(x.addr, alen(family), cidr);
    i = ref_find(r, family, x.addr, cidr);
    if (i >= 0)
        g_array_index(r->e, struct ref, i).peer = peer;
    else
        g_array_append_val(r->e, x);
}

static bool
prefix_contains(const struct ref *x, const uint8_t *addr)
{
    uint8_t tmp[16];

    memcpy(tmp, addr, alen(x->family));
    mask_addr(tmp, alen(x->family), x->cidr);
    return !memcmp(tmp, x->addr, alen(x->family));
}

static void *
ref_lookup(struct reftab *r, int family, const uint8_t *addr)
{
    void *best = NULL;
    int best_cidr = -1;

    for (guint i = 0; i < r->e->len; i++) {
        struct ref *x = &g_array_index(r->e, struct ref, i);

        if (x->family == family && (int)x->cidr > best_cidr && prefix_contains(x, addr)) {
            best = x->peer;
            best_cidr = x->cidr;
        }
    }
    return best;
}

static void
rand_bytes(GRand *rng, uint8_t *p, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)g_rand_int_range(rng, 0, 256);
}

static void
check_lookups(struct allowedips *t, struct reftab *r, GRand *rng)
{
    for (unsigned q = 0; q < NQUERIES; q++) {
        int family = (q & 1) ? AF_INET6 : AF_INET;
        unsigned len = alen(family);
        uint8_t addr[16];
        void *want, *got;

        rand_bytes(rng, addr, len);
        /* Half the queries land inside or next to a known prefix. */
        if ((q & 2) && r->e->len) {
            struct ref *x =
                &g_array_index(r->e, struct ref, g_rand_int_range(rng, 0, (gint32)r->e->len));

            if (x->family == family) {
                unsigned keep = (unsigned)g_rand_int_range(rng, 0, (gint32)(len * 8 + 1));
                uint8_t tmp[16];

                memcpy(tmp, x->addr, len);
                mask_addr(tmp, len, keep);
                for (unsigned i = 0; i < len; i++) {
                    uint8_t m = 0xff;

                    mask_addr(&m, 1, keep > i * 8 ? keep - i * 8 : 0);
                    addr[i] = (uint8_t)((tmp[i] & m) | (addr[i] & ~m));
                }
            }
        }
        want = ref_lookup(r, family, addr);
        got = allowedips_lookup(t, family, addr);
        if (want != got)
            g_error("lookup mismatch (family %d): want peer %td got %td", family,
                    want ? (char *)want - peer_store : -1, got ? (char *)got - peer_store : -1);
    }
}

struct collect {
    GArray *items; /* struct ref */
};

static bool
collect_all(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
    struct collect *c = ctx;
    struct ref x = { .family = family, .cidr = cidr };

    memcpy(x.addr, addr, alen(family));
    g_array_append_val(c->items, x);
    return true;
}

static gint
ref_cmp(gconstpointer pa, gconstpointer pb)
{
    const struct ref *a = pa, *b = pb;

    if (a->family != b->family)
        return a->family - b->family;
    if (a->cidr != b->cidr)
        return (int)a->cidr - (int)b->cidr;
    return memcmp(a->addr, b->addr, 16);
}

static void
check_structure(struct allowedips *t, struct reftab *r)
{
    size_t total = 0;

    g_assert_cmpuint(allowedips_count(t), ==, r->e->len);
    g_assert_cmpuint(allowedips_node_count(t), <, 2 * r->e->len + 2);
    for (unsigned p = 0; p < NPEERS; p++) {
        struct collect c = { g_array_new(FALSE, TRUE, sizeof(struct ref)) };
        GArray *want = g_array_new(FALSE, TRUE, sizeof(struct ref));

        allowedips_foreach_by_peer(t, PEER(p), collect_all, &c);
        for (guint i = 0; i < r->e->len; i++) {
            struct ref x = g_array_index(r->e, struct ref, i);

            if (x.peer == PEER(p)) {
                x.peer = NULL;
                g_array_append_val(want, x);
            }
        }
        g_array_sort(c.items, ref_cmp);
        g_array_sort(want, ref_cmp);
        g_assert_cmpuint(c.items->len, ==, want->len);
        for (guint i = 0; i < want->len; i++)
            g_assert_cmpint(ref_cmp(&g_array_index(c.items, struct ref, i),
                                    &g_array_index(want, struct ref, i)),
                            ==, 0);
        total += want->len;
        g_array_free(c.items, TRUE);
        g_array_free(want, TRUE);
    }
    g_assert_cmpuint(total, ==, r->e->len);
}

static void
random_insert(struct allowedips *t, struct reftab *r, GRand *rng, int family)
{
    unsigned len = alen(family), bits = len * 8;
    uint8_t base[16];

    for (unsigned i = 0; i < NBASE; i++) {
        rand_bytes(rng, base, len);
        for (unsigned j = 0; j <= NMUTATE; j++) {
            uint8_t ip[16];
            unsigned cidr, keep;
            void *peer = PEER(g_rand_int_range(rng, 0, NPEERS));

            /* Neighbours share a random-length prefix with the base, so paths overlap. */
            rand_bytes(rng, ip, len);
            keep = j ? (unsigned)g_rand_int_range(rng, 0, (gint32)bits) : bits;
            for (unsigned k = 0; k < len; k++) {
                uint8_t m = 0xff;

                mask_addr(&m, 1, keep > k * 8 ? keep - k * 8 : 0);
                ip[k] = (uint8_t)((base[k] & m) | (ip[k] & ~m));
            }
            /* Mostly long prefixes, with some short ones including /0 and full length. */
            switch (g_rand_int_range(rng, 0, 8)) {
            case 0:
                cidr = (unsigned)g_rand_int_range(rng, 0, 9);
                break;
            case 1:
                cidr = bits;
                break;
            default:
                cidr = (unsigned)g_rand_int_range(rng, 1, (gint32)bits + 1);
                break;
            }
            g_assert_cmpint(allowedips_insert(t, family, ip, (uint8_t)cidr, peer), ==, 0);
            ref_insert(r, family, ip, cidr, peer);
        }
    }
}

static void
test_random(void)
{
    GRand *rng = g_rand_new_with_seed(0x5eed);
    struct allowedips *t = allowedips_new();
    struct reftab r = { g_array_new(FALSE, TRUE, sizeof(struct ref)) };

    random_insert(t, &r, rng, AF_INET);
    random_insert(t, &r, rng, AF_INET6);
    g_assert_cmpuint(r.e->len, >, 5000);
    check_structure(t, &r);
    check_lookups(t, &r, rng);

    /* Move a third of the prefixes to other peers by re-inserting them. */
    for (guint i = 0; i < r.e->len; i += 3) {
        struct ref *x = &g_array_index(r.e, struct ref, i);
        void *peer = PEER(g_rand_int_range(rng, 0, NPEERS));

        g_assert_cmpint(allowedips_insert(t, x->family, x->addr, x->cidr, peer), ==, 0);
        x->peer = peer;
    }
    check_structure(t, &r);
    check_lookups(t, &r, rng);

    /* Remove a random quarter; wrong-owner and unknown removals must fail. */
    for (unsigned n = r.e->len / 4; n; n--) {
        guint i = (guint)g_rand_int_range(rng, 0, (gint32)r.e->len);
        struct ref x = g_array_index(r.e, struct ref, i);
        void *other = PEER(((char *)x.peer - peer_store + 1) % NPEERS);
        uint8_t ip[16];

        g_assert_cmpint(allowedips_remove(t, x.family, x.addr, x.cidr, other), ==, -ENOENT);
        memcpy(ip, x.addr, 16);
        if (x.cidr < alen(x.family) * 8 && ref_find(&r, x.family, ip, x.cidr + 1u) < 0)
            g_assert_cmpint(allowedips_remove(t, x.family, ip, x.cidr + 1, x.peer), ==, -ENOENT);
        /* Host bits set in the argument do not matter. */
        if (x.cidr < alen(x.family) * 8)
            ip[alen(x.family) - 1] |= 1;
        g_assert_cmpint(allowedips_remove(t, x.family, ip, x.cidr, x.peer), ==, 0);
        g_array_remove_index_fast(r.e, i);
    }
    check_structure(t, &r);
    check_lookups(t, &r, rng);

    /* Then drop peers one at a time. */
    for (unsigned p = 0; p < NPEERS; p++) {
        allowedips_remove_by_peer(t, PEER(p));
        for (guint i = r.e->len; i-- > 0;) {
            if (g_array_index(r.e, struct ref, i).peer == PEER(p))
                g_array_remove_index_fast(r.e, i);
        }
        if (p % 8 == 7 || p == NPEERS - 1) {
            check_structure(t, &r);
            check_lookups(t, &r, rng);
        }
    }
    g_assert_cmpuint(allowedips_count(t), ==, 0);
    g_assert_cmpuint(allowedips_node_count(t), ==, 0);

    /* Refill and free non-empty (leaks show under ASan). */
    random_insert(t, &r, rng, AF_INET);
    random_insert(t, &r, rng, AF_INET6);
    check_lookups(t, &r, rng);
    allowedips_free(t);
    g_array_free(r.e, TRUE);
    g_rand_free(rng);
}

/* Insert/remove churn must not grow the node count. */
static void
test_churn_bounded(void)
{
    GRand *rng = g_rand_new_with_seed(42);
    struct allowedips *t = allowedips_new();

    for (unsigned round = 0; round < 20000; round++) {
        uint8_t ip[16];
        unsigned cidr = (unsigned)g_rand_int_range(rng, 0, 129);
        void *peer = PEER(round % 4);

        rand_bytes(rng, ip, 16);
        g_assert_cmpint(allowedips_insert(t, AF_INET6, ip, (uint8_t)cidr, peer), ==, 0);
        g_assert_cmpint(allowedips_remove(t, AF_INET6, ip, (uint8_t)cidr, peer), ==, 0);
        g_assert_cmpuint(allowedips_count(t), ==, 0);
        g_assert_cmpuint(allowedips_node_count(t), ==, 0);
    }
    allowedips_free(t);
    g_rand_free(rng);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/allowedips/kernel/directed", test_kernel_directed);
    g_test_add_func("/allowedips/kernel/foreach", test_kernel_foreach);
    g_test_add_func("/allowedips/zero-prefix", test_zero_prefix);
    g_test_add_func("/allowedips/remove-rules", test_remove_rules);
    g_test_add_func("/allowedips/random", test_random);
    g_test_add_func("/allowedips/churn-bounded", test_churn_bounded);
    return g_test_run();
}
