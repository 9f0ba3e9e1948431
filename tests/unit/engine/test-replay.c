/* SPDX-License-Identifier: MIT */
/*
 * Replay window: the kernel's 34 counter vectors and its window walks
 * (selftest/counter.c; wireguard-go replay/replay_test.go), plus edge cases
 * of our own around the limit and the ring.
 */
#include <glib.h>
#include <string.h>

#include "wg/replay.h"

/* Ours (the WireGuard paper §6.1): 2^64 - 2^13 - 1, as wireguard-go. */
#define REJECT_AFTER_MESSAGES (UINT64_MAX - (1ULL << 13) + 1 - 1)
/* The kernel's: U64_MAX - COUNTER_WINDOW_SIZE - 1. */
#define KERNEL_REJECT_AFTER_MESSAGES (UINT64_MAX - REPLAY_WINDOW - 1)
#define T_LIM                        ((uint64_t)REPLAY_WINDOW + 1)

struct vec {
    uint64_t counter;
    bool ok;
};

static void
check(struct replay_window *w, uint64_t counter, uint64_t limit, bool ok, unsigned n)
{
    bool got = replay_check(w, counter, limit);

    if (got != ok)
        g_error("vector %u: counter %" G_GUINT64_FORMAT " expected %s", n, counter,
                ok ? "accept" : "reject");
}

static void
run_vectors(uint64_t lim)
{
    const struct vec v[] = {
        /*  1 */ { 0, true },
        /*  2 */ { 1, true },
        /*  3 */ { 1, false },
        /*  4 */ { 9, true },
        /*  5 */ { 8, true },
        /*  6 */ { 7, true },
        /*  7 */ { 7, false },
        /*  8 */ { T_LIM, true },
        /*  9 */ { T_LIM - 1, true },
        /* 10 */ { T_LIM - 1, false },
        /* 11 */ { T_LIM - 2, true },
        /* 12 */ { 2, true },
        /* 13 */ { 2, false },
        /* 14 */ { T_LIM + 16, true },
        /* 15 */ { 3, false },
        /* 16 */ { T_LIM + 16, false },
        /* 17 */ { T_LIM * 4, true },
        /* 18 */ { T_LIM * 4 - (T_LIM - 1), true },
        /* 19 */ { 10, false },
        /* 20 */ { T_LIM * 4 - T_LIM, false },
        /* 21 */ { T_LIM * 4 - (T_LIM + 1), false },
        /* 22 */ { T_LIM * 4 - (T_LIM - 2), true },
        /* 23 */ { T_LIM * 4 + 1 - T_LIM, false },
        /* 24 */ { 0, false },
        /* 25 */ { lim, false },
        /* 26 */ { lim - 1, true },
        /* 27 */ { lim, false },
        /* 28 */ { lim - 1, false },
        /* 29 */ { lim - 2, true },
        /* 30 */ { lim + 1, false },
        /* 31 */ { lim + 2, false },
        /* 32 */ { lim - 2, false },
        /* 33 */ { lim - 3, true },
        /* 34 */ { 0, false },
    };
    struct replay_window w;

    g_assert_cmpuint(G_N_ELEMENTS(v), ==, 34);
    replay_init(&w);
    for (unsigned i = 0; i < G_N_ELEMENTS(v); i++)
        check(&w, v[i].counter, lim, v[i].ok, i + 1);
}

static void
test_vectors(void)
{
    g_assert_cmpuint(REPLAY_WINDOW, ==, 8128);
    g_assert_cmpuint(REJECT_AFTER_MESSAGES, ==, 18446744073709543423ULL);
    run_vectors(REJECT_AFTER_MESSAGES);
}

static void
test_vectors_kernel_limit(void)
{
    run_vectors(KERNEL_REJECT_AFTER_MESSAGES);
}

/* Fill 1..W, then 0 is still exactly inside the window. */
static void
test_walk_fill_then_zero(void)
{
    struct replay_window w;
    unsigned n = 0;

    replay_init(&w);
    for (uint64_t i = 1; i <= REPLAY_WINDOW; i++)
        check(&w, i, REJECT_AFTER_MESSAGES, true, ++n);
    check(&w, 0, REJECT_AFTER_MESSAGES, true, ++n);
    check(&w, 0, REJECT_AFTER_MESSAGES, false, ++n);
}

/* Fill 2..W+1: 1 is the oldest tracked counter, 0 has fallen out. */
static void
test_walk_fill_edge(void)
{
    struct replay_window w;
    unsigned n = 0;

    replay_init(&w);
    for (uint64_t i = 2; i <= REPLAY_WINDOW + 1; i++)
        check(&w, i, REJECT_AFTER_MESSAGES, true, ++n);
    check(&w, 1, REJECT_AFTER_MESSAGES, true, ++n);
    check(&w, 0, REJECT_AFTER_MESSAGES, false, ++n);
}

/* Descending W..0 all fit. */
static void
test_walk_backwards(void)
{
    struct replay_window w;
    unsigned n = 0;

    replay_init(&w);
    for (uint64_t i = REPLAY_WINDOW + 1; i-- > 0;)
        check(&w, i, REJECT_AFTER_MESSAGES, true, ++n);
}

/* Descending W+1..1 all fit; 0 is one too old. */
static void
test_walk_backwards_edge(void)
{
    struct replay_window w;
    unsigned n = 0;

    replay_init(&w);
    for (uint64_t i = REPLAY_WINDOW + 2; i-- > 1;)
        check(&w, i, REJECT_AFTER_MESSAGES, true, ++n);
    check(&w, 0, REJECT_AFTER_MESSAGES, false, ++n);
}

