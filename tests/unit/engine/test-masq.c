/* SPDX-License-Identifier: MIT */
/*
 * Masquerade rewrites (wg/masq.h): each packet is built with checksums from
 * the textbook RFC 1071 loop (packet-ref.h), rewritten, and must equal the
 * same packet built with the other address: the incremental update gives
 * exactly the checksums a full computation gives. Plus what must stay as it
 * is (other addresses, UDP without checksum, later fragments) and every
 * truncation of a packet (no read or write past its end: ASan).
 */
#include <arpa/inet.h>
#include <glib.h>
#include <string.h>

#include "packet-ref.h"
#include "wg/masq.h"

enum { TCP = 6, UDP = 17, ICMP4 = 1, ICMP6 = 58 };

/* A v4 packet src → dst with a transport header of proto and 37 bytes of
 * payload; checksums computed in full (udp_no_sum: UDP checksum 0). */
static size_t
build4(uint8_t *pkt, const char *src, const char *dst, uint8_t proto, bool udp_no_sum,
       uint16_t frag)
{
    size_t l4len = (proto == TCP ? 20 : 8) + 37, len = 20 + l4len;
    uint8_t *l4 = pkt + 20;
    uint32_t s;

    memset(pkt, 0, len);
    pkt[0] = 0x45;
    put16(pkt + 2, (uint16_t)len);
    put16(pkt + 6, frag);
    pkt[8] = 64;
    pkt[9] = proto;
    inet_pton(AF_INET, src, pkt + 12);
    inet_pton(AF_INET, dst, pkt + 16);
    for (size_t i = 0; i < l4len; i++)
        l4[i] = (uint8_t)(i * 7 + 3);
    if (proto == TCP) {
        l4[12] = 0x50;
        put16(l4 + 16, 0);
    } else {
        put16(l4 + 4, (uint16_t)l4len);
        put16(l4 + (proto == UDP ? 6 : 2), 0);
    }
    if (proto == TCP || (proto == UDP && !udp_no_sum)) {
        uint8_t pseudo[12];

        memcpy(pseudo, pkt + 12, 8);
        pseudo[8] = 0;
        pseudo[9] = proto;
        put16(pseudo + 10, (uint16_t)l4len);
        s = ref_sum(l4, l4len, ref_sum(pseudo, 12, 0));
        put16(l4 + (proto == TCP ? 16 : 6), ref_fold(s));
        if (proto == UDP && get16(l4 + 6) == 0)
            put16(l4 + 6, 0xffff);
    } else if (proto == ICMP4) {
        put16(l4 + 2, ref_fold(ref_sum(l4, l4len, 0)));
    }
    put16(pkt + 10, ref_fold(ref_sum(pkt, 20, 0)));
    return len;
}

/* A v6 packet, optionally behind an 8-byte hop-by-hop header. */
static size_t
build6(uint8_t *pkt, const char *src, const char *dst, uint8_t proto, bool hop_by_hop)
{
    size_t ext = hop_by_hop ? 8 : 0, l4len = (proto == TCP ? 20 : 8) + 37;
    size_t len = 40 + ext + l4len;
    uint8_t *l4 = pkt + 40 + ext;
    uint8_t pseudo[40];

    memset(pkt, 0, len);
    pkt[0] = 0x60;
    put16(pkt + 4, (uint16_t)(ext + l4len));
    pkt[6] = hop_by_hop ? 0 : proto;
    pkt[7] = 64;
    inet_pton(AF_INET6, src, pkt + 8);
    inet_pton(AF_INET6, dst, pkt + 24);
    if (hop_by_hop) {
        pkt[40] = proto;
        pkt[41] = 0;
        pkt[42] = 1; /* PadN */
        pkt[43] = 4;
    }
    for (size_t i = 0; i < l4len; i++)
        l4[i] = (uint8_t)(i * 5 + 1);
    if (proto == TCP)
        l4[12] = 0x50;
    else
        put16(l4 + 4, (uint16_t)l4len);
    put16(l4 + (proto == TCP ? 16 : proto == UDP ? 6 : 2), 0);
    memcpy(pseudo, pkt + 8, 32);
    put32(pseudo + 32, (uint32_t)l4len);
    pseudo[36] = pseudo[37] = pseudo[38] = 0;
    pseudo[39] = proto;
    put16(l4 + (proto == TCP   ? 16
                : proto == UDP ? 6
                               : 2),
          ref_fold(ref_sum(l4, l4len, ref_sum(pseudo, 40, 0))));
    if (proto == UDP && get16(l4 + 6) == 0)
        put16(l4 + 6, 0xffff);
    return len;
}

static struct wg_masq
masq4(const char *a)
{
    struct wg_masq m = { .has4 = true };

    inet_pton(AF_INET, a, m.addr4);
    return m;
}

static struct wg_masq
masq6(const char *a)
{
    struct wg_masq m = { .has6 = true };

    inet_pton(AF_INET6, a, m.addr6);
    return m;
}

static void
test_v4(void)
{
    const uint8_t protos[] = { TCP, UDP, ICMP4 };
    struct wg_masq native = masq4("100.64.0.1"), masq = masq4("100.99.7.200");

    for (size_t i = 0; i < G_N_ELEMENTS(protos); i++) {
        uint8_t pkt[200], want[200];
        size_t len = build4(pkt, "100.64.0.1", "100.64.0.2", protos[i], false, 0);

        /* Out: our source becomes the masquerade address. */
        build4(want, "100.99.7.200", "100.64.0.2", protos[i], false, 0);
        g_assert_true(wg_masq_snat(pkt, len, &native, &masq));
        g_assert_cmpmem(pkt, len, want, len);
        /* A second pass finds nothing of ours to rewrite. */
        g_assert_false(wg_masq_snat(pkt, len, &native, &masq));

        /* In: the reply to the masquerade address comes to ours. */
        len = build4(pkt, "100.64.0.2", "100.99.7.200", protos[i], false, 0);
        build4(want, "100.64.0.2", "100.64.0.1", protos[i], false, 0);
        g_assert_true(wg_masq_dnat(pkt, len, &native, &masq));
        g_assert_cmpmem(pkt, len, want, len);
    }
}

