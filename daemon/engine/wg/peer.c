/* SPDX-License-Identifier: MIT */
#include "wg/peer.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "crypto/keys.h"
#include "crypto/secmem.h"
#include "wg/allowedips.h"
#include "wg/device-private.h"
#include "wg/index.h"

struct wg_peer *
wg_peer_ref(struct wg_peer *p)
{
    if (p)
        atomic_fetch_add_explicit(&p->refcount, 1, memory_order_relaxed);
    return p;
}

void
wg_peer_unref(struct wg_peer *p)
{
    if (!p || atomic_fetch_sub_explicit(&p->refcount, 1, memory_order_acq_rel) != 1)
        return;
    /* Removed from the device already (wg_device_remove_peer): only memory is left. */
    secmem_free(p, sizeof(*p));
}

struct wg_keypair *
wg_keypair_ref(struct wg_keypair *kp)
{
    if (kp)
        atomic_fetch_add_explicit(&kp->refcount, 1, memory_order_relaxed);
    return kp;
}

void
wg_keypair_unref(struct wg_keypair *kp)
{
    struct wg_peer *peer;

    if (!kp || atomic_fetch_sub_explicit(&kp->refcount, 1, memory_order_acq_rel) != 1)
        return;
    peer = kp->peer;
    pthread_spin_destroy(&kp->replay_lock);
    secmem_free(kp, sizeof(*kp)); /* wipes */
    wg_peer_unref(peer);
}

struct wg_keypair *
wg_keypair_new(struct wg_peer *peer, const uint8_t send[static WG_KEY_LEN],
               const uint8_t recv[static WG_KEY_LEN], bool initiator, uint64_t now_ns)
{
    struct wg_keypair *kp = secmem_alloc(sizeof(*kp));

    wg_device_assert_locked(peer->device);
    if (!kp)
        return NULL;
    memset(kp, 0, sizeof(*kp));
    atomic_init(&kp->refcount, 1);
    kp->peer = wg_peer_ref(peer);
    memcpy(kp->send_key, send, WG_KEY_LEN);
    memcpy(kp->recv_key, recv, WG_KEY_LEN);
    atomic_init(&kp->send_counter, 0);
    pthread_spin_init(&kp->replay_lock, PTHREAD_PROCESS_PRIVATE);
    replay_init(&kp->replay);
    kp->birth_ns = now_ns;
    kp->i_am_initiator = initiator;
    return kp;
}

/* Forget a keypair: no new lookups find it; batches in flight keep their reference. */
static void
keypair_drop(struct wg_peer *peer, struct wg_keypair **slot)
{
    struct wg_keypair *kp = *slot;

    if (!kp)
        return;
    *slot = NULL;
    if (kp->in_index_table) {
        wg_device_index_remove(peer->device, kp->local_index);
        kp->in_index_table = false;
    }
    wg_keypair_unref(kp);
}

/*
 * Kernel noise.c add_new_keypair: an initiator can use its new keypair at
 * once; a responder parks it in "next" until the initiator's first packet
 * confirms it (wg_peer_received_with_keypair).
 */
void
wg_peer_add_keypair(struct wg_peer *peer, struct wg_keypair *kp)
{
    wg_device_assert_locked(peer->device);
    engine_debug(ENGINE_LOG_WG, "%s - New keypair %08x (%s)", WG_PEER_NAME(peer), kp->local_index,
                 kp->i_am_initiator ? "we initiated: in use now"
                                    : "they initiated: in use once confirmed");
    if (kp->i_am_initiator) {
        if (peer->kp_next) {
            /* Keep the unconfirmed one usable for receiving. */
            keypair_drop(peer, &peer->kp_previous);
            peer->kp_previous = peer->kp_next;
            peer->kp_next = NULL;
            keypair_drop(peer, &peer->kp_current);
        } else {
            keypair_drop(peer, &peer->kp_previous);
            peer->kp_previous = peer->kp_current;
        }
        peer->kp_current = kp;
    } else {
        keypair_drop(peer, &peer->kp_next);
        peer->kp_next = kp;
        keypair_drop(peer, &peer->kp_previous);
    }
}

