/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "wg/peer.h"

/*
 * Per-peer timers (kernel timers.c; whitepaper §6), as absolute deadlines that
 * wg_device_tick fires. All under the device lock.
 *
 *   retransmit_handshake  REKEY_TIMEOUT+jitter after an initiation with no answer;
 *                         gives up after MAX_TIMER_HANDSHAKES (18) retries
 *   send_keepalive        KEEPALIVE_TIMEOUT after data arrived and nothing went back
 *   new_handshake         KEEPALIVE+REKEY_TIMEOUT+jitter after data went out and
 *                         nothing authenticated came back (dead peer detection)
 *   zero_key_material     3 × REJECT_AFTER_TIME (540 s) after the last session
 *   persistent_keepalive  the configured interval after any authenticated packet
 */
void wg_timers_data_sent(struct wg_peer *peer, uint64_t now_ns);
void wg_timers_data_received(struct wg_peer *peer, uint64_t now_ns);
void wg_timers_any_authenticated_packet_sent(struct wg_peer *peer);
void wg_timers_any_authenticated_packet_received(struct wg_peer *peer);
void wg_timers_any_authenticated_packet_traversal(struct wg_peer *peer, uint64_t now_ns);
void wg_timers_handshake_initiated(struct wg_peer *peer, uint64_t now_ns);
void wg_timers_handshake_complete(struct wg_peer *peer, uint64_t now_ns);
void wg_timers_session_derived(struct wg_peer *peer, uint64_t now_ns);
void wg_timers_stop(struct wg_peer *peer);
/* Fire the peer's expired timers; returns its earliest remaining deadline or 0. */
uint64_t wg_timers_fire(struct wg_peer *peer, uint64_t now_ns);