static void
test_v6(void)
{
    const uint8_t protos[] = { TCP, UDP, ICMP6 };
    struct wg_masq native = masq6("fd7a:115c:a1e0::1"), masq = masq6("fd7a:115c:a1e0:ab12::99");

    for (size_t h = 0; h < 2; h++)
        for (size_t i = 0; i < G_N_ELEMENTS(protos); i++) {
            uint8_t pkt[200], want[200];
            size_t len = build6(pkt, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", protos[i], h);

            build6(want, "fd7a:115c:a1e0:ab12::99", "fd7a:115c:a1e0::2", protos[i], h);
            g_assert_true(wg_masq_snat(pkt, len, &native, &masq));
            g_assert_cmpmem(pkt, len, want, len);

            len = build6(pkt, "fd7a:115c:a1e0::2", "fd7a:115c:a1e0:ab12::99", protos[i], h);
            build6(want, "fd7a:115c:a1e0::2", "fd7a:115c:a1e0::1", protos[i], h);
            g_assert_true(wg_masq_dnat(pkt, len, &native, &masq));
            g_assert_cmpmem(pkt, len, want, len);
        }
}

/* What is not ours, or of the other family, passes untouched. */
static void
test_untouched(void)
{
    struct wg_masq native = masq4("100.64.0.1"), masq = masq4("100.99.7.200");
    struct wg_masq only6 = masq6("fd7a:115c:a1e0::5");
    uint8_t pkt[200], orig[200];
    size_t len;

    /* Forwarded for a LAN host (subnet router / exit node): source kept. */
    len = build4(pkt, "192.168.1.10", "100.64.0.2", TCP, false, 0);
    memcpy(orig, pkt, len);
    g_assert_false(wg_masq_snat(pkt, len, &native, &masq));
    g_assert_cmpmem(pkt, len, orig, len);
    /* An inbound packet to our own address. */
    len = build4(pkt, "100.64.0.2", "100.64.0.1", UDP, false, 0);
    memcpy(orig, pkt, len);
    g_assert_false(wg_masq_dnat(pkt, len, &native, &masq));
    g_assert_cmpmem(pkt, len, orig, len);
    /* A v6-only masquerade leaves v4 alone. */
    len = build4(pkt, "100.64.0.1", "100.64.0.2", UDP, false, 0);
    memcpy(orig, pkt, len);
    g_assert_false(wg_masq_snat(pkt, len, &native, &only6));
    g_assert_cmpmem(pkt, len, orig, len);
}

/* UDP over IPv4 without a checksum keeps none; a later fragment has no
 * transport header, so only the IP header changes. */
static void
test_no_sum_and_fragments(void)
{
    struct wg_masq native = masq4("100.64.0.1"), masq = masq4("100.99.7.200");
    uint8_t pkt[200], want[200];
    size_t len = build4(pkt, "100.64.0.1", "100.64.0.2", UDP, true, 0);

    build4(want, "100.99.7.200", "100.64.0.2", UDP, true, 0);
    g_assert_true(wg_masq_snat(pkt, len, &native, &masq));
    g_assert_cmpmem(pkt, len, want, len);
    g_assert_cmpuint(get16(pkt + 26), ==, 0);

    len = build4(pkt, "100.64.0.1", "100.64.0.2", TCP, false, 0x0010);
    memcpy(want, pkt, len);
    g_assert_true(wg_masq_snat(pkt, len, &native, &masq));
    g_assert_cmpmem(pkt + 20, len - 20, want + 20, len - 20);
    g_assert_cmpuint(ref_fold(ref_sum(pkt, 20, 0)), ==, 0);
}

/* Every truncation: no access past len (ASan), the IP header checksum
 * stays right whenever the address was rewritten. */
static void
test_truncated(void)
{
    struct wg_masq n4 = masq4("100.64.0.1"), m4 = masq4("100.99.7.200");
    struct wg_masq n6 = masq6("fd7a:115c:a1e0::1"), m6 = masq6("fd7a:115c:a1e0:ab12::99");
    uint8_t full[200];
    size_t len4 = build4(full, "100.64.0.1", "100.64.0.2", TCP, false, 0);

    for (size_t n = 0; n <= len4; n++) {
        uint8_t *pkt = g_memdup2(full, n ? n : 1);

        if (wg_masq_snat(pkt, n, &n4, &m4))
            g_assert_cmpuint(ref_fold(ref_sum(pkt, 20, 0)), ==, 0);
        g_free(pkt);
    }
    size_t len6 = build6(full, "fd7a:115c:a1e0::1", "fd7a:115c:a1e0::2", UDP, true);
    for (size_t n = 0; n <= len6; n++) {
        uint8_t *pkt = g_memdup2(full, n ? n : 1);

        (void)wg_masq_snat(pkt, n, &n6, &m6);
        g_free(pkt);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/wg/masq/v4", test_v4);
    g_test_add_func("/wg/masq/v6", test_v6);
    g_test_add_func("/wg/masq/untouched", test_untouched);
    g_test_add_func("/wg/masq/no-sum-and-fragments", test_no_sum_and_fragments);
    g_test_add_func("/wg/masq/truncated", test_truncated);
    return g_test_run();
}
