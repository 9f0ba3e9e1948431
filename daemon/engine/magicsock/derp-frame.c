/* SPDX-License-Identifier: MIT */
/*
 * DERP frames (facts: tailscale derp/derp.go frame types and header,
 * derp/derp_client.go recvServerKey and recv for the payload rules). Pure
 * byte work on the caller's buffers: no allocation, no I/O.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "magicsock/derp-frame.h"
#include "magicsock/naclbox.h"

_Static_assert(DERP_NONCE_LEN + DERP_BOX_OVERHEAD == NACLBOX_OVERHEAD, "box layout");
_Static_assert(DERP_KEY_LEN == crypto_box_PUBLICKEYBYTES, "key size");

static uint32_t
get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

ssize_t
derp_frame_parse(const uint8_t *buf, size_t len, uint32_t max_payload, struct derp_frame *f)
{
    uint32_t n;

    if (len < DERP_HEADER_LEN)
        return 0;
    n = get_be32(buf + 1);
    /* Checked before waiting for the payload: a huge length must not make the caller buffer it. */
    if (n > max_payload)
        return -EMSGSIZE;
    if (len - DERP_HEADER_LEN < n)
        return 0;
    f->type = buf[0];
    f->len = n;
    f->payload = buf + DERP_HEADER_LEN;
    return (ssize_t)(DERP_HEADER_LEN + (size_t)n);
}

void
derp_frame_header(uint8_t out[DERP_HEADER_LEN], uint8_t type, uint32_t len)
{
    out[0] = type;
    out[1] = (uint8_t)(len >> 24);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
}

/* ClientInfo/ServerInfo: a box from my node key to the peer's (types/key/node.go SealTo). */
ssize_t
derp_seal_info(uint8_t *out, size_t cap, const uint8_t *plain, size_t plain_len,
               const uint8_t peer_pub[DERP_KEY_LEN], const uint8_t my_priv[DERP_KEY_LEN])
{
    uint8_t k[NACLBOX_KEY_LEN];
    ssize_t r;

    if (naclbox_shared(k, peer_pub, my_priv) < 0)
        r = -EINVAL;
    else
        r = naclbox_seal(out, cap, plain, plain_len, k);
    sodium_memzero(k, sizeof(k));
    return r;
}

ssize_t
derp_open_info(uint8_t *plain, size_t cap, const uint8_t *in, size_t in_len,
               const uint8_t peer_pub[DERP_KEY_LEN], const uint8_t my_priv[DERP_KEY_LEN])
{
    uint8_t k[NACLBOX_KEY_LEN];
    ssize_t r;

    if (in_len < NACLBOX_OVERHEAD)
        return -EPROTO;
    if (naclbox_shared(k, peer_pub, my_priv) < 0)
        r = -EBADMSG; /* a low-order key: nothing can be a valid box from it */
    else
        r = naclbox_open(plain, cap, in, in_len, k);
    sodium_memzero(k, sizeof(k));
    return r;
}

/* magic ‖ key ‖ bytes for future use, which are ignored (derp_client.go recvServerKey). */
int
derp_parse_server_key(const struct derp_frame *f, uint8_t server_pub[DERP_KEY_LEN])
{
    if (f->len < DERP_MAGIC_LEN + DERP_KEY_LEN ||
        memcmp(f->payload, DERP_MAGIC, DERP_MAGIC_LEN) != 0)
        return -EPROTO;
    memcpy(server_pub, f->payload + DERP_MAGIC_LEN, DERP_KEY_LEN);
    return 0;
}

int
derp_parse_keyed(const struct derp_frame *f, const uint8_t **key, const uint8_t **data,
                 size_t *data_len)
{
    if (f->len < DERP_KEY_LEN)
        return -EPROTO;
    *key = f->payload;
    *data = f->payload + DERP_KEY_LEN;
    *data_len = f->len - DERP_KEY_LEN;
    return 0;
}

/* The reason byte is optional (older servers): absent means disconnected. */
int
derp_parse_peer_gone(const struct derp_frame *f, uint8_t key[DERP_KEY_LEN], uint8_t *reason)
{
    if (f->len < DERP_KEY_LEN)
        return -EPROTO;
    memcpy(key, f->payload, DERP_KEY_LEN);
    *reason = f->len > DERP_KEY_LEN ? f->payload[DERP_KEY_LEN] : DERP_PEER_GONE_DISCONNECTED;
    return 0;
}

int
derp_parse_restarting(const struct derp_frame *f, uint32_t *reconnect_in_ms, uint32_t *try_for_ms)
{
    if (f->len < 8)
        return -EPROTO;
    *reconnect_in_ms = get_be32(f->payload);
    *try_for_ms = get_be32(f->payload + 4);
    return 0;
}
