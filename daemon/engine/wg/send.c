/* SPDX-License-Identifier: MIT */
/*
 * The send path (kernel send.c; whitepaper §5.4.6): the TX batch routes
 * packets and reserves nonces under the device lock, seals outside it, and
 * counts under it again; packets without a session wait in the peer's queue
 * while a handshake initiation goes out. Keepalives leave the same way.
 */
#include "wg/device.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/compiler.h"
#include "common/log.h"
#include "crypto/aead.h"
#include "wg/allowedips.h"
#include "wg/device-private.h"
#include "wg/handshake.h"
#include "wg/timers.h"

void
wg_device_send_authenticated(struct wg_peer *peer, const uint8_t *data, size_t len, uint64_t now_ns)
{
    struct wg_device *dev = peer->device;

    wg_device_assert_locked(dev);
    /* Only a pinned peer has none here (cleared by the path machine). */
    if (peer->endpoint.addr.sa.sa_family == AF_UNSPEC)
        return;
    dev->send(dev->ctx, data, len, &peer->endpoint, peer->public_key);
    peer->tx_bytes += len;
    wg_timers_any_authenticated_packet_traversal(peer, now_ns);
    wg_timers_any_authenticated_packet_sent(peer);
}

void
wg_device_send_handshake_initiation(struct wg_peer *peer, bool is_retry, uint64_t now_ns)
{
    struct wg_device *dev = peer->device;
    struct wg_message_handshake_initiation msg;

    wg_device_assert_locked(dev);
    if (!is_retry)
        peer->handshake_attempts = 0;
    /* At most one initiation per REKEY_TIMEOUT. */
    if (peer->has_sent_handshake && now_ns - peer->last_sent_handshake_ns < WG_REKEY_TIMEOUT)
        return;
    if (peer->endpoint.addr.sa.sa_family == AF_UNSPEC || !dev->has_private_key)
        return;
    if (!wg_handshake_create_initiation(dev, peer, &msg, now_ns))
        return;
    wg_cookie_add_macs(&peer->cookie_maker, (uint8_t *)&msg, sizeof(msg), now_ns);
    peer->last_sent_handshake_ns = now_ns;
    peer->has_sent_handshake = true;
    engine_debug(ENGINE_LOG_WG, "%s - Sending handshake initiation to %s", WG_PEER_NAME(peer),
                 ENGINE_LOG_ADDR(&peer->endpoint.addr));
    wg_device_send_authenticated(peer, (const uint8_t *)&msg, sizeof(msg), now_ns);
    wg_timers_handshake_initiated(peer, now_ns);
    sodium_memzero(&msg, sizeof(msg));
}

static size_t
padded_len(size_t len, unsigned int mtu)
{
    size_t padded =
        (len + WG_MESSAGE_PADDING_MULTIPLE - 1) & ~(size_t)(WG_MESSAGE_PADDING_MULTIPLE - 1);

    if (len <= mtu && padded > mtu)
        padded = mtu;
    if (padded < len)
        padded = len;
    return padded;
}

/* Seal plaintext at buf+16 (len bytes) in place; returns the datagram length or 0. */
static size_t
seal_packet(uint8_t *buf, size_t len, size_t cap, const struct wg_keypair *kp, uint64_t counter,
            unsigned int mtu)
{
    struct wg_message_data *hdr = (struct wg_message_data *)buf;
    uint8_t nonce[AEAD_NONCE_LEN];
    size_t padded = padded_len(len, mtu);

    if (WG_DATA_OVERHEAD + padded > cap)
        padded = len;
    if (WG_DATA_OVERHEAD + padded > cap || WG_DATA_OVERHEAD + padded > WG_MESSAGE_MAX_LENGTH)
        return 0;
    memset(buf + 16 + len, 0, padded - len);
    hdr->type = WG_MESSAGE_DATA;
    hdr->key_idx = kp->remote_index;
    hdr->counter = counter;
    aead_nonce_le(nonce, counter);
    if (!aead_seal(buf + 16, buf + 16, padded, NULL, 0, nonce, kp->send_key))
        return 0;
    return WG_DATA_OVERHEAD + padded;
}

