/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * AllowedIPs: a longest-prefix-match table from IP prefixes to peers, one
 * binary (path-compressed) trie per family, as the kernel's allowedips.c does.
 * Not thread-safe: the device lock protects it. The value is an opaque peer
 * pointer; inserting an existing prefix moves it to the new peer.
 */
struct allowedips;

struct allowedips *allowedips_new(void);
void allowedips_free(struct allowedips *t);

/* family AF_INET/AF_INET6, addr in network order (4 or 16 bytes); host bits are masked off.
 * Returns 0, -EINVAL (cidr too long, NULL peer), -EAFNOSUPPORT or -ENOMEM (table unchanged). */
int allowedips_insert(struct allowedips *t, int family, const uint8_t *addr, uint8_t cidr,
                      void *peer);
/* Remove one prefix only if it maps to peer. Returns 0 or -ENOENT. */
int allowedips_remove(struct allowedips *t, int family, const uint8_t *addr, uint8_t cidr,
                      void *peer);
void allowedips_remove_by_peer(struct allowedips *t, void *peer);
/* Longest match or NULL. addr: 4 or 16 bytes network order. */
void *allowedips_lookup(const struct allowedips *t, int family, const uint8_t *addr);
/* Calls fn for each prefix of peer (masked address; addr is 4 or 16 bytes), in no particular
 * order. Stops when fn returns false. fn must not modify t. */
void allowedips_foreach_by_peer(const struct allowedips *t, void *peer,
                                bool (*fn)(void *ctx, int family, const uint8_t *addr,
                                           uint8_t cidr),
                                void *ctx);
size_t allowedips_count(const struct allowedips *t);
/* Trie nodes allocated, prefixes plus glue nodes; below 2 * count + 2 (tests, metrics). */
size_t allowedips_node_count(const struct allowedips *t);
