/* SPDX-License-Identifier: MIT */
/*
 * Tests for daemon/engine/magicsock/derp-frame (DERP frames and info boxes,
 * derp/derp.go). Interop with Tailscale's own Go code (its frames and
 * key.NodePrivate SealTo/OpenFrom boxes) is in test-codec-interop.c.
 *
 *  /derp-frame/parse/...    header, partial input, the size cap, back to back
 *  /derp-frame/payload/...  ServerKey, keyed, PeerGone, Restarting: short, long
 *  /derp-frame/info/...     seal/open round trip, forged, short, small buffers
 */
#include <errno.h>
#include <string.h>

#include <glib.h>
#include <sodium.h>

#include "magicsock/derp-frame.h"

/* A frame of type with payload p into out; its length. */
static size_t
frame(uint8_t *out, uint8_t type, const void *p, uint32_t n)
{
    derp_frame_header(out, type, n);
    if (n)
        memcpy(out + DERP_HEADER_LEN, p, n);
    return DERP_HEADER_LEN + n;
}

static void
test_header(void)
{
    uint8_t h[DERP_HEADER_LEN];

    derp_frame_header(h, DERP_FRAME_SEND_PACKET, 0x01020304);
    g_assert_cmpmem(h, sizeof(h), "\x04\x01\x02\x03\x04", 5);
    derp_frame_header(h, DERP_FRAME_KEEP_ALIVE, 0);
    g_assert_cmpmem(h, sizeof(h), "\x06\x00\x00\x00\x00", 5);
}

static void
test_parse_partial(void)
{
    uint8_t buf[64];
    size_t n = frame(buf, DERP_FRAME_PING, "12345678", 8);
    struct derp_frame f = { 0 };

    /* Every prefix short of the whole frame is "not yet". */
    for (size_t i = 0; i < n; i++)
        g_assert_cmpint(derp_frame_parse(buf, i, DERP_MAX_FRAME, &f), ==, 0);
    g_assert_cmpint(derp_frame_parse(buf, n, DERP_MAX_FRAME, &f), ==, (ssize_t)n);
    g_assert_cmpuint(f.type, ==, DERP_FRAME_PING);
    g_assert_cmpuint(f.len, ==, 8);
    g_assert_true(f.payload == buf + DERP_HEADER_LEN);
}

static void
test_parse_back_to_back(void)
{
    uint8_t buf[128];
    size_t n = 0, off = 0;
    struct derp_frame f;
    const uint8_t types[] = { DERP_FRAME_KEEP_ALIVE, DERP_FRAME_HEALTH, 0xee, DERP_FRAME_PONG };
    const char *payloads[] = { "", "bad", "unknown types parse too", "abcdefgh" };

    for (size_t i = 0; i < G_N_ELEMENTS(types); i++)
        n += frame(buf + n, types[i], payloads[i], (uint32_t)strlen(payloads[i]));
    for (size_t i = 0; i < G_N_ELEMENTS(types); i++) {
        ssize_t r = derp_frame_parse(buf + off, n - off, DERP_MAX_FRAME, &f);

        g_assert_cmpint(r, ==, DERP_HEADER_LEN + (ssize_t)strlen(payloads[i]));
        g_assert_cmpuint(f.type, ==, types[i]);
        g_assert_cmpmem(f.payload, f.len, payloads[i], strlen(payloads[i]));
        off += (size_t)r;
    }
    g_assert_cmpuint(off, ==, n);
    g_assert_cmpint(derp_frame_parse(buf + off, 0, DERP_MAX_FRAME, &f), ==, 0);
}

