/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for daemon/engine/magicsock/derp-frame (DERP frames,
 * derp/derp.go). data[0] bit 0 picks the mode; the rest is the input:
 *   0: a frame stream; data[1] picks the payload cap (0xff: DERP_MAX_FRAME,
 *      else data[1] * 64). Every frame must agree with a reference parse of
 *      the header, prefixes of a frame are "not yet", and each payload reader
 *      must accept exactly what its rule allows and stay inside the payload;
 *   1: an info box: opening arbitrary bytes never succeeds (no forgery) and
 *      fails for the right reason; sealing the bytes and opening them gives
 *      them back. data[1] is the plaintext room (times 4).
 * Keys are fixed, so runs are reproducible.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "fuzz-harness.h"
#include "magicsock/derp-frame.h"

static uint8_t a_priv[32], a_pub[32], b_priv[32], b_pub[32];
static bool ready;

static void
setup(void)
{
    CHECK(sodium_init() >= 0);
    for (int i = 0; i < 32; i++) {
        a_priv[i] = (uint8_t)(1 + i);
        b_priv[i] = (uint8_t)(101 + i);
    }
    CHECK(crypto_scalarmult_base(a_pub, a_priv) == 0);
    CHECK(crypto_scalarmult_base(b_pub, b_priv) == 0);
    ready = true;
}

static uint32_t
be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
check_payload(const struct derp_frame *f)
{
    const uint8_t *end = f->payload + f->len, *key, *data;
    uint8_t k[DERP_KEY_LEN], reason;
    size_t data_len;
    uint32_t in, try_for;
    bool server_key_ok = f->len >= DERP_MAGIC_LEN + DERP_KEY_LEN &&
                         memcmp(f->payload, DERP_MAGIC, DERP_MAGIC_LEN) == 0;

    CHECK((derp_parse_server_key(f, k) == 0) == server_key_ok);
    if (server_key_ok)
        CHECK(memcmp(k, f->payload + DERP_MAGIC_LEN, DERP_KEY_LEN) == 0);

    if (derp_parse_keyed(f, &key, &data, &data_len) == 0) {
        CHECK(f->len >= DERP_KEY_LEN);
        CHECK(key == f->payload && data == f->payload + DERP_KEY_LEN);
        CHECK(data + data_len == end);
    } else {
        CHECK(f->len < DERP_KEY_LEN);
    }

    if (derp_parse_peer_gone(f, k, &reason) == 0) {
        CHECK(f->len >= DERP_KEY_LEN);
        CHECK(memcmp(k, f->payload, DERP_KEY_LEN) == 0);
        CHECK(reason == (f->len > DERP_KEY_LEN ? f->payload[DERP_KEY_LEN] : 0));
    } else {
        CHECK(f->len < DERP_KEY_LEN);
    }

    if (derp_parse_restarting(f, &in, &try_for) == 0) {
        CHECK(f->len >= 8);
        CHECK(in == be32(f->payload) && try_for == be32(f->payload + 4));
    } else {
        CHECK(f->len < 8);
    }
}

static void
stream(const uint8_t *s, size_t len, uint32_t cap)
{
    size_t off = 0;

    for (;;) {
        struct derp_frame f;
        size_t rem = len - off;
        ssize_t r = derp_frame_parse(s + off, rem, cap, &f);

        if (rem < DERP_HEADER_LEN) {
            CHECK(r == 0);
            return;
        }
        uint32_t n = be32(s + off + 1);

        if (n > cap) {
            CHECK(r == -EMSGSIZE);
            return;
        }
        if (rem - DERP_HEADER_LEN < n) {
            CHECK(r == 0);
            return;
        }
        CHECK(r == (ssize_t)(DERP_HEADER_LEN + n));
        CHECK(f.type == s[off] && f.len == n && f.payload == s + off + DERP_HEADER_LEN);
        /* One byte short of the frame is "not yet" (an empty frame needs its header). */
        CHECK(derp_frame_parse(s + off, (size_t)r - 1, cap, &f) == 0);
        CHECK(derp_frame_parse(s + off, (size_t)r, cap, &f) == r);

        uint8_t h[DERP_HEADER_LEN];

        derp_frame_header(h, f.type, f.len);
        CHECK(memcmp(h, s + off, DERP_HEADER_LEN) == 0);
        check_payload(&f);
        off += (size_t)r;
    }
}

static void
info(const uint8_t *p, size_t len, size_t room)
{
    static uint8_t plain[70000], box[70000];
    ssize_t r;

    if (room > sizeof(plain))
        room = sizeof(plain);
    /* Nothing we did not seal opens. */
    r = derp_open_info(plain, room, p, len, a_pub, b_priv);
    if (len < DERP_NONCE_LEN + DERP_BOX_OVERHEAD)
        CHECK(r == -EPROTO);
    else if (len - DERP_NONCE_LEN - DERP_BOX_OVERHEAD > room)
        CHECK(r == -ENOBUFS);
    else
        CHECK(r == -EBADMSG);

    /* What we seal comes back. */
    if (len + DERP_NONCE_LEN + DERP_BOX_OVERHEAD > sizeof(box))
        return;
    r = derp_seal_info(box, sizeof(box), p, len, b_pub, a_priv);
    CHECK(r == (ssize_t)(len + DERP_NONCE_LEN + DERP_BOX_OVERHEAD));
    CHECK(derp_open_info(plain, sizeof(plain), box, (size_t)r, a_pub, b_priv) == (ssize_t)len);
    CHECK(len == 0 || memcmp(plain, p, len) == 0);
    /* The wrong sender does not open it. */
    CHECK(derp_open_info(plain, sizeof(plain), box, (size_t)r, b_pub, b_priv) == -EBADMSG);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready)
        setup();
    if (size < 2)
        return 0;
    if (data[0] & 1)
        info(data + 2, size - 2, (size_t)data[1] * 4);
    else
        stream(data + 2, size - 2, data[1] == 0xff ? DERP_MAX_FRAME : (uint32_t)data[1] * 64);
    return 0;
}
