/* SPDX-License-Identifier: MIT */
/*
 * Handshake rate limiter used under load (WireGuard whitepaper §5.3; kernel
 * ratelimiter.c, wireguard-go ratelimiter.go): a token bucket per source,
 * counted in nanoseconds of credit. Each packet costs 1/20 s, the bucket holds
 * 5 packets, a new source starts full minus the packet that created it.
 *
 * Sources are IPv4 addresses or IPv6 /64s. The table is a fixed array of
 * 2 * RATELIMIT_MAX_ENTRIES slots with linear probing; the hash is SipHash-2-4
 * under a key drawn from getrandom(2) at creation, so an attacker choosing
 * source addresses cannot aim for one probe chain. At RATELIMIT_MAX_ENTRIES
 * live sources, unknown sources are refused until gc frees slots.
 *
 * Not thread-safe: callers serialise (the handshake path holds its lock).
 */
#include "wg/ratelimiter.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "common/compiler.h"

enum {
    PACKET_COST_NS = NSEC_PER_SEC / RATELIMIT_PACKETS_PER_SECOND,
    TOKEN_MAX_NS = PACKET_COST_NS * RATELIMIT_BURST,
    IDLE_NS = NSEC_PER_SEC,
    TABLE_SLOTS = 2 * RATELIMIT_MAX_ENTRIES,
};

_Static_assert((TABLE_SLOTS & (TABLE_SLOTS - 1)) == 0, "table size must be a power of two");
_Static_assert(TOKEN_MAX_NS <= UINT32_MAX, "tokens fit in 32 bits");

struct rl_slot {
    uint64_t key; /* IPv4 address, or the top 64 bits of an IPv6 one */
    uint64_t last_ns;
    uint32_t tokens_ns;
    uint8_t family; /* 0: empty */
};

struct ratelimiter {
    uint64_t key[2]; /* SipHash key */
    size_t used;
    struct rl_slot slots[TABLE_SLOTS];
};

/* ---- SipHash-2-4 of two 64-bit words (Aumasson & Bernstein, 2012) ---- */

static inline uint64_t
rotl64(uint64_t x, unsigned b)
{
    return (x << b) | (x >> (64 - b));
}

/* clang-format off */
#define SIPROUND(v0, v1, v2, v3)                                                                   \
    do {                                                                                           \
        v0 += v1; v1 = rotl64(v1, 13); v1 ^= v0; v0 = rotl64(v0, 32);                             \
        v2 += v3; v3 = rotl64(v3, 16); v3 ^= v2;                                                   \
        v0 += v3; v3 = rotl64(v3, 21); v3 ^= v0;                                                   \
        v2 += v1; v1 = rotl64(v1, 17); v1 ^= v2; v2 = rotl64(v2, 32);                             \
    } while (0)
/* clang-format on */

static uint64_t
siphash24_2u64(uint64_t k0, uint64_t k1, uint64_t m0, uint64_t m1)
{
    uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
    uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
    uint64_t v3 = k1 ^ 0x7465646279746573ULL;
    const uint64_t last = (uint64_t)16 << 56; /* message length, no tail bytes */

    /* clang-format off */
    v3 ^= m0; SIPROUND(v0, v1, v2, v3); SIPROUND(v0, v1, v2, v3); v0 ^= m0;
    v3 ^= m1; SIPROUND(v0, v1, v2, v3); SIPROUND(v0, v1, v2, v3); v0 ^= m1;
    v3 ^= last; SIPROUND(v0, v1, v2, v3); SIPROUND(v0, v1, v2, v3); v0 ^= last;
    v2 ^= 0xff;
    SIPROUND(v0, v1, v2, v3); SIPROUND(v0, v1, v2, v3);
    SIPROUND(v0, v1, v2, v3); SIPROUND(v0, v1, v2, v3);
    /* clang-format on */
    return v0 ^ v1 ^ v2 ^ v3;
}

#undef SIPROUND

/* ---- table ---- */

