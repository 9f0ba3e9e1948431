/* SPDX-License-Identifier: MIT */
/*
 * WireGuard handshake (whitepaper §5.4): Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s
 * with prologue "WireGuard v1 zx2c4 Jason@zx2c4.com".
 *   initiation: sender, e, enc(S_i), enc(TAI64N), mac1, mac2
 *   response:   sender, receiver, e, enc(empty), mac1, mac2
 * The responder accepts an initiation only if its timestamp is strictly newer
 * than the last accepted one from that peer and at most 50 per second.
 */
#include "wg/handshake.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "common/log.h"
#include "crypto/keys.h"
#include "wg/device-private.h"
#include "wg/index.h"

void
wg_tai64n_now(uint8_t out[static WG_TIMESTAMP_LEN], int64_t realtime_ns)
{
    /* Whiten the low bits so the timestamp does not leak fine-grained time
     * (the kernel rounds down to a power of two below 1 s / 50). */
    uint64_t ns = (uint64_t)realtime_ns % 1000000000ULL;
    uint64_t secs = (uint64_t)realtime_ns / 1000000000ULL + (1ULL << 62) + 10;

    ns &= ~((1ULL << 24) - 1);
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(secs >> (56 - 8 * i));
    for (int i = 0; i < 4; i++)
        out[8 + i] = (uint8_t)(ns >> (24 - 8 * i));
}

static void
handshake_unindex(struct wg_device *dev, struct wg_peer *peer)
{
    if (peer->handshake.in_index_table) {
        wg_device_index_remove(dev, peer->handshake.local_index);
        peer->handshake.in_index_table = false;
    }
}

bool
wg_handshake_create_initiation(struct wg_device *dev, struct wg_peer *peer,
                               struct wg_message_handshake_initiation *msg, uint64_t now_ns)
{
    struct wg_handshake *hs = &peer->handshake;
    uint8_t timestamp[WG_TIMESTAMP_LEN];
    int r;

    wg_device_assert_locked(dev);
    if (!dev->has_private_key)
        return false;
    handshake_unindex(dev, peer);
    noise_handshake_wipe(&hs->noise);
    if (!noise_handshake_init(&hs->noise, NOISE_PATTERN_IKPSK2, true, WG_CONSTRUCTION,
                              (const uint8_t *)WG_IDENTIFIER, strlen(WG_IDENTIFIER),
                              dev->private_key, peer->public_key, peer->preshared_key))
        goto fail;
    wg_tai64n_now(timestamp, (int64_t)now_ns + dev->realtime_offset_ns);
    memset(msg, 0, sizeof(*msg));
    msg->type = WG_MESSAGE_HANDSHAKE_INITIATION;
    r = noise_write_msg1(&hs->noise, NULL, timestamp, sizeof(timestamp), msg->ephemeral,
                         sizeof(msg->ephemeral) + sizeof(msg->encrypted_static) +
                             sizeof(msg->encrypted_timestamp));
    if (r != NOISE_MSG1_OVERHEAD + WG_TIMESTAMP_LEN)
        goto fail;
    hs->local_index = wg_device_index_add(dev, peer, NULL);
    hs->in_index_table = true;
    hs->state = WG_HANDSHAKE_CREATED_INITIATION;
    msg->sender_index = hs->local_index;
    return true;
fail:
    wg_peer_clear_handshake(peer);
    return false;
}

struct wg_peer *
wg_handshake_consume_initiation(struct wg_device *dev,
                                const struct wg_message_handshake_initiation *msg, uint64_t now_ns)
{
    struct noise_handshake hs;
    uint8_t timestamp[WG_TIMESTAMP_LEN];
    struct wg_peer *peer = NULL;
    bool replay, flood;
    int r;

    wg_device_assert_locked(dev);
    if (!dev->has_private_key)
        return NULL;
    if (!noise_handshake_init(&hs, NOISE_PATTERN_IKPSK2, false, WG_CONSTRUCTION,
                              (const uint8_t *)WG_IDENTIFIER, strlen(WG_IDENTIFIER),
                              dev->private_key, NULL, NULL))
        goto out;
    r = noise_read_msg1(&hs, msg->ephemeral,
                        sizeof(msg->ephemeral) + sizeof(msg->encrypted_static) +
                            sizeof(msg->encrypted_timestamp),
                        timestamp, sizeof(timestamp));
    if (r != WG_TIMESTAMP_LEN)
        goto out;
    peer = wg_device_lookup_peer(dev, hs.rs);
    if (!peer) {
        engine_debug(ENGINE_LOG_WG, "Ignoring handshake initiation from unknown %s",
                     wg_public_key_name(hs.rs, (char[WG_PEER_NAME_LEN]){ 0 }));
        goto out;
    }

    /* Strictly newer timestamp, and no more than 50 initiations a second. */
    replay = memcmp(timestamp, peer->latest_timestamp, WG_TIMESTAMP_LEN) <= 0;
    flood = peer->has_consumed_initiation &&
            now_ns - peer->last_initiation_consumed_ns < WG_INITIATION_INTERVAL;
    if (replay || flood) {
        engine_debug(ENGINE_LOG_WG, "%s - Ignoring handshake initiation: %s", WG_PEER_NAME(peer),
                     replay ? "timestamp not newer (replay)" : "more than 50 per second");
        peer = NULL;
        goto out;
    }

    memcpy(hs.psk, peer->preshared_key, WG_KEY_LEN);
    memcpy(peer->latest_timestamp, timestamp, WG_TIMESTAMP_LEN);
    peer->last_initiation_consumed_ns = now_ns;
    peer->has_consumed_initiation = true;
    handshake_unindex(dev, peer);
    noise_handshake_wipe(&peer->handshake.noise);
    peer->handshake.noise = hs;
    peer->handshake.remote_index = msg->sender_index;
    peer->handshake.state = WG_HANDSHAKE_CONSUMED_INITIATION;
out:
    noise_handshake_wipe(&hs);
    return peer;
}

