/* SPDX-License-Identifier: MIT */
/*
 * The receive path (kernel receive.c; whitepaper §5.4.6): the RX batch sorts
 * datagrams by message type, answers handshake messages under the device
 * lock, finds the keypair of each data message, opens it and checks its
 * counter outside the lock, then updates timers and the endpoint under it.
 */
#include "wg/device.h"

#include <string.h>

#include "common/compiler.h"
#include "common/log.h"
#include "crypto/aead.h"
#include "wg/allowedips.h"
#include "wg/device-private.h"
#include "wg/handshake.h"
#include "wg/index.h"
#include "wg/ratelimiter.h"
#include "wg/timers.h"

/*
 * We process handshakes inline rather than through a queue, so "under load"
 * is a rate: more than WG_UNDER_LOAD_HANDSHAKES handshake messages within a
 * second, sticky for one second (kernel: queue ≥ 512, sticky 1 s).
 */
static bool
wg_device_is_under_load(struct wg_device *dev, uint64_t now_ns)
{
    if (dev->force_under_load)
        return true;
    if (now_ns - dev->load_window_start_ns >= WG_NS(1)) {
        dev->load_window_start_ns = now_ns;
        dev->load_window_count = 0;
    }
    if (++dev->load_window_count > WG_UNDER_LOAD_HANDSHAKES)
        dev->under_load_until_ns = now_ns + WG_UNDER_LOAD_AFTER;
    return now_ns < dev->under_load_until_ns;
}

static void
roam(struct wg_peer *peer, const struct wg_endpoint *from)
{
    /* Only authenticated packets get here, so following them is safe; a
     * pinned endpoint is the path machine's to move (Tailscale mode). */
    if (peer->endpoint_pinned)
        return;
    if (memcmp(&peer->endpoint, from, sizeof(*from)) != 0) {
        if (!wg_sockaddr_equal(&peer->endpoint.addr, &from->addr))
            engine_debug(ENGINE_LOG_WG, "%s - Endpoint changed from %s to %s", WG_PEER_NAME(peer),
                         ENGINE_LOG_ADDR(&peer->endpoint.addr), ENGINE_LOG_ADDR(&from->addr));
        peer->endpoint = *from;
    }
}

/* Bookkeeping for any packet that authenticated as coming from peer. */
static void
authenticated_rx(struct wg_peer *peer, const struct wg_rx_packet *p, uint64_t now_ns)
{
    roam(peer, &p->from);
    peer->rx_bytes += p->len;
    wg_timers_any_authenticated_packet_received(peer);
    wg_timers_any_authenticated_packet_traversal(peer, now_ns);
}

