/* SPDX-License-Identifier: MIT */
/*
 * Tests for daemon/engine/magicsock/disco (disco/disco.go messages in a NaCl
 * box). Boxes with arbitrary plaintext are made here with libsodium directly,
 * so the parser is tested apart from disco_seal. Interop with Tailscale's own
 * Go package is in test-codec-interop.c.
 *
 *  /disco/round-trip/...  ping (with and without node key, padded), pong, call-me-maybe
 *  /disco/seal/...        bad messages and small buffers
 *  /disco/open/...        forged, short, bad magic, unknown types, versions,
 *                         trailing bytes, odd call-me-maybe bodies, jumbo pings
 *  /disco/looks-like      the header test and the sender key
 */
#include <errno.h>
#include <string.h>

#include <glib.h>
#include <sodium.h>

#include "magicsock/disco.h"
#include "sockaddr-ref.h"

/* Two nodes, a and b, each with the shared key toward the other. */
struct pair {
    uint8_t a_pub[32], a_priv[32], b_pub[32], b_priv[32];
    struct disco_shared_key ab, ba; /* a's key for b, b's key for a */
};

static void
pair_init(struct pair *p)
{
    g_assert_cmpint(crypto_box_keypair(p->a_pub, p->a_priv), ==, 0);
    g_assert_cmpint(crypto_box_keypair(p->b_pub, p->b_priv), ==, 0);
    disco_shared_key_init(&p->ab, p->b_pub, p->a_priv);
    disco_shared_key_init(&p->ba, p->a_pub, p->b_priv);
}

/* a seals m to b, b opens it into *out; the packet's length. */
static size_t
a_to_b(const struct pair *p, const struct disco_msg *m, struct disco_msg *out)
{
    uint8_t pkt[DISCO_PACKET_MAX];
    ssize_t n = disco_seal(pkt, sizeof(pkt), p->a_pub, &p->ab, m);

    g_assert_cmpint(n, >, DISCO_HEADER_LEN);
    g_assert_cmpint(n, <=, DISCO_PACKET_MAX);
    g_assert_true(disco_looks_like(pkt, (size_t)n));
    g_assert_cmpmem(disco_sender(pkt), DISCO_KEY_LEN, p->a_pub, DISCO_KEY_LEN);
    memset(out, 0xa5, sizeof(*out));
    g_assert_cmpint(disco_open(pkt, (size_t)n, &p->ba, out), ==, 0);
    return (size_t)n;
}

/* A packet from a to b whose box holds plain, made with libsodium alone. */
static GBytes *
raw_packet(const struct pair *p, const void *plain, size_t plain_len)
{
    size_t n = DISCO_HEADER_LEN + DISCO_BOX_OVERHEAD + plain_len;
    uint8_t *pkt = g_malloc(n);

    memcpy(pkt, "TS\xf0\x9f\x92\xac", 6);
    memcpy(pkt + 6, p->a_pub, 32);
    randombytes_buf(pkt + 38, 24);
    g_assert_cmpint(crypto_box_easy(pkt + 62, plain, plain_len, pkt + 38, p->b_pub, p->a_priv), ==,
                    0);
    return g_bytes_new_take(pkt, n);
}

static int
open_raw(const struct pair *p, const void *plain, size_t plain_len, struct disco_msg *m)
{
    g_autoptr(GBytes) pkt = raw_packet(p, plain, plain_len);
    size_t n;
    const uint8_t *d = g_bytes_get_data(pkt, &n);

    memset(m, 0xa5, sizeof(*m));
    return disco_open(d, n, &p->ba, m);
}

