/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for daemon/engine/magicsock/derp-client (the DERP client
 * state machine, derp/derp_client.go). data[0] bit 0: 1 = a fresh client (the
 * input is the server's greeting onwards), 0 = a client already logged in by
 * a good ServerKey and ServerInfo; data[1..2] (u16 LE, modulo the stream
 * length) is where a second run splits the stream; data[3..] is the stream.
 * The stream is fed whole and again in two pieces: both runs must call back
 * the same way (writes, packets, PeerGone, Health, Restarting) and end with
 * the same error, one of those the header allows, and -EPIPE after it. Every
 * write must be one whole frame. Keys are fixed, so runs are reproducible.
 * FUZZ_DERP_SEED_DIR=dir writes valid seeds there.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/keys.h"
#include "fuzz-harness.h"
#include "magicsock/derp-client.h"

static uint8_t client_priv[KEY_LEN], client_pub[KEY_LEN], server_priv[KEY_LEN], server_pub[KEY_LEN];
static uint8_t login[256]; /* ServerKey ‖ ServerInfo frames */
static size_t login_len;
static bool ready;

/* Every callback, tagged, concatenated. */
struct transcript {
    uint8_t *buf;
    size_t len, cap;
};

static void
put(struct transcript *t, uint8_t tag, const void *a, size_t a_len, const void *b, size_t b_len)
{
    size_t need = t->len + 1 + 4 + a_len + b_len;
    uint32_t n = (uint32_t)(a_len + b_len);

    if (need > t->cap) {
        size_t cap = t->cap ? t->cap : 1024;

        while (cap < need)
            cap *= 2;
        t->buf = realloc(t->buf, cap);
        CHECK(t->buf);
        t->cap = cap;
    }
    t->buf[t->len++] = tag;
    memcpy(t->buf + t->len, &n, 4);
    t->len += 4;
    if (a_len)
        memcpy(t->buf + t->len, a, a_len);
    t->len += a_len;
    if (b_len)
        memcpy(t->buf + t->len, b, b_len);
    t->len += b_len;
}

static void
on_write(void *ctx, const uint8_t *data, size_t len)
{
    struct derp_frame f;

    /* One whole frame per write, and never a ClientInfo twice. */
    CHECK(derp_frame_parse(data, len, DERP_MAX_FRAME, &f) == (ssize_t)len);
    /* ClientInfo boxes have random nonces: record the type only. */
    if (f.type == DERP_FRAME_CLIENT_INFO)
        put(ctx, 'c', NULL, 0, NULL, 0);
    else
        put(ctx, 'w', data, len, NULL, 0);
}

static void
on_connected(void *ctx)
{
    put(ctx, 'C', NULL, 0, NULL, 0);
}

static void
on_recv(void *ctx, const uint8_t src[DERP_KEY_LEN], const uint8_t *data, size_t len)
{
    CHECK(len <= DERP_MAX_FRAME - DERP_KEY_LEN);
    put(ctx, 'r', src, DERP_KEY_LEN, data, len);
}

static void
on_peer_gone(void *ctx, const uint8_t key[DERP_KEY_LEN], uint8_t reason)
{
    put(ctx, 'g', key, DERP_KEY_LEN, &reason, 1);
}

static void
on_health(void *ctx, const char *text, size_t len)
{
    put(ctx, 'h', text, len, NULL, 0);
}

static void
on_restarting(void *ctx, uint32_t reconnect_in_ms, uint32_t try_for_ms)
{
    uint32_t v[2] = { reconnect_in_ms, try_for_ms };

    put(ctx, 'R', v, sizeof(v), NULL, 0);
}

static const struct derp_client_ops ops = {
    .write = on_write,
    .connected = on_connected,
    .recv_packet = on_recv,
    .peer_gone = on_peer_gone,
    .health = on_health,
    .restarting = on_restarting,
};

static size_t
frame(uint8_t *out, uint8_t type, const void *p, size_t n)
{
    derp_frame_header(out, type, (uint32_t)n);
    memcpy(out + DERP_HEADER_LEN, p, n);
    return DERP_HEADER_LEN + n;
}

static void
write_seeds(void)
{
    uint8_t body[512], ping[8] = "pingping", pkt[DERP_KEY_LEN + 4];
    size_t n = 0;

    memcpy(body, login, login_len);
    fuzz_write_seed("FUZZ_DERP_SEED_DIR", "greeting", 1, (const uint8_t *)"\x10\x00", 2, body,
                    login_len);
    memset(pkt, 0x42, sizeof(pkt));
    n += frame(body + n, DERP_FRAME_PING, ping, sizeof(ping));
    n += frame(body + n, DERP_FRAME_RECV_PACKET, pkt, sizeof(pkt));
    n += frame(body + n, DERP_FRAME_PEER_GONE, pkt, DERP_KEY_LEN + 1);
    n += frame(body + n, DERP_FRAME_HEALTH, "bad", 3);
    n += frame(body + n, DERP_FRAME_RESTARTING, ping, sizeof(ping));
    n += frame(body + n, 0x7f, "?", 1);
    n += frame(body + n, DERP_FRAME_KEEP_ALIVE, NULL, 0);
    fuzz_write_seed("FUZZ_DERP_SEED_DIR", "frames", 0, (const uint8_t *)"\x07\x00", 2, body, n);
    derp_frame_header(body, DERP_FRAME_RECV_PACKET, 0x80000000u);
    fuzz_write_seed("FUZZ_DERP_SEED_DIR", "huge", 0, (const uint8_t *)"\x02\x00", 2, body, 5);
}

static void
setup(void)
{
    static const char json[] = "{\"version\":2}";
    uint8_t box[DERP_NONCE_LEN + DERP_BOX_OVERHEAD + sizeof(json)];
    uint8_t key_payload[DERP_MAGIC_LEN + DERP_KEY_LEN];
    ssize_t n;

    CHECK(sodium_init() >= 0);
    for (int i = 0; i < KEY_LEN; i++) {
        client_priv[i] = (uint8_t)(1 + i);
        server_priv[i] = (uint8_t)(100 + i);
    }
    key_clamp(client_priv);
    key_clamp(server_priv);
    CHECK(key_public_from_private(client_pub, client_priv));
    CHECK(key_public_from_private(server_pub, server_priv));
    memcpy(key_payload, DERP_MAGIC, DERP_MAGIC_LEN);
    memcpy(key_payload + DERP_MAGIC_LEN, server_pub, KEY_LEN);
    login_len = frame(login, DERP_FRAME_SERVER_KEY, key_payload, sizeof(key_payload));
    n = derp_seal_info(box, sizeof(box), (const uint8_t *)json, sizeof(json) - 1, client_pub,
                       server_priv);
    CHECK(n > 0);
    login_len += frame(login + login_len, DERP_FRAME_SERVER_INFO, box, (size_t)n);
    write_seeds();
    ready = true;
}

/* A client, logged in unless fresh; its transcript starts empty. */
static struct derp_client *
client_new(struct transcript *t, bool fresh)
{
    struct derp_client *c = derp_client_new(client_priv, &ops, t);

    CHECK(c);
    if (!fresh) {
        CHECK(derp_client_feed(c, login, login_len, 1) == 0);
        CHECK(derp_client_is_connected(c));
        t->len = 0;
    }
    return c;
}

static int
run(struct transcript *t, bool fresh, const uint8_t *s, size_t len, size_t split)
{
    struct derp_client *c = client_new(t, fresh);
    int r = derp_client_feed(c, s, split, 2);

    if (r == 0)
        r = derp_client_feed(c, s + split, len - split, 3);
    if (r < 0) {
        CHECK(r == -EMSGSIZE || r == -EPROTO || r == -EBADMSG || r == -ENOMEM);
        CHECK(!derp_client_is_connected(c));
        CHECK(derp_client_feed(c, s, len, 4) == -EPIPE);
        CHECK(derp_client_send(c, server_pub, s, 0) == -ENOTCONN);
    }
    derp_client_free(c);
    return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct transcript whole = { 0 }, split = { 0 };
    size_t len, at;
    bool fresh;
    int r1, r2;

    if (!ready)
        setup();
    if (size < 3)
        return 0;
    fresh = data[0] & 1;
    len = size - 3;
    at = len ? (size_t)(data[1] | data[2] << 8) % (len + 1) : 0;
    data += 3;

    r1 = run(&whole, fresh, data, len, len);
    r2 = run(&split, fresh, data, len, at);
    CHECK(r1 == r2);
    CHECK(whole.len == split.len);
    CHECK(whole.len == 0 || memcmp(whole.buf, split.buf, whole.len) == 0);
    free(whole.buf);
    free(split.buf);
    return 0;
}