static void
receive_handshake(struct wg_device *dev, struct wg_rx_packet *p, enum wg_message_type type,
                  uint64_t now_ns)
{
    const union wg_sockaddr *src = &p->from.addr;
    enum wg_cookie_mac_state mac;
    bool under_load;
    struct wg_peer *peer;

    p->status = WG_RX_DROP;
    if (type == WG_MESSAGE_HANDSHAKE_COOKIE) {
        const struct wg_message_handshake_cookie *c = (const void *)p->data;
        struct wg_index_entry *e = wg_device_index_find(dev, c->receiver_index);

        if (e && wg_cookie_consume_reply(&e->peer->cookie_maker, c, now_ns)) {
            engine_debug(ENGINE_LOG_WG, "%s - Received cookie reply from %s", WG_PEER_NAME(e->peer),
                         ENGINE_LOG_ADDR(src));
            p->status = WG_RX_CONSUMED;
        } else {
            engine_debug(ENGINE_LOG_WG, "Invalid cookie reply from %s", ENGINE_LOG_ADDR(src));
        }
        return;
    }

    under_load = wg_device_is_under_load(dev, now_ns);
    mac = wg_cookie_validate(&dev->cookie_checker, p->data, p->len, src, under_load, now_ns);
    if (mac == WG_COOKIE_MAC_INVALID)
        return;
    if (under_load) {
        if (mac != WG_COOKIE_MAC_VALID_MAC2) {
            struct wg_message_handshake_cookie reply;
            uint32_t sender;

            memcpy(&sender, p->data + 4, 4); /* both message types: sender at 4 */
            wg_cookie_create_reply(&dev->cookie_checker, &reply, p->data, p->len, sender, src,
                                   now_ns);
            engine_debug(ENGINE_LOG_WG, "Under load: sending cookie reply to %s",
                         ENGINE_LOG_ADDR(src));
            dev->send(dev->ctx, (const uint8_t *)&reply, sizeof(reply), &p->from, NULL);
            return;
        }
        if (src->sa.sa_family == AF_INET &&
            !ratelimiter_allow(dev->ratelimiter, AF_INET, (const uint8_t *)&src->in4.sin_addr,
                               now_ns))
            return;
        if (src->sa.sa_family == AF_INET6 &&
            !ratelimiter_allow(dev->ratelimiter, AF_INET6, (const uint8_t *)&src->in6.sin6_addr,
                               now_ns))
            return;
    }

    if (type == WG_MESSAGE_HANDSHAKE_INITIATION) {
        struct wg_message_handshake_response resp;

        peer = wg_handshake_consume_initiation(dev, (const void *)p->data, now_ns);
        if (!peer) {
            engine_debug(ENGINE_LOG_WG, "Handshake initiation from %s refused",
                         ENGINE_LOG_ADDR(src));
            return;
        }
        engine_debug(ENGINE_LOG_WG, "%s - Received handshake initiation from %s",
                     WG_PEER_NAME(peer), ENGINE_LOG_ADDR(src));
        authenticated_rx(peer, p, now_ns);
        p->status = WG_RX_CONSUMED;
        if (!wg_handshake_create_response(dev, peer, &resp, now_ns))
            return;
        if (!wg_handshake_begin_session(dev, peer, now_ns))
            return;
        wg_timers_session_derived(peer, now_ns);
        engine_debug(ENGINE_LOG_WG, "%s - Sending handshake response", WG_PEER_NAME(peer));
        wg_cookie_add_macs(&peer->cookie_maker, (uint8_t *)&resp, sizeof(resp), now_ns);
        wg_device_send_authenticated(peer, (const uint8_t *)&resp, sizeof(resp), now_ns);
    } else {
        peer = wg_handshake_consume_response(dev, (const void *)p->data, now_ns);
        if (!peer) {
            engine_debug(ENGINE_LOG_WG, "Handshake response from %s refused", ENGINE_LOG_ADDR(src));
            return;
        }
        engine_debug(ENGINE_LOG_WG, "%s - Received handshake response from %s", WG_PEER_NAME(peer),
                     ENGINE_LOG_ADDR(src));
        authenticated_rx(peer, p, now_ns);
        p->status = WG_RX_CONSUMED;
        if (!wg_handshake_begin_session(dev, peer, now_ns))
            return;
        wg_timers_session_derived(peer, now_ns);
        wg_timers_handshake_complete(peer, now_ns);
        engine_debug(ENGINE_LOG_WG, "%s - Handshake completed (we initiated)", WG_PEER_NAME(peer));
        /* Send what waited, or a keepalive to confirm the session at once. */
        wg_device_send_keepalive(peer, now_ns);
    }
}

/*
 * After decryption (kernel receive.c wg_packet_consume_data_done): the inner
 * packet must be a well-formed IPv4/IPv6 packet whose source address routes
 * back to the peer that sent it. Returns the trimmed length, or 0 to drop.
 */
static size_t
check_inner_packet(struct wg_device *dev, struct wg_peer *peer, const uint8_t *pkt, size_t len)
{
    size_t real_len;

    if (len >= 20 && pkt[0] >> 4 == 4) {
        real_len = (size_t)pkt[2] << 8 | pkt[3];
        if (real_len < 20 || real_len > len)
            return 0;
        if (allowedips_lookup(dev->allowedips, AF_INET, pkt + 12) != peer)
            return 0;
        return real_len;
    }
    if (len >= 40 && pkt[0] >> 4 == 6) {
        real_len = ((size_t)pkt[4] << 8 | pkt[5]) + 40;
        if (real_len > len)
            return 0;
        if (allowedips_lookup(dev->allowedips, AF_INET6, pkt + 8) != peer)
            return 0;
        return real_len;
    }
    return 0;
}

