/* SPDX-License-Identifier: MIT */
/*
 * Noise IK and IKpsk2 over 25519, ChaChaPoly and BLAKE2s (Noise spec rev 34).
 *
 *   Initialize: h = HASH(name) if len(name) > 32 else name zero-padded; ck = h;
 *               MixHash(prologue); MixHash(responder static)     (<- s)
 *   msg1 -> e:  MixHash(e.pub) [psk: MixKey(e.pub)]
 *           es: MixKey(DH(e, rs))      s: EncryptAndHash(s.pub)
 *           ss: MixKey(DH(s, rs))      EncryptAndHash(payload)
 *   msg2 <- e:  MixHash(e.pub) [psk: MixKey(e.pub)]
 *           ee: MixKey(DH(e, re))     se: MixKey(DH(s_init, e_resp))
 *           [psk: MixKeyAndHash(psk)] EncryptAndHash(payload)
 *   Split:  (k1, k2) = HKDF(ck, "")
 *
 * MixKey: (ck, k) = HKDF(ck, ikm), n = 0. MixKeyAndHash: (ck, t, k) =
 * HKDF(ck, psk), MixHash(t), n = 0. EncryptAndHash: c = AEAD(k, n++, h, p),
 * MixHash(c). The AEAD nonce is 4 zero bytes then n little-endian (§12.3).
 *
 * Each message works on a stack copy of (ck, h) plus the cipher key, committed
 * to the handshake only on success and wiped at out: in every case. Any failure
 * wipes the whole handshake: the caller starts over with noise_handshake_init().
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <sodium.h>

#include "crypto/aead.h"
#include "crypto/blake2s.h"
#include "crypto/keys.h"
#include "noise/noise.h"

_Static_assert((int)NOISE_KEY_LEN == (int)KEY_LEN && (int)NOISE_KEY_LEN == (int)AEAD_KEY_LEN,
               "key sizes");
_Static_assert((int)NOISE_HASH_LEN == (int)B2S_HASH_LEN && (int)NOISE_TAG_LEN == (int)AEAD_TAG_LEN,
               "hash/tag sizes");

/* The SymmetricState and CipherState of the spec (§5.1, §5.2). */
struct symmetric {
    uint8_t ck[NOISE_HASH_LEN];
    uint8_t h[NOISE_HASH_LEN];
    uint8_t k[NOISE_KEY_LEN];
    uint64_t n;
    bool has_key;
};

static void
hash_into(uint8_t h[static NOISE_HASH_LEN], const void *data, size_t len)
{
    struct b2s_state s;

    b2s_init(&s, NOISE_HASH_LEN);
    b2s_update(&s, h, NOISE_HASH_LEN);
    b2s_update(&s, data, len);
    b2s_final(&s, h, NOISE_HASH_LEN);
}

static void
sym_load(struct symmetric *st, const struct noise_handshake *hs)
{
    memcpy(st->ck, hs->ck, NOISE_HASH_LEN);
    memcpy(st->h, hs->h, NOISE_HASH_LEN);
    st->n = 0;
    st->has_key = false;
}

static void
sym_commit(struct noise_handshake *hs, const struct symmetric *st)
{
    memcpy(hs->ck, st->ck, NOISE_HASH_LEN);
    memcpy(hs->h, st->h, NOISE_HASH_LEN);
}

static void
sym_mix_key(struct symmetric *st, const uint8_t *ikm, size_t len)
{
    b2s_hkdf(st->ck, st->k, NULL, st->ck, ikm, len);
    st->n = 0;
    st->has_key = true;
}

static void
sym_mix_key_and_hash(struct symmetric *st, const uint8_t ikm[static NOISE_KEY_LEN])
{
    uint8_t t[NOISE_HASH_LEN];

    b2s_hkdf(st->ck, t, st->k, st->ck, ikm, NOISE_KEY_LEN);
    hash_into(st->h, t, sizeof(t));
    st->n = 0;
    st->has_key = true;
    sodium_memzero(t, sizeof(t));
}