static void
test_ping(void)
{
    struct pair p;
    struct disco_msg m = { .type = DISCO_PING }, got;

    pair_init(&p);
    for (size_t i = 0; i < DISCO_TXID_LEN; i++)
        m.ping.txid[i] = (uint8_t)(0xf0 + i);
    memset(m.ping.node_key, 0x5c, DISCO_KEY_LEN);
    /* magic ‖ key ‖ nonce ‖ tag ‖ type ‖ version ‖ txid ‖ node key */
    g_assert_cmpuint(a_to_b(&p, &m, &got), ==, 62 + 16 + 2 + 12 + 32);
    g_assert_cmpuint(got.type, ==, DISCO_PING);
    g_assert_cmpmem(got.ping.txid, DISCO_TXID_LEN, m.ping.txid, DISCO_TXID_LEN);
    g_assert_cmpmem(got.ping.node_key, DISCO_KEY_LEN, m.ping.node_key, DISCO_KEY_LEN);
    g_assert_cmpuint(got.ping.padding, ==, 0);

    /* Padded (a path MTU probe), to exactly DISCO_PACKET_MAX. */
    m.ping.padding = DISCO_PACKET_MAX - (62 + 16 + 2 + 12 + 32);
    g_assert_cmpuint(a_to_b(&p, &m, &got), ==, DISCO_PACKET_MAX);
    g_assert_cmpuint(got.ping.padding, ==, m.ping.padding);
    g_assert_cmpmem(got.ping.node_key, DISCO_KEY_LEN, m.ping.node_key, DISCO_KEY_LEN);

    /* No node key (as clients before 1.16 sent): none on the wire, zero read back. */
    memset(m.ping.node_key, 0, DISCO_KEY_LEN);
    m.ping.padding = 0;
    g_assert_cmpuint(a_to_b(&p, &m, &got), ==, 62 + 16 + 2 + 12);
    g_assert_cmpmem(got.ping.node_key, DISCO_KEY_LEN, m.ping.node_key, DISCO_KEY_LEN);
    g_assert_cmpuint(got.ping.padding, ==, 0);
}

static void
test_pong(void)
{
    struct pair p;
    struct disco_msg m = { .type = DISCO_PONG }, got;
    const struct {
        const char *ip;
        uint16_t port;
    } srcs[] = {
        { "203.0.113.9", 41641 }, { "2001:db8::42", 1 }, { "0.0.0.0", 0 }, { "::", 65535 }
    };

    pair_init(&p);
    memset(m.pong.txid, 0x11, DISCO_TXID_LEN);
    for (size_t i = 0; i < G_N_ELEMENTS(srcs); i++) {
        m.pong.src = ref_addr(srcs[i].ip, srcs[i].port);
        g_assert_cmpuint(a_to_b(&p, &m, &got), ==, 62 + 16 + 2 + 12 + 18);
        g_assert_cmpuint(got.type, ==, DISCO_PONG);
        g_assert_cmpmem(got.pong.txid, DISCO_TXID_LEN, m.pong.txid, DISCO_TXID_LEN);
        ref_assert_addr(&got.pong.src, srcs[i].ip, srcs[i].port);
    }
}

static void
test_call_me_maybe(void)
{
    struct pair p;
    struct disco_msg m = { .type = DISCO_CALL_ME_MAYBE }, got;

    pair_init(&p);
    /* Empty, one, and the most we send. */
    g_assert_cmpuint(a_to_b(&p, &m, &got), ==, 62 + 16 + 2);
    g_assert_cmpuint(got.type, ==, DISCO_CALL_ME_MAYBE);
    g_assert_cmpuint(got.call_me_maybe.n, ==, 0);
    m.call_me_maybe.n = 1;
    m.call_me_maybe.endpoints[0] = ref_addr("192.168.1.20", 41641);
    a_to_b(&p, &m, &got);
    g_assert_cmpuint(got.call_me_maybe.n, ==, 1);
    ref_assert_addr(&got.call_me_maybe.endpoints[0], "192.168.1.20", 41641);
    m.call_me_maybe.n = DISCO_MAX_CALL_ME_MAYBE;
    for (size_t i = 0; i < DISCO_MAX_CALL_ME_MAYBE; i++) {
        char ip[64];

        if (i % 2)
            g_snprintf(ip, sizeof(ip), "10.0.%zu.1", i);
        else
            g_snprintf(ip, sizeof(ip), "fd7a:115c:a1e0::%zx", i);
        m.call_me_maybe.endpoints[i] = ref_addr(ip, (uint16_t)(1000 + i));
    }
    g_assert_cmpuint(a_to_b(&p, &m, &got), ==, 62 + 16 + 2 + 18 * DISCO_MAX_CALL_ME_MAYBE);
    g_assert_cmpuint(got.call_me_maybe.n, ==, DISCO_MAX_CALL_ME_MAYBE);
    g_assert_cmpmem(got.call_me_maybe.endpoints, sizeof(got.call_me_maybe.endpoints),
                    m.call_me_maybe.endpoints, sizeof(m.call_me_maybe.endpoints));
}

