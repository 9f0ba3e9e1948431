/* SPDX-License-Identifier: MIT */
/*
 * ChaCha20-Poly1305 (RFC 8439 §2.8) with two interchangeable backends, and
 * XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha) from libsodium.
 *
 * OpenSSL: each thread owns one EVP_CIPHER_CTX, bound to the cipher once and
 * re-keyed per call (EVP_*Init_ex with a NULL cipher), so the packet path never
 * allocates. The context is freed by a pthread key destructor at thread exit,
 * which also cleanses the key schedule it holds.
 * libsodium: the *_ietf_*_detached functions, which verify before decrypting.
 *
 * Backend choice: aead_set_backend() wins; otherwise HYPHAE_AEAD=openssl|libsodium,
 * read once; otherwise AEAD_DEFAULT_BACKEND from the build (meson -Daead=).
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "common/compiler.h"
#include "crypto/aead.h"

#ifndef AEAD_DEFAULT_BACKEND
#define AEAD_DEFAULT_BACKEND AEAD_BACKEND_OPENSSL
#endif

_Static_assert(crypto_aead_chacha20poly1305_ietf_ABYTES == AEAD_TAG_LEN, "tag length");
_Static_assert(crypto_aead_chacha20poly1305_ietf_NPUBBYTES == AEAD_NONCE_LEN, "nonce length");
_Static_assert(crypto_aead_chacha20poly1305_ietf_KEYBYTES == AEAD_KEY_LEN, "key length");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == AEAD_XNONCE_LEN, "xnonce length");

/*
 * OpenSSL's EVP costs ~0.6 µs per call before any data (parameter lookups by
 * name for the tag), so below this size libsodium is faster (bench-aead here:
 * 64 B seal 0.36 µs vs 0.64 µs) and serves the OpenSSL backend's small packets
 * (TCP ACKs, keepalives).
 */
enum { AEAD_OPENSSL_MIN = 256 };

/* EVP lengths are int: feed larger inputs in pieces (a multiple of the block). */
enum { EVP_CHUNK = 1 << 30 };

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static atomic_int backend = -1;
static EVP_CIPHER *evp_chacha;
static pthread_key_t ctx_key;
static bool ctx_key_ok;
static _Thread_local EVP_CIPHER_CTX *thread_ctx;

/* Runs in the exiting thread, so it can also forget the thread-local pointer. */
static void
ctx_destroy(void *p)
{
    if (thread_ctx == p)
        thread_ctx = NULL;
    EVP_CIPHER_CTX_free(p);
}

static void
global_init(void)
{
    enum aead_backend b = AEAD_DEFAULT_BACKEND;
    const char *env;
    int r;

    /*
     * sodium_init() selects libsodium's SIMD ChaCha20; it only fails when the
     * system RNG is unusable, and the portable code still works then.
     */
    r = sodium_init();
    (void)r;
    evp_chacha = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
    ctx_key_ok = pthread_key_create(&ctx_key, ctx_destroy) == 0;

    env = secure_getenv("HYPHAE_AEAD");
    if (env && strcmp(env, "openssl") == 0)
        b = AEAD_BACKEND_OPENSSL;
    else if (env && strcmp(env, "libsodium") == 0)
        b = AEAD_BACKEND_LIBSODIUM;
    if (!evp_chacha)
        b = AEAD_BACKEND_LIBSODIUM;
    atomic_store(&backend, (int)b);
}

static inline void
ensure_init(void)
{
    pthread_once(&global_once, global_init);
}

void
aead_set_backend(enum aead_backend b)
{
    ensure_init();
    atomic_store(&backend, (int)b);
}

enum aead_backend
aead_get_backend(void)
{
    ensure_init();
    return (enum aead_backend)atomic_load_explicit(&backend, memory_order_relaxed);
}

const char *
aead_backend_name(enum aead_backend b)
{
    switch (b) {
    case AEAD_BACKEND_OPENSSL:
        return "openssl";
    case AEAD_BACKEND_LIBSODIUM:
        return "libsodium";
    }
    return "unknown";
}

