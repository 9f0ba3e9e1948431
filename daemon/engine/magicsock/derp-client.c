/* SPDX-License-Identifier: MIT */
/*
 * The client side of one DERP connection (derp-client.h), without I/O.
 * Facts from tailscale v1.102 derp/derp_client.go (newClient, recvServerKey,
 * sendClientKey, recvTimeout) and wgengine/magicsock/derp.go (Pings answered
 * with Pongs, PeerGone, Health):
 *
 * - The first frame must be ServerKey (magic ‖ key), at most 1 KiB; anything
 *   else ends the connection. We answer with ClientInfo, the JSON boxed from
 *   our node key to the server key.
 * - ServerInfo must open with our node key (its JSON, a token bucket hint
 *   the client "need not respect", is not read): then we are connected.
 * - Every later frame is at most DERP_MAX_FRAME (1 MiB): a larger header
 *   ends the connection before any of its payload is buffered. Unknown types
 *   and too-short known ones are skipped, as Recv does.
 *
 * Each ops->write call carries exactly one whole frame, so that the caller
 * may drop whole SendPackets under pressure without breaking the stream.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/compiler.h"
#include "crypto/keys.h"
#include "crypto/secmem.h"
#include "magicsock/derp-client.h"

/* recvServerKey reads the greeting with a 1 KiB limit. */
#define DERP_SERVER_KEY_MAX   1024
#define DERP_CLIENT_INFO_JSON "{\"version\":2,\"CanAckPings\":true}"
/* The JSON of ServerInfo is small; Tailscale allows 1 MiB (MaxInfoLen). */
#define DERP_SERVER_INFO_MAX DERP_MAX_FRAME

enum derp_client_state {
    DERP_CLIENT_WANT_SERVER_KEY,
    DERP_CLIENT_WANT_SERVER_INFO,
    DERP_CLIENT_CONNECTED,
    DERP_CLIENT_DEAD,
};

struct derp_client {
    uint8_t *node_priv; /* secmem */
    uint8_t node_pub[DERP_KEY_LEN];
    uint8_t server_pub[DERP_KEY_LEN];
    enum derp_client_state state;
    bool preferred;
    struct derp_client_ops ops;
    void *ctx;
    uint64_t last_rx_ns;
    /* A frame split across feeds: its bytes so far (at most 5 + 1 MiB). */
    uint8_t *partial;
    size_t partial_len;
    size_t partial_cap;
    /* One outgoing frame: header ‖ key ‖ a packet of DERP_MAX_PACKET. */
    uint8_t out[DERP_HEADER_LEN + DERP_KEY_LEN + DERP_MAX_PACKET];
};

struct derp_client *
derp_client_new(const uint8_t node_priv[DERP_KEY_LEN], const struct derp_client_ops *ops, void *ctx)
{
    struct derp_client *c;

    if (!ops || !ops->write || !ops->connected || !ops->recv_packet)
        return NULL;
    c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->node_priv = secmem_alloc(DERP_KEY_LEN);
    if (!c->node_priv || !key_public_from_private(c->node_pub, node_priv)) {
        derp_client_free(c);
        return NULL;
    }
    memcpy(c->node_priv, node_priv, DERP_KEY_LEN);
    c->ops = *ops;
    c->ctx = ctx;
    return c;
}

void
derp_client_free(struct derp_client *c)
{
    if (!c)
        return;
    secmem_free(c->node_priv, DERP_KEY_LEN);
    free(c->partial);
    sodium_memzero(c, sizeof(*c));
    free(c);
}

bool
derp_client_is_connected(const struct derp_client *c)
{
    return c->state == DERP_CLIENT_CONNECTED;
}

const uint8_t *
derp_client_server_key(const struct derp_client *c)
{
    return c->state == DERP_CLIENT_WANT_SERVER_KEY ? NULL : c->server_pub;
}

uint64_t
derp_client_last_rx_ns(const struct derp_client *c)
{
    return c->last_rx_ns;
}

/* Writes header ‖ a ‖ b as one frame through ops->write. */
static void
write_frame(struct derp_client *c, uint8_t type, const uint8_t *a, size_t a_len, const uint8_t *b,
            size_t b_len)
{
    derp_frame_header(c->out, type, (uint32_t)(a_len + b_len));
    if (a_len)
        memcpy(c->out + DERP_HEADER_LEN, a, a_len);
    if (b_len)
        memcpy(c->out + DERP_HEADER_LEN + a_len, b, b_len);
    c->ops.write(c->ctx, c->out, DERP_HEADER_LEN + a_len + b_len);
}

