/* SPDX-License-Identifier: MIT */
/*
 * AllowedIPs: longest-prefix match from IP prefixes to peers (WireGuard
 * whitepaper §3 "cryptokey routing"; same idea as the kernel's allowedips.c).
 *
 * One path-compressed binary trie per family. Every node either owns a prefix
 * (peer != NULL) or is a glue node joining exactly two subtrees; a node's
 * children always have a strictly longer cidr, so depth is at most 129 and
 * the node count is below twice the number of inserted prefixes.
 *
 * Keys are kept as two host-order u64 words (IPv4 in the top 32 bits of
 * word 0) with a precomputed mask and the position of the branching bit, so
 * lookup is a loop of one masked compare and one indexed load per level.
 *
 * Each peer's prefixes are chained through the nodes; a small open-addressed
 * table maps a peer pointer to its chain so remove_by_peer and
 * foreach_by_peer cost O(prefixes of that peer).
 *
 * Not thread-safe: the device lock protects it.
 */
#include "wg/allowedips.h"

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/compiler.h"

enum {
    NODE_ALIGN = 64,
    NODE_SIZE = 128, /* sizeof(struct node) rounded up to NODE_ALIGN */
};

struct node {
    /* Hot: everything lookup touches sits in the first cache line. */
    struct node *child[2];
    uint64_t key[2]; /* masked prefix, host order */
    uint64_t mask[2];
    void *peer;    /* NULL: glue node */
    uint8_t bitw;  /* word holding bit number cidr */
    uint8_t shift; /* ... and its shift; 0/0 when cidr == bits */
    uint8_t cidr;
    uint8_t bits; /* 32 or 128 */
    /* Cold: maintenance only. */
    struct node *parent;
    struct node *pnext, *pprev; /* the peer's chain */
};

_Static_assert(offsetof(struct node, bits) < NODE_ALIGN, "lookup fields fit one cache line");
_Static_assert(sizeof(struct node) <= NODE_SIZE, "NODE_SIZE");

struct peer_slot {
    void *peer; /* NULL: empty */
    struct node *head;
};

struct allowedips {
    struct node *root4, *root6;
    size_t count;
    size_t nodes;            /* owned + glue; < 2 * count + 2 */
    struct peer_slot *slots; /* capacity is a power of two, load <= 1/2 */
    size_t slots_cap, slots_used;
};

enum {
    PEER_SLOTS_MIN = 16,
};

static struct node *
node_new(void)
{
    struct node *n = aligned_alloc(NODE_ALIGN, NODE_SIZE);

    if (n)
        memset(n, 0, sizeof(*n));
    return n;
}

/* ---- keys ---- */

static inline void
key_from_addr(int family, const uint8_t *addr, uint64_t k[2])
{
    if (family == AF_INET) {
        uint32_t w;

        memcpy(&w, addr, 4);
        k[0] = (uint64_t)be32toh(w) << 32;
        k[1] = 0;
    } else {
        uint64_t w[2];

        memcpy(w, addr, 16);
        k[0] = be64toh(w[0]);
        k[1] = be64toh(w[1]);
    }
}

static void
key_to_addr(const struct node *n, uint8_t *addr)
{
    if (n->bits == 32) {
        uint32_t w = htobe32((uint32_t)(n->key[0] >> 32));

        memcpy(addr, &w, 4);
    } else {
        uint64_t w[2] = { htobe64(n->key[0]), htobe64(n->key[1]) };

        memcpy(addr, w, 16);
    }
}

static inline uint64_t
mask_word(unsigned cidr, unsigned word)
{
    unsigned n = cidr > word * 64 ? cidr - word * 64 : 0;

    if (n >= 64)
        return UINT64_MAX;
    return n ? ~(UINT64_MAX >> n) : 0;
}

static inline unsigned
key_bit(const uint64_t k[2], unsigned pos)
{
    return (unsigned)(k[pos >> 6] >> (63 - (pos & 63))) & 1;
}

/* Length of the common prefix of a and b (0..128). */
static inline unsigned
common_bits(const uint64_t a[2], const uint64_t b[2])
{
    uint64_t x = a[0] ^ b[0];

    if (x)
        return (unsigned)__builtin_clzll(x);
    x = a[1] ^ b[1];
    if (x)
        return 64 + (unsigned)__builtin_clzll(x);
    return 128;
}

static inline bool
node_matches(const struct node *n, const uint64_t k[2])
{
    return !(((k[0] ^ n->key[0]) & n->mask[0]) | ((k[1] ^ n->key[1]) & n->mask[1]));
}

static void
node_set_prefix(struct node *n, const uint64_t k[2], unsigned cidr, unsigned bits)
{
    n->mask[0] = mask_word(cidr, 0);
    n->mask[1] = mask_word(cidr, 1);
    n->key[0] = k[0] & n->mask[0];
    n->key[1] = k[1] & n->mask[1];
    n->cidr = (uint8_t)cidr;
    n->bits = (uint8_t)bits;
    if (cidr < bits) {
        n->bitw = (uint8_t)(cidr >> 6);
        n->shift = (uint8_t)(63 - (cidr & 63));
    } else {
        /* A full-length node never has children; any index reads NULL. */
        n->bitw = 0;
        n->shift = 0;
    }
}

