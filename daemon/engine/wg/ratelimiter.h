/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Per-source-address token bucket for handshakes under load: 20 packets/s,
 * burst 5, stale entries dropped after 1 s (kernel ratelimiter.c
 * PACKETS_PER_SECOND/PACKETS_BURSTABLE; wireguard-go ratelimiter.go).
 * IPv6 sources are keyed per /64 as the kernel does. Bounded table: when full,
 * new sources are refused (fail closed). Time is passed in. Not thread-safe:
 * callers serialise.
 */
enum {
    RATELIMIT_PACKETS_PER_SECOND = 20,
    RATELIMIT_BURST = 5,
    RATELIMIT_MAX_ENTRIES = 8192,
};

struct ratelimiter;

/* Seeds its hash key from getrandom(2). NULL with errno set on failure. */
struct ratelimiter *ratelimiter_new(void);
void ratelimiter_free(struct ratelimiter *r);
/* family AF_INET/AF_INET6, addr 4/16 bytes network order. */
bool ratelimiter_allow(struct ratelimiter *r, int family, const uint8_t *addr, uint64_t now_ns);
/* Drop entries idle for more than 1 s; callers run it about once a second. */
void ratelimiter_gc(struct ratelimiter *r, uint64_t now_ns);
/* Number of tracked sources (for tests and metrics). */
size_t ratelimiter_count(const struct ratelimiter *r);
