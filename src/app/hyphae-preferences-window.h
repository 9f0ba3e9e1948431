/* SPDX-License-Identifier: MIT */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

/*
 * Preferences: Show Tray Icon, Start at Login, Notifications, each a switch
 * bound to its GSettings key (show-tray-icon, start-at-login,
 * notifications); what they do is the tray's, HyphaeAutostart's and
 * HyphaeNotifier's business.
 */
#define HYPHAE_TYPE_PREFERENCES_WINDOW (hyphae_preferences_window_get_type ())
G_DECLARE_FINAL_TYPE (HyphaePreferencesWindow, hyphae_preferences_window, HYPHAE, PREFERENCES_WINDOW, AdwPreferencesWindow)

GtkWidget *hyphae_preferences_window_new (GSettings *settings);
/* The one preferences window, made on first use, over parent (or none). */
void hyphae_preferences_window_present (GSettings *settings,
                                        GtkWindow *parent);

G_END_DECLS
