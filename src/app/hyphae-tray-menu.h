/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "hyphae-client.h"

G_BEGIN_DECLS

/*
 * The tray's menu, a view of the client exported as com.canonical.dbusmenu
 * (hyphae-tray-dbusmenu.c). Two levels at most, ids stable for the process:
 *   1 status line (insensitive)     3 Connect / Disconnect / Sign In…
 *   10 This Device ▸ 11 copy MagicDNS name, 12 IPv4, 13 IPv6
 *   20 Exit Node ▸ 21 None, 1000+n one radio item per candidate (offline
 *      ones marked and insensitive), 24 Allow LAN Access (checkmark)
 *   30 Peers ▸ 2000+n copy a peer's MagicDNS name (online first, 25 at
 *      most, then 39 All Peers…)
 *   41 Open Hyphae, 42 Quit (2, 4, 22, 23, 40: separators)
 * n: a number per peer stable id for the process's life, never reused, so an
 * open host menu never points at another peer. Rebuilt when the client
 * changes (once per main-loop turn while live, else at a host's next call).
 * Signal activate-action (s name, v target): an item was clicked; name is an
 * "app." action, target its parameter or NULL.
 */
#define HYPHAE_TYPE_TRAY_MENU (hyphae_tray_menu_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeTrayMenu, hyphae_tray_menu, HYPHAE, TRAY_MENU, GObject)

HyphaeTrayMenu *hyphae_tray_menu_new (HyphaeClient *client);
gboolean hyphae_tray_menu_export (HyphaeTrayMenu *self,
                                  GDBusConnection *connection,
                                  const char *object_path,
                                  GError **error);
void hyphae_tray_menu_unexport (HyphaeTrayMenu *self);
/* live: a host shows the menu, so changes are sent (LayoutUpdated,
 * ItemsPropertiesUpdated) as they come; otherwise the menu is brought up to
 * date when a host next calls. */
void hyphae_tray_menu_set_live (HyphaeTrayMenu *self,
                                gboolean live);

G_END_DECLS
