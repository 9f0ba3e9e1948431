/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "hyphae-peer.h"

G_BEGIN_DECLS

/*
 * The tailnet's peers as a GListModel of HyphaePeer, in the daemon's order
 * (GetPeers sorts by node id), merged in place by stable id so that views
 * keep their rows, selection and scroll across network maps:
 *   a peer gone          items-changed (pos, n, 0) per run of them
 *   a peer new           items-changed (pos, 0, n) per run of them
 *   a sort or filter key items-changed (pos, 1, 1) with the SAME object:
 *   changed              GtkSortListModel and GtkFilterListModel (GTK 4.8)
 *                        re-sort and re-filter only items announced again,
 *                        never on a property notify
 *   anything else        the peer's property notifies only
 *   identical list       no signal at all
 */
#define HYPHAE_TYPE_PEER_LIST (hyphae_peer_list_get_type ())
G_DECLARE_FINAL_TYPE (HyphaePeerList, hyphae_peer_list, HYPHAE, PEER_LIST, GObject)

HyphaePeerList *hyphae_peer_list_new (void);
/* Merges infos (HyphaePeerInfo *, e.g. from hyphae_peer_info_list_new) into
 * the list; a second entry with an id already seen is ignored. */
void hyphae_peer_list_update (HyphaePeerList *self,
                              GPtrArray *infos);
/* The peer with that stable id, or NULL (transfer none). */
HyphaePeer *hyphae_peer_list_lookup (HyphaePeerList *self,
                                     const char *id);
/* The one peer that `what` names (hyphae_peer_info_matches: stable id, host
 * name, MagicDNS name or its first label, an address), or NULL (transfer
 * none); n_matches (optional) tells none (0) from ambiguous (> 1). */
HyphaePeer *hyphae_peer_list_find (HyphaePeerList *self,
                                   const char *what,
                                   guint *n_matches);

G_END_DECLS
