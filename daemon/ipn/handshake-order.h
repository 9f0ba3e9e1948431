/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "crypto/keys.h"

/*
 * Who starts the WireGuard handshake when two nodes learn of each other at
 * once (a new peer, or one at a new endpoint; see handshake-order.c).
 * Plain C with no GLib, so that the engine tests drive the same rule.
 */
#define HANDSHAKE_DEFER_MS 1000

/* 0: initiate now; otherwise initiate after this many ms, and only if
 * handshake_deferred_needed() still says so then. */
unsigned int handshake_initiate_delay_ms (const uint8_t our_public[KEY_LEN],
                                          const uint8_t peer_public[KEY_LEN]);

/* The deferred side, when its delay is up: a handshake completed at or after
 * deferred_since (same clock and unit as last_handshake; 0 = never) means
 * the other side initiated, and there is nothing to do. */
bool handshake_deferred_needed (int64_t last_handshake,
                                int64_t deferred_since);
