/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "wg/device.h"

/*
 * The receiver-index table (kernel peerlookup.c): our 32-bit indices →
 * handshake or keypair, hashed into dev->index_hash. Under the device lock.
 */
struct wg_index_entry {
    uint32_t index;
    struct wg_peer *peer;       /* no reference: entries die with their owner */
    struct wg_keypair *keypair; /* NULL: the peer's handshake */
    struct wg_index_entry *next;
};

uint32_t wg_device_index_add(struct wg_device *dev, struct wg_peer *peer, struct wg_keypair *kp);
void wg_device_index_remove(struct wg_device *dev, uint32_t index);
struct wg_index_entry *wg_device_index_find(struct wg_device *dev, uint32_t index);
