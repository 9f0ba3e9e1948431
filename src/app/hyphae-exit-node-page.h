/* SPDX-License-Identifier: MIT */
#pragma once

#include <gtk/gtk.h>

#include "hyphae-client.h"

G_BEGIN_DECLS

/* The exit node chooser: None, then every peer offering to be an exit
 * node (online first, then by name; offline ones marked), one
 * HyphaeExitNodeRow each, and the Allow LAN Access switch
 * (ExitNodeAllowLANAccess). */
#define HYPHAE_TYPE_EXIT_NODE_PAGE (hyphae_exit_node_page_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeExitNodePage, hyphae_exit_node_page, HYPHAE, EXIT_NODE_PAGE, GtkBox)

void hyphae_exit_node_page_set_client (HyphaeExitNodePage *self,
                                       HyphaeClient *client);

G_END_DECLS