static void
test_seal_invalid(void)
{
    struct pair p;
    struct disco_msg m = { .type = DISCO_PING };
    uint8_t pkt[DISCO_PACKET_MAX + 16];

    pair_init(&p);
    memset(m.ping.node_key, 1, DISCO_KEY_LEN);
    /* Padding past DISCO_PACKET_MAX. */
    m.ping.padding = DISCO_PACKET_MAX - (62 + 16 + 2 + 12 + 32) + 1;
    g_assert_cmpint(disco_seal(pkt, sizeof(pkt), p.a_pub, &p.ab, &m), ==, -EINVAL);
    m.ping.padding = UINT16_MAX;
    g_assert_cmpint(disco_seal(pkt, sizeof(pkt), p.a_pub, &p.ab, &m), ==, -EINVAL);
    /* Types we do not send, addresses without a family, too many endpoints. */
    memset(&m, 0, sizeof(m));
    for (unsigned t = 0; t < 256; t++) {
        if (t == DISCO_PING || t == DISCO_PONG || t == DISCO_CALL_ME_MAYBE)
            continue;
        m.type = (uint8_t)t;
        g_assert_cmpint(disco_seal(pkt, sizeof(pkt), p.a_pub, &p.ab, &m), ==, -EINVAL);
    }
    m.type = DISCO_PONG;
    g_assert_cmpint(disco_seal(pkt, sizeof(pkt), p.a_pub, &p.ab, &m), ==, -EINVAL);
    m.type = DISCO_CALL_ME_MAYBE;
    m.call_me_maybe.n = 2;
    m.call_me_maybe.endpoints[0] = ref_addr("1.2.3.4", 5);
    g_assert_cmpint(disco_seal(pkt, sizeof(pkt), p.a_pub, &p.ab, &m), ==, -EINVAL);
    m.call_me_maybe.n = DISCO_MAX_CALL_ME_MAYBE + 1;
    g_assert_cmpint(disco_seal(pkt, sizeof(pkt), p.a_pub, &p.ab, &m), ==, -EINVAL);
}

static void
test_seal_room(void)
{
    struct pair p;
    struct disco_msg m = { .type = DISCO_PONG }, got;
    uint8_t pkt[256];
    const size_t need = 62 + 16 + 2 + 30;

    pair_init(&p);
    m.pong.src = ref_addr("1.2.3.4", 5);
    for (size_t cap = 0; cap < need; cap++)
        g_assert_cmpint(disco_seal(pkt, cap, p.a_pub, &p.ab, &m), ==, -ENOBUFS);
    g_assert_cmpint(disco_seal(pkt, need, p.a_pub, &p.ab, &m), ==, (ssize_t)need);
    g_assert_cmpint(disco_open(pkt, need, &p.ba, &got), ==, 0);
}

static void
test_open_forged(void)
{
    struct pair p, q;
    struct disco_msg m = { .type = DISCO_PING }, got;
    uint8_t pkt[DISCO_PACKET_MAX];
    ssize_t n;

    pair_init(&p);
    pair_init(&q);
    n = disco_seal(pkt, sizeof(pkt), p.a_pub, &p.ab, &m);
    g_assert_cmpint(n, >, 0);
    /* Nonce, tag, ciphertext: every flipped bit is caught. */
    for (ssize_t i = DISCO_MAGIC_LEN + DISCO_KEY_LEN; i < n; i++) {
        pkt[i] ^= 0x80;
        g_assert_cmpint(disco_open(pkt, (size_t)n, &p.ba, &got), ==, -EBADMSG);
        pkt[i] ^= 0x80;
    }
    /* Another pair's key; a's own key toward b (not b's toward a: the same key, so it opens). */
    g_assert_cmpint(disco_open(pkt, (size_t)n, &q.ba, &got), ==, -EBADMSG);
    g_assert_cmpint(disco_open(pkt, (size_t)n, &p.ab, &got), ==, 0);
    /* Truncated: a shorter box fails, and shorter than header + tag is malformed. */
    g_assert_cmpint(disco_open(pkt, (size_t)n - 1, &p.ba, &got), ==, -EBADMSG);
    for (size_t len = 0; len < DISCO_HEADER_LEN + DISCO_BOX_OVERHEAD; len++)
        g_assert_cmpint(disco_open(pkt, len, &p.ba, &got), ==, -EPROTO);
    /* Bad magic. */
    for (size_t i = 0; i < DISCO_MAGIC_LEN; i++) {
        pkt[i] ^= 1;
        g_assert_cmpint(disco_open(pkt, (size_t)n, &p.ba, &got), ==, -EPROTO);
        pkt[i] ^= 1;
    }
}

