/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "hyphae-mesh-error.h"

G_BEGIN_DECLS

/*
 * The errors of a Mesh1 client, sorted by cause: what hyphaectl maps to its
 * exit codes and the app to its pages and toasts. Shared by the proxy
 * helpers (hyphae-mesh-proxy.h) and HyphaeClient (hyphae-client.h).
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
