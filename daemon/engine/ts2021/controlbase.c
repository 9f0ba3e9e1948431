/* SPDX-License-Identifier: MIT */
/*
 * TS2021 "controlbase" (tailscale control/controlbase): Noise_IK_25519_ChaChaPoly_BLAKE2s
 * with prologue "Tailscale Control Protocol v<version>", empty handshake
 * payloads, then ChaCha20-Poly1305 records with empty AD and the nonce
 * 0^4 ‖ u64 BIG-endian counter (controlbase/conn.go; not Noise's LE), one counter per
 * direction from 0, no rekey, 2^64−1 never used.
 *
 *   initiation  ver u16 BE ‖ 01 ‖ 0060 ‖ msg1 (96)    client → server
 *   response    02 ‖ 0030 ‖ msg2 (48)                 server → client
 *   error       03 ‖ len u16 BE ‖ text                server → client, handshake only
 *   record      04 ‖ len u16 BE (16..4093) ‖ ciphertext
 *
 * Sans-I/O: the caller moves bytes. Every failure after setup moves the state
 * to DEAD and wipes every key; DEAD answers -EPIPE from then on.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "ts2021/controlbase.h"
#include "crypto/aead.h"

#define CB_PROTOCOL_NAME   "Noise_IK_25519_ChaChaPoly_BLAKE2s"
#define CB_PROLOGUE_PREFIX "Tailscale Control Protocol v"

enum {
    CB_INIT_HEADER_LEN = 5,
    CB_INIT_BODY_LEN = CONTROLBASE_INITIATION_LEN - CB_INIT_HEADER_LEN,   /* 96 */
    CB_RESP_BODY_LEN = CONTROLBASE_RESPONSE_LEN - CONTROLBASE_HEADER_LEN, /* 48 */
    CB_MAX_CIPHERTEXT = CONTROLBASE_MAX_FRAME - CONTROLBASE_HEADER_LEN,   /* 4093 */
    CB_MAX_ERROR_TEXT = UINT16_MAX,
    /* "Tailscale Control Protocol v" + up to 5 digits + NUL */
    CB_PROLOGUE_CAP = sizeof(CB_PROLOGUE_PREFIX) + 5,
};

_Static_assert((int)CB_INIT_BODY_LEN == (int)NOISE_MSG1_OVERHEAD,
               "initiation = msg1 with empty payload");
_Static_assert((int)CB_RESP_BODY_LEN == (int)NOISE_MSG2_OVERHEAD,
               "response = msg2 with empty payload");
_Static_assert(CONTROLBASE_MAX_PLAINTEXT == 4077 && CB_MAX_CIPHERTEXT == 4093, "frame limits");
_Static_assert((int)AEAD_TAG_LEN == (int)NOISE_TAG_LEN, "tag size");
_Static_assert(sizeof(((struct controlbase *)0)->tx_key) == AEAD_KEY_LEN, "key size");

static inline uint16_t
get_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void
put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Any failure: forget every secret, remember only that we are dead. */
static int
die(struct controlbase *c, int err)
{
    controlbase_wipe(c);
    c->state = CONTROLBASE_STATE_DEAD;
    return err;
}

/* Common start of client_init/server_accept: a fresh handshake for version. */
static int
start(struct controlbase *c, bool is_client, uint16_t version,
      const uint8_t s_priv[static NOISE_KEY_LEN], const uint8_t *rs)
{
    char prologue[CB_PROLOGUE_CAP];
    int n;

    controlbase_wipe(c);
    c->is_client = is_client;
    c->version = version;
    n = snprintf(prologue, sizeof(prologue), CB_PROLOGUE_PREFIX "%u", (unsigned)version);
    if (n < 0 || (size_t)n >= sizeof(prologue))
        return -EINVAL;
    if (!noise_handshake_init(&c->hs, NOISE_PATTERN_IK, is_client, CB_PROTOCOL_NAME,
                              (const uint8_t *)prologue, (size_t)n, s_priv, rs, NULL))
        return -EINVAL;
    return 0;
}