/* A peer with a low-order (all-zero) disco key gets a key that opens nothing. */
static void
test_low_order_key(void)
{
    struct pair p;
    struct disco_shared_key zero_peer;
    const uint8_t zero[32] = { 0 };
    struct disco_msg m = { .type = DISCO_PING }, got;
    uint8_t pkt[DISCO_PACKET_MAX];
    ssize_t n;

    pair_init(&p);
    disco_shared_key_init(&zero_peer, zero, p.b_priv);
    g_assert_false(sodium_is_zero(zero_peer.k, sizeof(zero_peer.k)));
    n = disco_seal(pkt, sizeof(pkt), p.a_pub, &p.ab, &m);
    g_assert_cmpint(disco_open(pkt, (size_t)n, &zero_peer, &got), ==, -EBADMSG);
    sodium_memzero(&zero_peer, sizeof(zero_peer));
}

static void
test_open_unknown_types(void)
{
    struct pair p;
    struct disco_msg got;
    uint8_t plain[2 + 72] = { 0 };

    pair_init(&p);
    /* Types 0x04-0x09 (peer relays) and anything else we do not speak are ignored. */
    for (unsigned t = 0; t < 256; t++) {
        if (t == DISCO_PING || t == DISCO_PONG || t == DISCO_CALL_ME_MAYBE)
            continue;
        plain[0] = (uint8_t)t;
        g_assert_cmpint(open_raw(&p, plain, sizeof(plain), &got), ==, -ENOTSUP);
    }
    /* Without a type and version: malformed. */
    g_assert_cmpint(open_raw(&p, plain, 0, &got), ==, -EPROTO);
    plain[0] = DISCO_PING;
    g_assert_cmpint(open_raw(&p, plain, 1, &got), ==, -EPROTO);
}

static void
test_open_ping_lengths(void)
{
    struct pair p;
    struct disco_msg got;
    uint8_t plain[2 + 12 + 32 + 7];

    pair_init(&p);
    plain[0] = DISCO_PING;
    plain[1] = 7; /* the version is ignored */
    for (size_t i = 2; i < sizeof(plain); i++)
        plain[i] = (uint8_t)i;
    for (size_t n = 2; n < 2 + 12; n++)
        g_assert_cmpint(open_raw(&p, plain, n, &got), ==, -EPROTO);
    /* TxID alone, or with less than a key after it: no key, the rest is padding (disco.go). */
    for (size_t extra = 0; extra < 32; extra++) {
        g_assert_cmpint(open_raw(&p, plain, 2 + 12 + extra, &got), ==, 0);
        g_assert_cmpmem(got.ping.txid, 12, plain + 2, 12);
        g_assert_true(sodium_is_zero(got.ping.node_key, 32));
        g_assert_cmpuint(got.ping.padding, ==, extra);
    }
    /* Key, then trailing bytes: padding. */
    g_assert_cmpint(open_raw(&p, plain, sizeof(plain), &got), ==, 0);
    g_assert_cmpuint(got.type, ==, DISCO_PING);
    g_assert_cmpmem(got.ping.node_key, 32, plain + 14, 32);
    g_assert_cmpuint(got.ping.padding, ==, 7);
}

static void
test_open_jumbo_ping(void)
{
    struct pair p;
    struct disco_msg got;
    const size_t n = 2 + 12 + 32 + 9000;
    g_autofree uint8_t *plain = g_malloc0(n);

    pair_init(&p);
    plain[0] = DISCO_PING;
    memset(plain + 2, 0x33, 12 + 32);
    g_assert_cmpint(open_raw(&p, plain, n, &got), ==, 0);
    g_assert_cmpuint(got.ping.padding, ==, 9000);
    g_assert_cmpmem(got.ping.node_key, 32, plain + 14, 32);
}

