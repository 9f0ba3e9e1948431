/* SPDX-License-Identifier: MIT */
#pragma once

#include "hyphae-client.h"

G_BEGIN_DECLS

/* What the tray shows of the client's state: one of five icons, whose shapes
 * differ (data/app/icons/hicolor/symbolic/apps/io.github.hyphae.Hyphae-*),
 * and a one-line status (the menu's first item and the tooltip). */
typedef enum {
  HYPHAE_TRAY_ICON_OFF,        /* no service, signed out, stopped */
  HYPHAE_TRAY_ICON_CONNECTING, /* the service or the tunnel starting */
  HYPHAE_TRAY_ICON_CONNECTED,
  HYPHAE_TRAY_ICON_EXIT_NODE, /* connected, traffic through an exit node */
  HYPHAE_TRAY_ICON_ATTENTION, /* the user has something to do (Status NeedsAttention) */
} HyphaeTrayIcon;

HyphaeTrayIcon hyphae_tray_status_icon (HyphaeClient *client);
/* The themed icon name: the app id, the state, "-symbolic" (Flatpak exports
 * only icons named with the app id). */
const char *hyphae_tray_icon_name (HyphaeTrayIcon icon);
/* "Connected · example.com", "Disconnected", "Exit node offline"… (translated). */
char *hyphae_tray_status_text (HyphaeClient *client);

G_END_DECLS