bool
wg_peer_received_with_keypair(struct wg_peer *peer, struct wg_keypair *kp)
{
    wg_device_assert_locked(peer->device);
    if (peer->kp_next != kp)
        return false;
    keypair_drop(peer, &peer->kp_previous);
    peer->kp_previous = peer->kp_current;
    peer->kp_current = kp;
    peer->kp_next = NULL;
    return true;
}

void
wg_peer_clear_handshake(struct wg_peer *peer)
{
    struct wg_handshake *hs = &peer->handshake;

    wg_device_assert_locked(peer->device);
    if (hs->in_index_table) {
        wg_device_index_remove(peer->device, hs->local_index);
        hs->in_index_table = false;
    }
    noise_handshake_wipe(&hs->noise);
    hs->state = WG_HANDSHAKE_ZEROED;
    hs->local_index = hs->remote_index = 0;
}

void
wg_peer_clear_keys(struct wg_peer *peer)
{
    wg_device_assert_locked(peer->device);
    if (peer->kp_previous || peer->kp_current || peer->kp_next)
        engine_debug(ENGINE_LOG_WG, "%s - Removing all keys", WG_PEER_NAME(peer));
    keypair_drop(peer, &peer->kp_previous);
    keypair_drop(peer, &peer->kp_current);
    keypair_drop(peer, &peer->kp_next);
    wg_peer_clear_handshake(peer);
}

void
wg_peer_purge_staged(struct wg_peer *peer)
{
    wg_device_assert_locked(peer->device);
    for (unsigned int i = 0; i < peer->n_staged; i++) {
        sodium_memzero(peer->staged[i].data, peer->staged[i].len);
        free(peer->staged[i].data);
    }
    peer->n_staged = 0;
}

const char *
wg_public_key_name(const uint8_t pub[static WG_KEY_LEN], char out[static WG_PEER_NAME_LEN])
{
    char b64[KEY_BASE64_LEN + 1];

    key_to_base64(b64, pub);
    snprintf(out, WG_PEER_NAME_LEN, "peer(%.4s...%.4s)", b64, b64 + KEY_BASE64_LEN - 5);
    return out;
}

const char *
wg_peer_name(const struct wg_peer *peer, char out[static WG_PEER_NAME_LEN])
{
    return wg_public_key_name(peer->public_key, out);
}

/* ---- configuration (device.h) ------------------------------------------ */

void
wg_peer_set_preshared_key(struct wg_peer *peer, const uint8_t psk[static WG_KEY_LEN])
{
    wg_device_assert_locked(peer->device);
    memcpy(peer->preshared_key, psk, WG_KEY_LEN);
}

void
wg_peer_set_endpoint(struct wg_peer *peer, const union wg_sockaddr *addr)
{
    wg_device_assert_locked(peer->device);
    memset(&peer->endpoint, 0, sizeof(peer->endpoint));
    peer->endpoint.addr = *addr;
    peer->endpoint_pinned = false;
}

void
wg_peer_set_persistent_keepalive(struct wg_peer *peer, uint16_t seconds, uint64_t now_ns)
{
    bool was_off = peer->persistent_keepalive_interval == 0;

    wg_device_assert_locked(peer->device);
    peer->persistent_keepalive_interval = seconds;
    if (!seconds)
        peer->timer_persistent_keepalive = 0;
    else if (was_off && peer->device->up && peer->endpoint.addr.sa.sa_family != AF_UNSPEC)
        wg_device_send_keepalive(peer, now_ns);
}

int
wg_peer_add_allowed_ip(struct wg_peer *peer, int family, const uint8_t *addr, uint8_t cidr)
{
    wg_device_assert_locked(peer->device);
    return allowedips_insert(peer->device->allowedips, family, addr, cidr, peer);
}

void
wg_peer_clear_allowed_ips(struct wg_peer *peer)
{
    wg_device_assert_locked(peer->device);
    allowedips_remove_by_peer(peer->device->allowedips, peer);
}
