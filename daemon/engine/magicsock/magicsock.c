/* SPDX-License-Identifier: MIT */
/*
 * The path machine (magicsock.h): per disco-capable peer, which candidate
 * addresses exist, which pings are in flight, which address is best and until
 * when it is trusted, and so which WireGuard endpoint to use.
 *
 * Facts from Tailscale (wgengine/magicsock/endpoint.go, magicsock.go,
 * v1.102.5), re-expressed here:
 *  - a pong whose TxID matches one of our pings to a direct address makes that
 *    address a candidate path; it becomes the best one if betterAddr() says so
 *    or if the best one is no longer trusted, and a pong from the best address
 *    extends trust to pong time + 6.5 s (handlePongConnLocked);
 *  - a ping that times out while its address is the untrusted best one drops
 *    the best address (discoPingTimeout);
 *  - heartbeat(): every 3 s while the peer sent within the last 45 s, ping the
 *    best address, and ping every candidate (each at most once per 5 s) plus a
 *    CallMeMaybe over DERP when no direct path is trusted, or every minute when
 *    the best one is slower than 5 ms (wantFullPingLocked);
 *  - sending to a peer without a trusted path starts that full ping at once;
 *  - CallMeMaybe only via DERP, from the node key whose disco key sealed it:
 *    its endpoints replace the previous CallMeMaybe ones and all are pinged;
 *  - a ping over UDP adds its source as a candidate (addCandidateEndpoint) and
 *    is answered to that source; a ping over DERP is answered over DERP.
 *
 * Single-threaded: the caller serialises every call. ops callbacks must not
 * call back into the machine. now_ns never goes backwards (CLOCK_MONOTONIC);
 * any call may move the next deadline earlier, so the caller asks
 * magicsock_tick for it after each one (cheap when nothing is due). Per peer everything is bounded:
 * candidates by MS_MAX_CANDIDATES, pings in flight by MS_MAX_PINGS (the oldest is dropped as timed
 * out). Peers are found by node key and by disco key through keyed hashes; timers live in a
 * min-heap of peers that have one, so idle peers cost nothing per tick. Shared keys sit in one
 * secmem slab, wiped on release.
 */
#include "magicsock/magicsock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/compiler.h"
#include "crypto/secmem.h"

enum {
    MS_MAX_CANDIDATES = 2 * MAGICSOCK_MAX_ENDPOINTS, /* netmap + CallMeMaybe + learned */
    MS_MAX_PINGS = 2 * MAGICSOCK_MAX_ENDPOINTS,
    MS_MIN_TABLE = 64,
    NO_SLOT = UINT32_MAX,
};

#define NO_HEAP SIZE_MAX

/* Why a candidate is kept (a candidate without any reason is deleted). */
enum {
    CAND_NETMAP = 1 << 0, /* in the netmap's endpoint list */
    CAND_CMM = 1 << 1,    /* listed in the peer's last CallMeMaybe */
    CAND_RX = 1 << 2,     /* a ping came from it recently (learned at run time) */
    CAND_MARK = 1 << 3,   /* scratch while replacing a set */
};

struct ms_cand {
    union wg_sockaddr addr;
    uint64_t last_ping_ns; /* our last discovery ping to it, valid if pinged */
    uint64_t rx_ping_ns;   /* when CAND_RX was last refreshed */
    uint64_t latency_ns;   /* last pong's round trip, valid if has_latency */
    uint8_t rx_txid[DISCO_TXID_LEN];
    uint8_t flags;
    bool pinged;
    bool has_latency;
    bool has_rx_txid;
};

enum ping_purpose {
    PING_DISCOVERY,
    PING_HEARTBEAT,
    PING_USER,
};

struct ms_ping {
    uint8_t txid[DISCO_TXID_LEN];
    uint8_t purpose;     /* enum ping_purpose */
    bool user_pending;   /* a user ping not answered yet */
    uint16_t via_region; /* nonzero: sent over DERP to the peer's home region */
    union wg_sockaddr to;
    uint64_t sent_ns;
    uint64_t user_id;
};

struct ms_peer {
    uint8_t node_key[DISCO_KEY_LEN];
    uint8_t disco_key[DISCO_KEY_LEN];
    bool has_disco;
    uint32_t key_slot; /* index into ms->keys, NO_SLOT without disco */
    uint16_t home_derp;
    bool has_first;
    union wg_sockaddr first_ep; /* the netmap's first usable endpoint */

    struct ms_cand *cands;
    uint8_t n_cands, cap_cands;
    struct ms_ping *pings; /* in sending order: pings[0] expires first */
    uint8_t n_pings, cap_pings;

    bool has_best;
    union wg_sockaddr best;
    uint64_t best_latency_ns;
    uint64_t trust_until_ns;

    bool active_ever;
    uint64_t last_active_ns;
    bool full_pinged;
    uint64_t last_full_ping_ns;
    bool hb_armed;
    uint64_t hb_ns;

    struct wg_endpoint cur; /* what set_endpoint last said */

    uint64_t node_hash, disco_hash;
    struct ms_peer *node_next, *disco_next;
    size_t all_idx, heap_idx;
    uint64_t deadline_ns;
    uint32_t gen;
};

struct ms_secrets {
    uint8_t disco_priv[DISCO_KEY_LEN];
};

struct magicsock {
    const struct magicsock_ops *ops;
    void *ctx;
    struct ms_secrets *secrets; /* secmem */
    uint8_t disco_pub[DISCO_KEY_LEN];
    uint8_t node_pub[DISCO_KEY_LEN];
    uint8_t hash_key[crypto_shorthash_KEYBYTES];
    bool derp_enabled;
    uint64_t now_ns; /* the latest time a caller passed (for calls without one) */

    size_t n_local;
    union wg_sockaddr local[MAGICSOCK_MAX_ENDPOINTS];