/* ---- peer table ---- */

static inline size_t
peer_hash(const void *peer, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)peer * 0x9e3779b97f4a7c15ULL;

    return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

static struct peer_slot *
peer_find(const struct allowedips *t, const void *peer)
{
    size_t i;

    if (!t->slots)
        return NULL;
    for (i = peer_hash(peer, t->slots_cap);; i = (i + 1) & (t->slots_cap - 1)) {
        struct peer_slot *s = &t->slots[i];

        if (s->peer == peer)
            return s;
        if (!s->peer)
            return NULL;
    }
}

static struct peer_slot *
peer_place(struct peer_slot *slots, size_t cap, void *peer)
{
    size_t i;

    for (i = peer_hash(peer, cap); slots[i].peer && slots[i].peer != peer; i = (i + 1) & (cap - 1))
        ;
    return &slots[i];
}

/* Make room for one more peer, so later steps of an insert cannot fail. */
static int
peer_reserve(struct allowedips *t)
{
    struct peer_slot *slots;
    size_t cap, i;

    if ((t->slots_used + 1) * 2 <= t->slots_cap)
        return 0;
    cap = t->slots_cap ? t->slots_cap * 2 : PEER_SLOTS_MIN;
    slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    for (i = 0; i < t->slots_cap; ++i) {
        if (t->slots[i].peer)
            *peer_place(slots, cap, t->slots[i].peer) = t->slots[i];
    }
    free(t->slots);
    t->slots = slots;
    t->slots_cap = cap;
    return 0;
}

/* Linear-probing delete with backward shift (no tombstones). */
static void
peer_slot_delete(struct allowedips *t, struct peer_slot *s)
{
    size_t mask = t->slots_cap - 1;
    size_t i = (size_t)(s - t->slots), j = i;

    for (;;) {
        size_t home;

        j = (j + 1) & mask;
        if (!t->slots[j].peer)
            break;
        home = peer_hash(t->slots[j].peer, t->slots_cap);
        /* Move j into the hole at i unless its home lies cyclically in (i, j]. */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i].peer = NULL;
    t->slots[i].head = NULL;
    t->slots_used--;
}

/* Caller has run peer_reserve(). */
static void
peer_link(struct allowedips *t, struct node *n, void *peer)
{
    struct peer_slot *s = peer_place(t->slots, t->slots_cap, peer);

    if (!s->peer) {
        s->peer = peer;
        s->head = NULL;
        t->slots_used++;
    }
    n->peer = peer;
    n->pprev = NULL;
    n->pnext = s->head;
    if (s->head)
        s->head->pprev = n;
    s->head = n;
}

static void
peer_unlink(struct allowedips *t, struct node *n)
{
    if (n->pnext)
        n->pnext->pprev = n->pprev;
    if (n->pprev) {
        n->pprev->pnext = n->pnext;
    } else {
        struct peer_slot *s = peer_find(t, n->peer);

        s->head = n->pnext;
        if (!s->head)
            peer_slot_delete(t, s);
    }
    n->peer = NULL;
    n->pnext = n->pprev = NULL;
}

/* ---- trie ---- */

static struct node **
root_of(struct allowedips *t, int family, unsigned *bits)
{
    if (family == AF_INET) {
        *bits = 32;
        return &t->root4;
    }
    if (family == AF_INET6) {
        *bits = 128;
        return &t->root6;
    }
    return NULL;
}

static struct node **
slot_of(struct allowedips *t, struct node *n)
{
    if (!n->parent)
        return n->bits == 32 ? &t->root4 : &t->root6;
    return &n->parent->child[n->parent->child[1] == n];
}

static void
replace_node(struct allowedips *t, struct node *old, struct node *new)
{
    *slot_of(t, old) = new;
    if (new)
        new->parent = old->parent;
}

static void
set_child(struct node *parent, unsigned dir, struct node *child)
{
    parent->child[dir] = child;
    child->parent = parent;
}

struct allowedips *
allowedips_new(void)
{
    return calloc(1, sizeof(struct allowedips));
}

static void
free_subtree(struct node *n)
{
    while (n) {
        struct node *next = n->child[1];

        free_subtree(n->child[0]);
        free(n);
        n = next;
    }
}

void
allowedips_free(struct allowedips *t)
{
    if (!t)
        return;
    free_subtree(t->root4);
    free_subtree(t->root6);
    free(t->slots);
    free(t);
}

/* The checks insert and remove share; the family's root and width, addr/cidr as a masked key. */
static int
prefix_args(struct allowedips *t, int family, const uint8_t *addr, uint8_t cidr, const void *peer,
            struct node ***root, unsigned *bits, uint64_t k[2])
{
    if (!t || !addr || !peer)
        return -EINVAL;
    *root = root_of(t, family, bits);
    if (!*root)
        return -EAFNOSUPPORT;
    if (cidr > *bits)
        return -EINVAL;
    key_from_addr(family, addr, k);
    k[0] &= mask_word(cidr, 0);
    k[1] &= mask_word(cidr, 1);
    return 0;
}