static void
test_open_pong_lengths(void)
{
    struct pair p;
    struct disco_msg got;
    uint8_t plain[2 + 30 + 5] = { DISCO_PONG, 3 };

    pair_init(&p);
    memset(plain + 2, 0x77, 12);
    memcpy(plain + 14, "\0\0\0\0\0\0\0\0\0\0\xff\xff\xc6\x33\x64\x01\x12\x34", 18);
    for (size_t n = 2; n < 2 + 30; n++)
        g_assert_cmpint(open_raw(&p, plain, n, &got), ==, -EPROTO);
    for (size_t n = 2 + 30; n <= sizeof(plain); n++) {
        g_assert_cmpint(open_raw(&p, plain, n, &got), ==, 0);
        g_assert_cmpmem(got.pong.txid, 12, plain + 2, 12);
        ref_assert_addr(&got.pong.src, "198.51.100.1", 0x1234);
    }
}

static void
test_open_call_me_maybe_odd(void)
{
    struct pair p;
    struct disco_msg got;
    const size_t many = DISCO_MAX_CALL_ME_MAYBE + 10;
    g_autofree uint8_t *plain = g_malloc0(2 + 18 * many);

    pair_init(&p);
    plain[0] = DISCO_CALL_ME_MAYBE;
    for (size_t i = 0; i < many; i++) {
        uint8_t *e = plain + 2 + 18 * i;

        e[0] = 0x20;
        e[1] = 0x01;
        e[15] = (uint8_t)i;
        e[16] = 0xa2;
        e[17] = 0x69;
    }
    /* More than we keep: the first DISCO_MAX_CALL_ME_MAYBE. */
    g_assert_cmpint(open_raw(&p, plain, 2 + 18 * many, &got), ==, 0);
    g_assert_cmpuint(got.call_me_maybe.n, ==, DISCO_MAX_CALL_ME_MAYBE);
    ref_assert_addr(&got.call_me_maybe.endpoints[DISCO_MAX_CALL_ME_MAYBE - 1], "2001::3f", 41577);
    /* Not whole endpoints, or another version: an empty list (disco.go). */
    g_assert_cmpint(open_raw(&p, plain, 2 + 18 * 3 - 1, &got), ==, 0);
    g_assert_cmpuint(got.type, ==, DISCO_CALL_ME_MAYBE);
    g_assert_cmpuint(got.call_me_maybe.n, ==, 0);
    g_assert_cmpint(open_raw(&p, plain, 2 + 18 * 3 + 1, &got), ==, 0);
    g_assert_cmpuint(got.call_me_maybe.n, ==, 0);
    plain[1] = 1;
    g_assert_cmpint(open_raw(&p, plain, 2 + 18 * 3, &got), ==, 0);
    g_assert_cmpuint(got.call_me_maybe.n, ==, 0);
}

static void
test_looks_like(void)
{
    uint8_t pkt[DISCO_HEADER_LEN + 1];

    memset(pkt, 0x42, sizeof(pkt));
    memcpy(pkt, "TS\xf0\x9f\x92\xac", 6);
    g_assert_true(disco_looks_like(pkt, DISCO_HEADER_LEN));
    g_assert_false(disco_looks_like(pkt, DISCO_HEADER_LEN - 1));
    g_assert_true(disco_sender(pkt) == pkt + 6);
    for (size_t i = 0; i < 6; i++) {
        pkt[i] ^= 0x04;
        g_assert_false(disco_looks_like(pkt, sizeof(pkt)));
        pkt[i] ^= 0x04;
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_cmpint(sodium_init(), >=, 0);
    g_test_add_func("/disco/round-trip/ping", test_ping);
    g_test_add_func("/disco/round-trip/pong", test_pong);
    g_test_add_func("/disco/round-trip/call-me-maybe", test_call_me_maybe);
    g_test_add_func("/disco/seal/invalid", test_seal_invalid);
    g_test_add_func("/disco/seal/room", test_seal_room);
    g_test_add_func("/disco/open/forged", test_open_forged);
    g_test_add_func("/disco/open/low-order-key", test_low_order_key);
    g_test_add_func("/disco/open/unknown-types", test_open_unknown_types);
    g_test_add_func("/disco/open/ping-lengths", test_open_ping_lengths);
    g_test_add_func("/disco/open/jumbo-ping", test_open_jumbo_ping);
    g_test_add_func("/disco/open/pong-lengths", test_open_pong_lengths);
    g_test_add_func("/disco/open/call-me-maybe-odd", test_open_call_me_maybe_odd);
    g_test_add_func("/disco/looks-like", test_looks_like);
    return g_test_run();
}
