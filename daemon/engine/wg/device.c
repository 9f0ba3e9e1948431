/* SPDX-License-Identifier: MIT */
/*
 * The WireGuard device: creation and teardown, the peer table, configuration
 * and the timer tick. The index table is in index.c, the send path in send.c,
 * the receive path in receive.c (kernel peerlookup.c, send.c, receive.c;
 * whitepaper §5.4.6, §6).
 *
 * Locking: dev->lock guards everything but bulk crypto. A batch takes the lock
 * to route packets and reserve nonces (TX) or find keypairs (RX), drops it to
 * seal/open, and takes it again for counters, timers and roaming. Keypairs and
 * peers are refcounted so that work in flight outlives a concurrent removal.
 */
#include "wg/device.h"

#include <assert.h>
#include <sodium.h>
#include <string.h>

#include "crypto/secmem.h"
#include "crypto/keys.h"
#include "wg/allowedips.h"
#include "wg/device-private.h"
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
    wg_device_lock(dev);
    wg_device_remove_all_peers(dev);
    wg_device_unlock(dev);
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
#ifndef NDEBUG
    dev->lock_owner = pthread_self();
    dev->lock_held = true;
#endif
}

void
wg_device_unlock(struct wg_device *dev)
{
#ifndef NDEBUG
    wg_device_assert_locked(dev);
    dev->lock_held = false;
#endif
    pthread_mutex_unlock(&dev->lock);
}

#ifndef NDEBUG
void
wg_device_assert_locked(const struct wg_device *dev)
{
    /* Read without the lock only by a caller that breaks the rule: it fails
     * either way, since lock_owner is ours only while we hold the lock. */
    assert(dev->lock_held && pthread_equal(dev->lock_owner, pthread_self()));
}
#endif

/* ---- peers ------------------------------------------------------------- */

static unsigned int
peer_bucket(const uint8_t pub[static WG_KEY_LEN])
{
    uint32_t h;

    memcpy(&h, pub, sizeof(h)); /* public keys are uniformly random */
    return h & (WG_PEER_BUCKETS - 1);
}

struct wg_peer *
wg_device_lookup_peer(struct wg_device *dev, const uint8_t pub[static WG_KEY_LEN])
{
    struct wg_peer *p = dev->peer_hash[peer_bucket(pub)];

    wg_device_assert_locked(dev);
    while (p && sodium_memcmp(p->public_key, pub, WG_KEY_LEN) != 0)
        p = p->hash_next;
    return p;
}

struct wg_peer *
wg_device_add_peer(struct wg_device *dev, const uint8_t pub[static WG_KEY_LEN])
{
    struct wg_peer *p;

    wg_device_assert_locked(dev);
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

    wg_device_assert_locked(dev);
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
    wg_device_assert_locked(dev);
    while (dev->peers)
        wg_device_remove_peer(dev, dev->peers);
}

void
wg_device_set_private_key(struct wg_device *dev, const uint8_t *priv, uint64_t now_ns)
{
    uint8_t pub[WG_KEY_LEN];
    struct wg_peer *p;

    wg_device_assert_locked(dev);
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
wg_device_set_native_addrs(struct wg_device *dev, const struct wg_masq *native)
{
    wg_device_assert_locked(dev);
    dev->native = *native;
}

void
wg_peer_set_masq(struct wg_peer *peer, const struct wg_masq *masq)
{
    wg_device_assert_locked(peer->device);
    peer->masq = *masq;
}

void
wg_device_set_up(struct wg_device *dev, bool up, uint64_t now_ns)
{
    struct wg_peer *p;

    wg_device_assert_locked(dev);
    dev->up = up;
    for (p = dev->peers; p; p = p->next) {
        if (!up) {
            wg_peer_clear_keys(p);
            wg_peer_purge_staged(p);
            wg_timers_stop(p);
        } else if (p->persistent_keepalive_interval && p->endpoint.addr.sa.sa_family != AF_UNSPEC) {
            wg_device_send_keepalive(p, now_ns);
        }
    }
}

/* ---- timers ------------------------------------------------------------ */

void
wg_device_note_timer(struct wg_device *dev, uint64_t deadline_ns)
{
    wg_device_assert_locked(dev);
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
