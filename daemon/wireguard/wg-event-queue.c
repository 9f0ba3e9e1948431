/* SPDX-License-Identifier: MIT */
#include "wg-event-queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct wg_event_queue {
    pthread_mutex_t lock;
    /* A ring of pointers: the bound on events is the ring's size. */
    struct wg_runner_event *ring[WG_RUNNER_EVENT_QUEUE_MAX];
    unsigned int head, count;
    size_t bytes;
    int fd;
    _Atomic uint64_t dropped;
};

struct wg_event_queue *
wg_event_queue_new(void)
{
    struct wg_event_queue *q = calloc(1, sizeof(*q));

    if (!q)
        return NULL;
    q->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (q->fd < 0) {
        free(q);
        return NULL;
    }
    pthread_mutex_init(&q->lock, NULL);
    return q;
}

void
wg_event_queue_free(struct wg_event_queue *q)
{
    struct wg_runner_event *e;

    if (!q)
        return;
    while ((e = wg_event_queue_pop(q)))
        free(e);
    close(q->fd);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

int
wg_event_queue_fd(const struct wg_event_queue *q)
{
    return q->fd;
}

bool
wg_event_queue_push(struct wg_event_queue *q, enum wg_runner_event_kind kind,
                    const struct wg_endpoint *ep, const uint8_t *peer_key, const uint8_t *data,
                    size_t len)
{
    static const uint8_t no_peer[KEY_LEN]; /* events that name no peer */
    struct wg_runner_event *e;
    bool queued = false;

    /* Allocated and filled before the lock: producers hold it for a few stores. */
    if (len > WG_RUNNER_EVENT_QUEUE_BYTES || !(e = malloc(sizeof(*e) + len))) {
        atomic_fetch_add_explicit(&q->dropped, 1, memory_order_relaxed);
        return false;
    }
    e->kind = kind;
    e->ep = *ep;
    memcpy(e->peer_key, peer_key ? peer_key : no_peer, KEY_LEN);
    e->len = len;
    if (len)
        memcpy(e->data, data, len);

    pthread_mutex_lock(&q->lock);
    if (q->count < WG_RUNNER_EVENT_QUEUE_MAX && q->bytes + len <= WG_RUNNER_EVENT_QUEUE_BYTES) {
        q->ring[(q->head + q->count) % WG_RUNNER_EVENT_QUEUE_MAX] = e;
        q->bytes += len;
        if (q->count++ == 0) {
            uint64_t one = 1;

            (void)!write(q->fd, &one, sizeof(one));
        }
        queued = true;
    }
    pthread_mutex_unlock(&q->lock);
    if (!queued) {
        free(e);
        atomic_fetch_add_explicit(&q->dropped, 1, memory_order_relaxed);
    }
    return queued;
}

struct wg_runner_event *
wg_event_queue_pop(struct wg_event_queue *q)
{
    struct wg_runner_event *e = NULL;

    pthread_mutex_lock(&q->lock);
    if (q->count) {
        e = q->ring[q->head];
        q->head = (q->head + 1) % WG_RUNNER_EVENT_QUEUE_MAX;
        q->bytes -= e->len;
        if (--q->count == 0) {
            uint64_t v;

            (void)!read(q->fd, &v, sizeof(v));
        }
    }
    pthread_mutex_unlock(&q->lock);
    return e;
}

uint64_t
wg_event_queue_dropped(const struct wg_event_queue *q)
{
    return atomic_load_explicit(&q->dropped, memory_order_relaxed);
}
