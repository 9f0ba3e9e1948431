/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wg-runner.h"

/*
 * The runner's bounded event queue (Tailscale mode): any runner thread
 * pushes, the daemon's main loop pops. At most WG_RUNNER_EVENT_QUEUE_MAX
 * events and WG_RUNNER_EVENT_QUEUE_BYTES bytes of data; past that, a push
 * drops its event and counts it. One mutex, held for a few stores (and one
 * eventfd write or read when the queue turns non-empty or empty): the
 * eventfd is readable exactly while the queue holds an event.
 */
struct wg_event_queue;

struct wg_event_queue *wg_event_queue_new(void);
void wg_event_queue_free(struct wg_event_queue *q); /* NULL is fine; frees what is left */
int wg_event_queue_fd(const struct wg_event_queue *q);
/* Copies ep, peer_key (KEY_LEN bytes or NULL) and data. false: dropped. */
bool wg_event_queue_push(struct wg_event_queue *q, enum wg_runner_event_kind kind,
                         const struct wg_endpoint *ep, const uint8_t *peer_key, const uint8_t *data,
                         size_t len);
struct wg_runner_event *wg_event_queue_pop(struct wg_event_queue *q);
uint64_t wg_event_queue_dropped(const struct wg_event_queue *q);
