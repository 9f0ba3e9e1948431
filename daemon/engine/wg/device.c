/* SPDX-License-Identifier: MIT */
/*
 * The WireGuard device: configuration, the index table, and the send and
 * receive paths (kernel send.c/receive.c; whitepaper §5.4.6, §6).
 *
 * Locking: dev->lock guards everything but bulk crypto. A batch takes the lock
 * to route packets and reserve nonces (TX) or find keypairs (RX), drops it to
 * seal/open, and takes it again for counters, timers and roaming. Keypairs and
 * peers are refcounted so that work in flight outlives a concurrent removal.
 */
#include "wg/device.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/aead.h"
#include "crypto/secmem.h"
#include "crypto/keys.h"
#include "wg/allowedips.h"
#include "wg/handshake.h"
#include "wg/ratelimiter.h"
#include "wg/timers.h"

/* ---- lifetime ---------------------------------------------------------- */

struct wg_device *
wg_device_new(wg_send_fn send, wg_wake_fn wake, void *ctx)
{
    struct wg_device *dev;

    if (sodium_init() < 0)
        return NULL;
    dev = secmem_alloc(sizeof(*dev));
    if (!dev)
        return NULL;
    memset(dev, 0, sizeof(*dev));
    pthread_mutex_init(&dev->lock, NULL);
    dev->send = send;
    dev->wake = wake;
    dev->ctx = ctx;
    dev->mtu = 1420;
    dev->allowedips = allowedips_new();
    dev->ratelimiter = ratelimiter_new();
    if (!dev->allowedips || !dev->ratelimiter) {
        wg_device_free(dev);
        return NULL;
    }
    return dev;
}

void
wg_device_free(struct wg_device *dev)
{
    if (!dev)
        return;
    pthread_mutex_lock(&dev->lock);
    wg_device_remove_all_peers(dev);
    pthread_mutex_unlock(&dev->lock);
    if (dev->allowedips)
        allowedips_free(dev->allowedips);
    if (dev->ratelimiter)
        ratelimiter_free(dev->ratelimiter);
    pthread_mutex_destroy(&dev->lock);
    secmem_free(dev, sizeof(*dev));
}

void
wg_device_lock(struct wg_device *dev)
{
    pthread_mutex_lock(&dev->lock);
}

void
wg_device_unlock(struct wg_device *dev)
{
    pthread_mutex_unlock(&dev->lock);
}

/* ---- index table: our 32-bit indices → handshake or keypair ------------ */

static unsigned int
index_bucket(uint32_t index)
{
    return (index * 2654435761u) >> 20 & (WG_INDEX_BUCKETS - 1);
}

struct wg_index_entry *
wg_device_index_find(struct wg_device *dev, uint32_t index)
{
    struct wg_index_entry *e = dev->index_hash[index_bucket(index)];

    while (e && e->index != index)
        e = e->next;
    return e;
}

uint32_t
wg_device_index_add(struct wg_device *dev, struct wg_peer *peer, struct wg_keypair *kp)
{
    struct wg_index_entry *e = malloc(sizeof(*e));
    uint32_t index;

    if (!e)
        abort();    /* 32 bytes on the handshake path: out of memory is fatal */
    do
        index = randombytes_random();
    while (wg_device_index_find(dev, index));
    e->index = index;
    e->peer = peer;
    e->keypair = kp;
    e->next = dev->index_hash[index_bucket(index)];
    dev->index_hash[index_bucket(index)] = e;
    return index;
}

void
wg_device_index_remove(struct wg_device *dev, uint32_t index)
{
    struct wg_index_entry **pp = &dev->index_hash[index_bucket(index)];

    for (; *pp; pp = &(*pp)->next) {
        if ((*pp)->index == index) {
            struct wg_index_entry *e = *pp;

            *pp = e->next;
            free(e);
            return;
        }
    }
}

/* ---- peers ------------------------------------------------------------- */

static unsigned int
peer_bucket(const uint8_t pub[static WG_KEY_LEN])
{
    uint32_t h;

    memcpy(&h, pub, sizeof(h));     /* public keys are uniformly random */
    return h & (WG_PEER_BUCKETS - 1);
}

