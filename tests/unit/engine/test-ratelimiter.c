/* SPDX-License-Identifier: MIT */
/*
 * Handshake rate limiter: the kernel selftest's timing table (selftest/
 * ratelimiter.c) and wireguard-go's TestRatelimiter, driven by a fake clock,
 * plus per-/64 keying, gc and the table bound.
 */
#include <glib.h>
#include <string.h>
#include <sys/socket.h>

#include "wg/ratelimiter.h"

#define MS      (1000000ULL)
#define COST_NS (1000000000ULL / RATELIMIT_PACKETS_PER_SECOND)

static const uint8_t *
v4(uint32_t host_order)
{
    static uint8_t ip[4];
    uint32_t be = GUINT32_TO_BE(host_order);

    memcpy(ip, &be, 4);
    return ip;
}

static const uint8_t *
v6(uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    static uint8_t ip[16];
    uint32_t w[4] = { GUINT32_TO_BE(a), GUINT32_TO_BE(b), GUINT32_TO_BE(c), GUINT32_TO_BE(d) };

    memcpy(ip, w, 16);
    return ip;
}

/* The kernel's expected_results[]: sleep before, then allowed or not. */
static const struct {
    bool result;
    uint64_t sleep_ns;
} timings[] = {
    { true, 0 },  { true, 0 },       { true, 0 },  { true, 0 },           { true, 0 }, /* burst of 5
                                                                                        */
    { false, 0 }, { true, COST_NS }, { false, 0 }, { true, 2 * COST_NS }, { true, 0 }, { false, 0 },
};

static void
test_timings(void)
{
    struct ratelimiter *r = ratelimiter_new();
    const uint32_t base4 = 0x7f000001; /* 127.0.0.1 */
    uint64_t now = 1000 * MS;

    g_assert_nonnull(r);
    g_assert_cmpuint(G_N_ELEMENTS(timings), ==, RATELIMIT_BURST + 6);
    for (unsigned i = 0; i < G_N_ELEMENTS(timings); i++) {
        now += timings[i].sleep_ns;
        /* Tested source v4 and v6 (a varying host part inside one /64). */
        g_assert_cmpint(ratelimiter_allow(r, AF_INET, v4(base4), now), ==, timings[i].result);
        g_assert_cmpint(ratelimiter_allow(r, AF_INET6, v6(0xabcd0000, 0, i, i), now), ==,
                        timings[i].result);
        /* A fresh source each step is never limited. */
        g_assert_true(ratelimiter_allow(r, AF_INET, v4(base4 + i + 1), now));
        g_assert_true(ratelimiter_allow(r, AF_INET6, v6(0xabcd0000 + i + 1, 0, i, i), now));
    }
    ratelimiter_free(r);
}

/* Partial refill: one token needs a full 1/20 s, not a nanosecond less. */
static void
test_refill_exact(void)
{
    struct ratelimiter *r = ratelimiter_new();
    const uint8_t *ip = v4(0x0a000001);
    uint64_t now = 5 * 1000 * MS;

    for (int i = 0; i < RATELIMIT_BURST; i++)
        g_assert_true(ratelimiter_allow(r, AF_INET, ip, now));
    g_assert_false(ratelimiter_allow(r, AF_INET, ip, now));
    g_assert_false(ratelimiter_allow(r, AF_INET, ip, now + COST_NS - 1));
    g_assert_true(ratelimiter_allow(r, AF_INET, ip, now + COST_NS));
    g_assert_false(ratelimiter_allow(r, AF_INET, ip, now + COST_NS));
    /* Credit is capped at the burst, however long the source was quiet. */
    now += 3600ULL * 1000 * MS;
    for (int i = 0; i < RATELIMIT_BURST; i++)
        g_assert_true(ratelimiter_allow(r, AF_INET, ip, now));
    g_assert_false(ratelimiter_allow(r, AF_INET, ip, now));
    /* A clock going backwards earns nothing and breaks nothing. */
    g_assert_false(ratelimiter_allow(r, AF_INET, ip, now - 10 * 1000 * MS));
    g_assert_false(ratelimiter_allow(r, AF_INET, ip, now));
    g_assert_true(ratelimiter_allow(r, AF_INET, ip, now + COST_NS));
    ratelimiter_free(r);
}

