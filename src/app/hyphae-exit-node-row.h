/* SPDX-License-Identifier: MIT */
#pragma once

#include <adwaita.h>

#include "hyphae-client.h"

G_BEGIN_DECLS

/* One choice on the exit node page: a peer offering to be an exit node
 * ("Offline" when it is), or None (peer NULL). Choosing it activates
 * app.set-exit-node with its stable ID ("" for None) from a toggle button,
 * which is pressed while the client's exit-node-id is this choice: a radio
 * choice that GTK 4.8's AT-SPI can press (a GtkCheckButton has no action
 * there) and read (the button's pressed state). */
#define HYPHAE_TYPE_EXIT_NODE_ROW (hyphae_exit_node_row_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeExitNodeRow, hyphae_exit_node_row, HYPHAE, EXIT_NODE_ROW, AdwActionRow)

GtkWidget *hyphae_exit_node_row_new (HyphaeClient *client,
                                     HyphaePeer *peer);

G_END_DECLS