static inline size_t
slot_home(const struct ratelimiter *r, uint8_t family, uint64_t key)
{
    return (size_t)siphash24_2u64(r->key[0], r->key[1], key, family) & (TABLE_SLOTS - 1);
}

/* Linear-probing delete with backward shift (no tombstones). */
static void
slot_delete(struct ratelimiter *r, size_t i)
{
    const size_t mask = TABLE_SLOTS - 1;
    size_t j = i;

    for (;;) {
        size_t home;

        j = (j + 1) & mask;
        if (!r->slots[j].family)
            break;
        home = slot_home(r, r->slots[j].family, r->slots[j].key);
        /* Move j into the hole at i unless its home lies cyclically in (i, j]. */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            r->slots[i] = r->slots[j];
            i = j;
        }
    }
    memset(&r->slots[i], 0, sizeof(r->slots[i]));
    r->used--;
}

struct ratelimiter *
ratelimiter_new(void)
{
    struct ratelimiter *r = calloc(1, sizeof(*r));
    uint64_t key[2];
    size_t got = 0;

    if (!r)
        return NULL;
    while (got < sizeof(key)) {
        ssize_t n = getrandom((uint8_t *)key + got, sizeof(key) - got, 0);

        if (n < 0) {
            int e = errno;

            if (e == EINTR)
                continue;
            free(r);
            errno = e;
            return NULL;
        }
        got += (size_t)n;
    }
    memcpy(r->key, key, sizeof(key));
    sodium_memzero(key, sizeof(key));
    return r;
}

void
ratelimiter_free(struct ratelimiter *r)
{
    if (!r)
        return;
    /* The SipHash key is the one secret here. */
    sodium_memzero(r->key, sizeof(r->key));
    free(r);
}

bool
ratelimiter_allow(struct ratelimiter *r, int family, const uint8_t *addr, uint64_t now_ns)
{
    uint64_t key, tokens;
    uint8_t fam;
    size_t i;

    if (family == AF_INET) {
        uint32_t w;

        memcpy(&w, addr, 4);
        key = w;
        fam = 4;
    } else if (family == AF_INET6) {
        memcpy(&key, addr, 8); /* per /64, as the kernel keys it */
        fam = 6;
    } else {
        return false;
    }

    for (i = slot_home(r, fam, key);; i = (i + 1) & (TABLE_SLOTS - 1)) {
        struct rl_slot *s = &r->slots[i];

        if (!s->family)
            break;
        if (s->family == fam && s->key == key) {
            /* A clock step backwards earns nothing. */
            tokens = s->tokens_ns + (now_ns > s->last_ns ? now_ns - s->last_ns : 0);
            if (tokens > TOKEN_MAX_NS)
                tokens = TOKEN_MAX_NS;
            s->last_ns = MAX(now_ns, s->last_ns);
            if (tokens < PACKET_COST_NS) {
                s->tokens_ns = (uint32_t)tokens;
                return false;
            }
            s->tokens_ns = (uint32_t)(tokens - PACKET_COST_NS);
            return true;
        }
    }

    /* New source: fail closed when the table is at its bound. */
    if (r->used >= RATELIMIT_MAX_ENTRIES)
        return false;
    r->slots[i].family = fam;
    r->slots[i].key = key;
    r->slots[i].last_ns = now_ns;
    r->slots[i].tokens_ns = TOKEN_MAX_NS - PACKET_COST_NS;
    r->used++;
    return true;
}

void
ratelimiter_gc(struct ratelimiter *r, uint64_t now_ns)
{
    size_t i = 0;

    /*
     * A backward-shift delete may pull a later entry (or a wrapped one from
     * the start) into slot i, so slot i is examined again after a delete; an
     * entry may be seen twice but never skipped.
     */
    while (i < TABLE_SLOTS) {
        struct rl_slot *s = &r->slots[i];

        if (s->family && now_ns > s->last_ns && now_ns - s->last_ns > IDLE_NS)
            slot_delete(r, i);
        else
            ++i;
    }
}

size_t
ratelimiter_count(const struct ratelimiter *r)
{
    return r ? r->used : 0;
}