struct wg_peer *
wg_device_lookup_peer(struct wg_device *dev, const uint8_t pub[static WG_KEY_LEN])
{
    struct wg_peer *p = dev->peer_hash[peer_bucket(pub)];

    while (p && sodium_memcmp(p->public_key, pub, WG_KEY_LEN) != 0)
        p = p->hash_next;
    return p;
}

struct wg_peer *
wg_device_add_peer(struct wg_device *dev, const uint8_t pub[static WG_KEY_LEN])
{
    struct wg_peer *p;

    if (dev->has_private_key && sodium_memcmp(pub, dev->public_key, WG_KEY_LEN) == 0)
        return NULL;
    if (dev->n_peers >= WG_MAX_PEERS)
        return NULL;
    p = secmem_alloc(sizeof(*p));
    if (!p)
        return NULL;
    memset(p, 0, sizeof(*p));
    atomic_init(&p->refcount, 1);
    p->device = dev;
    memcpy(p->public_key, pub, WG_KEY_LEN);
    wg_cookie_maker_init(&p->cookie_maker, pub);
    p->next = dev->peers;
    dev->peers = p;
    p->hash_next = dev->peer_hash[peer_bucket(pub)];
    dev->peer_hash[peer_bucket(pub)] = p;
    dev->n_peers++;
    return p;
}

void
wg_device_remove_peer(struct wg_device *dev, struct wg_peer *peer)
{
    struct wg_peer **pp;

    for (pp = &dev->peers; *pp; pp = &(*pp)->next) {
        if (*pp == peer) {
            *pp = peer->next;
            break;
        }
    }
    for (pp = &dev->peer_hash[peer_bucket(peer->public_key)]; *pp; pp = &(*pp)->hash_next) {
        if (*pp == peer) {
            *pp = peer->hash_next;
            break;
        }
    }
    dev->n_peers--;
    allowedips_remove_by_peer(dev->allowedips, peer);
    wg_peer_clear_keys(peer);
    wg_peer_purge_staged(peer);
    wg_timers_stop(peer);
    peer->removed = true;
    wg_peer_unref(peer);
}

void
wg_device_remove_all_peers(struct wg_device *dev)
{
    while (dev->peers)
        wg_device_remove_peer(dev, dev->peers);
}

void
wg_device_set_private_key(struct wg_device *dev, const uint8_t *priv, uint64_t now_ns)
{
    uint8_t pub[WG_KEY_LEN];
    struct wg_peer *p;

    if (priv && !key_is_zero(priv)) {
        if (dev->has_private_key && sodium_memcmp(priv, dev->private_key, WG_KEY_LEN) == 0)
            return;
        key_public_from_private(pub, priv);
        /* A peer with our own public key makes no sense: drop it (as wg does). */
        p = wg_device_lookup_peer(dev, pub);
        if (p)
            wg_device_remove_peer(dev, p);
        memcpy(dev->private_key, priv, WG_KEY_LEN);
        memcpy(dev->public_key, pub, WG_KEY_LEN);
        dev->has_private_key = true;
        wg_cookie_checker_init(&dev->cookie_checker, pub);
    } else {
        sodium_memzero(dev->private_key, WG_KEY_LEN);
        sodium_memzero(dev->public_key, WG_KEY_LEN);
        dev->has_private_key = false;
    }
    /* Sessions made with the old identity are void. */
    for (p = dev->peers; p; p = p->next) {
        wg_peer_clear_keys(p);
        memset(p->latest_timestamp, 0, sizeof(p->latest_timestamp));
    }
    (void)now_ns;
}

void
wg_peer_set_preshared_key(struct wg_peer *peer, const uint8_t psk[static WG_KEY_LEN])
{
    memcpy(peer->preshared_key, psk, WG_KEY_LEN);
}

void
wg_peer_set_endpoint(struct wg_peer *peer, const union wg_sockaddr *addr)
{
    memset(&peer->endpoint, 0, sizeof(peer->endpoint));
    peer->endpoint.addr = *addr;
}

void
wg_peer_set_persistent_keepalive(struct wg_peer *peer, uint16_t seconds, uint64_t now_ns)
{
    bool was_off = peer->persistent_keepalive_interval == 0;

    peer->persistent_keepalive_interval = seconds;
    if (!seconds)
        peer->timer_persistent_keepalive = 0;
    else if (was_off && peer->device->up && peer->endpoint.addr.sa.sa_family != AF_UNSPEC)
        wg_device_send_keepalive(peer, now_ns);
}

