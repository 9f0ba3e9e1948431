/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "hyphae-client-error.h"
#include "hyphae-mesh1-generated.h"
#include "hyphae-peer-info.h"

G_BEGIN_DECLS

/*
 * Blocking helpers on the generated HyphaeMesh1 proxy, for a one-shot client
 * such as hyphaectl: reach hyphaed on the system bus and read its peers and
 * self as typed values. A long-lived client (the app) uses HyphaeClient
 * (hyphae-client.h) instead, which watches the daemon and keeps models.
 */

/* The proxy for hyphaed on the system bus (DBUS_SYSTEM_BUS_ADDRESS chooses
 * another one, as for every GDBus client); creating it lets D-Bus activate
 * hyphaed. HYPHAE_CLIENT_ERROR_NO_DAEMON, with a message saying why, if the
 * bus cannot be reached or io.github.hyphae.Mesh1 has no owner afterwards.
 * Registers the HYPHAE_MESH_ERROR names first, so calls fail with typed
 * errors. */
HyphaeMesh1 *hyphae_mesh_connect_sync (GCancellable *cancellable,
                                       GError **error);
/* The same without blocking (a GUI's main loop). */
void hyphae_mesh_connect (GCancellable *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer user_data);
HyphaeMesh1 *hyphae_mesh_connect_finish (GAsyncResult *result,
                                         GError **error);

/* GetPeers() as HyphaePeerInfo (a GPtrArray that unrefs them). */
GPtrArray *hyphae_mesh_get_peers_sync (HyphaeMesh1 *proxy,
                                       GCancellable *cancellable,
                                       GError **error);
/* The Self and Tailnet properties; NULL before the first network map. */
HyphaePeerInfo *hyphae_mesh_dup_self (HyphaeMesh1 *proxy);
HyphaeTailnetInfo *hyphae_mesh_dup_tailnet (HyphaeMesh1 *proxy);
/* The pending login URL if the daemon gives it to us (we called Up or Login,
 * or polkit lets us administer it without asking), else NULL. */
char *hyphae_mesh_get_auth_url (HyphaeMesh1 *proxy);

G_END_DECLS
