/* SPDX-License-Identifier: MIT */
/*
 * BLAKE2s (RFC 7693) over libb2, HMAC-BLAKE2s (RFC 2104) and the Noise HKDF
 * (Noise spec rev 34 §4.3, which is RFC 5869 with salt = ck, empty info).
 *
 * libb2 only fails on bad parameters (outlen 0 or > 32, keylen > 32, NULL with
 * a length); those are programming errors here, so they abort rather than
 * leave an output buffer unwritten.
 */
#include <blake2.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/blake2s.h"

_Static_assert(sizeof(blake2s_state) <= sizeof(struct b2s_state),
               "struct b2s_state is too small for libb2's blake2s_state");
_Static_assert(alignof(blake2s_state) <= alignof(struct b2s_state),
               "struct b2s_state is under-aligned for libb2's blake2s_state");
_Static_assert((int)BLAKE2S_OUTBYTES == (int)B2S_HASH_LEN &&
                   (int)BLAKE2S_BLOCKBYTES == (int)B2S_BLOCK_LEN &&
                   (int)BLAKE2S_KEYBYTES == (int)B2S_KEY_MAX,
               "libb2 constants differ");

static blake2s_state *
state_of(struct b2s_state *s)
{
    return (blake2s_state *)(void *)s->opaque;
}

static void
check(int r)
{
    if (r != 0)
        abort();
}

void
b2s_init(struct b2s_state *s, size_t outlen)
{
    check(blake2s_init(state_of(s), outlen));
}

void
b2s_init_key(struct b2s_state *s, size_t outlen, const uint8_t *key, size_t keylen)
{
    if (keylen == 0) {
        b2s_init(s, outlen);
        return;
    }
    check(blake2s_init_key(state_of(s), outlen, key, keylen));
}

void
b2s_update(struct b2s_state *s, const void *in, size_t inlen)
{
    if (inlen == 0)
        return;
    check(blake2s_update(state_of(s), in, inlen));
}

/* Writes outlen bytes (the length given at init) and wipes the state. */
void
b2s_final(struct b2s_state *s, uint8_t *out, size_t outlen)
{
    check(blake2s_final(state_of(s), out, outlen));
    sodium_memzero(s, sizeof(*s));
}

void
b2s_hash(uint8_t *out, size_t outlen, const void *in, size_t inlen, const uint8_t *key,
         size_t keylen)
{
    struct b2s_state s;

    b2s_init_key(&s, outlen, key, keylen);
    b2s_update(&s, in, inlen);
    b2s_final(&s, out, outlen);
}

void
b2s_hmac(uint8_t out[static B2S_HASH_LEN], const uint8_t *key, size_t keylen, const void *in,
         size_t inlen)
{
    uint8_t k[B2S_BLOCK_LEN] = { 0 };
    uint8_t inner[B2S_HASH_LEN];
    struct b2s_state s;
    size_t i;

    /* Keys longer than a block are hashed first (RFC 2104 §2). */
    if (keylen > B2S_BLOCK_LEN)
        b2s_hash(k, B2S_HASH_LEN, key, keylen, NULL, 0);
    else if (keylen > 0)
        memcpy(k, key, keylen);

    for (i = 0; i < sizeof(k); i++)
        k[i] ^= 0x36;
    b2s_init(&s, B2S_HASH_LEN);
    b2s_update(&s, k, sizeof(k));
    b2s_update(&s, in, inlen);
    b2s_final(&s, inner, sizeof(inner));

    /* 0x36 ^ 0x5c turns the inner pad into the outer one. */
    for (i = 0; i < sizeof(k); i++)
        k[i] ^= 0x36 ^ 0x5c;
    b2s_init(&s, B2S_HASH_LEN);
    b2s_update(&s, k, sizeof(k));
    b2s_update(&s, inner, sizeof(inner));
    b2s_final(&s, out, B2S_HASH_LEN);

    sodium_memzero(k, sizeof(k));
    sodium_memzero(inner, sizeof(inner));
}

/*
 * temp = HMAC(ck, ikm); out1 = HMAC(temp, 0x01);
 * out2 = HMAC(temp, out1 || 0x02); out3 = HMAC(temp, out2 || 0x03).
 * Outputs go through locals so they may alias ck or ikm.
 */
void
b2s_hkdf(uint8_t out1[static B2S_HASH_LEN], uint8_t *out2, uint8_t *out3,
         const uint8_t ck[static B2S_HASH_LEN], const uint8_t *ikm, size_t ikmlen)
{
    uint8_t temp[B2S_HASH_LEN];
    uint8_t t[3][B2S_HASH_LEN];
    uint8_t buf[B2S_HASH_LEN + 1];

    b2s_hmac(temp, ck, B2S_HASH_LEN, ikm, ikmlen);

    buf[0] = 1;
    b2s_hmac(t[0], temp, sizeof(temp), buf, 1);

    if (out2 || out3) {
        memcpy(buf, t[0], B2S_HASH_LEN);
        buf[B2S_HASH_LEN] = 2;
        b2s_hmac(t[1], temp, sizeof(temp), buf, sizeof(buf));
    }
    if (out3) {
        memcpy(buf, t[1], B2S_HASH_LEN);
        buf[B2S_HASH_LEN] = 3;
        b2s_hmac(t[2], temp, sizeof(temp), buf, sizeof(buf));
    }

    memcpy(out1, t[0], B2S_HASH_LEN);
    if (out2)
        memcpy(out2, t[1], B2S_HASH_LEN);
    if (out3)
        memcpy(out3, t[2], B2S_HASH_LEN);

    sodium_memzero(temp, sizeof(temp));
    sodium_memzero(t, sizeof(t));
    sodium_memzero(buf, sizeof(buf));
}
