/* SPDX-License-Identifier: MIT */
/*
 * The receiver-index table (kernel peerlookup.c): the random 32-bit indices we
 * hand out in handshake messages, each naming a handshake or a keypair.
 */
#include "wg/index.h"

#include <sodium.h>
#include <stdlib.h>

#include "wg/device-private.h"

static unsigned int
index_bucket(uint32_t index)
{
    return (index * 2654435761u) >> 20 & (WG_INDEX_BUCKETS - 1);
}

struct wg_index_entry *
wg_device_index_find(struct wg_device *dev, uint32_t index)
{
    struct wg_index_entry *e = dev->index_hash[index_bucket(index)];

    wg_device_assert_locked(dev);
    while (e && e->index != index)
        e = e->next;
    return e;
}

uint32_t
wg_device_index_add(struct wg_device *dev, struct wg_peer *peer, struct wg_keypair *kp)
{
    struct wg_index_entry *e = malloc(sizeof(*e));
    uint32_t index;

    wg_device_assert_locked(dev);
    if (!e)
        abort(); /* 32 bytes on the handshake path: out of memory is fatal */
    do
        index = randombytes_random();
    while (wg_device_index_find(dev, index));
    e->index = index;
    e->peer = peer;
    e->keypair = kp;
    e->next = dev->index_hash[index_bucket(index)];
    dev->index_hash[index_bucket(index)] = e;
    return index;
}

void
wg_device_index_remove(struct wg_device *dev, uint32_t index)
{
    struct wg_index_entry **pp = &dev->index_hash[index_bucket(index)];

    wg_device_assert_locked(dev);
    for (; *pp; pp = &(*pp)->next) {
        if ((*pp)->index == index) {
            struct wg_index_entry *e = *pp;

            *pp = e->next;
            free(e);
            return;
        }
    }
}