/* MixKey(DH(priv, pub)); false if the result is all zero (low-order point). */
static bool
sym_mix_dh(struct symmetric *st, const uint8_t priv[static NOISE_KEY_LEN],
           const uint8_t pub[static NOISE_KEY_LEN])
{
    uint8_t dh[NOISE_KEY_LEN];
    bool ok = false;

    if (!key_x25519(dh, priv, pub))
        goto out;
    sym_mix_key(st, dh, sizeof(dh));
    ok = true;
out:
    sodium_memzero(dh, sizeof(dh));
    return ok;
}

/* out receives len + NOISE_TAG_LEN bytes once a key is set (always, in IK). */
static bool
sym_encrypt_and_hash(struct symmetric *st, uint8_t *out, const uint8_t *in, size_t len)
{
    uint8_t nonce[AEAD_NONCE_LEN];

    if (!st->has_key) {
        if (len)
            memmove(out, in, len);
        hash_into(st->h, out, len);
        return true;
    }
    if (st->n == UINT64_MAX)
        return false;
    aead_nonce_le(nonce, st->n);
    if (!aead_seal(out, in, len, st->h, NOISE_HASH_LEN, nonce, st->k))
        return false;
    st->n++;
    hash_into(st->h, out, len + NOISE_TAG_LEN);
    return true;
}

/* in holds len bytes including the tag when keyed; out may equal in. */
static bool
sym_decrypt_and_hash(struct symmetric *st, uint8_t *out, const uint8_t *in, size_t len)
{
    uint8_t nonce[AEAD_NONCE_LEN];
    uint8_t next_h[NOISE_HASH_LEN];
    bool ok = false;

    /* Hash the ciphertext first: decrypting in place overwrites it. */
    memcpy(next_h, st->h, NOISE_HASH_LEN);
    hash_into(next_h, in, len);
    if (!st->has_key) {
        if (len)
            memmove(out, in, len);
    } else {
        if (st->n == UINT64_MAX)
            goto out;
        aead_nonce_le(nonce, st->n);
        if (!aead_open(out, in, len, st->h, NOISE_HASH_LEN, nonce, st->k))
            goto out;
        st->n++;
    }
    memcpy(st->h, next_h, NOISE_HASH_LEN);
    ok = true;
out:
    sodium_memzero(next_h, sizeof(next_h));
    return ok;
}

/* The "e" token on the sending side: pick the ephemeral, write and mix it. */
static int
write_e(struct noise_handshake *hs, struct symmetric *st, const uint8_t *e_priv,
        uint8_t out[static NOISE_KEY_LEN])
{
    if (e_priv)
        memcpy(hs->e_priv, e_priv, NOISE_KEY_LEN);
    else
        key_generate_private(hs->e_priv);
    if (!key_public_from_private(hs->e_pub, hs->e_priv))
        return -EINVAL;
    memcpy(out, hs->e_pub, NOISE_KEY_LEN);
    hash_into(st->h, hs->e_pub, NOISE_KEY_LEN);
    if (hs->pattern == NOISE_PATTERN_IKPSK2)
        sym_mix_key(st, hs->e_pub, NOISE_KEY_LEN);
    return 0;
}

/* The "e" token on the receiving side. */
static void
read_e(struct noise_handshake *hs, struct symmetric *st, const uint8_t in[static NOISE_KEY_LEN])
{
    memcpy(hs->re, in, NOISE_KEY_LEN);
    hash_into(st->h, hs->re, NOISE_KEY_LEN);
    if (hs->pattern == NOISE_PATTERN_IKPSK2)
        sym_mix_key(st, hs->re, NOISE_KEY_LEN);
}

/* A write's first steps: check the arguments, load (ck, h), send "e". */
static int
start_write(struct noise_handshake *hs, struct symmetric *st, bool initiator, const uint8_t *e_priv,
            const uint8_t *payload, size_t payload_len, uint8_t *out, size_t out_cap,
            size_t overhead)
{
    sym_load(st, hs);
    if (hs->initiator != initiator || key_is_zero(hs->s_priv) || (payload_len && !payload) || !out)
        return -EINVAL;
    if (payload_len > (size_t)INT_MAX - overhead)
        return -EMSGSIZE;
    if (out_cap < payload_len + overhead)
        return -ENOSPC;
    return write_e(hs, st, e_priv, out);
}

