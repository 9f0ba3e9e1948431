/* SPDX-License-Identifier: MIT */
/*
 * bench-aead: ChaCha20-Poly1305 seal+open throughput of both aead.c backends,
 * in process, one thread. For each payload size every call uses a new nonce
 * (counter, WireGuard LE layout) under one key, empty AD, separate buffers.
 * Each round runs enough iterations for ~--ms milliseconds; the median over
 * --rounds rounds is printed. Time is this thread's CPU time (so other load on
 * a shared machine does not count), or wall-clock time with --wall.
 * "pair" = one seal plus one open of the result;
 * GB/s = payload bytes per pair / ns per pair (10^9 bytes per second).
 *
 * usage: bench-aead [--rounds N] [--ms M] [--wall] [--backend openssl|libsodium]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <sodium.h>

#include "crypto/aead.h"

enum { MAX_ROUNDS = 101 };

static const size_t sizes[] = { 64, 1420, 65536 };
static clockid_t bench_clock = CLOCK_THREAD_CPUTIME_ID;

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(bench_clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

struct buffers {
    uint8_t key[AEAD_KEY_LEN];
    uint8_t *pt, *ct, *out;
    uint64_t counter;
};

/* Runs iters seal(+open) calls; returns elapsed ns, or 0 on a backend failure. */
static uint64_t
run(struct buffers *b, size_t len, uint64_t iters, int with_open)
{
    uint8_t nonce[AEAD_NONCE_LEN];
    uint64_t t0 = now_ns(), i;

    for (i = 0; i < iters; i++) {
        aead_nonce_le(nonce, b->counter++);
        if (!aead_seal(b->ct, b->pt, len, NULL, 0, nonce, b->key))
            return 0;
        if (with_open && !aead_open(b->out, b->ct, len + AEAD_TAG_LEN, NULL, 0, nonce, b->key))
            return 0;
    }
    return now_ns() - t0;
}

/* Median ns per operation over rounds, each round lasting about ms. */
static double
measure(struct buffers *b, size_t len, int with_open, int rounds, int ms)
{
    double per_op[MAX_ROUNDS];
    uint64_t iters = 16, t;
    int r;

    /* Warm up and calibrate. */
    for (;;) {
        t = run(b, len, iters, with_open);
        if (t == 0)
            return -1;
        if (t >= (uint64_t)ms * 1000000ULL / 4)
            break;
        iters *= 2;
    }
    iters = (uint64_t)((double)iters * ((double)ms * 1e6 / (double)t)) + 1;
    for (r = 0; r < rounds; r++) {
        t = run(b, len, iters, with_open);
        if (t == 0)
            return -1;
        per_op[r] = (double)t / (double)iters;
    }
    qsort(per_op, (size_t)rounds, sizeof(double), cmp_double);
    return per_op[rounds / 2];
}

static void
cpu_model(char *out, size_t size)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];

    snprintf(out, size, "unknown");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *colon = strchr(line, ':');

            if (colon) {
                snprintf(out, size, "%s", colon + 2);
                out[strcspn(out, "\n")] = '\0';
            }
            break;
        }
    }
    fclose(f);
}

int
main(int argc, char **argv)
{
    enum aead_backend backends[] = { AEAD_BACKEND_OPENSSL, AEAD_BACKEND_LIBSODIUM };
    size_t nbackends = 2, bi, si, maxlen = 65536;
    int rounds = 9, ms = 200, i;
    struct buffers b;
    char cpu[128];

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--ms") == 0 && i + 1 < argc) {
            ms = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--wall") == 0) {
            bench_clock = CLOCK_MONOTONIC;
        } else if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc) {
            i++;
            nbackends = 1;
            backends[0] =
                strcmp(argv[i], "libsodium") == 0 ? AEAD_BACKEND_LIBSODIUM : AEAD_BACKEND_OPENSSL;
        } else {
            fprintf(stderr,
                    "usage: %s [--rounds N] [--ms M] [--wall] [--backend openssl|libsodium]\n",
                    argv[0]);
            return 2;
        }
    }
    if (rounds < 1 || rounds > MAX_ROUNDS || ms < 1) {
        fprintf(stderr, "rounds must be 1..%d and ms > 0\n", MAX_ROUNDS);
        return 2;
    }
    if (sodium_init() < 0)
        return 1;

    b.pt = malloc(maxlen);
    b.ct = malloc(maxlen + AEAD_TAG_LEN);
    b.out = malloc(maxlen);
    if (!b.pt || !b.ct || !b.out)
        return 1;
    randombytes_buf(b.key, sizeof(b.key));
    randombytes_buf(b.pt, maxlen);
    b.counter = 0;

    cpu_model(cpu, sizeof(cpu));
    printf("# bench-aead: ChaCha20-Poly1305, median of %d rounds x ~%d ms %s time, 1 thread\n",
           rounds, ms, bench_clock == CLOCK_MONOTONIC ? "wall" : "thread CPU");
    printf("# cpu: %s\n# %s; libsodium %s (avx2 %d, avx512f %d)\n", cpu,
           OpenSSL_version(OPENSSL_VERSION), sodium_version_string(), sodium_runtime_has_avx2(),
           sodium_runtime_has_avx512f());
    printf("%-10s %7s %12s %9s %12s %9s\n", "backend", "bytes", "pair ns/op", "pair GB/s",
           "seal ns/op", "seal GB/s");
    for (bi = 0; bi < nbackends; bi++) {
        aead_set_backend(backends[bi]);
        for (si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
            size_t len = sizes[si];
            double pair = measure(&b, len, 1, rounds, ms);
            double seal = measure(&b, len, 0, rounds, ms);

            if (pair < 0 || seal < 0) {
                fprintf(stderr, "%s: backend failure\n", aead_backend_name(backends[bi]));
                return 1;
            }
            printf("%-10s %7zu %12.1f %9.3f %12.1f %9.3f\n", aead_backend_name(backends[bi]), len,
                   pair, (double)len / pair, seal, (double)len / seal);
            fflush(stdout);
        }
    }
    free(b.pt);
    free(b.ct);
    free(b.out);
    return 0;
}
