/* SPDX-License-Identifier: MIT */
/*
 * nonce ‖ NaCl box with a precomputed key: what Tailscale's
 * types/key/node.go SealTo/OpenFrom (DERP info) and types/key/disco.go
 * DiscoShared Seal/Open (disco) put on the wire.
 */
#include <errno.h>
#include <pthread.h>

#include <sodium.h>

#include "magicsock/naclbox.h"

_Static_assert(NACLBOX_KEY_LEN == crypto_box_BEFORENMBYTES, "shared key size");
_Static_assert(NACLBOX_NONCE_LEN == crypto_box_NONCEBYTES, "nonce size");
_Static_assert(NACLBOX_OVERHEAD == crypto_box_NONCEBYTES + crypto_box_MACBYTES, "overhead");

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;

static void
sodium_init_once(void)
{
    /* Only fails if the system RNG is unusable; randombytes_buf aborts then. */
    if (sodium_init() < 0)
        return;
}

int
naclbox_shared(uint8_t k[NACLBOX_KEY_LEN], const uint8_t peer_pub[32], const uint8_t my_priv[32])
{
    pthread_once(&sodium_once, sodium_init_once);
    if (crypto_box_beforenm(k, peer_pub, my_priv) != 0) {
        randombytes_buf(k, NACLBOX_KEY_LEN);
        return -EINVAL;
    }
    return 0;
}

ssize_t
naclbox_seal(uint8_t *out, size_t cap, const uint8_t *plain, size_t plain_len,
             const uint8_t k[NACLBOX_KEY_LEN])
{
    pthread_once(&sodium_once, sodium_init_once);
    if (cap < NACLBOX_OVERHEAD || plain_len > cap - NACLBOX_OVERHEAD ||
        plain_len > crypto_box_MESSAGEBYTES_MAX)
        return -ENOBUFS;
    randombytes_buf(out, NACLBOX_NONCE_LEN);
    if (crypto_box_easy_afternm(out + NACLBOX_NONCE_LEN, plain, plain_len, out, k) != 0)
        return -ENOBUFS;
    return (ssize_t)(plain_len + NACLBOX_OVERHEAD);
}

ssize_t
naclbox_open(uint8_t *plain, size_t cap, const uint8_t *in, size_t in_len,
             const uint8_t k[NACLBOX_KEY_LEN])
{
    size_t plain_len;

    if (in_len < NACLBOX_OVERHEAD)
        return -EPROTO;
    plain_len = in_len - NACLBOX_OVERHEAD;
    if (plain_len > cap)
        return -ENOBUFS;
    if (crypto_box_open_easy_afternm(plain, in + NACLBOX_NONCE_LEN, in_len - NACLBOX_NONCE_LEN, in,
                                     k) != 0)
        return -EBADMSG;
    return (ssize_t)plain_len;
}
