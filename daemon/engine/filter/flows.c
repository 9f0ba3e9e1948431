/* SPDX-License-Identifier: MIT */
/*
 * The flow table: fixed capacity, no allocation after pf_flows_new, safe for
 * the RX and TX threads at once.
 *
 * Set-associative: a flow hashes (keyed, random seed) to one set of WAYS
 * entries guarded by a tiny spinlock; a full set evicts its least recently
 * used entry. That is Tailscale's flowtrack.Cache (an LRU, no time expiry,
 * wgengine/filter/filter.go lruMax) made per set, so that lookups and inserts
 * cost a hash and one cache-line-sized scan, never a global lock.
 *
 * Two tables: our outbound UDP/SCTP flows (what Tailscale tracks), and
 * inbound flows a rule accepted, tagged with the filter's generation so that
 * a new rule set never honours a flow only the old one allowed. They are
 * separate so that a peer opening many flows can only evict its own cache
 * entries, never the replies we are waiting for.
 */
#include "filter/pf-private.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

enum { WAYS = 8 };

struct flow_ent {
    struct pf_flow_key k; /* k.addr_len == 0: empty */
    uint64_t gen;
    uint64_t last_ns;
};

struct flow_set {
    atomic_flag lock;
    struct flow_ent e[WAYS];
};

struct flow_table {
    struct flow_set *sets;
    size_t mask; /* number of sets - 1 */
    atomic_size_t used;
};

struct pf_flows {
    struct flow_table out, in;
    uint64_t seed;
};

static inline void
set_lock(struct flow_set *s)
{
    while (atomic_flag_test_and_set_explicit(&s->lock, memory_order_acquire)) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
}

static inline void
set_unlock(struct flow_set *s)
{
    atomic_flag_clear_explicit(&s->lock, memory_order_release);
}

static inline uint64_t
mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
    return h ^ (h >> 29);
}

static inline bool
key_eq(const struct pf_flow_key *a, const struct pf_flow_key *b)
{
    return ((a->w[0] ^ b->w[0]) | (a->w[1] ^ b->w[1]) | (a->w[2] ^ b->w[2]) | (a->w[3] ^ b->w[3]) |
            (a->w[4] ^ b->w[4])) == 0;
}

static inline uint64_t
key_hash(const struct pf_flows *fl, const struct pf_flow_key *k)
{
    uint64_t h = fl->seed;

    for (int i = 0; i < 5; i++)
        h = mix(h, k->w[i]);
    return h ^ (h >> 32);
}

static inline struct flow_set *
set_of(const struct flow_table *t, uint64_t h)
{
    return &t->sets[h & t->mask];
}

static bool
table_init(struct flow_table *t, size_t entries)
{
    size_t sets = 1;

    while (sets * WAYS < entries)
        sets <<= 1;
    t->sets = calloc(sets, sizeof(*t->sets));
    t->mask = sets - 1;
    atomic_init(&t->used, 0);
    return t->sets != NULL;
}

/* Found (and touched): true. With want_gen, only an entry of that generation. */
static bool
table_lookup(struct flow_table *t, uint64_t h, const struct pf_flow_key *k,
             const uint64_t *want_gen, uint64_t now_ns)
{
    struct flow_set *s = set_of(t, h);
    bool found = false;

    set_lock(s);
    for (int i = 0; i < WAYS; i++) {
        struct flow_ent *e = &s->e[i];

        if (key_eq(&e->k, k) && (!want_gen || e->gen == *want_gen)) {
            e->last_ns = now_ns;
            found = true;
            break;
        }
    }
    set_unlock(s);
    return found;
}

static void
table_insert(const struct pf_flows *fl, struct flow_table *t, const struct pf_flow_key *k,
             uint64_t gen, uint64_t now_ns)
{
    struct flow_set *s = set_of(t, key_hash(fl, k));
    struct flow_ent *victim = NULL;

    set_lock(s);
    for (int i = 0; i < WAYS; i++) {
        struct flow_ent *e = &s->e[i];

        if (key_eq(&e->k, k)) {
            victim = e;
            break;
        }
        if (e->k.addr_len == 0) {
            if (!victim || victim->k.addr_len != 0)
                victim = e;
        } else if (!victim || (victim->k.addr_len != 0 && e->last_ns < victim->last_ns)) {
            victim = e;
        }
    }
    if (victim->k.addr_len == 0)
        atomic_fetch_add_explicit(&t->used, 1, memory_order_relaxed);
    victim->k = *k;
    victim->gen = gen;
    victim->last_ns = now_ns;
    set_unlock(s);
}

struct pf_flows *
pf_flows_new(size_t capacity)
{
    struct pf_flows *fl = calloc(1, sizeof(*fl));

    if (!fl)
        return NULL;
    if (capacity == 0)
        capacity = PF_FLOWS_DEFAULT;
    if (getrandom(&fl->seed, sizeof(fl->seed), GRND_NONBLOCK) != sizeof(fl->seed))
        fl->seed = (uint64_t)(uintptr_t)fl ^ 0x5bd1e995u;
    if (!table_init(&fl->out, capacity) || !table_init(&fl->in, MAX(capacity / 4, WAYS))) {
        pf_flows_free(fl);
        return NULL;
    }
    return fl;
}

void
pf_flows_free(struct pf_flows *fl)
{
    if (!fl)
        return;
    free(fl->out.sets);
    free(fl->in.sets);
    free(fl);
}

void
pf_flow_key_inbound(struct pf_flow_key *k, const struct pf_packet *p)
{
    memset(k, 0, sizeof(*k));
    k->proto = p->proto;
    k->addr_len = p->addr_len;
    k->sport = p->sport;
    k->dport = p->dport;
    memcpy(k->src, p->src, p->addr_len);
    memcpy(k->dst, p->dst, p->addr_len);
}

void
pf_flows_note_outbound_parsed(struct pf_flows *fl, const struct pf_packet *p, uint64_t now_ns)
{
    struct pf_flow_key k;

    if (p->proto != PF_PROTO_UDP && p->proto != PF_PROTO_SCTP)
        return;
    /* Stored as the reply will arrive: from their address to ours. */
    memset(&k, 0, sizeof(k));
    k.proto = p->proto;
    k.addr_len = p->addr_len;
    k.sport = p->dport;
    k.dport = p->sport;
    memcpy(k.src, p->dst, p->addr_len);
    memcpy(k.dst, p->src, p->addr_len);
    table_insert(fl, &fl->out, &k, 0, now_ns);
}

void
pf_flows_note_outbound(struct pf_flows *fl, const uint8_t *pkt, size_t len, uint64_t now_ns)
{
    struct pf_packet p;

    if (pf_parse(pkt, len, &p) == 0)
        pf_flows_note_outbound_parsed(fl, &p, now_ns);
}

bool
pf_flows_has(struct pf_flows *fl, const struct pf_flow_key *k, uint64_t gen, uint64_t now_ns)
{
    uint64_t h = key_hash(fl, k);

    return table_lookup(&fl->out, h, k, NULL, now_ns) || table_lookup(&fl->in, h, k, &gen, now_ns);
}

void
pf_flows_note_accepted(struct pf_flows *fl, const struct pf_flow_key *k, uint64_t gen,
                       uint64_t now_ns)
{
    table_insert(fl, &fl->in, k, gen, now_ns);
}

size_t
pf_flows_count(struct pf_flows *fl)
{
    return atomic_load_explicit(&fl->out.used, memory_order_relaxed);
}

size_t
pf_flows_capacity(const struct pf_flows *fl)
{
    return (fl->out.mask + 1) * WAYS;
}
