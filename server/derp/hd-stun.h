/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "hd-metrics.h"

G_BEGIN_DECLS

/*
 * The STUN server: binding requests on one UDP address answered with the
 * requester's address (XOR-MAPPED-ADDRESS). Facts: cmd/derper/derper.go
 * serveSTUN/serverSTUNListener, net/stun/stun.go.
 */
typedef struct _HdStun HdStun;

HdStun *hd_stun_new (GInetSocketAddress *address,
                     HdMetrics *metrics,
                     GError **error);
void hd_stun_free (HdStun *stun);
/* The bound address (the port, if 0 was asked for). Transfer full. */
GSocketAddress *hd_stun_get_address (HdStun *stun);

G_END_DECLS