/* Sustained 20/s for 10 s: exactly burst + 20 * 10 pass out of 1000 sent at 100/s. */
static void
test_sustained_rate(void)
{
    struct ratelimiter *r = ratelimiter_new();
    const uint8_t *ip = v6(0x20010db8, 1, 2, 3);
    unsigned passed = 0;

    for (unsigned i = 0; i < 1000; i++)
        passed += ratelimiter_allow(r, AF_INET6, ip, 7000 * MS + (uint64_t)i * 10 * MS);
    /* Elapsed 9.99 s earns 199 tokens on top of the burst. */
    g_assert_cmpuint(passed, ==, RATELIMIT_BURST + 199);
    ratelimiter_free(r);
}

static void
test_independent_sources(void)
{
    struct ratelimiter *r = ratelimiter_new();
    const uint64_t now = 1000 * MS;
    uint8_t a6[16], b6[16];

    /* Same /64, different interface ids: one bucket (kernel keying). */
    memcpy(a6, v6(0x20010db8, 0xaaaa0001, 0, 1), 16);
    memcpy(b6, v6(0x20010db8, 0xaaaa0001, 0xffffffff, 0x12345678), 16);
    for (int i = 0; i < RATELIMIT_BURST; i++)
        g_assert_true(ratelimiter_allow(r, AF_INET6, (i & 1) ? a6 : b6, now));
    g_assert_false(ratelimiter_allow(r, AF_INET6, a6, now));
    g_assert_false(ratelimiter_allow(r, AF_INET6, b6, now));
    /* The neighbouring /64 is separate. */
    g_assert_true(ratelimiter_allow(r, AF_INET6, v6(0x20010db8, 0xaaaa0000, 0, 1), now));
    g_assert_true(ratelimiter_allow(r, AF_INET6, v6(0x20010db8, 0xaaaa0002, 0, 1), now));

    /* v4 sources are per address, and never share with v6 bytes that look alike. */
    for (int i = 0; i < RATELIMIT_BURST; i++)
        g_assert_true(ratelimiter_allow(r, AF_INET, v4(0xc0a80001), now));
    g_assert_false(ratelimiter_allow(r, AF_INET, v4(0xc0a80001), now));
    g_assert_true(ratelimiter_allow(r, AF_INET, v4(0xc0a80002), now));
    g_assert_true(ratelimiter_allow(r, AF_INET6, v6(0xc0a80001, 0, 0, 0), now));
    g_assert_true(ratelimiter_allow(r, AF_INET6, v6(0, 0, 0, 0xc0a80001), now));
    /* An unknown family is refused. */
    g_assert_false(ratelimiter_allow(r, AF_UNIX, v4(1), now));
    ratelimiter_free(r);
}

static void
test_gc(void)
{
    struct ratelimiter *r = ratelimiter_new();
    const uint64_t t0 = 50 * 1000 * MS;

    for (uint32_t i = 0; i < 100; i++)
        g_assert_true(ratelimiter_allow(r, AF_INET, v4(0x0a000000 + i), t0));
    for (uint32_t i = 0; i < 100; i++)
        g_assert_true(ratelimiter_allow(r, AF_INET6, v6(0xfd000000, i, 0, 1), t0 + 500 * MS));
    g_assert_cmpuint(ratelimiter_count(r), ==, 200);

    ratelimiter_gc(r, t0 + 1000 * MS); /* idle exactly 1 s: kept */
    g_assert_cmpuint(ratelimiter_count(r), ==, 200);
    ratelimiter_gc(r, t0 + 1000 * MS + 1);
    g_assert_cmpuint(ratelimiter_count(r), ==, 100);
    /* The survivors are still found after the deletions reshuffled the table. */
    for (uint32_t i = 0; i < 100; i++) {
        for (int k = 1; k < RATELIMIT_BURST; k++)
            g_assert_true(ratelimiter_allow(r, AF_INET6, v6(0xfd000000, i, 0, 1), t0 + 500 * MS));
        g_assert_false(ratelimiter_allow(r, AF_INET6, v6(0xfd000000, i, 1, 2), t0 + 500 * MS));
    }
    g_assert_cmpuint(ratelimiter_count(r), ==, 100);
    ratelimiter_gc(r, t0 + 1600 * MS);
    g_assert_cmpuint(ratelimiter_count(r), ==, 0);
    ratelimiter_gc(r, t0 + 1600 * MS);
    ratelimiter_free(r);
    ratelimiter_free(NULL);
}