/* A keypair we may send with, or NULL. */
static struct wg_keypair *
sendable_keypair(struct wg_peer *peer, uint64_t now_ns)
{
    struct wg_keypair *kp = peer->kp_current;

    if (!kp || now_ns - kp->birth_ns >= WG_REJECT_AFTER_TIME)
        return NULL;
    if (atomic_load_explicit(&kp->send_counter, memory_order_relaxed) >=
        WG_REJECT_AFTER_MESSAGES_U64)
        return NULL;
    return kp;
}

/* Kernel send.c keep_key_fresh: the initiator rekeys after 120 s or 2^60 messages. */
static void
keep_key_fresh_send(struct wg_peer *peer, struct wg_keypair *kp, uint64_t counter, uint64_t now_ns)
{
    if (counter > WG_REKEY_AFTER_MESSAGES_U64 ||
        (kp->i_am_initiator && now_ns - kp->birth_ns > WG_REKEY_AFTER_TIME))
        wg_device_send_handshake_initiation(peer, false, now_ns);
}

/* Data went out to peer: tell the device's owner, at most once per interval. */
static void
note_active(struct wg_peer *peer, uint64_t now_ns)
{
    struct wg_device *dev = peer->device;

    if (dev->note_active && (peer->last_active_note_ns == 0 ||
                             now_ns - peer->last_active_note_ns >= WG_ACTIVE_NOTE_INTERVAL_NS)) {
        peer->last_active_note_ns = now_ns;
        dev->note_active(dev->ctx, peer->public_key, &peer->endpoint);
    }
}

static void
stage_packet(struct wg_peer *peer, const uint8_t *data, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);

    if (!copy)
        return;
    if (len)
        memcpy(copy, data, len);
    if (peer->n_staged == WG_MAX_STAGED_PACKETS) {
        /* Full: the oldest goes, as in the kernel. */
        free(peer->staged[0].data);
        memmove(&peer->staged[0], &peer->staged[1],
                sizeof(peer->staged[0]) * (WG_MAX_STAGED_PACKETS - 1));
        peer->n_staged--;
    }
    peer->staged[peer->n_staged].data = copy;
    peer->staged[peer->n_staged].len = len;
    peer->n_staged++;
}

void
wg_device_send_staged(struct wg_peer *peer, uint64_t now_ns)
{
    struct wg_keypair *kp = sendable_keypair(peer, now_ns);
    unsigned int i;

    wg_device_assert_locked(peer->device);
    if (!peer->n_staged)
        return;
    if (!kp || peer->endpoint.addr.sa.sa_family == AF_UNSPEC) {
        wg_device_send_handshake_initiation(peer, false, now_ns);
        return;
    }
    for (i = 0; i < peer->n_staged; i++) {
        size_t len = peer->staged[i].len;
        size_t cap = WG_DATA_OVERHEAD + len + WG_MESSAGE_PADDING_MULTIPLE;
        uint8_t *buf = malloc(cap);
        uint64_t counter = atomic_fetch_add(&kp->send_counter, 1);
        size_t out;

        if (!buf)
            break;
        memcpy(buf + 16, peer->staged[i].data, len);
        out = counter < WG_REJECT_AFTER_MESSAGES_U64
                  ? seal_packet(buf, len, cap, kp, counter, peer->device->mtu)
                  : 0;
        if (out) {
            wg_device_send_authenticated(peer, buf, out, now_ns);
            if (len)
                wg_timers_data_sent(peer, now_ns);
            note_active(peer, now_ns);
        }
        free(buf);
    }
    wg_peer_purge_staged(peer);
    keep_key_fresh_send(peer, kp, atomic_load(&kp->send_counter), now_ns);
}

void
wg_device_send_keepalive(struct wg_peer *peer, uint64_t now_ns)
{
    wg_device_assert_locked(peer->device);
    if (!peer->n_staged) {
        engine_debug(ENGINE_LOG_WG, "%s - Sending keepalive packet", WG_PEER_NAME(peer));
        stage_packet(peer, NULL, 0);
    }
    wg_device_send_staged(peer, now_ns);
}

