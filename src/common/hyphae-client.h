/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "hyphae-mesh-error.h"
#include "hyphae-mesh1-generated.h"
#include "hyphae-peer-info.h"

G_BEGIN_DECLS

/*
 * What every client of io.github.hyphae.Mesh1 does the same way (hyphaectl
 * today, the desktop app next): reach hyphaed on the system bus, read its
 * peers and self as typed values, and tell why a call failed. The
 * HyphaeMesh1 proxy stays the client's handle on the daemon; its properties
 * and signals are used directly.
 */

/* Errors the client side makes itself (the daemon's are HYPHAE_MESH_ERROR). */
#define HYPHAE_CLIENT_ERROR (hyphae_client_error_quark ())
GQuark hyphae_client_error_quark (void);

typedef enum {
  HYPHAE_CLIENT_ERROR_NO_DAEMON, /* hyphaed is not running and cannot be started */
} HyphaeClientError;

/* Calls that change something let polkit ask for a password if an agent is
 * around, and wait for the user as long as it takes. */
#define HYPHAE_CLIENT_MUTATE_FLAGS   G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION
#define HYPHAE_CLIENT_MUTATE_TIMEOUT G_MAXINT

/* The proxy for hyphaed on the system bus (DBUS_SYSTEM_BUS_ADDRESS chooses
 * another one, as for every GDBus client); creating it lets D-Bus activate
 * hyphaed. HYPHAE_CLIENT_ERROR_NO_DAEMON, with a message saying why, if the
 * bus cannot be reached or io.github.hyphae.Mesh1 has no owner afterwards.
 * Registers the HYPHAE_MESH_ERROR names first, so calls fail with typed
 * errors. */
HyphaeMesh1 *hyphae_client_connect_sync (GCancellable *cancellable,
                                         GError **error);
/* The same without blocking (a GUI's main loop). */
void hyphae_client_connect (GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data);
HyphaeMesh1 *hyphae_client_connect_finish (GAsyncResult *result,
                                           GError **error);

/* GetPeers() as HyphaePeerInfo (a GPtrArray that unrefs them). */
GPtrArray *hyphae_client_get_peers_sync (HyphaeMesh1 *proxy,
                                         GCancellable *cancellable,
                                         GError **error);
/* The Self and Tailnet properties; NULL before the first network map. */
HyphaePeerInfo *hyphae_client_dup_self (HyphaeMesh1 *proxy);
HyphaeTailnetInfo *hyphae_client_dup_tailnet (HyphaeMesh1 *proxy);
/* The pending login URL if the daemon gives it to us (we called Up or Login,
 * or polkit lets us administer it without asking), else NULL. */
char *hyphae_client_get_auth_url (HyphaeMesh1 *proxy);

/* Why a call failed, as a client tells its user. */
typedef enum {
  HYPHAE_CLIENT_FAILURE_OTHER,
  HYPHAE_CLIENT_FAILURE_NO_DAEMON,      /* not running, cannot be started, went away */
  HYPHAE_CLIENT_FAILURE_NOT_AUTHORIZED, /* polkit or the bus refused the call */
  HYPHAE_CLIENT_FAILURE_NEEDS_LOGIN,
  HYPHAE_CLIENT_FAILURE_UNREACHABLE, /* the control server cannot be reached */
  HYPHAE_CLIENT_FAILURE_BAD_AUTH_KEY,
  HYPHAE_CLIENT_FAILURE_INVALID_ARGUMENT,
  HYPHAE_CLIENT_FAILURE_ENGINE,            /* the WireGuard engine or the network setup failed */
  HYPHAE_CLIENT_FAILURE_TOO_MANY_REQUESTS, /* too many of this user's calls wait for polkit */
} HyphaeClientFailure;

HyphaeClientFailure hyphae_client_error_failure (const GError *error);
/* error's message without the "GDBus.Error:name: " prefix of remote errors. */
char *hyphae_client_error_message (const GError *error);

G_END_DECLS
