/* SPDX-License-Identifier: MIT */
#include "wg/timers.h"

#include <sodium.h>

#include "common/log.h"
#include "wg/device-private.h"

static uint64_t
jitter(void)
{
    return randombytes_uniform((uint32_t)WG_REKEY_TIMEOUT_JITTER);
}

static void
arm(struct wg_peer *peer, uint64_t *timer, uint64_t deadline)
{
    if (deadline == 0)
        deadline = 1;
    *timer = deadline;
    wg_device_note_timer(peer->device, deadline);
}

void
wg_timers_data_sent(struct wg_peer *peer, uint64_t now_ns)
{
    wg_device_assert_locked(peer->device);
    if (!peer->timer_new_handshake)
        arm(peer, &peer->timer_new_handshake,
            now_ns + WG_KEEPALIVE_TIMEOUT + WG_REKEY_TIMEOUT + jitter());
}

void
wg_timers_data_received(struct wg_peer *peer, uint64_t now_ns)
{
    wg_device_assert_locked(peer->device);
    if (!peer->timer_send_keepalive)
        arm(peer, &peer->timer_send_keepalive, now_ns + WG_KEEPALIVE_TIMEOUT);
    else
        peer->need_another_keepalive = true;
}

void
wg_timers_any_authenticated_packet_sent(struct wg_peer *peer)
{
    wg_device_assert_locked(peer->device);
    peer->timer_send_keepalive = 0;
}

void
wg_timers_any_authenticated_packet_received(struct wg_peer *peer)
{
    wg_device_assert_locked(peer->device);
    peer->timer_new_handshake = 0;
}

void
wg_timers_any_authenticated_packet_traversal(struct wg_peer *peer, uint64_t now_ns)
{
    wg_device_assert_locked(peer->device);
    if (peer->persistent_keepalive_interval)
        arm(peer, &peer->timer_persistent_keepalive,
            now_ns + WG_NS(peer->persistent_keepalive_interval));
}

void
wg_timers_handshake_initiated(struct wg_peer *peer, uint64_t now_ns)
{
    wg_device_assert_locked(peer->device);
    arm(peer, &peer->timer_retransmit_handshake, now_ns + WG_REKEY_TIMEOUT + jitter());
}

void
wg_timers_handshake_complete(struct wg_peer *peer, uint64_t now_ns)
{
    wg_device_assert_locked(peer->device);
    peer->timer_retransmit_handshake = 0;
    peer->handshake_attempts = 0;
    peer->sent_lastminute_handshake = false;
    peer->last_handshake_realtime_ns = (int64_t)now_ns + peer->device->realtime_offset_ns;
}

void
wg_timers_session_derived(struct wg_peer *peer, uint64_t now_ns)
{
    wg_device_assert_locked(peer->device);
    arm(peer, &peer->timer_zero_key_material, now_ns + 3 * WG_REJECT_AFTER_TIME);
}

void
wg_timers_stop(struct wg_peer *peer)
{
    wg_device_assert_locked(peer->device);
    peer->timer_retransmit_handshake = 0;
    peer->timer_send_keepalive = 0;
    peer->timer_new_handshake = 0;
    peer->timer_zero_key_material = 0;
    peer->timer_persistent_keepalive = 0;
}

static bool
expired(uint64_t *timer, uint64_t now_ns)
{
    if (!*timer || *timer > now_ns)
        return false;
    *timer = 0;
    return true;
}

static void
clear_endpoint_source(struct wg_peer *peer)
{
    /* The path may have changed: let the kernel pick a source again. */
    peer->endpoint.src_ifindex = 0;
    __builtin_memset(&peer->endpoint.src6, 0, sizeof(peer->endpoint.src6));
}

static void
fire_retransmit_handshake(struct wg_peer *peer, uint64_t now_ns)
{
    if (peer->handshake_attempts > WG_MAX_TIMER_HANDSHAKES) {
        /* Give up: drop what waited for this peer, keep keys until they age out. */
        engine_debug(ENGINE_LOG_WG, "%s - Handshake did not complete after %u attempts, giving up",
                     WG_PEER_NAME(peer), WG_MAX_TIMER_HANDSHAKES + 2);
        peer->timer_send_keepalive = 0;
        wg_peer_purge_staged(peer);
        if (!peer->timer_zero_key_material)
            arm(peer, &peer->timer_zero_key_material, now_ns + 3 * WG_REJECT_AFTER_TIME);
        return;
    }
    peer->handshake_attempts++;
    engine_debug(ENGINE_LOG_WG,
                 "%s - Handshake did not complete after %llu seconds, retrying (try %u)",
                 WG_PEER_NAME(peer), (unsigned long long)(WG_REKEY_TIMEOUT / WG_NS(1)),
                 peer->handshake_attempts + 1);
    clear_endpoint_source(peer);
    wg_device_send_handshake_initiation(peer, true, now_ns);
}

static void
fire_send_keepalive(struct wg_peer *peer, uint64_t now_ns)
{
    wg_device_send_keepalive(peer, now_ns);
    if (peer->need_another_keepalive) {
        peer->need_another_keepalive = false;
        arm(peer, &peer->timer_send_keepalive, now_ns + WG_KEEPALIVE_TIMEOUT);
    }
}

static void
fire_new_handshake(struct wg_peer *peer, uint64_t now_ns)
{
    engine_debug(ENGINE_LOG_WG, "%s - Retrying handshake: no reply to our data for %llu seconds",
                 WG_PEER_NAME(peer),
                 (unsigned long long)((WG_KEEPALIVE_TIMEOUT + WG_REKEY_TIMEOUT) / WG_NS(1)));
    clear_endpoint_source(peer);
    wg_device_send_handshake_initiation(peer, false, now_ns);
}

static void
fire_zero_key_material(struct wg_peer *peer)
{
    engine_debug(ENGINE_LOG_WG, "%s - No new keys for %llu seconds", WG_PEER_NAME(peer),
                 (unsigned long long)(3 * WG_REJECT_AFTER_TIME / WG_NS(1)));
    wg_peer_clear_keys(peer);
}

static void
fire_persistent_keepalive(struct wg_peer *peer, uint64_t now_ns)
{
    if (peer->persistent_keepalive_interval)
        wg_device_send_keepalive(peer, now_ns);
}

static uint64_t
earliest(uint64_t a, uint64_t b)
{
    if (!a)
        return b;
    if (!b)
        return a;
    return a < b ? a : b;
}

uint64_t
wg_timers_fire(struct wg_peer *peer, uint64_t now_ns)
{
    uint64_t next = 0;

    wg_device_assert_locked(peer->device);
    if (expired(&peer->timer_retransmit_handshake, now_ns))
        fire_retransmit_handshake(peer, now_ns);
    if (expired(&peer->timer_send_keepalive, now_ns))
        fire_send_keepalive(peer, now_ns);
    if (expired(&peer->timer_new_handshake, now_ns))
        fire_new_handshake(peer, now_ns);
    if (expired(&peer->timer_zero_key_material, now_ns))
        fire_zero_key_material(peer);
    if (expired(&peer->timer_persistent_keepalive, now_ns))
        fire_persistent_keepalive(peer, now_ns);

    next = earliest(next, peer->timer_retransmit_handshake);
    next = earliest(next, peer->timer_send_keepalive);
    next = earliest(next, peer->timer_new_handshake);
    next = earliest(next, peer->timer_zero_key_material);
    next = earliest(next, peer->timer_persistent_keepalive);
    return next;
}