    struct ms_peer **all; /* dense, all_idx */
    size_t n_peers, cap_all;
    struct ms_peer **node_tab, **disco_tab;
    size_t tab_size; /* power of two */
    struct ms_peer **heap;
    size_t n_heap, cap_heap;
    uint32_t gen;

    struct disco_shared_key *keys; /* secmem slab */
    uint32_t keys_cap;
    uint32_t *free_slots;
    uint32_t n_free;
};

/* ---- addresses --------------------------------------------------------- */

/*
 * A canonical copy of a UDP address: zeroed padding (endpoints are compared
 * with memcmp), v4-mapped IPv6 as IPv4. False for anything we cannot ping.
 */
static bool
addr_canon(union wg_sockaddr *out, const union wg_sockaddr *in)
{
    memset(out, 0, sizeof(*out));
    if (in->sa.sa_family == AF_INET) {
        if (in->in4.sin_port == 0 || in->in4.sin_addr.s_addr == 0)
            return false;
        out->in4.sin_family = AF_INET;
        out->in4.sin_port = in->in4.sin_port;
        out->in4.sin_addr = in->in4.sin_addr;
        return true;
    }
    if (in->sa.sa_family != AF_INET6 || in->in6.sin6_port == 0 ||
        IN6_IS_ADDR_UNSPECIFIED(&in->in6.sin6_addr))
        return false;
    if (IN6_IS_ADDR_V4MAPPED(&in->in6.sin6_addr)) {
        out->in4.sin_family = AF_INET;
        out->in4.sin_port = in->in6.sin6_port;
        memcpy(&out->in4.sin_addr, &in->in6.sin6_addr.s6_addr[12], 4);
        return out->in4.sin_addr.s_addr != 0;
    }
    out->in6.sin6_family = AF_INET6;
    out->in6.sin6_port = in->in6.sin6_port;
    out->in6.sin6_addr = in->in6.sin6_addr;
    out->in6.sin6_scope_id = in->in6.sin6_scope_id;
    return true;
}

/* betterAddr's preferences: loopback, link-local, private, IPv6 (endpoint.go). */
static int
addr_points(const union wg_sockaddr *a)
{
    if (a->sa.sa_family == AF_INET) {
        uint32_t ip = ntohl(a->in4.sin_addr.s_addr);

        if ((ip >> 24) == 127)
            return 50;
        if ((ip >> 16) == 0xa9fe)
            return 30;
        if ((ip >> 24) == 10 || (ip >> 20) == 0xac1 || (ip >> 16) == 0xc0a8)
            return 20;
        return 0;
    }
    const uint8_t *b = a->in6.sin6_addr.s6_addr;
    int points = 10;

    if (IN6_IS_ADDR_LOOPBACK(&a->in6.sin6_addr))
        points += 50;
    else if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        points += 30;
    else if ((b[0] & 0xfe) == 0xfc)
        points += 20;
    return points;
}

/*
 * Whether address a at latency a_ns beats the current best: each side scores
 * how much faster it is in percent, plus its preference points; below 1 % and
 * no points for the other side, nothing changes (hysteresis).
 */
static bool
better_addr(const union wg_sockaddr *a, uint64_t a_ns, const struct ms_peer *p)
{
    int a_points = 0, b_points = 0;
    uint64_t b_ns = p->best_latency_ns;

    if (!p->has_best)
        return true;
    if (wg_sockaddr_equal(a, &p->best))
        return false;
    if (a_ns > b_ns && a_ns > 0)
        b_points = (int)(100 - (b_ns * 100) / a_ns);
    else if (b_ns > 0)
        a_points = (int)(100 - (a_ns * 100) / b_ns);
    a_points += addr_points(a);
    b_points += addr_points(&p->best);
    if (a_points <= 1 && b_points == 0)
        return false;
    return a_points > b_points;
}

static void
derp_endpoint(struct wg_endpoint *ep, uint16_t region, const uint8_t node_key[DISCO_KEY_LEN])
{
    memset(ep, 0, sizeof(*ep));
    ep->addr.in4.sin_family = AF_INET;
    ep->addr.in4.sin_addr.s_addr = htonl(WG_DERP_MAGIC_IPV4);
    ep->addr.in4.sin_port = htons(region);
    ep->derp_region = region;
    memcpy(ep->derp_key, node_key, DISCO_KEY_LEN);
}

static bool
key_is_zero(const uint8_t k[DISCO_KEY_LEN])
{
    return sodium_is_zero(k, DISCO_KEY_LEN);
}

/* ---- lookup tables ----------------------------------------------------- */

static uint64_t
key_hash(const struct magicsock *ms, const uint8_t k[DISCO_KEY_LEN])
{
    uint8_t out[crypto_shorthash_BYTES];
    uint64_t h;

    crypto_shorthash(out, k, DISCO_KEY_LEN, ms->hash_key);
    memcpy(&h, out, sizeof(h));
    return h;
}

static struct ms_peer *
find_node(const struct magicsock *ms, const uint8_t node_key[DISCO_KEY_LEN])
{
    struct ms_peer *p = ms->node_tab[key_hash(ms, node_key) & (ms->tab_size - 1)];

    while (p && memcmp(p->node_key, node_key, DISCO_KEY_LEN) != 0)
        p = p->node_next;
    return p;
}

/* The first peer with this disco key; continue with next_disco(). */
static struct ms_peer *
next_disco(struct ms_peer *p, const uint8_t disco_key[DISCO_KEY_LEN])
{
    while (p && memcmp(p->disco_key, disco_key, DISCO_KEY_LEN) != 0)
        p = p->disco_next;
    return p;
}

static struct ms_peer *
find_disco(const struct magicsock *ms, const uint8_t disco_key[DISCO_KEY_LEN])
{
    return next_disco(ms->disco_tab[key_hash(ms, disco_key) & (ms->tab_size - 1)], disco_key);
}

static void
unlink_chain(struct ms_peer **head, struct ms_peer *p, bool disco)
{
    for (struct ms_peer **pp = head; *pp; pp = disco ? &(*pp)->disco_next : &(*pp)->node_next) {
        if (*pp == p) {
            *pp = disco ? p->disco_next : p->node_next;
            return;
        }
    }
}