static void
test_table_full(void)
{
    struct ratelimiter *r = ratelimiter_new();
    const uint64_t t0 = 10 * 1000 * MS;
    uint32_t i;

    for (i = 0; i < RATELIMIT_MAX_ENTRIES; i++)
        g_assert_true(ratelimiter_allow(r, AF_INET, v4(0x0b000000 + i), t0 + (i & 1) * 600 * MS));
    g_assert_cmpuint(ratelimiter_count(r), ==, RATELIMIT_MAX_ENTRIES);

    /* Full: new sources are refused (fail closed), known ones keep their bucket. */
    g_assert_false(ratelimiter_allow(r, AF_INET, v4(0x0c000000), t0 + 700 * MS));
    g_assert_false(ratelimiter_allow(r, AF_INET6, v6(0x20010db8, 0, 0, 1), t0 + 700 * MS));
    g_assert_true(ratelimiter_allow(r, AF_INET, v4(0x0b000000 + 7), t0 + 700 * MS));
    g_assert_cmpuint(ratelimiter_count(r), ==, RATELIMIT_MAX_ENTRIES);

    /* gc frees the idle half (even i, last seen at t0), keeps the rest. */
    ratelimiter_gc(r, t0 + 1500 * MS);
    g_assert_cmpuint(ratelimiter_count(r), ==, RATELIMIT_MAX_ENTRIES / 2);
    g_assert_true(ratelimiter_allow(r, AF_INET, v4(0x0c000000), t0 + 1500 * MS));
    g_assert_true(ratelimiter_allow(r, AF_INET6, v6(0x20010db8, 0, 0, 1), t0 + 1500 * MS));
    /* Every odd survivor is still tracked: its bucket is partially spent. */
    for (i = 1; i < RATELIMIT_MAX_ENTRIES; i += 2)
        g_assert_true(ratelimiter_allow(r, AF_INET, v4(0x0b000000 + i), t0 + 600 * MS));
    g_assert_cmpuint(ratelimiter_count(r), ==, RATELIMIT_MAX_ENTRIES / 2 + 2);
    ratelimiter_gc(r, t0 + 10000 * MS);
    g_assert_cmpuint(ratelimiter_count(r), ==, 0);
    ratelimiter_free(r);
}

/* Two limiters get different keys; behaviour does not depend on the key. */
static void
test_many_instances(void)
{
    for (int n = 0; n < 4; n++) {
        struct ratelimiter *r = ratelimiter_new();

        g_assert_nonnull(r);
        for (uint32_t i = 0; i < 3000; i++)
            g_assert_true(ratelimiter_allow(r, AF_INET, v4(i * 2654435761u), 1));
        g_assert_cmpuint(ratelimiter_count(r), ==, 3000);
        ratelimiter_free(r);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ratelimiter/timings", test_timings);
    g_test_add_func("/ratelimiter/refill-exact", test_refill_exact);
    g_test_add_func("/ratelimiter/sustained-rate", test_sustained_rate);
    g_test_add_func("/ratelimiter/independent-sources", test_independent_sources);
    g_test_add_func("/ratelimiter/gc", test_gc);
    g_test_add_func("/ratelimiter/table-full", test_table_full);
    g_test_add_func("/ratelimiter/many-instances", test_many_instances);
    return g_test_run();
}