/* After the last handshake message: keep h, split into keys, drop the handshake. */
static void
establish(struct controlbase *c)
{
    memcpy(c->handshake_hash, c->hs.h, sizeof(c->handshake_hash));
    /* The initiator sends with k1, the responder with k2: noise_split knows. */
    noise_split(&c->hs, c->tx_key, c->rx_key);
    noise_handshake_wipe(&c->hs);
    c->tx_nonce = 0;
    c->rx_nonce = 0;
    c->rlen = 0;
    c->state = CONTROLBASE_STATE_ESTABLISHED;
}

int
controlbase_client_init(struct controlbase *c, uint16_t version,
                        const uint8_t machine_priv[static NOISE_KEY_LEN],
                        const uint8_t server_pub[static NOISE_KEY_LEN], const uint8_t *e_priv,
                        uint8_t out[static CONTROLBASE_INITIATION_LEN])
{
    int ret;

    if (!c)
        return -EINVAL;
    if (!machine_priv || !server_pub || !out)
        return die(c, -EINVAL);
    ret = start(c, true, version, machine_priv, server_pub);
    if (ret < 0)
        return die(c, ret);

    put_be16(out, version);
    out[2] = CONTROLBASE_MSG_INITIATION;
    put_be16(out + 3, CB_INIT_BODY_LEN);
    ret = noise_write_msg1(&c->hs, e_priv, NULL, 0, out + CB_INIT_HEADER_LEN, CB_INIT_BODY_LEN);
    if (ret != CB_INIT_BODY_LEN) {
        sodium_memzero(out, CONTROLBASE_INITIATION_LEN);
        return die(c, ret < 0 ? ret : -EINVAL);
    }
    /* A fresh ephemeral was drawn (or copied); the handshake keeps e_priv for msg2. */
    c->state = CONTROLBASE_STATE_HANDSHAKE;
    return CONTROLBASE_INITIATION_LEN;
}

int
controlbase_client_finish(struct controlbase *c, const uint8_t *buf, size_t len, char *err,
                          size_t err_cap)
{
    size_t text_len, want, copy;
    int ret;

    if (!c)
        return -EINVAL;
    if (c->state == CONTROLBASE_STATE_DEAD)
        return -EPIPE;
    if (c->state != CONTROLBASE_STATE_HANDSHAKE || !c->is_client)
        return -EINVAL;
    if (err && err_cap)
        err[0] = '\0';
    if (len && !buf)
        return -EINVAL;
    if (len == 0)
        return 0;

    switch (buf[0]) {
    case CONTROLBASE_MSG_RESPONSE:
        if (len < CONTROLBASE_HEADER_LEN)
            return 0;
        if (get_be16(buf + 1) != CB_RESP_BODY_LEN)
            return die(c, -EPROTO);
        if (len < CONTROLBASE_RESPONSE_LEN)
            return 0;
        ret = noise_read_msg2(&c->hs, buf + CONTROLBASE_HEADER_LEN, CB_RESP_BODY_LEN, NULL, 0);
        if (ret != 0)
            return die(c, -EBADMSG);
        /* The client's peer is the server key it dialled: nothing new is learnt. */
        memcpy(c->peer_static, c->hs.rs, sizeof(c->peer_static));
        establish(c);
        return CONTROLBASE_RESPONSE_LEN;
    case CONTROLBASE_MSG_ERROR:
        if (len < CONTROLBASE_HEADER_LEN)
            return 0;
        /*
         * The text is an unauthenticated hint. Wait for as much of it as
         * fits in err (a server may close right after a short frame, so
         * never wait for more than the frame holds).
         */
        text_len = get_be16(buf + 1);
        want = (err && err_cap) ? err_cap - 1 : 0;
        if (want > text_len)
            want = text_len;
        if (len - CONTROLBASE_HEADER_LEN < want)
            return 0;
        if (err && err_cap) {
            copy = want;
            memcpy(err, buf + CONTROLBASE_HEADER_LEN, copy);
            err[copy] = '\0';
        }
        return die(c, -ECONNREFUSED);
    default:
        return die(c, -EPROTO);
    }
}