int
wg_peer_add_allowed_ip(struct wg_peer *peer, int family, const uint8_t *addr, uint8_t cidr)
{
    return allowedips_insert(peer->device->allowedips, family, addr, cidr, peer);
}

void
wg_peer_clear_allowed_ips(struct wg_peer *peer)
{
    allowedips_remove_by_peer(peer->device->allowedips, peer);
}

void
wg_device_set_up(struct wg_device *dev, bool up, uint64_t now_ns)
{
    struct wg_peer *p;

    dev->up = up;
    for (p = dev->peers; p; p = p->next) {
        if (!up) {
            wg_peer_clear_keys(p);
            wg_peer_purge_staged(p);
            wg_timers_stop(p);
        } else if (p->persistent_keepalive_interval &&
                   p->endpoint.addr.sa.sa_family != AF_UNSPEC) {
            wg_device_send_keepalive(p, now_ns);
        }
    }
}

/* ---- timers and load --------------------------------------------------- */

void
wg_device_note_timer(struct wg_device *dev, uint64_t deadline_ns)
{
    if (!dev->next_timer_ns || deadline_ns < dev->next_timer_ns) {
        dev->next_timer_ns = deadline_ns;
        if (dev->wake)
            dev->wake(dev->ctx);
    }
}

uint64_t
wg_device_tick(struct wg_device *dev, uint64_t now_ns)
{
    uint64_t next = 0;
    struct wg_peer *p;

    dev->next_timer_ns = 0;
    for (p = dev->peers; p; p = p->next) {
        uint64_t t = wg_timers_fire(p, now_ns);

        if (t && (!next || t < next))
            next = t;
    }
    if (now_ns - dev->last_gc_ns >= WG_NS(1)) {
        ratelimiter_gc(dev->ratelimiter, now_ns);
        dev->last_gc_ns = now_ns;
    }
    /* Timers armed while firing went through note_timer; keep the earliest. */
    if (next && (!dev->next_timer_ns || next < dev->next_timer_ns))
        dev->next_timer_ns = next;
    return dev->next_timer_ns;
}

/*
 * We process handshakes inline rather than through a queue, so "under load"
 * is a rate: more than WG_UNDER_LOAD_HANDSHAKES handshake messages within a
 * second, sticky for one second (kernel: queue ≥ 512, sticky 1 s).
 */
bool
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

/* ---- sending ----------------------------------------------------------- */

static void
send_authenticated(struct wg_peer *peer, const uint8_t *data, size_t len, uint64_t now_ns)
{
    struct wg_device *dev = peer->device;

    dev->send(dev->ctx, data, len, &peer->endpoint);
    peer->tx_bytes += len;
    wg_timers_any_authenticated_packet_traversal(peer, now_ns);
    wg_timers_any_authenticated_packet_sent(peer);
}

void
wg_device_send_handshake_initiation(struct wg_peer *peer, bool is_retry, uint64_t now_ns)
{
    struct wg_device *dev = peer->device;
    struct wg_message_handshake_initiation msg;

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
    send_authenticated(peer, (const uint8_t *)&msg, sizeof(msg), now_ns);
    wg_timers_handshake_initiated(peer, now_ns);
    sodium_memzero(&msg, sizeof(msg));
}

static size_t
padded_len(size_t len, unsigned int mtu)
{
    size_t padded = (len + WG_MESSAGE_PADDING_MULTIPLE - 1) & ~(size_t)(WG_MESSAGE_PADDING_MULTIPLE - 1);

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
    if (atomic_load_explicit(&kp->send_counter, memory_order_relaxed) >= WG_REJECT_AFTER_MESSAGES_U64)
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
        memmove(&peer->staged[0], &peer->staged[1], sizeof(peer->staged[0]) * (WG_MAX_STAGED_PACKETS - 1));
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
            send_authenticated(peer, buf, out, now_ns);
            if (len)
                wg_timers_data_sent(peer, now_ns);
        }
        free(buf);
    }
    wg_peer_purge_staged(peer);
    keep_key_fresh_send(peer, kp, atomic_load(&kp->send_counter), now_ns);
}