static void
disco_unlink(struct magicsock *ms, struct ms_peer *p)
{
    unlink_chain(&ms->disco_tab[p->disco_hash & (ms->tab_size - 1)], p, true);
    p->disco_next = NULL;
}

static void
disco_link(struct magicsock *ms, struct ms_peer *p)
{
    struct ms_peer **head;

    p->disco_hash = key_hash(ms, p->disco_key);
    head = &ms->disco_tab[p->disco_hash & (ms->tab_size - 1)];
    p->disco_next = *head;
    *head = p;
}

/* Double both tables once there are more peers than buckets. */
static int
tables_grow(struct magicsock *ms)
{
    size_t size = ms->tab_size * 2;
    struct ms_peer **nt = calloc(size, sizeof(*nt));
    struct ms_peer **dt = calloc(size, sizeof(*dt));

    if (!nt || !dt) {
        free(nt);
        free(dt);
        return -ENOMEM;
    }
    for (size_t i = 0; i < ms->n_peers; i++) {
        struct ms_peer *p = ms->all[i];
        struct ms_peer **h = &nt[p->node_hash & (size - 1)];

        p->node_next = *h;
        *h = p;
        if (p->has_disco) {
            h = &dt[p->disco_hash & (size - 1)];
            p->disco_next = *h;
            *h = p;
        }
    }
    free(ms->node_tab);
    free(ms->disco_tab);
    ms->node_tab = nt;
    ms->disco_tab = dt;
    ms->tab_size = size;
    return 0;
}

/* ---- shared keys in secure memory -------------------------------------- */

static uint32_t
key_slot_get(struct magicsock *ms)
{
    if (ms->n_free == 0) {
        uint32_t cap = ms->keys_cap ? ms->keys_cap * 2 : 64;
        struct disco_shared_key *keys = secmem_alloc(cap * sizeof(*keys));
        uint32_t *slots = realloc(ms->free_slots, cap * sizeof(*slots));

        if (!keys || !slots) {
            secmem_free(keys, cap * sizeof(*keys));
            if (slots)
                ms->free_slots = slots;
            return NO_SLOT;
        }
        ms->free_slots = slots;
        if (ms->keys) {
            memcpy(keys, ms->keys, ms->keys_cap * sizeof(*keys));
            secmem_free(ms->keys, ms->keys_cap * sizeof(*keys));
        }
        for (uint32_t i = cap; i > ms->keys_cap; i--)
            ms->free_slots[ms->n_free++] = i - 1;
        ms->keys = keys;
        ms->keys_cap = cap;
    }
    return ms->free_slots[--ms->n_free];
}

static void
key_slot_put(struct magicsock *ms, uint32_t slot)
{
    if (slot == NO_SLOT)
        return;
    sodium_memzero(&ms->keys[slot], sizeof(ms->keys[slot]));
    ms->free_slots[ms->n_free++] = slot;
}

static const struct disco_shared_key *
peer_key(const struct magicsock *ms, const struct ms_peer *p)
{
    return &ms->keys[p->key_slot];
}

/* ---- timer heap -------------------------------------------------------- */

static void
heap_swap(struct magicsock *ms, size_t i, size_t j)
{
    struct ms_peer *t = ms->heap[i];

    ms->heap[i] = ms->heap[j];
    ms->heap[j] = t;
    ms->heap[i]->heap_idx = i;
    ms->heap[j]->heap_idx = j;
}

