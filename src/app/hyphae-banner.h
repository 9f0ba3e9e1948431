/* SPDX-License-Identifier: MIT */
#pragma once

#include <adwaita.h>

#include "hyphae-client.h"

G_BEGIN_DECLS

/*
 * The strip above the window's pages that says what needs attention while
 * connected (hyphae-attention.h), the most important thing only, with the
 * button that fixes it: Reauthenticate (app.sign-in with the control URL in
 * use) for an expiring key, Disable Exit Node (app.set-exit-node "") for an
 * offline exit node; Health messages have none. AdwBanner on libadwaita
 * ≥ 1.3, a GtkInfoBar before (Debian 12's 1.2). Hidden when nothing applies.
 */
#define HYPHAE_TYPE_BANNER (hyphae_banner_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeBanner, hyphae_banner, HYPHAE, BANNER, AdwBin)

GtkWidget *hyphae_banner_new (HyphaeClient *client,
                              GSettings *settings);

G_END_DECLS