void
wg_device_send_keepalive(struct wg_peer *peer, uint64_t now_ns)
{
    if (!peer->n_staged)
        stage_packet(peer, NULL, 0);
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

    pthread_mutex_lock(&dev->lock);
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
    pthread_mutex_unlock(&dev->lock);

    for (i = 0; i < n; i++) {
        struct wg_tx_packet *p = &pkts[i];

        if (p->status != WG_TX_SEND)
            continue;
        p->out_len = seal_packet(p->buf, p->len, p->cap, p->kp, p->counter, dev->mtu);
        if (!p->out_len)
            p->status = WG_TX_DROP;
    }

    pthread_mutex_lock(&dev->lock);
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
        }
        wg_keypair_unref(p->kp);
        p->kp = NULL;
    }
    pthread_mutex_unlock(&dev->lock);
}

/* ---- receiving --------------------------------------------------------- */

static void
roam(struct wg_peer *peer, const struct wg_endpoint *from)
{
    /* Only authenticated packets get here, so following them is safe. */
    if (memcmp(&peer->endpoint, from, sizeof(*from)) != 0)
        peer->endpoint = *from;
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

        if (e && wg_cookie_consume_reply(&e->peer->cookie_maker, c, now_ns))
            p->status = WG_RX_CONSUMED;
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

            memcpy(&sender, p->data + 4, 4);    /* both message types: sender at 4 */
            wg_cookie_create_reply(&dev->cookie_checker, &reply, p->data, p->len, sender, src,
                                   now_ns);
            dev->send(dev->ctx, (const uint8_t *)&reply, sizeof(reply), &p->from);
            return;
        }
        if (src->sa.sa_family == AF_INET &&
            !ratelimiter_allow(dev->ratelimiter, AF_INET, (const uint8_t *)&src->in4.sin_addr, now_ns))
            return;
        if (src->sa.sa_family == AF_INET6 &&
            !ratelimiter_allow(dev->ratelimiter, AF_INET6, (const uint8_t *)&src->in6.sin6_addr, now_ns))
            return;
    }

    if (type == WG_MESSAGE_HANDSHAKE_INITIATION) {
        struct wg_message_handshake_response resp;

        peer = wg_handshake_consume_initiation(dev, (const void *)p->data, now_ns);
        if (!peer)
            return;
        authenticated_rx(peer, p, now_ns);
        p->status = WG_RX_CONSUMED;
        if (!wg_handshake_create_response(dev, peer, &resp, now_ns))
            return;
        if (!wg_handshake_begin_session(dev, peer, now_ns))
            return;
        wg_timers_session_derived(peer, now_ns);
        wg_cookie_add_macs(&peer->cookie_maker, (uint8_t *)&resp, sizeof(resp), now_ns);
        send_authenticated(peer, (const uint8_t *)&resp, sizeof(resp), now_ns);
    } else {
        peer = wg_handshake_consume_response(dev, (const void *)p->data, now_ns);
        if (!peer)
            return;
        authenticated_rx(peer, p, now_ns);
        p->status = WG_RX_CONSUMED;
        if (!wg_handshake_begin_session(dev, peer, now_ns))
            return;
        wg_timers_session_derived(peer, now_ns);
        wg_timers_handshake_complete(peer, now_ns);
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

    pthread_mutex_lock(&dev->lock);
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
    pthread_mutex_unlock(&dev->lock);

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

    pthread_mutex_lock(&dev->lock);
    for (i = 0; i < n; i++) {
        struct wg_rx_packet *p = &pkts[i];
        struct wg_peer *peer;

        if (!p->kp)
            continue;
        peer = p->kp->peer;
        if (!peer->removed) {
            if (wg_peer_received_with_keypair(peer, p->kp)) {
                wg_timers_handshake_complete(peer, now_ns);
                wg_device_send_staged(peer, now_ns);
            }
            authenticated_rx(peer, p, now_ns);
            keep_key_fresh_receive(peer, now_ns);
            if (p->plain_len == 0) {
                p->status = WG_RX_CONSUMED;     /* keepalive */
            } else {
                size_t len = check_inner_packet(dev, peer, p->data + p->plain_off, p->plain_len);

                if (len) {
                    p->plain_len = len;
                    p->status = WG_RX_DATA;
                    wg_timers_data_received(peer, now_ns);
                }
            }
        }
        wg_keypair_unref(p->kp);
        p->kp = NULL;
    }
    pthread_mutex_unlock(&dev->lock);
}