int
controlbase_server_accept(struct controlbase *c, const uint8_t server_priv[static NOISE_KEY_LEN],
                          uint16_t min_version, const uint8_t *initiation, size_t len,
                          const uint8_t *e_priv, uint8_t out[static CONTROLBASE_RESPONSE_LEN])
{
    uint16_t version;
    int ret;

    if (!c)
        return -EINVAL;
    if (!server_priv || !out || (len && !initiation))
        return die(c, -EINVAL);
    if (len != CONTROLBASE_INITIATION_LEN || initiation[2] != CONTROLBASE_MSG_INITIATION ||
        get_be16(initiation + 3) != CB_INIT_BODY_LEN)
        return die(c, -EPROTO);
    version = get_be16(initiation);
    if (version < min_version)
        return die(c, -EPROTONOSUPPORT);

    /* The prologue carries the header's version, so a forged header fails below. */
    ret = start(c, false, version, server_priv, NULL);
    if (ret < 0)
        return die(c, ret);
    ret = noise_read_msg1(&c->hs, initiation + CB_INIT_HEADER_LEN, CB_INIT_BODY_LEN, NULL, 0);
    if (ret == -EINVAL)
        return die(c, -EINVAL);
    if (ret != 0)
        return die(c, -EBADMSG);
    memcpy(c->peer_static, c->hs.rs, sizeof(c->peer_static));

    out[0] = CONTROLBASE_MSG_RESPONSE;
    put_be16(out + 1, CB_RESP_BODY_LEN);
    ret = noise_write_msg2(&c->hs, e_priv, NULL, 0, out + CONTROLBASE_HEADER_LEN, CB_RESP_BODY_LEN);
    if (ret != CB_RESP_BODY_LEN) {
        sodium_memzero(out, CONTROLBASE_RESPONSE_LEN);
        /* A low-order client ephemeral makes ee all zero: the peer's fault. */
        return die(c, ret == -EINVAL ? -EINVAL : -EBADMSG);
    }
    establish(c);
    return CONTROLBASE_RESPONSE_LEN;
}

int
controlbase_error_frame(const char *text, uint8_t *out, size_t out_cap)
{
    size_t n = text ? strnlen(text, CB_MAX_ERROR_TEXT) : 0;

    if (!out || out_cap < CONTROLBASE_HEADER_LEN + n)
        return -ENOBUFS;
    out[0] = CONTROLBASE_MSG_ERROR;
    put_be16(out + 1, (uint16_t)n);
    if (n)
        memcpy(out + CONTROLBASE_HEADER_LEN, text, n);
    return (int)(CONTROLBASE_HEADER_LEN + n);
}

/* Records needed for len bytes: an empty write still sends one (empty) record. */
static size_t
record_count(size_t len)
{
    return len == 0 ? 1 : len / CONTROLBASE_MAX_PLAINTEXT + (len % CONTROLBASE_MAX_PLAINTEXT != 0);
}

size_t
controlbase_sealed_size(size_t plaintext_len)
{
    size_t overhead = record_count(plaintext_len) * (CONTROLBASE_HEADER_LEN + AEAD_TAG_LEN);

    if (plaintext_len > SIZE_MAX - overhead)
        return SIZE_MAX;
    return plaintext_len + overhead;
}

/* Records flow only once the handshake is done and until the first failure. */
static int
check_established(const struct controlbase *c)
{
    if (!c)
        return -EINVAL;
    if (c->state == CONTROLBASE_STATE_DEAD)
        return -EPIPE;
    if (c->state != CONTROLBASE_STATE_ESTABLISHED)
        return -ENOTCONN;
    return 0;
}

int
controlbase_write(struct controlbase *c, const uint8_t *plaintext, size_t len, uint8_t *out,
                  size_t out_cap)
{
    static const uint8_t empty[1];
    uint8_t nonce[AEAD_NONCE_LEN];
    size_t need, records, off = 0, pos = 0, chunk, i;
    int r;

    r = check_established(c);
    if (r < 0)
        return r;
    if ((len && !plaintext) || !out)
        return -EINVAL;
    need = controlbase_sealed_size(len);
    if (need > INT_MAX)
        return -EMSGSIZE;
    if (need > out_cap)
        return -ENOBUFS;
    /* Nonces tx_nonce .. tx_nonce + records − 1 must all stay below 2^64 − 1. */
    records = record_count(len);
    if ((uint64_t)records > UINT64_MAX - c->tx_nonce)
        return die(c, -EOVERFLOW);

    for (i = 0; i < records; i++) {
        chunk = len - pos < CONTROLBASE_MAX_PLAINTEXT ? len - pos : CONTROLBASE_MAX_PLAINTEXT;
        out[off] = CONTROLBASE_MSG_RECORD;
        put_be16(out + off + 1, (uint16_t)(chunk + AEAD_TAG_LEN));
        aead_nonce_be(nonce, c->tx_nonce);
        if (!aead_seal(out + off + CONTROLBASE_HEADER_LEN, chunk ? plaintext + pos : empty, chunk,
                       NULL, 0, nonce, c->tx_key)) {
            sodium_memzero(out, need);
            return die(c, -EIO);
        }
        c->tx_nonce++;
        pos += chunk;
        off += CONTROLBASE_HEADER_LEN + chunk + AEAD_TAG_LEN;
    }
    return (int)off;
}

