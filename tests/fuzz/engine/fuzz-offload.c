/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for tun/offload.c.
 *
 * Byte 0 picks the mode:
 *   even: offload_split over the rest (first 10 bytes = vnet header), with a
 *         slot count and capacity taken from byte 1; every produced GSO
 *         segment must carry valid IPv4 header and L4 checksums.
 *   odd:  a sequence of packets [len_hi, len_lo, bytes...] fed to
 *         offload_gro_add (bit 1: tcp, bit 2: udp coalescing allowed; bit 3:
 *         fix up IP/TCP/UDP checksums first so that coalescing is reachable),
 *         then offload_gro_flush; every coalesced output must split back.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Included, not linked, so that libFuzzer's coverage instrumentation sees it. */
#include "tun/offload.c"

#include "fuzz-harness.h"

enum {
    VNET = VNET_LEN,
    N_SLOTS = 64,
    SLOT_CAP = 65535,
};

static uint8_t *slot_mem;
static struct pkt_slot slots[N_SLOTS];
static struct offload_gro *gro[4];
static uint8_t pkt_buf[65536 + 64];

static void
init(void)
{
    if (slot_mem)
        return;
    slot_mem = malloc((size_t)N_SLOTS * SLOT_CAP);
    if (!slot_mem)
        abort();
    for (size_t i = 0; i < N_SLOTS; i++)
        slots[i].data = slot_mem + i * SLOT_CAP;
    for (unsigned i = 0; i < 4; i++) {
        gro[i] = offload_gro_new(i & 1, i & 2);
        if (!gro[i])
            abort();
    }
}

/* Checks the IPv4 header checksum and the TCP/UDP checksum of a split segment. */
static void
check_segment(const uint8_t *p, size_t len, unsigned type, size_t iph)
{
    uint8_t proto = type == VNET_HDR_GSO_UDP_L4 ? 17 : 6;
    uint32_t s;

    if (len < iph)
        abort();
    if (p[0] >> 4 == 4) {
        if (offload_csum_fold(offload_csum_partial(p, iph, 0)) != 0)
            abort();
        if (rd16(p + 2) != len)
            abort();
        s = offload_csum_partial(p + 12, 8, 0);
    } else {
        if (rd16(p + 4) != len - 40)
            abort();
        s = offload_csum_partial(p + 8, 32, 0);
    }
    s += proto + (uint32_t)(len - iph);
    if (offload_csum_fold(offload_csum_partial(p + iph, len - iph, s)) != 0)
        abort();
}

static void
fuzz_split(const uint8_t *data, size_t size)
{
    struct virtio_net_hdr_v1 h;
    size_t n_slots, cap;
    int n;

    if (size < 1)
        return;
    n_slots = 1 + (data[0] & 0x3f);
    cap = data[0] & 0x40 ? 1500 : SLOT_CAP;
    data++;
    size--;
    n = offload_split(data, size, slots, n_slots, cap);
    if (n == -E2BIG)
        n = (int)n_slots;
    if (n <= 0 || size < VNET)
        return;
    memcpy(&h, data, VNET);
    if ((h.gso_type & ~VNET_HDR_GSO_ECN) == VNET_HDR_GSO_NONE)
        return;
    for (int i = 0; i < n; i++) {
        if (slots[i].len > cap)
            abort();
        check_segment(slots[i].data, slots[i].len, h.gso_type & ~VNET_HDR_GSO_ECN, h.csum_start);
    }
}

/* Make checksums valid so the fuzzer reaches the merge paths. */
static void
fix_csums(uint8_t *p, size_t len)
{
    size_t iph;
    uint8_t proto;
    uint32_t s;
    size_t co;

    if (p[0] >> 4 == 4) {
        iph = (size_t)(p[0] & 15) * 4;
        if (iph < 20 || iph > len)
            return;
        p[10] = p[11] = 0;
        wr16(p + 10, offload_csum_fold(offload_csum_partial(p, iph, 0)));
        proto = p[9];
        s = offload_csum_partial(p + 12, 8, 0);
    } else {
        if (len < 40)
            return;
        iph = 40;
        proto = p[6];
        s = offload_csum_partial(p + 8, 32, 0);
    }
    if (proto == 6)
        co = 16;
    else if (proto == 17)
        co = 6;
    else
        return;
    if (len < iph + co + 2)
        return;
    p[iph + co] = p[iph + co + 1] = 0;
    s += proto + (uint32_t)(len - iph);
    wr16(p + iph + co, offload_csum_fold(offload_csum_partial(p + iph, len - iph, s)));
}

static int
check_write(void *ctx, const uint8_t *buf, size_t len)
{
    struct virtio_net_hdr_v1 h;
    int n;

    (void)ctx;
    if (len <= VNET || len > VNET + 65535)
        abort();
    memcpy(&h, buf, VNET);
    if (h.gso_type == VNET_HDR_GSO_NONE) {
        if (h.flags || h.hdr_len || h.gso_size || h.csum_start || h.csum_offset)
            abort();
        return 0;
    }
    /* A coalesced packet must be a valid GSO packet: it splits back. */
    n = offload_split(buf, len, slots, N_SLOTS, SLOT_CAP);
    if (n < 2)
        abort();
    return 0;
}

static void
fuzz_gro(uint8_t mode, const uint8_t *data, size_t size)
{
    struct offload_gro *g = gro[(mode >> 1) & 3];
    bool fix = mode & 8;

    while (size >= 2) {
        size_t len = rd16(data);
        int r;

        data += 2;
        size -= 2;
        if (len > size)
            len = size;
        memcpy(pkt_buf, data, len);
        if (fix && len > 0)
            fix_csums(pkt_buf, len);
        r = offload_gro_add(g, len ? pkt_buf : data, len);
        if (r == -ENOBUFS) {
            offload_gro_flush(g, check_write, NULL);
            r = offload_gro_add(g, len ? pkt_buf : data, len);
            if (r == -ENOBUFS)
                abort();
        }
        data += len;
        size -= len;
    }
    offload_gro_flush(g, check_write, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init();
    if (size < 1)
        return 0;
    if (data[0] & 1)
        fuzz_gro(data[0], data + 1, size - 1);
    else
        fuzz_split(data + 1, size - 1);
    return 0;
}