/* A read's first steps: check the arguments (*payload_len set), load (ck, h), take "e". */
static int
start_read(struct noise_handshake *hs, struct symmetric *st, bool initiator, const uint8_t *msg,
           size_t len, const uint8_t *payload, size_t payload_cap, size_t overhead,
           size_t *payload_len)
{
    sym_load(st, hs);
    if (hs->initiator != initiator || key_is_zero(hs->s_priv) || !msg)
        return -EINVAL;
    if (len < overhead || len - overhead > (size_t)INT_MAX)
        return -EBADMSG;
    *payload_len = len - overhead;
    if (payload_cap < *payload_len || (*payload_len && !payload))
        return -ENOSPC;
    read_e(hs, st, msg);
    return 0;
}

/* A message's last step: commit (ck, h) on success, else wipe the handshake; ret passes through. */
static int
end_message(struct noise_handshake *hs, struct symmetric *st, int ret)
{
    if (ret >= 0)
        sym_commit(hs, st);
    sodium_memzero(st, sizeof(*st));
    if (ret < 0)
        noise_handshake_wipe(hs);
    return ret;
}

void
noise_handshake_wipe(struct noise_handshake *hs)
{
    sodium_memzero(hs, sizeof(*hs));
}

void
noise_mix_hash(struct noise_handshake *hs, const void *data, size_t len)
{
    hash_into(hs->h, data, len);
}

bool
noise_handshake_init(struct noise_handshake *hs, enum noise_pattern pattern, bool initiator,
                     const char *protocol_name, const uint8_t *prologue, size_t prologue_len,
                     const uint8_t s_priv[static NOISE_KEY_LEN], const uint8_t *rs,
                     const uint8_t *psk)
{
    size_t name_len = protocol_name ? strlen(protocol_name) : 0;

    noise_handshake_wipe(hs);
    if (name_len == 0 || (initiator && !rs) || (prologue_len && !prologue))
        goto fail;
    if (pattern != NOISE_PATTERN_IK && pattern != NOISE_PATTERN_IKPSK2)
        goto fail;
    hs->pattern = pattern;
    hs->initiator = initiator;

    if (name_len > NOISE_HASH_LEN)
        b2s_hash(hs->h, NOISE_HASH_LEN, protocol_name, name_len, NULL, 0);
    else
        memcpy(hs->h, protocol_name, name_len); /* rest stays zero */
    memcpy(hs->ck, hs->h, NOISE_HASH_LEN);
    noise_mix_hash(hs, prologue, prologue_len);

    memcpy(hs->s_priv, s_priv, NOISE_KEY_LEN);
    if (!key_public_from_private(hs->s_pub, hs->s_priv))
        goto fail;
    if (initiator)
        memcpy(hs->rs, rs, NOISE_KEY_LEN);
    /* Pre-message "<- s": the responder's static key. */
    noise_mix_hash(hs, initiator ? hs->rs : hs->s_pub, NOISE_KEY_LEN);
    if (pattern == NOISE_PATTERN_IKPSK2 && psk)
        memcpy(hs->psk, psk, NOISE_KEY_LEN);
    return true;
fail:
    noise_handshake_wipe(hs);
    return false;
}

int
noise_write_msg1(struct noise_handshake *hs, const uint8_t *e_priv, const uint8_t *payload,
                 size_t payload_len, uint8_t *out, size_t out_cap)
{
    struct symmetric st;
    int ret;

    ret =
        start_write(hs, &st, true, e_priv, payload, payload_len, out, out_cap, NOISE_MSG1_OVERHEAD);
    if (ret < 0)
        goto out;
    ret = -EBADMSG;
    if (!sym_mix_dh(&st, hs->e_priv, hs->rs)) /* es */
        goto out;
    if (!sym_encrypt_and_hash(&st, out + 32, hs->s_pub, NOISE_KEY_LEN)) /* s */
        goto out;
    if (!sym_mix_dh(&st, hs->s_priv, hs->rs)) /* ss */
        goto out;
    if (!sym_encrypt_and_hash(&st, out + 32 + 48, payload, payload_len))
        goto out;
    ret = (int)(payload_len + NOISE_MSG1_OVERHEAD);
out:
    return end_message(hs, &st, ret);
}

