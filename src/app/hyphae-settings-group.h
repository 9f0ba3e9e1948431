/* SPDX-License-Identifier: MIT */
#pragma once

#include <adwaita.h>

#include "hyphae-client.h"

G_BEGIN_DECLS

/* The switches (Use Tailnet DNS, Accept Routes, Shields Up: Prefs CorpDNS,
 * RouteAll, ShieldsUp), the exit node summary (a switch for
 * app.toggle-exit-node, a button to the exit node page) and the profiles
 * row (to the profiles page). */
#define HYPHAE_TYPE_SETTINGS_GROUP (hyphae_settings_group_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeSettingsGroup, hyphae_settings_group, HYPHAE, SETTINGS_GROUP, AdwPreferencesGroup)

void hyphae_settings_group_set_client (HyphaeSettingsGroup *self,
                                       HyphaeClient *client);

G_END_DECLS
