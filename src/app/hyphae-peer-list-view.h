/* SPDX-License-Identifier: MIT */
#pragma once

#include <gtk/gtk.h>

#include "hyphae-peer-list.h"

G_BEGIN_DECLS

/*
 * The peers: a search entry over a GtkListView of HyphaePeerRow, through
 * GtkNoSelection (GtkFilterListModel (GtkSortListModel (peers))): online
 * first, then by name; a search changes the filter only (incremental), a
 * peer update moves one item in the sort. HyphaePeerList re-announces a peer whose online,
 * name or search text changed, which is what makes these models move it.
 * An empty list or search shows a status page instead.
 */
#define HYPHAE_TYPE_PEER_LIST_VIEW (hyphae_peer_list_view_get_type ())
G_DECLARE_FINAL_TYPE (HyphaePeerListView, hyphae_peer_list_view, HYPHAE, PEER_LIST_VIEW, GtkBox)

void hyphae_peer_list_view_set_peers (HyphaePeerListView *self,
                                      HyphaePeerList *peers);
/* The entry typing into `widget` goes to. */
void hyphae_peer_list_view_capture_keys (HyphaePeerListView *self,
                                         GtkWidget *widget);
/* The order of the peer list (online first, then by display name), for
 * other lists of peers. */
GtkSorter *hyphae_peer_list_view_new_sorter (void);

G_END_DECLS
