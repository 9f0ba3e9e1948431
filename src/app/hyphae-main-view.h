/* SPDX-License-Identifier: MIT */
#pragma once

#include <adwaita.h>

#include "hyphae-client.h"

G_BEGIN_DECLS

#define HYPHAE_TYPE_MAIN_VIEW (hyphae_main_view_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeMainView, hyphae_main_view, HYPHAE, MAIN_VIEW, AdwBin)

/* What the window shows while hyphaed is Running: this device, the peers,
 * the exit node and the switches, all views of client. Copying and verbs
 * go through the app.* actions (hyphae-application-actions.c). */
GtkWidget *hyphae_main_view_new (HyphaeClient *client);

G_END_DECLS
