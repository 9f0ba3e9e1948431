/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "hyphae-client.h"

G_BEGIN_DECLS

#define HYPHAE_TYPE_TRAY (hyphae_tray_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeTray, hyphae_tray, HYPHAE, TRAY, GObject)

/* The tray icon and its menu (StatusNotifierItem + com.canonical.dbusmenu on
 * the session bus), a view of client whose items activate the app.* actions
 * of actions (the GApplication). Absent, silently, while no
 * StatusNotifierWatcher runs. Property "registered" (b): a host shows it. */
HyphaeTray *hyphae_tray_new (GApplication *app,
                             HyphaeClient *client);
gboolean hyphae_tray_get_registered (HyphaeTray *self);

G_END_DECLS
