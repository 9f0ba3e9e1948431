/* SPDX-License-Identifier: MIT */
/*
 * A peer that is new, or reachable at a new endpoint, gets a handshake soon:
 * if it saw us vanish and come back (or we it), the old session is dead on
 * one side, and waiting for traffic would leave the other side sending into
 * the void until WireGuard's 15 s no-reply timer.
 *
 * When two nodes learn of each other in the same netmap, both initiating
 * would cross: each consumes the other's initiation, which replaces its own
 * handshake state, so each drops the response to its own; both end up
 * responders with unconfirmed keys and nothing flows until the 5 s
 * (REKEY_TIMEOUT) retry. So the side with the lower public key initiates at
 * once and the other waits HANDSHAKE_DEFER_MS, then initiates only if no
 * handshake completed meanwhile (a lost initiation must not leave the pair
 * without a session). tests/unit/engine/test-wg-device.c (crossed-initiation)
 * drives two engines through both.
 */
#include "handshake-order.h"

#include <string.h>

unsigned int
handshake_initiate_delay_ms (const uint8_t our_public[KEY_LEN],
                             const uint8_t peer_public[KEY_LEN])
{
  return memcmp (our_public, peer_public, KEY_LEN) < 0 ? 0 : HANDSHAKE_DEFER_MS;
}

bool
handshake_deferred_needed (int64_t last_handshake,
                           int64_t deferred_since)
{
  return last_handshake < deferred_since;
}
