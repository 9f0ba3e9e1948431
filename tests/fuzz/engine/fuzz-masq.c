/* SPDX-License-Identifier: MIT */
/*
 * wg/masq: any bytes as an IPv4/IPv6 packet whose source and then
 * destination address are rewritten to another address and back, as the
 * device does towards a peer with a masquerade address. No access outside
 * the packet (ASan on an exact heap copy), the addresses land where they
 * belong, and the round trip gives the packet back: every byte the same, but
 * a checksum may come back as the other form of one's-complement zero
 * (0x0000 for 0xffff or the reverse).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz-harness.h"
#include "wg/masq.h"

static void
check_round_trip(const uint8_t *orig, const uint8_t *pkt, size_t size)
{
    size_t i;

    for (i = 0; i < size; i++) {
        size_t w = i & ~(size_t)1;
        unsigned a, b;

        if (orig[i] == pkt[i])
            continue;
        CHECK(w + 1 < size);
        a = (unsigned)orig[w] << 8 | orig[w + 1];
        b = (unsigned)pkt[w] << 8 | pkt[w + 1];
        CHECK((a == 0 || a == 0xffff) && (b == 0 || b == 0xffff));
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *pkt = malloc(size ? size : 1), *orig = malloc(size ? size : 1);
    int version = size ? data[0] >> 4 : 0;
    size_t alen = version == 4 ? 4 : 16;
    size_t need = version == 4 ? 20 : 40;
    int dst;

    CHECK(pkt && orig);
    memcpy(pkt, data, size);
    memcpy(orig, data, size);
    if ((version == 4 || version == 6) && size >= need) {
        for (dst = 0; dst < 2; dst++) {
            size_t off = version == 4 ? (dst ? 16 : 12) : (dst ? 24 : 8);
            uint8_t from[16], to[16];
            size_t i;

            memcpy(from, pkt + off, alen);
            for (i = 0; i < alen; i++)
                to[i] = from[i] ^ (uint8_t)(0x5a + i);
            CHECK(wg_masq_rewrite(pkt, size, version, dst, from, to));
            CHECK(memcmp(pkt + off, to, alen) == 0);
            /* Not the address now: nothing to do. */
            CHECK(!wg_masq_rewrite(pkt, size, version, dst, from, to));
            CHECK(wg_masq_rewrite(pkt, size, version, dst, to, from));
            check_round_trip(orig, pkt, size);
        }
    } else {
        uint8_t any[16] = { 0 };

        CHECK(!wg_masq_rewrite(pkt, size, 4, false, any, any));
        CHECK(!wg_masq_rewrite(pkt, size, 6, true, any, any));
        CHECK(memcmp(pkt, orig, size) == 0);
    }
    free(pkt);
    free(orig);
    return 0;
}
