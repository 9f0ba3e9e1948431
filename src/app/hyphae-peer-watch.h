/* SPDX-License-Identifier: MIT */
#pragma once

#include "hyphae-peer.h"

G_BEGIN_DECLS

/* What a view calls when the peer it shows changes in any way. */
typedef void (*HyphaePeerChangedFunc) (gpointer data);

/* Makes *watched (a reference, or NULL) peer, moving the view's "notify"
 * handler changed (data) from the old peer to the new one, and calls it
 * once for a new non-NULL peer. FALSE, doing nothing, if it already is.
 * hyphae_peer_watch_only: only for the properties named (NULL-terminated):
 * a list row need not redo itself for each rx/tx count. */
gboolean hyphae_peer_watch (HyphaePeer **watched,
                            HyphaePeer *peer,
                            HyphaePeerChangedFunc changed,
                            gpointer data);
gboolean hyphae_peer_watch_only (HyphaePeer **watched,
                                 HyphaePeer *peer,
                                 const char * const *properties,
                                 HyphaePeerChangedFunc changed,
                                 gpointer data);

G_END_DECLS
