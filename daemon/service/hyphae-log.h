/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * hyphaed's log categories: the engine's (common/log.h) under GLib log
 * domains "hyphae-<category>": hyphae-wg, hyphae-path, hyphae-control,
 * hyphae-map (later hyphae-derp, hyphae-disco, hyphae-dns). Their info and
 * debug lines are written when the category is switched on: at start by
 * G_MESSAGES_DEBUG ("all", or the domain names), at run time by
 * hyphae_log_set_debug (Mesh1.SetDebug, `hyphaectl debug`). Other domains
 * keep GLib's rules.
 */

/* Installs the GLib writer and the engine's handler. Once, before the first log line. */
void hyphae_log_init (void);

/* The mask for these category names ("all": every one; none: 0). An unknown
 * name is HYPHAE_MESH_ERROR_INVALID_ARGUMENT. */
gboolean hyphae_log_mask_from_names (const char * const *categories,
                                     guint32 *mask,
                                     GError **error);
/* Exactly the categories in mask on, the others off. */
void hyphae_log_set_debug_mask (guint32 mask);
/* The categories that are on, by name. */
GStrv hyphae_log_get_debug (void);

G_END_DECLS
