/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "wg/device.h"

/*
 * Shared by the files of engine/wg (device.c, send.c, receive.c, timers.c),
 * never by the device's users. All under the device lock.
 */

/* Send a handshake or data datagram to the peer's endpoint and count it. */
void wg_device_send_authenticated(struct wg_peer *peer, const uint8_t *data, size_t len,
                                  uint64_t now_ns);
void wg_device_send_staged(struct wg_peer *peer, uint64_t now_ns);
void wg_device_note_timer(struct wg_device *dev, uint64_t deadline_ns);

/*
 * Every function documented as "under the device lock" starts with this.
 * Builds without NDEBUG (meson's default b_ndebug=false) abort unless the
 * calling thread took dev->lock with wg_device_lock; -Db_ndebug=true compiles
 * it to nothing.
 */
#ifdef NDEBUG
#define wg_device_assert_locked(dev) ((void)0)
#else
void wg_device_assert_locked(const struct wg_device *dev);
#endif
