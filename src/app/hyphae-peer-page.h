/* SPDX-License-Identifier: MIT */
#pragma once

#include <gtk/gtk.h>

#include "hyphae-client.h"

G_BEGIN_DECLS

/* One peer in full: addresses (copyable), OS, last seen, key expiry, the
 * path packets take (direct address or relay), bytes received and sent,
 * and "Use as Exit Node" when it offers to be one. While it is on screen it
 * reads the peers again every 2 s (rx/tx and the path change without a new
 * network map). */
#define HYPHAE_TYPE_PEER_PAGE (hyphae_peer_page_get_type ())
G_DECLARE_FINAL_TYPE (HyphaePeerPage, hyphae_peer_page, HYPHAE, PEER_PAGE, GtkBox)

void hyphae_peer_page_set_client (HyphaePeerPage *self,
                                  HyphaeClient *client);
void hyphae_peer_page_set_peer (HyphaePeerPage *self,
                                HyphaePeer *peer);

G_END_DECLS
