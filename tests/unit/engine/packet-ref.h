/* SPDX-License-Identifier: MIT */
/*
 * Independent packet helpers for the TUN and offload tests: the textbook
 * RFC 1071 checksum loop and big-endian field access, written apart from
 * daemon/engine/tun so that a test does not check the code with itself.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

static inline uint32_t
ref_sum(const uint8_t *d, size_t n, uint32_t s)
{
    size_t i;

    for (i = 0; i + 1 < n; i += 2)
        s += (uint32_t)d[i] << 8 | d[i + 1];
    if (n & 1)
        s += (uint32_t)d[n - 1] << 8;
    return s;
}

static inline uint16_t
ref_fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static inline uint16_t
get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void
put16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v & 0xff;
}

static inline void
put32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = (v >> 16) & 0xff;
    p[2] = (v >> 8) & 0xff;
    p[3] = v & 0xff;
}