static void
test_parse_cap(void)
{
    uint8_t h[DERP_HEADER_LEN];
    struct derp_frame f;

    /* The cap is judged from the header alone, before any payload arrives. */
    derp_frame_header(h, DERP_FRAME_RECV_PACKET, DERP_MAX_FRAME + 1);
    g_assert_cmpint(derp_frame_parse(h, sizeof(h), DERP_MAX_FRAME, &f), ==, -EMSGSIZE);
    derp_frame_header(h, DERP_FRAME_RECV_PACKET, 0xffffffff);
    g_assert_cmpint(derp_frame_parse(h, sizeof(h), DERP_MAX_FRAME, &f), ==, -EMSGSIZE);
    g_assert_cmpint(derp_frame_parse(h, sizeof(h), UINT32_MAX, &f), ==, 0);
    derp_frame_header(h, DERP_FRAME_RECV_PACKET, DERP_MAX_FRAME);
    g_assert_cmpint(derp_frame_parse(h, sizeof(h), DERP_MAX_FRAME, &f), ==, 0);
    /* At the cap, a whole frame parses. */
    g_autofree uint8_t *big = g_malloc0(DERP_HEADER_LEN + DERP_MAX_FRAME);
    derp_frame_header(big, DERP_FRAME_RECV_PACKET, DERP_MAX_FRAME);
    g_assert_cmpint(derp_frame_parse(big, DERP_HEADER_LEN + DERP_MAX_FRAME, DERP_MAX_FRAME, &f), ==,
                    DERP_HEADER_LEN + DERP_MAX_FRAME);
    g_assert_cmpuint(f.len, ==, DERP_MAX_FRAME);
    /* A zero cap still passes empty frames (KeepAlive). */
    derp_frame_header(h, DERP_FRAME_KEEP_ALIVE, 0);
    g_assert_cmpint(derp_frame_parse(h, sizeof(h), 0, &f), ==, DERP_HEADER_LEN);
    derp_frame_header(h, DERP_FRAME_NOTE_PREFERRED, 1);
    g_assert_cmpint(derp_frame_parse(h, sizeof(h), 0, &f), ==, -EMSGSIZE);
}

static struct derp_frame
payload_frame(uint8_t type, const uint8_t *p, uint32_t n)
{
    return (struct derp_frame){ .type = type, .len = n, .payload = p };
}

static void
test_server_key(void)
{
    uint8_t p[DERP_MAGIC_LEN + DERP_KEY_LEN + 4], key[DERP_KEY_LEN];
    struct derp_frame f;

    memcpy(p, DERP_MAGIC, DERP_MAGIC_LEN);
    for (size_t i = 0; i < DERP_KEY_LEN; i++)
        p[DERP_MAGIC_LEN + i] = (uint8_t)(i + 1);
    memset(p + DERP_MAGIC_LEN + DERP_KEY_LEN, 0xaa, 4);
    /* Exact, and with bytes for future use (ignored). */
    for (uint32_t extra = 0; extra <= 4; extra += 4) {
        f = payload_frame(DERP_FRAME_SERVER_KEY, p, DERP_MAGIC_LEN + DERP_KEY_LEN + extra);
        memset(key, 0, sizeof(key));
        g_assert_cmpint(derp_parse_server_key(&f, key), ==, 0);
        g_assert_cmpmem(key, sizeof(key), p + DERP_MAGIC_LEN, DERP_KEY_LEN);
    }
    /* One byte short. */
    f = payload_frame(DERP_FRAME_SERVER_KEY, p, DERP_MAGIC_LEN + DERP_KEY_LEN - 1);
    g_assert_cmpint(derp_parse_server_key(&f, key), ==, -EPROTO);
    f = payload_frame(DERP_FRAME_SERVER_KEY, p, 0);
    g_assert_cmpint(derp_parse_server_key(&f, key), ==, -EPROTO);
    /* Bad magic, in any byte. */
    for (size_t i = 0; i < DERP_MAGIC_LEN; i++) {
        p[i] ^= 0x20;
        f = payload_frame(DERP_FRAME_SERVER_KEY, p, sizeof(p));
        g_assert_cmpint(derp_parse_server_key(&f, key), ==, -EPROTO);
        p[i] ^= 0x20;
    }
}

static void
test_keyed(void)
{
    uint8_t p[DERP_KEY_LEN + 3];
    const uint8_t *key = NULL, *data = NULL;
    size_t data_len = 99;
    struct derp_frame f;

    for (size_t i = 0; i < sizeof(p); i++)
        p[i] = (uint8_t)i;
    f = payload_frame(DERP_FRAME_RECV_PACKET, p, sizeof(p));
    g_assert_cmpint(derp_parse_keyed(&f, &key, &data, &data_len), ==, 0);
    g_assert_true(key == p);
    g_assert_true(data == p + DERP_KEY_LEN);
    g_assert_cmpuint(data_len, ==, 3);
    /* A key and no data is a valid (empty) packet. */
    f = payload_frame(DERP_FRAME_SEND_PACKET, p, DERP_KEY_LEN);
    g_assert_cmpint(derp_parse_keyed(&f, &key, &data, &data_len), ==, 0);
    g_assert_cmpuint(data_len, ==, 0);
    for (uint32_t n = 0; n < DERP_KEY_LEN; n++) {
        f = payload_frame(DERP_FRAME_RECV_PACKET, p, n);
        g_assert_cmpint(derp_parse_keyed(&f, &key, &data, &data_len), ==, -EPROTO);
    }
}

