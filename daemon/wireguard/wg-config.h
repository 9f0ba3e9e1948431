/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "uapi/uapi.h"
#include "wg/device.h"

/* UAPI requests ↔ device state. Both run with the device lock held. */
int wg_config_get(struct wg_device *dev, uint16_t listen_port, uint32_t fwmark,
                  struct uapi_device_state *out);
int wg_config_apply(struct wg_device *dev, const struct uapi_set *set, uint64_t now_ns);