static void
send_note_preferred(struct derp_client *c)
{
    uint8_t v = c->preferred ? 1 : 0;

    write_frame(c, DERP_FRAME_NOTE_PREFERRED, &v, 1, NULL, 0);
}

static int
send_client_info(struct derp_client *c)
{
    static const char json[] = DERP_CLIENT_INFO_JSON;
    uint8_t sealed[DERP_NONCE_LEN + DERP_BOX_OVERHEAD + sizeof(json)];
    ssize_t n;

    n = derp_seal_info(sealed, sizeof(sealed), (const uint8_t *)json, sizeof(json) - 1,
                       c->server_pub, c->node_priv);
    if (n < 0)
        return (int)n;
    write_frame(c, DERP_FRAME_CLIENT_INFO, c->node_pub, DERP_KEY_LEN, sealed, (size_t)n);
    return 0;
}

static int
handle_server_key(struct derp_client *c, const struct derp_frame *f)
{
    if (f->type != DERP_FRAME_SERVER_KEY)
        return -EPROTO;
    if (derp_parse_server_key(f, c->server_pub) < 0)
        return -EPROTO;
    c->state = DERP_CLIENT_WANT_SERVER_INFO;
    /* Only a low-order server key (zero, say) makes the box fail. */
    return send_client_info(c) < 0 ? -EPROTO : 0;
}

static int
handle_server_info(struct derp_client *c, const struct derp_frame *f)
{
    uint8_t *plain;
    ssize_t n;

    if (f->len < DERP_NONCE_LEN + DERP_BOX_OVERHEAD)
        return -EPROTO;
    plain = malloc(f->len);
    if (!plain)
        return -ENOMEM;
    n = derp_open_info(plain, f->len, f->payload, f->len, c->server_pub, c->node_priv);
    free(plain);
    if (n < 0)
        return n == -EBADMSG ? -EBADMSG : -EPROTO;
    if (c->state == DERP_CLIENT_CONNECTED)
        return 0;
    c->state = DERP_CLIENT_CONNECTED;
    if (c->preferred)
        send_note_preferred(c);
    c->ops.connected(c->ctx);
    return 0;
}

/* One whole frame, after ServerKey. */
static int
handle_frame(struct derp_client *c, const struct derp_frame *f)
{
    const uint8_t *key, *data;
    uint8_t peer[DERP_KEY_LEN], reason;
    uint32_t reconnect_in, try_for;
    size_t data_len;

    switch (f->type) {
    case DERP_FRAME_SERVER_INFO:
        return handle_server_info(c, f);
    case DERP_FRAME_RECV_PACKET:
        if (c->state != DERP_CLIENT_CONNECTED || derp_parse_keyed(f, &key, &data, &data_len) < 0)
            return 0;
        c->ops.recv_packet(c->ctx, key, data, data_len);
        return 0;
    case DERP_FRAME_PING:
        if (f->len >= DERP_PING_LEN)
            write_frame(c, DERP_FRAME_PONG, f->payload, DERP_PING_LEN, NULL, 0);
        return 0;
    case DERP_FRAME_PEER_GONE:
        if (c->ops.peer_gone && derp_parse_peer_gone(f, peer, &reason) == 0)
            c->ops.peer_gone(c->ctx, peer, reason);
        return 0;
    case DERP_FRAME_HEALTH:
        if (c->ops.health)
            c->ops.health(c->ctx, (const char *)f->payload, f->len);
        return 0;
    case DERP_FRAME_RESTARTING:
        if (c->ops.restarting && derp_parse_restarting(f, &reconnect_in, &try_for) == 0)
            c->ops.restarting(c->ctx, reconnect_in, try_for);
        return 0;
    default:
        /* KeepAlive, Pong (our liveness pings: rx is noted for every frame),
         * frames for mesh peers and types from newer servers. */
        return 0;
    }
}