/*
 * Check as much of a record header as have bytes show. Returns 0 when fine so
 * far (*frame_len set once the length is known), -EPROTO otherwise.
 */
static int
check_header(const uint8_t *h, size_t have, size_t *frame_len)
{
    size_t ct_len;

    if (have >= 1 && h[0] != CONTROLBASE_MSG_RECORD)
        return -EPROTO;
    if (have < CONTROLBASE_HEADER_LEN)
        return 0;
    ct_len = get_be16(h + 1);
    if (ct_len < AEAD_TAG_LEN || ct_len > CB_MAX_CIPHERTEXT)
        return -EPROTO;
    *frame_len = CONTROLBASE_HEADER_LEN + ct_len;
    return 0;
}

/* Open one whole record (header included); kills the connection on failure. */
static int
open_record(struct controlbase *c, const uint8_t *frame, size_t frame_len, uint8_t *out,
            size_t *out_len)
{
    uint8_t nonce[AEAD_NONCE_LEN];
    size_t ct_len = frame_len - CONTROLBASE_HEADER_LEN;

    if (c->rx_nonce == UINT64_MAX)
        return die(c, -EOVERFLOW);
    aead_nonce_be(nonce, c->rx_nonce);
    if (!aead_open(out, frame + CONTROLBASE_HEADER_LEN, ct_len, NULL, 0, nonce, c->rx_key))
        return die(c, -EBADMSG);
    c->rx_nonce++;
    *out_len = ct_len - AEAD_TAG_LEN;
    return 0;
}

int
controlbase_read(struct controlbase *c, const uint8_t *buf, size_t len, uint8_t *out,
                 size_t *out_len, bool *record_done)
{
    size_t used = 0, frame_len = 0, want, take;
    int ret;

    if (out_len)
        *out_len = 0;
    if (record_done)
        *record_done = false;
    ret = check_established(c);
    if (ret < 0)
        return ret;
    if ((len && !buf) || !out || !out_len || !record_done)
        return -EINVAL;

    /* Fast path: a whole record at the front of buf, nothing buffered. */
    if (c->rlen == 0 && len >= CONTROLBASE_HEADER_LEN) {
        if (check_header(buf, len, &frame_len) < 0)
            return die(c, -EPROTO);
        if (len >= frame_len) {
            ret = open_record(c, buf, frame_len, out, out_len);
            if (ret < 0)
                return ret;
            *record_done = true;
            return (int)frame_len;
        }
    }

    /* Slow path: accumulate one frame in rbuf; consume only what it needs. */
    if (c->rlen >= CONTROLBASE_HEADER_LEN && check_header(c->rbuf, c->rlen, &frame_len) < 0)
        return die(c, -EPROTO); /* not reached: checked when buffered */
    while (used < len) {
        if (c->rlen < CONTROLBASE_HEADER_LEN)
            want = CONTROLBASE_HEADER_LEN - c->rlen;
        else
            want = frame_len - c->rlen;
        take = len - used < want ? len - used : want;
        memcpy(c->rbuf + c->rlen, buf + used, take);
        c->rlen += take;
        used += take;
        if (check_header(c->rbuf, c->rlen, &frame_len) < 0)
            return die(c, -EPROTO);
        if (c->rlen >= CONTROLBASE_HEADER_LEN && c->rlen == frame_len) {
            ret = open_record(c, c->rbuf, frame_len, out, out_len);
            if (ret < 0)
                return ret;
            c->rlen = 0;
            *record_done = true;
            return (int)used;
        }
    }
    return (int)used;
}

void
controlbase_wipe(struct controlbase *c)
{
    if (c)
        sodium_memzero(c, sizeof(*c));
}