static void
heap_fix(struct magicsock *ms, size_t i)
{
    while (i > 0 && ms->heap[(i - 1) / 2]->deadline_ns > ms->heap[i]->deadline_ns) {
        heap_swap(ms, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;

        if (l < ms->n_heap && ms->heap[l]->deadline_ns < ms->heap[m]->deadline_ns)
            m = l;
        if (r < ms->n_heap && ms->heap[r]->deadline_ns < ms->heap[m]->deadline_ns)
            m = r;
        if (m == i)
            return;
        heap_swap(ms, i, m);
        i = m;
    }
}

static void
heap_remove(struct magicsock *ms, struct ms_peer *p)
{
    size_t i = p->heap_idx;

    if (i == NO_HEAP)
        return;
    p->heap_idx = NO_HEAP;
    if (i != --ms->n_heap) {
        ms->heap[i] = ms->heap[ms->n_heap];
        ms->heap[i]->heap_idx = i;
        heap_fix(ms, i);
    }
}

/* deadline 0: no timer. The heap has room for every peer (ensured on add). */
static void
heap_set(struct magicsock *ms, struct ms_peer *p, uint64_t deadline)
{
    if (deadline == 0) {
        heap_remove(ms, p);
        return;
    }
    p->deadline_ns = deadline;
    if (p->heap_idx == NO_HEAP) {
        p->heap_idx = ms->n_heap;
        ms->heap[ms->n_heap++] = p;
    }
    heap_fix(ms, p->heap_idx);
}

static void
deadline_min(uint64_t *d, uint64_t t)
{
    if (*d == 0 || t < *d)
        *d = t;
}

static void
peer_reschedule(struct magicsock *ms, struct ms_peer *p, uint64_t now)
{
    uint64_t d = 0;

    if (p->hb_armed)
        deadline_min(&d, p->hb_ns);
    if (p->n_pings > 0)
        deadline_min(&d, p->pings[0].sent_ns + MAGICSOCK_PING_TIMEOUT_NS);
    if (p->has_best && p->trust_until_ns > now)
        deadline_min(&d, p->trust_until_ns);
    heap_set(ms, p, d);
}

/* ---- the WireGuard endpoint -------------------------------------------- */

static bool
trusted(const struct ms_peer *p, uint64_t now)
{
    return p->has_best && now < p->trust_until_ns;
}

static bool
derp_usable(const struct magicsock *ms, const struct ms_peer *p)
{
    return ms->derp_enabled && p->home_derp != 0;
}

static void
peer_choose(const struct magicsock *ms, const struct ms_peer *p, uint64_t now,
            struct wg_endpoint *ep)
{
    memset(ep, 0, sizeof(*ep));
    if (p->has_disco && trusted(p, now))
        ep->addr = p->best;
    else if (p->has_disco && derp_usable(ms, p))
        derp_endpoint(ep, p->home_derp, p->node_key);
    else if (p->has_disco && p->has_best)
        ep->addr = p->best; /* no relay at all: the last path that answered */
    else if (p->has_first)
        ep->addr = p->first_ep;
}

static void
peer_update_endpoint(struct magicsock *ms, struct ms_peer *p, uint64_t now)
{
    struct wg_endpoint ep;

    peer_choose(ms, p, now, &ep);
    if (memcmp(&ep, &p->cur, sizeof(ep)) == 0)
        return;
    p->cur = ep;
    ms->ops->set_endpoint(ms->ctx, p->node_key, &ep);
}

/* ---- candidates -------------------------------------------------------- */

static struct ms_cand *
cand_find(struct ms_peer *p, const union wg_sockaddr *a)
{
    for (size_t i = 0; i < p->n_cands; i++)
        if (wg_sockaddr_equal(&p->cands[i].addr, a))
            return &p->cands[i];
    return NULL;
}

static void
clear_best(struct ms_peer *p)
{
    p->has_best = false;
    memset(&p->best, 0, sizeof(p->best));
    p->best_latency_ns = 0;
    p->trust_until_ns = 0;
}

static void
cand_delete(struct ms_peer *p, size_t i)
{
    if (p->has_best && wg_sockaddr_equal(&p->best, &p->cands[i].addr))
        clear_best(p);
    p->cands[i] = p->cands[--p->n_cands];
}

/* A learned candidate expires 45 s after the last ping that taught it. */
static bool
cand_expired(const struct ms_cand *c, uint64_t now)
{
    return c->flags == CAND_RX && now - c->rx_ping_ns > MAGICSOCK_SESSION_ACTIVE_NS;
}

static void
cands_prune(struct ms_peer *p, uint64_t now)
{
    for (size_t i = p->n_cands; i > 0; i--)
        if (cand_expired(&p->cands[i - 1], now))
            cand_delete(p, i - 1);
}

/*
 * Room for one more candidate: grow the array, else drop expired learned
 * ones, else the oldest learned one that is not the best address.
 */
static struct ms_cand *
cand_add(struct ms_peer *p, const union wg_sockaddr *a, uint8_t flag, uint64_t now)
{
    struct ms_cand *c;

    if (p->n_cands == p->cap_cands && p->cap_cands < MS_MAX_CANDIDATES) {
        uint8_t cap = p->cap_cands ? MIN(2 * p->cap_cands, MS_MAX_CANDIDATES) : 4;
        struct ms_cand *n = realloc(p->cands, cap * sizeof(*n));

        if (n) {
            p->cands = n;
            p->cap_cands = cap;
        }
    }
    if (p->n_cands == p->cap_cands)
        cands_prune(p, now);
    if (p->n_cands == p->cap_cands) {
        size_t victim = SIZE_MAX;

        for (size_t i = 0; i < p->n_cands; i++)
            if (p->cands[i].flags == CAND_RX &&
                !(p->has_best && wg_sockaddr_equal(&p->best, &p->cands[i].addr)) &&
                (victim == SIZE_MAX || p->cands[i].rx_ping_ns < p->cands[victim].rx_ping_ns))
                victim = i;
        if (victim == SIZE_MAX)
            return NULL;
        cand_delete(p, victim);
    }
    c = &p->cands[p->n_cands++];
    memset(c, 0, sizeof(*c));
    c->addr = *a;
    c->flags = flag;
    c->rx_ping_ns = now;
    return c;
}

/*
 * Make flag mark exactly the addresses in set (already canonical and
 * distinct): unmark and delete the others first, so the new set fits.
 */
static void
cands_replace(struct ms_peer *p, uint8_t flag, const union wg_sockaddr *set, size_t n, uint64_t now)
{
    for (size_t i = 0; i < p->n_cands; i++)
        p->cands[i].flags &= (uint8_t)~CAND_MARK;
    for (size_t j = 0; j < n; j++) {
        struct ms_cand *c = cand_find(p, &set[j]);

        if (c)
            c->flags |= CAND_MARK;
    }
    for (size_t i = p->n_cands; i > 0; i--) {
        struct ms_cand *c = &p->cands[i - 1];

        if (!(c->flags & CAND_MARK))
            c->flags &= (uint8_t)~flag;
        c->flags &= (uint8_t)~CAND_MARK;
        if (c->flags == 0)
            cand_delete(p, i - 1);
    }
    for (size_t j = 0; j < n; j++) {
        struct ms_cand *c = cand_find(p, &set[j]);

        if (c)
            c->flags |= flag;
        else
            (void)cand_add(p, &set[j], flag, now);
    }
}

/* Canonical, deduplicated copies of up to MAGICSOCK_MAX_ENDPOINTS addresses. */
static size_t
addrs_canon(union wg_sockaddr *out, const union wg_sockaddr *in, size_t n, bool skip_link_local)
{
    size_t k = 0;

    for (size_t i = 0; i < n && k < MAGICSOCK_MAX_ENDPOINTS; i++) {
        union wg_sockaddr a;
        bool dup = false;

        if (!addr_canon(&a, &in[i]))
            continue;
        /* Tailscale sends v6 link-local ones but ignores them (handleCallMeMaybe). */
        if (skip_link_local && a.sa.sa_family == AF_INET6 &&
            IN6_IS_ADDR_LINKLOCAL(&a.in6.sin6_addr))
            continue;
        for (size_t j = 0; j < k && !dup; j++)
            dup = wg_sockaddr_equal(&out[j], &a);
        if (!dup)
            out[k++] = a;
    }
    return k;
}

/* ---- sending ----------------------------------------------------------- */

static void
send_msg(struct magicsock *ms, struct ms_peer *p, const struct disco_msg *m,
         const union wg_sockaddr *to, uint16_t region, const uint8_t dst_node[DISCO_KEY_LEN])
{
    uint8_t buf[DISCO_PACKET_MAX];
    ssize_t n = disco_seal(buf, sizeof(buf), ms->disco_pub, peer_key(ms, p), m);

    if (n < 0)
        return;
    if (region)
        ms->ops->send_derp(ms->ctx, region, dst_node, buf, (size_t)n);
    else
        ms->ops->send_udp(ms->ctx, buf, (size_t)n, to);
}

static void
report_user(struct magicsock *ms, const struct ms_ping *sp, bool ok, const struct wg_endpoint *path,
            uint64_t latency_ns)
{
    struct magicsock_ping_result r;

    memset(&r, 0, sizeof(r));
    r.ok = ok;
    if (path)
        r.path = *path;
    r.latency_ns = latency_ns;
    ms->ops->ping_result(ms->ctx, sp->user_id, &r);
}

/* Drop pings[i]; a user ping whose last outstanding ping this was has failed. */
static void
ping_drop(struct magicsock *ms, struct ms_peer *p, size_t i, bool failed)
{
    struct ms_ping sp = p->pings[i];

    memmove(&p->pings[i], &p->pings[i + 1], (p->n_pings - i - 1) * sizeof(sp));
    p->n_pings--;
    if (!failed || !sp.user_pending)
        return;
    for (size_t j = 0; j < p->n_pings; j++)
        if (p->pings[j].user_pending && p->pings[j].user_id == sp.user_id)
            return;
    report_user(ms, &sp, false, NULL, 0);
}

static bool
send_ping(struct magicsock *ms, struct ms_peer *p, const union wg_sockaddr *to, uint16_t region,
          enum ping_purpose purpose, uint64_t user_id, uint64_t now)
{
    struct disco_msg m;
    struct ms_ping *sp;

    if (p->n_pings == MS_MAX_PINGS)
        ping_drop(ms, p, 0, true);
    if (p->n_pings == p->cap_pings) {
        uint8_t cap = p->cap_pings ? MIN(2 * p->cap_pings, MS_MAX_PINGS) : 4;
        struct ms_ping *n = realloc(p->pings, cap * sizeof(*n));

        if (!n)
            return false;
        p->pings = n;
        p->cap_pings = cap;
    }
    sp = &p->pings[p->n_pings++];
    memset(sp, 0, sizeof(*sp));
    randombytes_buf(sp->txid, sizeof(sp->txid));
    sp->purpose = (uint8_t)purpose;
    sp->user_pending = purpose == PING_USER;
    sp->user_id = user_id;
    sp->via_region = region;
    if (to)
        sp->to = *to;
    sp->sent_ns = now;
    if (purpose != PING_USER && !region) {
        struct ms_cand *c = cand_find(p, to);

        if (c) {
            c->pinged = true;
            c->last_ping_ns = now;
        }
    }

    memset(&m, 0, sizeof(m));
    m.type = DISCO_PING;
    memcpy(m.ping.txid, sp->txid, DISCO_TXID_LEN);
    memcpy(m.ping.node_key, ms->node_pub, DISCO_KEY_LEN);
    send_msg(ms, p, &m, to, region, p->node_key);
    return true;
}

static void
send_call_me_maybe(struct magicsock *ms, struct ms_peer *p)
{
    struct disco_msg m;

    memset(&m, 0, sizeof(m));
    m.type = DISCO_CALL_ME_MAYBE;
    m.call_me_maybe.n = ms->n_local;
    memcpy(m.call_me_maybe.endpoints, ms->local, ms->n_local * sizeof(ms->local[0]));
    send_msg(ms, p, &m, NULL, p->home_derp, p->node_key);
}

/*
 * Ping every candidate not pinged within the last 5 s (sendDiscoPingsLocked);
 * with call_me_maybe, tell the peer over DERP to ping us back, so that its
 * NAT opens toward the addresses we just pinged from.
 */
static void
send_full_ping(struct magicsock *ms, struct ms_peer *p, bool call_me_maybe, uint64_t now)
{
    bool sent = false;

    p->full_pinged = true;
    p->last_full_ping_ns = now;
    cands_prune(p, now);
    for (size_t i = 0; i < p->n_cands; i++) {
        struct ms_cand *c = &p->cands[i];

        if (c->pinged && now - c->last_ping_ns < MAGICSOCK_PING_INTERVAL_NS)
            continue;
        sent = true;
        send_ping(ms, p, &c->addr, 0, PING_DISCOVERY, 0, now);
    }
    if (sent && call_me_maybe && derp_usable(ms, p))
        send_call_me_maybe(ms, p);
}

/* wantFullPingLocked: look for a (better) direct path now? */
static bool
want_full_ping(const struct ms_peer *p, uint64_t now)
{
    if (!p->has_best || !p->full_pinged || !trusted(p, now))
        return true;
    if (p->best_latency_ns <= MAGICSOCK_GOOD_ENOUGH_LATENCY_NS)
        return false;
    return now - p->last_full_ping_ns >= MAGICSOCK_UPGRADE_INTERVAL_NS;
}

static bool
session_active(const struct ms_peer *p, uint64_t now)
{
    return p->active_ever && now - p->last_active_ns <= MAGICSOCK_SESSION_ACTIVE_NS;
}

static void
heartbeat(struct magicsock *ms, struct ms_peer *p, uint64_t now)
{
    if (!session_active(p, now)) {
        p->hb_armed = false;
        return;
    }
    if (p->has_best)
        send_ping(ms, p, &p->best, 0, PING_HEARTBEAT, 0, now);
    if (want_full_ping(p, now))
        send_full_ping(ms, p, true, now);
    p->hb_ns = now + MAGICSOCK_HEARTBEAT_NS;
}

static void
note_active(struct ms_peer *p, uint64_t now)
{
    p->active_ever = true;
    p->last_active_ns = now;
    if (!p->hb_armed) {
        p->hb_armed = true;
        p->hb_ns = now + MAGICSOCK_HEARTBEAT_NS;
    }
}

/* ---- peers ------------------------------------------------------------- */

static void
pings_fail_all(struct magicsock *ms, struct ms_peer *p)
{
    while (p->n_pings > 0)
        ping_drop(ms, p, p->n_pings - 1, true);
}

/* The peer restarted or changed keys: nothing learned about its paths holds. */
static void
peer_reset_paths(struct magicsock *ms, struct ms_peer *p)
{
    pings_fail_all(ms, p);
    clear_best(p);
    p->full_pinged = false;
    for (size_t i = p->n_cands; i > 0; i--) {
        struct ms_cand *c = &p->cands[i - 1];

        c->flags &= CAND_NETMAP;
        c->pinged = false;
        c->has_latency = false;
        c->has_rx_txid = false;
        if (c->flags == 0)
            cand_delete(p, i - 1);
    }
}

static int
peer_set_disco(struct magicsock *ms, struct ms_peer *p, const uint8_t disco_key[DISCO_KEY_LEN])
{
    bool zero = key_is_zero(disco_key);

    if (p->has_disco && memcmp(p->disco_key, disco_key, DISCO_KEY_LEN) == 0)
        return 0;
    if (!p->has_disco && zero)
        return 0;
    if (p->has_disco) {
        disco_unlink(ms, p);
        key_slot_put(ms, p->key_slot);
        p->key_slot = NO_SLOT;
        p->has_disco = false;
        sodium_memzero(p->disco_key, DISCO_KEY_LEN);
        peer_reset_paths(ms, p);
    }
    if (zero)
        return 0;
    p->key_slot = key_slot_get(ms);
    if (p->key_slot == NO_SLOT)
        return -ENOMEM;
    memcpy(p->disco_key, disco_key, DISCO_KEY_LEN);
    disco_shared_key_init(&ms->keys[p->key_slot], disco_key, ms->secrets->disco_priv);
    p->has_disco = true;
    disco_link(ms, p);
    return 0;
}

static void
peer_set_endpoints(struct ms_peer *p, const struct magicsock_peer_config *cfg, uint64_t now)
{
    union wg_sockaddr set[MAGICSOCK_MAX_ENDPOINTS];
    size_t n =
        addrs_canon(set, cfg->endpoints, MIN(cfg->n_endpoints, MAGICSOCK_MAX_ENDPOINTS), false);

    p->has_first = n > 0;
    if (n > 0)
        p->first_ep = set[0];
    else
        memset(&p->first_ep, 0, sizeof(p->first_ep));
    if (!p->has_disco) {
        /* Not ours to probe (no pings either: losing disco failed them). */
        p->n_cands = 0;
        return;
    }
    cands_replace(p, CAND_NETMAP, set, n, now);
}

static void
peer_free(struct magicsock *ms, struct ms_peer *p)
{
    if (p->has_disco)
        key_slot_put(ms, p->key_slot);
    free(p->cands);
    free(p->pings);
    free(p);
}

static void
peer_remove(struct magicsock *ms, struct ms_peer *p)
{
    pings_fail_all(ms, p);
    heap_remove(ms, p);
    unlink_chain(&ms->node_tab[p->node_hash & (ms->tab_size - 1)], p, false);
    if (p->has_disco)
        disco_unlink(ms, p);
    ms->all[p->all_idx] = ms->all[--ms->n_peers];
    ms->all[p->all_idx]->all_idx = p->all_idx;
    peer_free(ms, p);
}

static struct ms_peer *
peer_add(struct magicsock *ms, const uint8_t node_key[DISCO_KEY_LEN])
{
    struct ms_peer *p, **h;

    if (ms->n_peers == ms->cap_all) {
        size_t cap = ms->cap_all ? ms->cap_all * 2 : 16;
        struct ms_peer **all = realloc(ms->all, cap * sizeof(*all));
        struct ms_peer **heap;

        if (!all)
            return NULL;
        ms->all = all;
        heap = realloc(ms->heap, cap * sizeof(*heap));
        if (!heap)
            return NULL;
        ms->heap = heap;
        ms->cap_all = cap;
    }
    if (ms->n_peers >= ms->tab_size && tables_grow(ms) < 0)
        return NULL;
    p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    memcpy(p->node_key, node_key, DISCO_KEY_LEN);
    p->key_slot = NO_SLOT;
    p->heap_idx = NO_HEAP;
    p->node_hash = key_hash(ms, node_key);
    h = &ms->node_tab[p->node_hash & (ms->tab_size - 1)];
    p->node_next = *h;
    *h = p;
    p->all_idx = ms->n_peers;
    ms->all[ms->n_peers++] = p;
    return p;
}

/* ---- API --------------------------------------------------------------- */

struct magicsock *
magicsock_new(const uint8_t disco_priv[DISCO_KEY_LEN], const uint8_t node_pub[DISCO_KEY_LEN],
              const struct magicsock_ops *ops, void *ctx)
{
    struct magicsock *ms;

    if (sodium_init() < 0)
        return NULL;
    ms = calloc(1, sizeof(*ms));
    if (!ms)
        return NULL;
    ms->ops = ops;
    ms->ctx = ctx;
    ms->derp_enabled = true;
    ms->secrets = secmem_alloc(sizeof(*ms->secrets));
    ms->tab_size = MS_MIN_TABLE;
    ms->node_tab = calloc(ms->tab_size, sizeof(*ms->node_tab));
    ms->disco_tab = calloc(ms->tab_size, sizeof(*ms->disco_tab));
    if (!ms->secrets || !ms->node_tab || !ms->disco_tab) {
        magicsock_free(ms);
        return NULL;
    }
    memcpy(ms->secrets->disco_priv, disco_priv, DISCO_KEY_LEN);
    crypto_scalarmult_curve25519_base(ms->disco_pub, ms->secrets->disco_priv);
    memcpy(ms->node_pub, node_pub, DISCO_KEY_LEN);
    randombytes_buf(ms->hash_key, sizeof(ms->hash_key));
    return ms;
}

void
magicsock_free(struct magicsock *ms)
{
    if (!ms)
        return;
    for (size_t i = 0; i < ms->n_peers; i++)
        peer_free(ms, ms->all[i]);
    free(ms->all);
    free(ms->heap);
    free(ms->node_tab);
    free(ms->disco_tab);
    secmem_free(ms->keys, ms->keys_cap * sizeof(*ms->keys));
    free(ms->free_slots);
    secmem_free(ms->secrets, sizeof(*ms->secrets));
    free(ms);
}

int
magicsock_set_peers(struct magicsock *ms, const struct magicsock_peer_config *peers, size_t n,
                    uint64_t now_ns)
{
    int r = 0;

    ms->now_ns = now_ns;
    ms->gen++;
    for (size_t i = 0; i < n; i++) {
        const struct magicsock_peer_config *cfg = &peers[i];
        struct ms_peer *p = find_node(ms, cfg->node_key);

        if (!p) {
            p = peer_add(ms, cfg->node_key);
            if (!p) {
                r = -ENOMEM;
                continue;
            }
        }
        p->gen = ms->gen;
        if (peer_set_disco(ms, p, cfg->disco_key) < 0)
            r = -ENOMEM;
        p->home_derp = cfg->home_derp;
        peer_set_endpoints(p, cfg, now_ns);
        peer_update_endpoint(ms, p, now_ns);
        peer_reschedule(ms, p, now_ns);
    }
    /* Backwards: a removal moves the last peer, already visited, into i. */
    for (size_t i = ms->n_peers; i > 0; i--)
        if (ms->all[i - 1]->gen != ms->gen)
            peer_remove(ms, ms->all[i - 1]);
    return r;
}

void
magicsock_set_local_endpoints(struct magicsock *ms, const union wg_sockaddr *eps, size_t n)
{
    ms->n_local = addrs_canon(ms->local, eps, n, false);
}

void
magicsock_set_derp_enabled(struct magicsock *ms, bool enabled)
{
    if (ms->derp_enabled == enabled)
        return;
    ms->derp_enabled = enabled;
    /* Rare (a new DERP map): every peer's choice may change. */
    for (size_t i = 0; i < ms->n_peers; i++)
        peer_update_endpoint(ms, ms->all[i], ms->now_ns);
}

static void
rx_ping(struct magicsock *ms, struct ms_peer *first, const struct disco_msg *m,
        const struct wg_endpoint *from, uint64_t now)
{
    struct disco_msg pong;
    struct ms_peer *reply_to = NULL;

    memset(&pong, 0, sizeof(pong));
    pong.type = DISCO_PONG;
    memcpy(pong.pong.txid, m->ping.txid, DISCO_TXID_LEN);

    if (from->derp_region) {
        /* Answer over DERP to the node key that sent it, if it is this disco key's. */
        struct ms_peer *p = find_node(ms, from->derp_key);

        if (!p || !p->has_disco || memcmp(p->disco_key, first->disco_key, DISCO_KEY_LEN) != 0)
            return;
        pong.pong.src.in4.sin_family = AF_INET;
        pong.pong.src.in4.sin_addr.s_addr = htonl(WG_DERP_MAGIC_IPV4);
        pong.pong.src.in4.sin_port = htons(from->derp_region);
        send_msg(ms, p, &pong, NULL, from->derp_region, from->derp_key);
        return;
    }

    union wg_sockaddr src;

    if (!addr_canon(&src, &from->addr))
        return;
    for (struct ms_peer *p = first; p; p = next_disco(p->disco_next, first->disco_key)) {
        struct ms_cand *c = cand_find(p, &src);

        if (c && c->has_rx_txid && memcmp(c->rx_txid, m->ping.txid, DISCO_TXID_LEN) == 0)
            return; /* the same ping twice: answered already */
        if (!c)
            c = cand_add(p, &src, CAND_RX, now);
        else if (c->flags & CAND_RX)
            c->rx_ping_ns = now;
        if (c) {
            memcpy(c->rx_txid, m->ping.txid, DISCO_TXID_LEN);
            c->has_rx_txid = true;
        }
        if (!reply_to)
            reply_to = p;
    }
    pong.pong.src = src;
    send_msg(ms, reply_to, &pong, &src, 0, NULL);
}

static bool
rx_pong(struct magicsock *ms, struct ms_peer *p, const struct disco_msg *m,
        const struct wg_endpoint *from, uint64_t now)
{
    struct ms_ping sp;
    struct wg_endpoint path;
    uint64_t latency;
    size_t i;

    for (i = 0; i < p->n_pings; i++)
        if (sodium_memcmp(p->pings[i].txid, m->pong.txid, DISCO_TXID_LEN) == 0)
            break;
    if (i == p->n_pings)
        return false;
    sp = p->pings[i];
    /* The pong comes back the way the ping went: over UDP, or over DERP from the peer. */
    if (!sp.via_region != !from->derp_region)
        return true;
    if (sp.via_region && memcmp(from->derp_key, p->node_key, DISCO_KEY_LEN) != 0)
        return true;
    ping_drop(ms, p, i, false);
    latency = now - sp.sent_ns;

    memset(&path, 0, sizeof(path));
    if (sp.via_region)
        derp_endpoint(&path, from->derp_region, p->node_key);
    else
        path.addr = sp.to;
    if (sp.user_pending) {
        report_user(ms, &sp, true, &path, latency);
        for (size_t j = 0; j < p->n_pings; j++)
            if (p->pings[j].user_id == sp.user_id)
                p->pings[j].user_pending = false;
    }
    if (sp.via_region)
        return true;

    struct ms_cand *c = cand_find(p, &sp.to);

    if (!c)
        return true; /* no longer a candidate */
    c->latency_ns = latency;
    c->has_latency = true;
    if (better_addr(&sp.to, latency, p) || !trusted(p, now)) {
        p->has_best = true;
        p->best = sp.to;
    }
    if (wg_sockaddr_equal(&p->best, &sp.to)) {
        p->best_latency_ns = latency;
        p->trust_until_ns = now + MAGICSOCK_TRUST_UDP_NS;
    }
    return true;
}

static void
rx_call_me_maybe(struct magicsock *ms, struct ms_peer *first, const struct disco_msg *m,
                 const struct wg_endpoint *from, uint64_t now)
{
    union wg_sockaddr set[MAGICSOCK_MAX_ENDPOINTS];
    struct ms_peer *p;
    size_t n;

    if (!from->derp_region)
        return; /* only DERP proves the sender's node key */
    p = find_node(ms, from->derp_key);
    if (!p || !p->has_disco || memcmp(p->disco_key, first->disco_key, DISCO_KEY_LEN) != 0)
        return;
    n = addrs_canon(set, m->call_me_maybe.endpoints,
                    MIN(m->call_me_maybe.n, (size_t)DISCO_MAX_CALL_ME_MAYBE), true);
    cands_replace(p, CAND_CMM, set, n, now);
    for (size_t i = 0; i < p->n_cands; i++)
        p->cands[i].pinged = false;
    send_full_ping(ms, p, false, now);
    peer_update_endpoint(ms, p, now);
    peer_reschedule(ms, p, now);
}

void
magicsock_rx_disco(struct magicsock *ms, const uint8_t *pkt, size_t len,
                   const struct wg_endpoint *from, uint64_t now_ns)
{
    struct disco_msg m;
    struct ms_peer *first;

    ms->now_ns = now_ns;
    if (!disco_looks_like(pkt, len))
        return;
    first = find_disco(ms, disco_sender(pkt));
    if (!first)
        return; /* not a peer's disco key: drop before any crypto */
    if (disco_open(pkt, len, peer_key(ms, first), &m) < 0)
        return;
    switch (m.type) {
    case DISCO_PING:
        rx_ping(ms, first, &m, from, now_ns);
        break;
    case DISCO_PONG:
        for (struct ms_peer *p = first; p; p = next_disco(p->disco_next, first->disco_key)) {
            if (rx_pong(ms, p, &m, from, now_ns)) {
                peer_update_endpoint(ms, p, now_ns);
                peer_reschedule(ms, p, now_ns);
                break;
            }
        }
        break;
    case DISCO_CALL_ME_MAYBE:
        rx_call_me_maybe(ms, first, &m, from, now_ns);
        break;
    default:
        break;
    }
}

void
magicsock_note_activity(struct magicsock *ms, const uint8_t node_key[DISCO_KEY_LEN],
                        uint64_t now_ns)
{
    struct ms_peer *p = find_node(ms, node_key);

    ms->now_ns = now_ns;
    if (!p || !p->has_disco)
        return;
    note_active(p, now_ns);
    /* No trusted direct path: look for one now, not at the next heartbeat. */
    if (!trusted(p, now_ns))
        send_full_ping(ms, p, true, now_ns);
    peer_reschedule(ms, p, now_ns);
}

static void
peer_expire_pings(struct magicsock *ms, struct ms_peer *p, uint64_t now)
{
    while (p->n_pings > 0 && p->pings[0].sent_ns + MAGICSOCK_PING_TIMEOUT_NS <= now) {
        const struct ms_ping *sp = &p->pings[0];

        if (!sp->via_region && p->has_best && !trusted(p, now) &&
            wg_sockaddr_equal(&sp->to, &p->best))
            clear_best(p);
        ping_drop(ms, p, 0, true);
    }
}

uint64_t
magicsock_tick(struct magicsock *ms, uint64_t now_ns)
{
    ms->now_ns = now_ns;
    while (ms->n_heap > 0 && ms->heap[0]->deadline_ns <= now_ns) {
        struct ms_peer *p = ms->heap[0];

        peer_expire_pings(ms, p, now_ns);
        if (p->hb_armed && p->hb_ns <= now_ns)
            heartbeat(ms, p, now_ns);
        peer_update_endpoint(ms, p, now_ns);
        peer_reschedule(ms, p, now_ns);
    }
    return ms->n_heap > 0 ? ms->heap[0]->deadline_ns : 0;
}

int
magicsock_ping(struct magicsock *ms, const uint8_t node_key[DISCO_KEY_LEN], uint64_t ping_id,
               uint64_t now_ns)
{
    struct ms_peer *p = find_node(ms, node_key);
    size_t sent = 0;

    ms->now_ns = now_ns;
    if (!p)
        return -ENOENT;
    if (!p->has_disco)
        return -EOPNOTSUPP;
    note_active(p, now_ns);
    /* Trusted: that path only (discoPing), else DERP and every candidate; first pong wins. */
    if (trusted(p, now_ns)) {
        sent += send_ping(ms, p, &p->best, 0, PING_USER, ping_id, now_ns);
    } else {
        if (derp_usable(ms, p))
            sent += send_ping(ms, p, NULL, p->home_derp, PING_USER, ping_id, now_ns);
        for (size_t i = 0; i < p->n_cands; i++)
            sent += send_ping(ms, p, &p->cands[i].addr, 0, PING_USER, ping_id, now_ns);
    }
    peer_reschedule(ms, p, now_ns);
    return sent ? 0 : -EHOSTUNREACH;
}

int
magicsock_get_endpoint(const struct magicsock *ms, const uint8_t node_key[DISCO_KEY_LEN],
                       struct wg_endpoint *out)
{
    const struct ms_peer *p = find_node(ms, node_key);

    if (!p)
        return -ENOENT;
    *out = p->cur;
    return 0;
}
