/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The NaCl box framing DERP's info frames and disco share: nonce(24) ‖
 * crypto_box_easy_afternm(plain), keyed with a precomputed shared key
 * (crypto_box_beforenm). Private to magicsock's codecs.
 */
enum {
    NACLBOX_KEY_LEN = 32,
    NACLBOX_NONCE_LEN = 24,
    NACLBOX_OVERHEAD = NACLBOX_NONCE_LEN + 16, /* nonce + Poly1305 tag */
};

/*
 * k = the shared key of (peer_pub, my_priv). Returns 0, or -EINVAL when the
 * X25519 result is all zero (a low-order peer key); k is then random, so
 * nothing opens with it and nothing sealed with it can be read.
 */
int naclbox_shared(uint8_t k[NACLBOX_KEY_LEN], const uint8_t peer_pub[32],
                   const uint8_t my_priv[32]);
/* out = random nonce ‖ box(plain). Length, or -ENOBUFS when cap is too small. */
ssize_t naclbox_seal(uint8_t *out, size_t cap, const uint8_t *plain, size_t plain_len,
                     const uint8_t k[NACLBOX_KEY_LEN]);
/* plain from nonce ‖ box: length, -EPROTO (shorter than the overhead), -ENOBUFS, -EBADMSG. */
ssize_t naclbox_open(uint8_t *plain, size_t cap, const uint8_t *in, size_t in_len,
                     const uint8_t k[NACLBOX_KEY_LEN]);
