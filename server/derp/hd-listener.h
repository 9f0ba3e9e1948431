/* SPDX-License-Identifier: MIT */
#pragma once

#include "hd-server.h"

G_BEGIN_DECLS

/* The TCP listener: each connection becomes an HdConn (TLS when srv has a certificate). */
typedef struct _HdListener HdListener;

HdListener *hd_listener_new (HdServer *srv,
                             GInetSocketAddress *address,
                             GError **error);
void hd_listener_free (HdListener *listener);
/* The bound address (its port, if 0 was asked for). */
GInetSocketAddress *hd_listener_get_address (HdListener *listener);

/* The certificate and key from PEM files, once GIO's TLS backend is there. */
GTlsCertificate *hd_listener_load_cert (const char *cert_file,
                                        const char *key_file,
                                        GError **error);

G_END_DECLS