static void
test_peer_gone(void)
{
    uint8_t p[DERP_KEY_LEN + 2], key[DERP_KEY_LEN], reason = 0xff;
    struct derp_frame f;

    memset(p, 0x42, DERP_KEY_LEN);
    p[DERP_KEY_LEN] = DERP_PEER_GONE_NOT_HERE;
    p[DERP_KEY_LEN + 1] = 0x77; /* trailing bytes are ignored */
    f = payload_frame(DERP_FRAME_PEER_GONE, p, sizeof(p));
    g_assert_cmpint(derp_parse_peer_gone(&f, key, &reason), ==, 0);
    g_assert_cmpmem(key, sizeof(key), p, DERP_KEY_LEN);
    g_assert_cmpuint(reason, ==, DERP_PEER_GONE_NOT_HERE);
    /* Without the reason byte (older servers): disconnected. */
    reason = 0xff;
    f = payload_frame(DERP_FRAME_PEER_GONE, p, DERP_KEY_LEN);
    g_assert_cmpint(derp_parse_peer_gone(&f, key, &reason), ==, 0);
    g_assert_cmpuint(reason, ==, DERP_PEER_GONE_DISCONNECTED);
    f = payload_frame(DERP_FRAME_PEER_GONE, p, DERP_KEY_LEN - 1);
    g_assert_cmpint(derp_parse_peer_gone(&f, key, &reason), ==, -EPROTO);
}

static void
test_restarting(void)
{
    const uint8_t p[] = { 0, 0, 0x13, 0x88, 0, 0, 0x75, 0x30, 0xee };
    uint32_t in = 0, try_for = 0;
    struct derp_frame f;

    f = payload_frame(DERP_FRAME_RESTARTING, p, 8);
    g_assert_cmpint(derp_parse_restarting(&f, &in, &try_for), ==, 0);
    g_assert_cmpuint(in, ==, 5000);
    g_assert_cmpuint(try_for, ==, 30000);
    f = payload_frame(DERP_FRAME_RESTARTING, p, sizeof(p));
    g_assert_cmpint(derp_parse_restarting(&f, &in, &try_for), ==, 0);
    g_assert_cmpuint(in, ==, 5000);
    f = payload_frame(DERP_FRAME_RESTARTING, p, 7);
    g_assert_cmpint(derp_parse_restarting(&f, &in, &try_for), ==, -EPROTO);
}

static void
keypair(uint8_t pub[32], uint8_t priv[32])
{
    g_assert_cmpint(crypto_box_keypair(pub, priv), ==, 0);
}

static void
test_info_round_trip(void)
{
    uint8_t client_pub[32], client_priv[32], server_pub[32], server_priv[32];
    const char *json = "{\"version\":2,\"CanAckPings\":true}";
    size_t n = strlen(json);
    uint8_t box[256], box2[256], plain[256];
    ssize_t r, r2;

    keypair(client_pub, client_priv);
    keypair(server_pub, server_priv);
    r = derp_seal_info(box, sizeof(box), (const uint8_t *)json, n, server_pub, client_priv);
    g_assert_cmpint(r, ==, (ssize_t)(DERP_NONCE_LEN + DERP_BOX_OVERHEAD + n));
    /* The nonce is fresh each time. */
    r2 = derp_seal_info(box2, sizeof(box2), (const uint8_t *)json, n, server_pub, client_priv);
    g_assert_cmpint(r2, ==, r);
    g_assert_true(memcmp(box, box2, DERP_NONCE_LEN) != 0);

    memset(plain, 0, sizeof(plain));
    g_assert_cmpint(derp_open_info(plain, sizeof(plain), box, (size_t)r, client_pub, server_priv),
                    ==, (ssize_t)n);
    g_assert_cmpmem(plain, n, json, n);
    /* Exactly enough room, and one byte too little. */
    g_assert_cmpint(derp_open_info(plain, n, box, (size_t)r, client_pub, server_priv), ==,
                    (ssize_t)n);
    g_assert_cmpint(derp_open_info(plain, n - 1, box, (size_t)r, client_pub, server_priv), ==,
                    -ENOBUFS);
    /* An empty box is valid. */
    r = derp_seal_info(box, DERP_NONCE_LEN + DERP_BOX_OVERHEAD, NULL, 0, server_pub, client_priv);
    g_assert_cmpint(r, ==, DERP_NONCE_LEN + DERP_BOX_OVERHEAD);
    g_assert_cmpint(derp_open_info(plain, 0, box, (size_t)r, client_pub, server_priv), ==, 0);
}