bool
wg_handshake_create_response(struct wg_device *dev, struct wg_peer *peer,
                             struct wg_message_handshake_response *msg, uint64_t now_ns)
{
    struct wg_handshake *hs = &peer->handshake;
    int r;

    wg_device_assert_locked(dev);
    if (hs->state != WG_HANDSHAKE_CONSUMED_INITIATION)
        return false;
    memset(msg, 0, sizeof(*msg));
    msg->type = WG_MESSAGE_HANDSHAKE_RESPONSE;
    msg->receiver_index = hs->remote_index;
    r = noise_write_msg2(&hs->noise, NULL, NULL, 0, msg->ephemeral,
                         sizeof(msg->ephemeral) + sizeof(msg->encrypted_nothing));
    if (r != NOISE_MSG2_OVERHEAD) {
        wg_peer_clear_handshake(peer);
        return false;
    }
    hs->local_index = wg_device_index_add(dev, peer, NULL);
    hs->in_index_table = true;
    msg->sender_index = hs->local_index;
    return true;
}

struct wg_peer *
wg_handshake_consume_response(struct wg_device *dev,
                              const struct wg_message_handshake_response *msg, uint64_t now_ns)
{
    struct wg_index_entry *e = wg_device_index_find(dev, msg->receiver_index);
    struct noise_handshake hs;
    struct wg_peer *peer;
    int r;

    wg_device_assert_locked(dev);
    if (!e || e->keypair || !dev->has_private_key)
        return NULL;
    peer = e->peer;
    if (peer->handshake.state != WG_HANDSHAKE_CREATED_INITIATION)
        return NULL;
    /* Work on a copy: a forged response must not spoil the real handshake. */
    hs = peer->handshake.noise;
    r = noise_read_msg2(&hs, msg->ephemeral,
                        sizeof(msg->ephemeral) + sizeof(msg->encrypted_nothing), NULL, 0);
    if (r != 0) {
        noise_handshake_wipe(&hs);
        return NULL;
    }
    noise_handshake_wipe(&peer->handshake.noise);
    peer->handshake.noise = hs;
    noise_handshake_wipe(&hs);
    peer->handshake.remote_index = msg->sender_index;
    peer->handshake.state = WG_HANDSHAKE_CONSUMED_RESPONSE;
    return peer;
}

bool
wg_handshake_begin_session(struct wg_device *dev, struct wg_peer *peer, uint64_t now_ns)
{
    struct wg_handshake *hs = &peer->handshake;
    uint8_t send[WG_KEY_LEN], recv[WG_KEY_LEN];
    struct wg_keypair *kp;
    bool initiator = hs->noise.initiator;
    bool ok = false;

    wg_device_assert_locked(dev);
    noise_split(&hs->noise, send, recv);
    kp = wg_keypair_new(peer, send, recv, initiator, now_ns);
    if (!kp)
        goto out;
    kp->remote_index = hs->remote_index;
    /* The index we sent in our handshake message now names the keypair:
     * the other side addresses its data packets to it. */
    if (hs->in_index_table) {
        struct wg_index_entry *e = wg_device_index_find(dev, hs->local_index);

        e->keypair = kp;
        kp->local_index = hs->local_index;
        kp->in_index_table = true;
        hs->in_index_table = false;
    } else {
        kp->local_index = wg_device_index_add(dev, peer, kp);
        kp->in_index_table = true;
    }
    wg_peer_clear_handshake(peer);
    wg_peer_add_keypair(peer, kp);
    ok = true;
out:
    sodium_memzero(send, sizeof(send));
    sodium_memzero(recv, sizeof(recv));
    return ok;
}