int
allowedips_insert(struct allowedips *t, int family, const uint8_t *addr, uint8_t cidr, void *peer)
{
    struct node **root, *parent = NULL, *n, *new, *glue;
    uint64_t k[2];
    unsigned bits, common;
    int r;

    r = prefix_args(t, family, addr, cidr, peer, &root, &bits, k);
    if (r < 0)
        return r;
    r = peer_reserve(t);
    if (r < 0)
        return r;

    /* Descend while the node is a prefix of the new key. */
    n = *root;
    while (n && n->cidr <= cidr && node_matches(n, k)) {
        if (n->cidr == cidr) {
            if (n->peer == peer)
                return 0;
            if (n->peer)
                peer_unlink(t, n);
            else
                t->count++;
            peer_link(t, n, peer);
            return 0;
        }
        parent = n;
        n = n->child[key_bit(k, n->cidr)];
    }

    new = node_new();
    if (!new)
        return -ENOMEM;
    node_set_prefix(new, k, cidr, bits);
    t->nodes++;

    if (!n) {
        if (parent)
            set_child(parent, key_bit(k, parent->cidr), new);
        else
            *root = new;
    } else {
        common = MIN(MIN(common_bits(k, n->key), (unsigned)cidr), (unsigned)n->cidr);
        if (common == cidr) {
            /* The new prefix contains n: it goes between parent and n. */
            replace_node(t, n, new);
            set_child(new, key_bit(n->key, cidr), n);
        } else {
            /* They diverge before either ends: join them under a glue node. */
            glue = node_new();
            if (!glue) {
                free(new);
                t->nodes--;
                return -ENOMEM;
            }
            node_set_prefix(glue, k, common, bits);
            t->nodes++;
            replace_node(t, n, glue);
            set_child(glue, key_bit(k, common), new);
            set_child(glue, key_bit(n->key, common), n);
        }
    }
    peer_link(t, new, peer);
    t->count++;
    return 0;
}

/* Drop n's prefix, then remove n and fold a glue parent left with one child. */
static void
node_release(struct allowedips *t, struct node *n)
{
    struct node *parent, *child;

    peer_unlink(t, n);
    t->count--;

    if (n->child[0] && n->child[1])
        return; /* stays as glue */
    child = n->child[0] ? n->child[0] : n->child[1];
    parent = n->parent;
    replace_node(t, n, child);
    free(n);
    t->nodes--;
    if (child || !parent || parent->peer)
        return;
    /* parent was glue with two children and now has one. */
    child = parent->child[0] ? parent->child[0] : parent->child[1];
    replace_node(t, parent, child);
    free(parent);
    t->nodes--;
}

int
allowedips_remove(struct allowedips *t, int family, const uint8_t *addr, uint8_t cidr, void *peer)
{
    struct node **root, *n;
    uint64_t k[2];
    unsigned bits;
    int r;

    r = prefix_args(t, family, addr, cidr, peer, &root, &bits, k);
    if (r < 0)
        return r;

    for (n = *root; n && n->cidr <= cidr && node_matches(n, k); n = n->child[key_bit(k, n->cidr)]) {
        if (n->cidr == cidr) {
            if (n->peer != peer)
                break;
            node_release(t, n);
            return 0;
        }
    }
    return -ENOENT;
}

void
allowedips_remove_by_peer(struct allowedips *t, void *peer)
{
    struct peer_slot *s;

    if (!t || !peer)
        return;
    /* node_release() only frees n and glue nodes, never another owned node. */
    while ((s = peer_find(t, peer)))
        node_release(t, s->head);
}

void *
allowedips_lookup(const struct allowedips *t, int family, const uint8_t *addr)
{
    const struct node *n;
    void *found = NULL;
    uint64_t k[2];

    if (likely(family == AF_INET))
        n = t->root4;
    else if (likely(family == AF_INET6))
        n = t->root6;
    else
        return NULL;
    key_from_addr(family, addr, k);

    while (n && node_matches(n, k)) {
        found = n->peer ? n->peer : found;
        n = n->child[(k[n->bitw] >> n->shift) & 1];
    }
    return found;
}

void
allowedips_foreach_by_peer(const struct allowedips *t, void *peer,
                           bool (*fn)(void *ctx, int family, const uint8_t *addr, uint8_t cidr),
                           void *ctx)
{
    const struct peer_slot *s;
    const struct node *n;
    uint8_t addr[16];

    if (!t || !peer || !fn)
        return;
    s = peer_find(t, peer);
    if (!s)
        return;
    for (n = s->head; n; n = n->pnext) {
        memset(addr, 0, sizeof(addr));
        key_to_addr(n, addr);
        if (!fn(ctx, n->bits == 32 ? AF_INET : AF_INET6, addr, n->cidr))
            break;
    }
}

size_t
allowedips_count(const struct allowedips *t)
{
    return t ? t->count : 0;
}

size_t
allowedips_node_count(const struct allowedips *t)
{
    return t ? t->nodes : 0;
}