static uint32_t
header_len(const uint8_t h[DERP_HEADER_LEN])
{
    return (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
}

/* The payload limit of the next frame: the greeting is held to 1 KiB. */
static uint32_t
frame_max(const struct derp_client *c)
{
    return c->state == DERP_CLIENT_WANT_SERVER_KEY ? DERP_SERVER_KEY_MAX : DERP_MAX_FRAME;
}

static int
dispatch(struct derp_client *c, const struct derp_frame *f)
{
    if (c->state == DERP_CLIENT_WANT_SERVER_KEY)
        return handle_server_key(c, f);
    return handle_frame(c, f);
}

/* Completes the buffered partial frame from data; returns bytes taken or -errno. */
static ssize_t
feed_partial(struct derp_client *c, const uint8_t *data, size_t len)
{
    size_t want, take, total = 0;
    struct derp_frame f;
    ssize_t n;
    int r;

    if (c->partial_len < DERP_HEADER_LEN) {
        take = MIN(len, DERP_HEADER_LEN - c->partial_len);
        memcpy(c->partial + c->partial_len, data, take);
        c->partial_len += take;
        data += take;
        len -= take;
        total += take;
        if (c->partial_len < DERP_HEADER_LEN)
            return (ssize_t)total;
        if (header_len(c->partial) > frame_max(c))
            return -EMSGSIZE;
    }
    want = DERP_HEADER_LEN + header_len(c->partial);
    if (c->partial_cap < want) {
        uint8_t *p = realloc(c->partial, want);

        if (!p)
            return -ENOMEM;
        c->partial = p;
        c->partial_cap = want;
    }
    take = MIN(len, want - c->partial_len);
    memcpy(c->partial + c->partial_len, data, take);
    c->partial_len += take;
    total += take;
    if (c->partial_len < want)
        return (ssize_t)total;

    n = derp_frame_parse(c->partial, c->partial_len, frame_max(c), &f);
    if (n <= 0)
        return n < 0 ? n : -EPROTO;
    c->partial_len = 0;
    r = dispatch(c, &f);
    /* Give a large buffer back once its frame is done. */
    if (c->partial_cap > 2 * DERP_HEADER_LEN + DERP_KEY_LEN + DERP_MAX_PACKET) {
        free(c->partial);
        c->partial = NULL;
        c->partial_cap = 0;
    }
    return r < 0 ? r : (ssize_t)total;
}

/* The start of a frame that feed_partial completes later (len ≤ 5 + its payload limit). */
static int
keep_partial(struct derp_client *c, const uint8_t *data, size_t len)
{
    if (c->partial_cap < len || c->partial_cap < DERP_HEADER_LEN) {
        size_t cap = MAX(len, (size_t)DERP_HEADER_LEN + DERP_KEY_LEN + 2048);
        uint8_t *p = realloc(c->partial, cap);

        if (!p)
            return -ENOMEM;
        c->partial = p;
        c->partial_cap = cap;
    }
    memcpy(c->partial, data, len);
    c->partial_len = len;
    return 0;
}

static int
feed(struct derp_client *c, const uint8_t *data, size_t len)
{
    struct derp_frame f;
    ssize_t n;
    int r;

    if (c->partial_len) {
        n = feed_partial(c, data, len);
        if (n < 0)
            return (int)n;
        data += n;
        len -= (size_t)n;
    }
    /* Whole frames straight from the caller's buffer. */
    while (len) {
        n = derp_frame_parse(data, len, frame_max(c), &f);
        if (n < 0)
            return (int)n;
        if (n == 0)
            return keep_partial(c, data, len);
        r = dispatch(c, &f);
        if (r < 0)
            return r;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int
derp_client_feed(struct derp_client *c, const uint8_t *data, size_t len, uint64_t now_ns)
{
    int r;

    if (c->state == DERP_CLIENT_DEAD)
        return -EPIPE;
    if (!len)
        return 0;
    c->last_rx_ns = now_ns;
    r = feed(c, data, len);
    if (r < 0)
        c->state = DERP_CLIENT_DEAD;
    return r;
}

int
derp_client_send(struct derp_client *c, const uint8_t dst[DERP_KEY_LEN], const uint8_t *data,
                 size_t len)
{
    if (c->state != DERP_CLIENT_CONNECTED)
        return -ENOTCONN;
    if (len > DERP_MAX_PACKET)
        return -EMSGSIZE;
    write_frame(c, DERP_FRAME_SEND_PACKET, dst, DERP_KEY_LEN, data, len);
    return 0;
}

void
derp_client_set_preferred(struct derp_client *c, bool preferred)
{
    if (c->preferred == preferred)
        return;
    c->preferred = preferred;
    if (c->state == DERP_CLIENT_CONNECTED)
        send_note_preferred(c);
}

void
derp_client_send_ping(struct derp_client *c, const uint8_t data[DERP_PING_LEN])
{
    if (c->state == DERP_CLIENT_CONNECTED)
        write_frame(c, DERP_FRAME_PING, data, DERP_PING_LEN, NULL, 0);
}