/* Kernel receive.c keep_key_fresh: rekey 165 s in, if we started the session. */
static void
keep_key_fresh_receive(struct wg_peer *peer, uint64_t now_ns)
{
    struct wg_keypair *kp = peer->kp_current;

    if (!kp || !kp->i_am_initiator || peer->sent_lastminute_handshake)
        return;
    if (now_ns - kp->birth_ns > WG_REJECT_AFTER_TIME - WG_KEEPALIVE_TIMEOUT - WG_REKEY_TIMEOUT) {
        peer->sent_lastminute_handshake = true;
        wg_device_send_handshake_initiation(peer, false, now_ns);
    }
}

void
wg_device_rx_batch(struct wg_device *dev, struct wg_rx_packet *pkts, size_t n, uint64_t now_ns)
{
    size_t i;

    wg_device_lock(dev);
    for (i = 0; i < n; i++) {
        struct wg_rx_packet *p = &pkts[i];
        enum wg_message_type type = wg_message_classify(p->data, p->len);

        p->kp = NULL;
        p->status = WG_RX_DROP;
        switch (type) {
        case WG_MESSAGE_HANDSHAKE_INITIATION:
        case WG_MESSAGE_HANDSHAKE_RESPONSE:
        case WG_MESSAGE_HANDSHAKE_COOKIE:
            if (dev->up)
                receive_handshake(dev, p, type, now_ns);
            break;
        case WG_MESSAGE_DATA: {
            const struct wg_message_data *hdr = (const void *)p->data;
            struct wg_index_entry *e = wg_device_index_find(dev, hdr->key_idx);

            if (e && e->keypair && now_ns - e->keypair->birth_ns < WG_REJECT_AFTER_TIME)
                p->kp = wg_keypair_ref(e->keypair);
            break;
        }
        case WG_MESSAGE_INVALID:
            break;
        }
    }
    wg_device_unlock(dev);

    for (i = 0; i < n; i++) {
        struct wg_rx_packet *p = &pkts[i];
        uint8_t nonce[AEAD_NONCE_LEN];
        uint64_t counter;
        bool fresh;

        if (!p->kp)
            continue;
        memcpy(&counter, p->data + 8, 8);
        aead_nonce_le(nonce, counter);
        if (counter >= WG_REJECT_AFTER_MESSAGES_U64 ||
            !aead_open(p->data + 16, p->data + 16, p->len - 16, NULL, 0, nonce, p->kp->recv_key)) {
            wg_keypair_unref(p->kp);
            p->kp = NULL;
            continue;
        }
        /* Only authenticated counters may move the window. */
        pthread_spin_lock(&p->kp->replay_lock);
        fresh = replay_check(&p->kp->replay, counter, WG_REJECT_AFTER_MESSAGES_U64);
        pthread_spin_unlock(&p->kp->replay_lock);
        if (!fresh) {
            wg_keypair_unref(p->kp);
            p->kp = NULL;
            continue;
        }
        p->plain_off = 16;
        p->plain_len = p->len - WG_DATA_OVERHEAD;
    }

    wg_device_lock(dev);
    for (i = 0; i < n; i++) {
        struct wg_rx_packet *p = &pkts[i];
        struct wg_peer *peer;

        if (!p->kp)
            continue;
        peer = p->kp->peer;
        if (!peer->removed) {
            if (wg_peer_received_with_keypair(peer, p->kp)) {
                wg_timers_handshake_complete(peer, now_ns);
                engine_debug(ENGINE_LOG_WG, "%s - Handshake completed (confirmed by their data)",
                             WG_PEER_NAME(peer));
                wg_device_send_staged(peer, now_ns);
            }
            authenticated_rx(peer, p, now_ns);
            keep_key_fresh_receive(peer, now_ns);
            if (p->plain_len == 0) {
                p->status = WG_RX_CONSUMED; /* keepalive */
            } else {
                size_t len = check_inner_packet(dev, peer, p->data + p->plain_off, p->plain_len);

                if (len) {
                    if (unlikely(peer->masq.has4 || peer->masq.has6))
                        wg_masq_dnat(p->data + p->plain_off, len, &dev->native, &peer->masq);
                    p->plain_len = len;
                    p->status = WG_RX_DATA;
                    wg_timers_data_received(peer, now_ns);
                }
            }
        }
        wg_keypair_unref(p->kp);
        p->kp = NULL;
    }
    wg_device_unlock(dev);
}