/* Descending W..1, then W+1 pushes 0 out. */
static void
test_walk_backwards_then_advance(void)
{
    struct replay_window w;
    unsigned n = 0;

    replay_init(&w);
    for (uint64_t i = REPLAY_WINDOW + 1; i-- > 1;)
        check(&w, i, REJECT_AFTER_MESSAGES, true, ++n);
    check(&w, REPLAY_WINDOW + 1, REJECT_AFTER_MESSAGES, true, ++n);
    check(&w, 0, REJECT_AFTER_MESSAGES, false, ++n);
}

/* Descending W..1, then 0 (still inside), then W+1. */
static void
test_walk_backwards_zero_then_advance(void)
{
    struct replay_window w;
    unsigned n = 0;

    replay_init(&w);
    for (uint64_t i = REPLAY_WINDOW + 1; i-- > 1;)
        check(&w, i, REJECT_AFTER_MESSAGES, true, ++n);
    check(&w, 0, REJECT_AFTER_MESSAGES, true, ++n);
    check(&w, REPLAY_WINDOW + 1, REJECT_AFTER_MESSAGES, true, ++n);
}

/* Ours: jumps far ahead clear the whole ring; stale bits never reject. */
static void
test_big_jumps(void)
{
    struct replay_window w;
    uint64_t base = 0;

    replay_init(&w);
    for (uint64_t i = 0; i < 3 * REPLAY_BITS_TOTAL; i++)
        g_assert_true(replay_check(&w, i, REJECT_AFTER_MESSAGES));
    /* Jumps of exactly the ring size and of ring size +- 1 land on old bits. */
    for (int round = 0; round < 64; round++) {
        uint64_t step = REPLAY_BITS_TOTAL + (uint64_t)(round % 3) - 1;

        base = 3 * REPLAY_BITS_TOTAL + (uint64_t)round * REPLAY_BITS_TOTAL * 2;
        g_assert_true(replay_check(&w, base, REJECT_AFTER_MESSAGES));
        g_assert_true(replay_check(&w, base + step, REJECT_AFTER_MESSAGES));
        g_assert_false(replay_check(&w, base + step, REJECT_AFTER_MESSAGES));
        /* step > REPLAY_WINDOW, so base has fallen out; the window edge is exact. */
        g_assert_false(replay_check(&w, base, REJECT_AFTER_MESSAGES));
        g_assert_true(replay_check(&w, base + step - REPLAY_WINDOW, REJECT_AFTER_MESSAGES));
        g_assert_false(replay_check(&w, base + step - REPLAY_WINDOW - 1, REJECT_AFTER_MESSAGES));
    }
}

/* Ours: a caller passing UINT64_MAX as the limit must not overflow anything. */
static void
test_limit_max(void)
{
    struct replay_window w;

    replay_init(&w);
    g_assert_false(replay_check(&w, UINT64_MAX, UINT64_MAX));
    g_assert_true(replay_check(&w, UINT64_MAX - 1, UINT64_MAX));
    g_assert_false(replay_check(&w, UINT64_MAX - 1, UINT64_MAX));
    g_assert_true(replay_check(&w, UINT64_MAX - 1 - REPLAY_WINDOW, UINT64_MAX));
    g_assert_false(replay_check(&w, UINT64_MAX - 2 - REPLAY_WINDOW, UINT64_MAX));
    g_assert_false(replay_check(&w, 0, UINT64_MAX));
    g_assert_false(replay_check(&w, 5, 5));
    g_assert_false(replay_check(&w, 0, 0));
}

/* Ours: differential against a set of every accepted counter (brute force). */
static void
test_random_reference(void)
{
    enum { SPAN = 40000, ROUNDS = 200000 };
    g_autofree guint8 *seen = g_malloc0(SPAN);
    GRand *rng = g_rand_new_with_seed(6479);
    struct replay_window w;
    uint64_t greatest = 0;
    bool any = false;

    replay_init(&w);
    for (unsigned r = 0; r < ROUNDS; r++) {
        /* Mostly near the front, sometimes behind the window, sometimes jumps. */
        gint64 delta = g_rand_int_range(rng, -9000, 200);
        gint64 c64 = (gint64)greatest + delta;
        uint64_t c;
        bool expect, got;

        if (c64 < 0)
            c64 = 0;
        if (c64 >= SPAN)
            break;
        c = (uint64_t)c64;
        expect = !seen[c] && !(any && greatest > c && greatest - c > REPLAY_WINDOW);
        got = replay_check(&w, c, REJECT_AFTER_MESSAGES);
        if (got != expect)
            g_error("round %u counter %" G_GUINT64_FORMAT ": expected %d got %d", r, c, expect,
                    got);
        if (got) {
            seen[c] = 1;
            if (!any || c > greatest)
                greatest = c;
            any = true;
        }
    }
    g_rand_free(rng);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/replay/vectors", test_vectors);
    g_test_add_func("/replay/vectors-kernel-limit", test_vectors_kernel_limit);
    g_test_add_func("/replay/walk/fill-then-zero", test_walk_fill_then_zero);
    g_test_add_func("/replay/walk/fill-edge", test_walk_fill_edge);
    g_test_add_func("/replay/walk/backwards", test_walk_backwards);
    g_test_add_func("/replay/walk/backwards-edge", test_walk_backwards_edge);
    g_test_add_func("/replay/walk/backwards-then-advance", test_walk_backwards_then_advance);
    g_test_add_func("/replay/walk/backwards-zero-then-advance",
                    test_walk_backwards_zero_then_advance);
    g_test_add_func("/replay/big-jumps", test_big_jumps);
    g_test_add_func("/replay/limit-max", test_limit_max);
    g_test_add_func("/replay/random-reference", test_random_reference);
    return g_test_run();
}
