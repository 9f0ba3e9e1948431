/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * Asks polkit whether the sender of a D-Bus call may do action_id, with a
 * direct call to org.freedesktop.PolicyKit1.Authority.CheckAuthorization and
 * the subject ("system-bus-name", {"name": sender}) (polkit(8), polkit's
 * org.freedesktop.PolicyKit1.Authority.xml); no
 * libpolkit. interactive forwards the caller's ALLOW_INTERACTIVE_AUTHORIZATION
 * as polkit's AllowUserInteraction flag.
 *
 * A caller with uid 0 is allowed without asking polkit (as NetworkManager
 * does), so root can drive hyphaed on machines without polkitd.
 *
 * _finish returns TRUE only for an explicit "authorized" answer. A denial, a
 * challenge nobody answered, a polkit error, no answer within 120 s
 * (HYPHAED_POLKIT_TIMEOUT_MS at start shortens it) or no polkit at all are
 * all a HYPHAE_MESH_ERROR_NOT_AUTHORIZED error.
 *
 * At most HYPHAE_POLKIT_MAX_PENDING checks wait for polkit per caller uid;
 * more are HYPHAE_MESH_ERROR_TOO_MANY_REQUESTS at once, so a flood from one
 * unprivileged user neither grows without bound nor reaches polkitd.
 */
#define HYPHAE_POLKIT_MAX_PENDING 16u

void hyphae_polkit_check_async (GDBusConnection *connection,
                                const char *sender,
                                const char *action_id,
                                gboolean interactive,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data);
gboolean hyphae_polkit_check_finish (GAsyncResult *result,
                                     GError **error);

G_END_DECLS