void
aead_nonce_le(uint8_t nonce[static AEAD_NONCE_LEN], uint64_t counter)
{
    int i;

    memset(nonce, 0, 4);
    for (i = 0; i < 8; i++)
        nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

void
aead_nonce_be(uint8_t nonce[static AEAD_NONCE_LEN], uint64_t counter)
{
    int i;

    memset(nonce, 0, 4);
    for (i = 0; i < 8; i++)
        nonce[11 - i] = (uint8_t)(counter >> (8 * i));
}

/* ---- OpenSSL ---------------------------------------------------------- */

static EVP_CIPHER_CTX *
get_thread_ctx(void)
{
    EVP_CIPHER_CTX *ctx = thread_ctx;

    if (likely(ctx))
        return ctx;
    if (!evp_chacha || !ctx_key_ok)
        return NULL;
    ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return NULL;
    if (EVP_CipherInit_ex(ctx, evp_chacha, NULL, NULL, NULL, 1) != 1 ||
        pthread_setspecific(ctx_key, ctx) != 0) {
        EVP_CIPHER_CTX_free(ctx);
        return NULL;
    }
    thread_ctx = ctx;
    return ctx;
}

/* out NULL feeds additional data. */
static bool
evp_update(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *in, size_t len)
{
    while (len > 0) {
        int n = (int)MIN(len, (size_t)EVP_CHUNK);
        int outl = 0;

        if (EVP_CipherUpdate(ctx, out, &outl, in, n) != 1)
            return false;
        if (out) {
            if (outl != n)
                return false;
            out += n;
        }
        in += n;
        len -= (size_t)n;
    }
    return true;
}

static bool
openssl_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
             const uint8_t nonce[static AEAD_NONCE_LEN], const uint8_t key[static AEAD_KEY_LEN])
{
    EVP_CIPHER_CTX *ctx = get_thread_ctx();
    int outl = 0;

    if (unlikely(!ctx))
        return false;
    if (EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) != 1)
        return false;
    if (!evp_update(ctx, NULL, ad, adlen) || !evp_update(ctx, dst, src, len))
        return false;
    if (EVP_EncryptFinal_ex(ctx, dst + len, &outl) != 1 || outl != 0)
        return false;
    return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG_LEN, dst + len) == 1;
}

static bool
openssl_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
             const uint8_t nonce[static AEAD_NONCE_LEN], const uint8_t key[static AEAD_KEY_LEN])
{
    EVP_CIPHER_CTX *ctx = get_thread_ctx();
    size_t ctlen = len - AEAD_TAG_LEN;
    uint8_t tag[AEAD_TAG_LEN];
    int outl = 0;
    bool ok = false;

    if (unlikely(!ctx))
        return false;
    /* The tag is read before any plaintext is written, so dst may equal src. */
    memcpy(tag, src + ctlen, AEAD_TAG_LEN);
    if (EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG_LEN, tag) != 1)
        goto out;
    if (!evp_update(ctx, NULL, ad, adlen) || !evp_update(ctx, dst, src, ctlen))
        goto out;
    /* Final writes nothing for this cipher; dst may be NULL when ctlen is 0. */
    ok = EVP_DecryptFinal_ex(ctx, dst ? dst + ctlen : tag, &outl) == 1 && outl == 0;
out:
    /* OpenSSL decrypts before it verifies: never leave unauthenticated plaintext. */
    if (!ok && ctlen > 0)
        sodium_memzero(dst, ctlen);
    return ok;
}

/* ---- libsodium -------------------------------------------------------- */

static bool
sodium_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
            const uint8_t nonce[static AEAD_NONCE_LEN], const uint8_t key[static AEAD_KEY_LEN])
{
    return crypto_aead_chacha20poly1305_ietf_encrypt_detached(dst, dst + len, NULL, src, len, ad,
                                                              adlen, NULL, nonce, key) == 0;
}

static bool
sodium_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
            const uint8_t nonce[static AEAD_NONCE_LEN], const uint8_t key[static AEAD_KEY_LEN])
{
    size_t ctlen = len - AEAD_TAG_LEN;

    return crypto_aead_chacha20poly1305_ietf_decrypt_detached(dst, NULL, src, ctlen, src + ctlen,
                                                              ad, adlen, nonce, key) == 0;
}

/* ---- public ----------------------------------------------------------- */

bool
aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
          const uint8_t nonce[static AEAD_NONCE_LEN], const uint8_t key[static AEAD_KEY_LEN])
{
    if (unlikely(len > SIZE_MAX - AEAD_TAG_LEN))
        return false;
    if (aead_get_backend() == AEAD_BACKEND_OPENSSL && len >= AEAD_OPENSSL_MIN)
        return openssl_seal(dst, src, len, ad, adlen, nonce, key);
    return sodium_seal(dst, src, len, ad, adlen, nonce, key);
}

bool
aead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
          const uint8_t nonce[static AEAD_NONCE_LEN], const uint8_t key[static AEAD_KEY_LEN])
{
    if (unlikely(len < AEAD_TAG_LEN))
        return false;
    if (aead_get_backend() == AEAD_BACKEND_OPENSSL && len >= AEAD_OPENSSL_MIN + AEAD_TAG_LEN)
        return openssl_open(dst, src, len, ad, adlen, nonce, key);
    return sodium_open(dst, src, len, ad, adlen, nonce, key);
}

bool
xaead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
           const uint8_t nonce[static AEAD_XNONCE_LEN], const uint8_t key[static AEAD_KEY_LEN])
{
    ensure_init();
    if (unlikely(len > SIZE_MAX - AEAD_TAG_LEN))
        return false;
    return crypto_aead_xchacha20poly1305_ietf_encrypt_detached(dst, dst + len, NULL, src, len, ad,
                                                               adlen, NULL, nonce, key) == 0;
}

bool
xaead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
           const uint8_t nonce[static AEAD_XNONCE_LEN], const uint8_t key[static AEAD_KEY_LEN])
{
    size_t ctlen;

    ensure_init();
    if (unlikely(len < AEAD_TAG_LEN))
        return false;
    ctlen = len - AEAD_TAG_LEN;
    return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(dst, NULL, src, ctlen, src + ctlen,
                                                               ad, adlen, nonce, key) == 0;
}