int
noise_read_msg1(struct noise_handshake *hs, const uint8_t *msg, size_t len, uint8_t *payload,
                size_t payload_cap)
{
    struct symmetric st;
    uint8_t rs[NOISE_KEY_LEN];
    uint8_t dummy[1];
    size_t payload_len;
    int ret;

    ret = start_read(hs, &st, false, msg, len, payload, payload_cap, NOISE_MSG1_OVERHEAD,
                     &payload_len);
    if (ret < 0)
        goto out;
    if (!payload)
        payload = dummy;
    ret = -EBADMSG;
    if (!sym_mix_dh(&st, hs->s_priv, hs->re)) /* es */
        goto out;
    if (!sym_decrypt_and_hash(&st, rs, msg + 32, NOISE_KEY_LEN + NOISE_TAG_LEN)) /* s */
        goto out;
    if (!sym_mix_dh(&st, hs->s_priv, rs)) /* ss */
        goto out;
    if (!sym_decrypt_and_hash(&st, payload, msg + 32 + 48, payload_len + NOISE_TAG_LEN))
        goto out;
    memcpy(hs->rs, rs, NOISE_KEY_LEN);
    ret = (int)payload_len;
out:
    sodium_memzero(rs, sizeof(rs));
    return end_message(hs, &st, ret);
}

int
noise_write_msg2(struct noise_handshake *hs, const uint8_t *e_priv, const uint8_t *payload,
                 size_t payload_len, uint8_t *out, size_t out_cap)
{
    struct symmetric st;
    int ret;

    ret = start_write(hs, &st, false, e_priv, payload, payload_len, out, out_cap,
                      NOISE_MSG2_OVERHEAD);
    if (ret < 0)
        goto out;
    ret = -EBADMSG;
    if (!sym_mix_dh(&st, hs->e_priv, hs->re)) /* ee */
        goto out;
    if (!sym_mix_dh(&st, hs->e_priv, hs->rs)) /* se */
        goto out;
    if (hs->pattern == NOISE_PATTERN_IKPSK2)
        sym_mix_key_and_hash(&st, hs->psk); /* psk */
    if (!sym_encrypt_and_hash(&st, out + 32, payload, payload_len))
        goto out;
    ret = (int)(payload_len + NOISE_MSG2_OVERHEAD);
out:
    return end_message(hs, &st, ret);
}

int
noise_read_msg2(struct noise_handshake *hs, const uint8_t *msg, size_t len, uint8_t *payload,
                size_t payload_cap)
{
    struct symmetric st;
    uint8_t dummy[1];
    size_t payload_len;
    int ret;

    ret = start_read(hs, &st, true, msg, len, payload, payload_cap, NOISE_MSG2_OVERHEAD,
                     &payload_len);
    if (ret < 0)
        goto out;
    if (!payload)
        payload = dummy;
    ret = -EBADMSG;
    if (!sym_mix_dh(&st, hs->e_priv, hs->re)) /* ee */
        goto out;
    if (!sym_mix_dh(&st, hs->s_priv, hs->re)) /* se */
        goto out;
    if (hs->pattern == NOISE_PATTERN_IKPSK2)
        sym_mix_key_and_hash(&st, hs->psk); /* psk */
    if (!sym_decrypt_and_hash(&st, payload, msg + 32, payload_len + NOISE_TAG_LEN))
        goto out;
    ret = (int)payload_len;
out:
    return end_message(hs, &st, ret);
}

void
noise_split(struct noise_handshake *hs, uint8_t send[static NOISE_KEY_LEN],
            uint8_t recv[static NOISE_KEY_LEN])
{
    uint8_t k1[NOISE_KEY_LEN], k2[NOISE_KEY_LEN];

    b2s_hkdf(k1, k2, NULL, hs->ck, NULL, 0);
    memcpy(send, hs->initiator ? k1 : k2, NOISE_KEY_LEN);
    memcpy(recv, hs->initiator ? k2 : k1, NOISE_KEY_LEN);
    sodium_memzero(hs->ck, sizeof(hs->ck));
    sodium_memzero(hs->e_priv, sizeof(hs->e_priv));
    sodium_memzero(k1, sizeof(k1));
    sodium_memzero(k2, sizeof(k2));
}
