/* SPDX-License-Identifier: MIT */
#include "filter/prefix-index.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAXN(n) ((n) ? (n) : 1)

/* An address (4 or 16 bytes) as two words; the rest zero. */
static inline void
load_words(uint64_t w[2], const uint8_t *addr, uint8_t addr_len)
{
    w[0] = w[1] = 0;
    memcpy(w, addr, addr_len);
}

static void
mask_words(uint64_t m[2], uint8_t bits)
{
    uint8_t b[16] = { 0 };

    for (unsigned i = 0; i < 16 && bits; i++) {
        unsigned take = bits >= 8 ? 8 : bits;

        b[i] = (uint8_t)(0xff00 >> take);
        bits = (uint8_t)(bits - take);
    }
    memcpy(m, b, 16);
}

static inline size_t
hash_words(uint64_t w0, uint64_t w1)
{
    uint64_t h = (w0 * 0x9e3779b97f4a7c15ULL) ^ (w1 * 0xc2b2ae3d27d4eb4fULL);

    return (size_t)(h ^ (h >> 31));
}

static int
cmp_entry(const void *a, const void *b)
{
    const struct pfx_entry *x = a, *y = b;
    int c;

    if (x->prefix.bits != y->prefix.bits)
        return x->prefix.bits > y->prefix.bits ? -1 : 1; /* longest first */
    c = memcmp(x->prefix.addr.bytes, y->prefix.addr.bytes, 16);
    if (c)
        return c;
    return x->value < y->value ? -1 : x->value > y->value;
}

static inline struct pfx_slot *
find_slot(const struct pfx_level *lv, uint64_t w0, uint64_t w1)
{
    for (size_t i = hash_words(w0, w1) & lv->mask;; i = (i + 1) & lv->mask) {
        struct pfx_slot *s = &lv->slots[i];

        if (s->n == 0 || (s->w[0] == w0 && s->w[1] == w1))
            return s;
    }
}

int
pfx_index_build(struct pfx_index *ix, uint8_t addr_len, struct pfx_entry *e, size_t n)
{
    size_t i = 0, nv = 0;

    memset(ix, 0, sizeof(*ix));
    ix->addr_len = addr_len;
    for (size_t k = 0; k < n; k++) {
        struct ip_prefix m = ip_prefix_masked(&e[k].prefix);

        e[k].prefix = m;
    }
    if (n)
        qsort(e, n, sizeof(*e), cmp_entry);
    ix->values = malloc(MAXN(n) * sizeof(*ix->values));
    ix->levels = calloc(MAXN(n), sizeof(*ix->levels));
    if (!ix->values || !ix->levels)
        goto nomem;
    while (i < n) {
        struct pfx_level *lv = &ix->levels[ix->n_levels++];
        size_t j = i, distinct = 0, slots = 2;

        lv->bits = e[i].prefix.bits;
        for (; j < n && e[j].prefix.bits == lv->bits; j++)
            if (j == i || memcmp(e[j].prefix.addr.bytes, e[j - 1].prefix.addr.bytes, 16) != 0)
                distinct++;
        while (slots < distinct * 2)
            slots <<= 1; /* load factor <= 1/2: probes stay short */
        lv->slots = calloc(slots, sizeof(*lv->slots));
        if (!lv->slots)
            goto nomem;
        lv->mask = slots - 1;
        mask_words(lv->mask_w, lv->bits);
        for (size_t k = i; k < j; k++) {
            uint64_t w[2];
            struct pfx_slot *s;

            load_words(w, e[k].prefix.addr.bytes, addr_len);
            s = find_slot(lv, w[0], w[1]);
            if (s->n == 0) {
                s->w[0] = w[0];
                s->w[1] = w[1];
                s->first = (uint32_t)nv;
            } else if (ix->values[nv - 1] == e[k].value) {
                continue; /* the same prefix twice in one rule */
            }
            ix->values[nv++] = e[k].value;
            s->n++;
        }
        i = j;
    }
    return 0;

nomem:
    pfx_index_free(ix);
    return -ENOMEM;
}

void
pfx_index_free(struct pfx_index *ix)
{
    for (int i = 0; i < ix->n_levels; i++)
        free(ix->levels[i].slots);
    free(ix->levels);
    free(ix->values);
    memset(ix, 0, sizeof(*ix));
}

bool
pfx_index_visit(const struct pfx_index *ix, const uint8_t *addr, pfx_visit_fn fn, void *ctx)
{
    uint64_t w[2];

    load_words(w, addr, ix->addr_len);
    for (int i = 0; i < ix->n_levels; i++) {
        const struct pfx_level *lv = &ix->levels[i];
        const struct pfx_slot *s = find_slot(lv, w[0] & lv->mask_w[0], w[1] & lv->mask_w[1]);

        if (s->n && fn(ctx, ix->values + s->first, s->n))
            return true;
    }
    return false;
}

static bool
visit_any(void *ctx, const uint32_t *values, uint32_t n)
{
    (void)ctx;
    (void)values;
    return n > 0;
}

bool
pfx_index_contains(const struct pfx_index *ix, const uint8_t *addr)
{
    return pfx_index_visit(ix, addr, visit_any, NULL);
}