static void
test_info_seal_room(void)
{
    uint8_t pub[32], priv[32], box[64];
    const uint8_t plain[8] = "12345678";

    keypair(pub, priv);
    g_assert_cmpint(derp_seal_info(box, 47, plain, 8, pub, priv), ==, -ENOBUFS);
    g_assert_cmpint(derp_seal_info(box, 48, plain, 8, pub, priv), ==, 48);
    g_assert_cmpint(derp_seal_info(box, 0, plain, 0, pub, priv), ==, -ENOBUFS);
    g_assert_cmpint(derp_seal_info(box, 39, plain, 0, pub, priv), ==, -ENOBUFS);
    g_assert_cmpint(derp_seal_info(box, sizeof(box), plain, SIZE_MAX, pub, priv), ==, -ENOBUFS);
}

static void
test_info_forged(void)
{
    uint8_t a_pub[32], a_priv[32], b_pub[32], b_priv[32], c_pub[32], c_priv[32];
    uint8_t box[128], plain[128];
    const uint8_t msg[] = "{\"version\":2}";
    ssize_t r;

    keypair(a_pub, a_priv);
    keypair(b_pub, b_priv);
    keypair(c_pub, c_priv);
    r = derp_seal_info(box, sizeof(box), msg, sizeof(msg), b_pub, a_priv);
    g_assert_cmpint(r, >, 0);
    /* Every flipped bit (nonce, tag, ciphertext) is caught. */
    for (ssize_t i = 0; i < r; i++) {
        box[i] ^= 0x01;
        g_assert_cmpint(derp_open_info(plain, sizeof(plain), box, (size_t)r, a_pub, b_priv), ==,
                        -EBADMSG);
        box[i] ^= 0x01;
    }
    /* The wrong sender, the wrong recipient. */
    g_assert_cmpint(derp_open_info(plain, sizeof(plain), box, (size_t)r, c_pub, b_priv), ==,
                    -EBADMSG);
    g_assert_cmpint(derp_open_info(plain, sizeof(plain), box, (size_t)r, a_pub, c_priv), ==,
                    -EBADMSG);
    /* Truncated and extended boxes. */
    g_assert_cmpint(derp_open_info(plain, sizeof(plain), box, (size_t)r - 1, a_pub, b_priv), ==,
                    -EBADMSG);
    box[r] = 0;
    g_assert_cmpint(derp_open_info(plain, sizeof(plain), box, (size_t)r + 1, a_pub, b_priv), ==,
                    -EBADMSG);
    /* Shorter than nonce + tag. */
    for (size_t n = 0; n < DERP_NONCE_LEN + DERP_BOX_OVERHEAD; n++)
        g_assert_cmpint(derp_open_info(plain, sizeof(plain), box, n, a_pub, b_priv), ==, -EPROTO);
    /* A low-order (all-zero) peer key opens nothing and seals nothing. */
    memset(c_pub, 0, sizeof(c_pub));
    g_assert_cmpint(derp_open_info(plain, sizeof(plain), box, (size_t)r, c_pub, b_priv), ==,
                    -EBADMSG);
    g_assert_cmpint(derp_seal_info(box, sizeof(box), msg, sizeof(msg), c_pub, a_priv), ==, -EINVAL);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_cmpint(sodium_init(), >=, 0);
    g_test_add_func("/derp-frame/parse/header", test_header);
    g_test_add_func("/derp-frame/parse/partial", test_parse_partial);
    g_test_add_func("/derp-frame/parse/back-to-back", test_parse_back_to_back);
    g_test_add_func("/derp-frame/parse/cap", test_parse_cap);
    g_test_add_func("/derp-frame/payload/server-key", test_server_key);
    g_test_add_func("/derp-frame/payload/keyed", test_keyed);
    g_test_add_func("/derp-frame/payload/peer-gone", test_peer_gone);
    g_test_add_func("/derp-frame/payload/restarting", test_restarting);
    g_test_add_func("/derp-frame/info/round-trip", test_info_round_trip);
    g_test_add_func("/derp-frame/info/seal-room", test_info_seal_room);
    g_test_add_func("/derp-frame/info/forged", test_info_forged);
    return g_test_run();
}
