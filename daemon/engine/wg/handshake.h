/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "wg/device.h"

/*
 * The WireGuard handshake messages (whitepaper §5.4.2–5.4.3) over the shared
 * Noise IKpsk2 core. All under the device lock.
 */
void wg_tai64n_now(uint8_t out[static WG_TIMESTAMP_LEN], int64_t realtime_ns);

bool wg_handshake_create_initiation(struct wg_device *dev, struct wg_peer *peer,
                                    struct wg_message_handshake_initiation *msg, uint64_t now_ns);
/* Returns the peer whose initiation this is (handshake now CONSUMED_INITIATION), or NULL. */
struct wg_peer *wg_handshake_consume_initiation(struct wg_device *dev,
                                                const struct wg_message_handshake_initiation *msg,
                                                uint64_t now_ns);
bool wg_handshake_create_response(struct wg_device *dev, struct wg_peer *peer,
                                  struct wg_message_handshake_response *msg, uint64_t now_ns);
struct wg_peer *wg_handshake_consume_response(struct wg_device *dev,
                                              const struct wg_message_handshake_response *msg,
                                              uint64_t now_ns);
/* Derive the transport keypair from a completed handshake and install it. */
bool wg_handshake_begin_session(struct wg_device *dev, struct wg_peer *peer, uint64_t now_ns);