void
wg_peer_pin_endpoint(struct wg_peer *peer, const struct wg_endpoint *ep, uint64_t now_ns)
{
    bool changed = memcmp(&peer->endpoint, ep, sizeof(*ep)) != 0;

    wg_device_assert_locked(peer->device);
    peer->endpoint = *ep;
    peer->endpoint_pinned = true;
    if (!changed || ep->addr.sa.sa_family == AF_UNSPEC || !peer->device->up)
        return;
    if (!sendable_keypair(peer, now_ns)) {
        if (!peer->timer_retransmit_handshake) /* no initiation awaiting its answer */
            return;
        engine_debug(ENGINE_LOG_WG, "%s - Path changed to %s: initiating again over it",
                     WG_PEER_NAME(peer), ENGINE_LOG_ADDR(&ep->addr));
        /* Lift the one-per-REKEY_TIMEOUT limit for this one initiation. */
        peer->has_sent_handshake = false;
        wg_device_send_handshake_initiation(peer, false, now_ns);
        return;
    }
    wg_device_send_staged(peer, now_ns);
}

static bool
ip_destination(const uint8_t *pkt, size_t len, int *family, const uint8_t **addr)
{
    if (len >= 20 && pkt[0] >> 4 == 4) {
        *family = AF_INET;
        *addr = pkt + 16;
        return true;
    }
    if (len >= 40 && pkt[0] >> 4 == 6) {
        *family = AF_INET6;
        *addr = pkt + 24;
        return true;
    }
    return false;
}

void
wg_device_tx_batch(struct wg_device *dev, struct wg_tx_packet *pkts, size_t n, uint64_t now_ns)
{
    size_t i;

    wg_device_lock(dev);
    for (i = 0; i < n; i++) {
        struct wg_tx_packet *p = &pkts[i];
        const uint8_t *plain = p->buf + WG_TX_HEADROOM;
        const uint8_t *dst;
        struct wg_peer *peer;
        struct wg_keypair *kp;
        int family;

        p->kp = NULL;
        p->status = WG_TX_DROP;
        if (!ip_destination(plain, p->len, &family, &dst))
            continue;
        peer = allowedips_lookup(dev->allowedips, family, dst);
        if (!peer) {
            p->status = WG_TX_NO_ROUTE;
            continue;
        }
        if (unlikely(peer->masq.has4 || peer->masq.has6))
            wg_masq_snat(p->buf + WG_TX_HEADROOM, p->len, &dev->native, &peer->masq);
        if (peer->endpoint.addr.sa.sa_family == AF_UNSPEC)
            continue;
        kp = dev->up ? sendable_keypair(peer, now_ns) : NULL;
        if (kp) {
            p->counter = atomic_fetch_add_explicit(&kp->send_counter, 1, memory_order_relaxed);
            if (p->counter < WG_REJECT_AFTER_MESSAGES_U64) {
                p->kp = wg_keypair_ref(kp);
                p->to = peer->endpoint;
                p->status = WG_TX_SEND;
                keep_key_fresh_send(peer, kp, p->counter, now_ns);
                continue;
            }
        }
        stage_packet(peer, plain, p->len);
        p->status = WG_TX_STAGED;
        wg_device_send_handshake_initiation(peer, false, now_ns);
    }
    wg_device_unlock(dev);

    for (i = 0; i < n; i++) {
        struct wg_tx_packet *p = &pkts[i];

        if (p->status != WG_TX_SEND)
            continue;
        p->out_len = seal_packet(p->buf, p->len, p->cap, p->kp, p->counter, dev->mtu);
        if (!p->out_len)
            p->status = WG_TX_DROP;
    }

    wg_device_lock(dev);
    for (i = 0; i < n; i++) {
        struct wg_tx_packet *p = &pkts[i];
        struct wg_peer *peer;

        if (!p->kp)
            continue;
        peer = p->kp->peer;
        if (p->status == WG_TX_SEND && !peer->removed) {
            /* The caller sends it right after: count it and run the timers now. */
            peer->tx_bytes += p->out_len;
            wg_timers_any_authenticated_packet_traversal(peer, now_ns);
            wg_timers_any_authenticated_packet_sent(peer);
            wg_timers_data_sent(peer, now_ns);
            note_active(peer, now_ns);
        }
        wg_keypair_unref(p->kp);
        p->kp = NULL;
    }
    wg_device_unlock(dev);
}
