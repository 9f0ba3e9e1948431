/* SPDX-License-Identifier: MIT */
#pragma once

#include <gtk/gtk.h>

#include "hyphae-peer.h"

G_BEGIN_DECLS

/* One peer in the peer list: a button with its name, OS and address that
 * opens its page (main-view.show-peer: GTK 4.8's AT-SPI cannot activate a
 * list row), online or offline, an exit node badge, and copy buttons for
 * its MagicDNS name and address whose accessible labels name the peer.
 * A GtkListView reuses rows: set_peer() rebinds (NULL unbinds). */
#define HYPHAE_TYPE_PEER_ROW (hyphae_peer_row_get_type ())
G_DECLARE_FINAL_TYPE (HyphaePeerRow, hyphae_peer_row, HYPHAE, PEER_ROW, GtkBox)

GtkWidget *hyphae_peer_row_new (void);
void hyphae_peer_row_set_peer (HyphaePeerRow *self,
                               HyphaePeer *peer);

G_END_DECLS
