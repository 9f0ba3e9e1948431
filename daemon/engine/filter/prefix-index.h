/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A set of prefixes of one family, each with a list of values (rule indices),
 * looked up by address: one open-addressing hash table per distinct prefix
 * length, so a lookup costs one hash probe per length in use (typically /32
 * and /0, or /128 and /0) whatever the number of prefixes.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ip.h"

struct pfx_slot {
    uint64_t w[2];  /* the masked address, as memcpy'd into two words */
    uint32_t first; /* values[first .. first + n) */
    uint32_t n;     /* 0: empty slot */
};

struct pfx_level {
    uint64_t mask_w[2]; /* the prefix mask in the same layout */
    size_t mask;        /* slots - 1 */
    struct pfx_slot *slots;
    uint8_t bits;
};

struct pfx_index {
    uint8_t addr_len; /* 4 or 16 */
    int n_levels;
    struct pfx_level *levels; /* longest first */
    uint32_t *values;
};

struct pfx_entry {
    struct ip_prefix prefix; /* of the index's family */
    uint32_t value;
};

/* Build from n entries (any order; duplicates fine). 0 or -ENOMEM. */
int pfx_index_build(struct pfx_index *ix, uint8_t addr_len, struct pfx_entry *entries, size_t n);
void pfx_index_free(struct pfx_index *ix);

/* Calls fn for each value list whose prefix holds addr; stops when fn returns true. Returns that.
 */
typedef bool (*pfx_visit_fn)(void *ctx, const uint32_t *values, uint32_t n);
bool pfx_index_visit(const struct pfx_index *ix, const uint8_t *addr, pfx_visit_fn fn, void *ctx);
bool pfx_index_contains(const struct pfx_index *ix, const uint8_t *addr);
