/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "hyphae-tray-layout.h"

G_BEGIN_DECLS

/*
 * A HyphaeTrayLayout exported as com.canonical.dbusmenu (version 3) on a
 * connection, the way the GNOME AppIndicator extension and Plasma read it:
 * GetLayout, GetGroupProperties, GetProperty, Event, EventGroup,
 * AboutToShow(Group); LayoutUpdated with a new revision when the tree
 * changes, ItemsPropertiesUpdated when labels or toggles do.
 * Signals:
 *   refresh                a host calls: bring the layout up to date now
 *                          (AboutToShow answers whether that changed it)
 *   clicked (s action, v target)   an item with an action was clicked
 *                          (target may be NULL)
 */
#define HYPHAE_TYPE_TRAY_DBUSMENU (hyphae_tray_dbusmenu_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeTrayDbusmenu, hyphae_tray_dbusmenu, HYPHAE, TRAY_DBUSMENU, GObject)

HyphaeTrayDbusmenu *hyphae_tray_dbusmenu_new (void);
gboolean hyphae_tray_dbusmenu_export (HyphaeTrayDbusmenu *self,
                                      GDBusConnection *connection,
                                      const char *object_path,
                                      GError **error);
void hyphae_tray_dbusmenu_unexport (HyphaeTrayDbusmenu *self);
/* Takes layout and tells the hosts what changed since the last one. */
void hyphae_tray_dbusmenu_set_layout (HyphaeTrayDbusmenu *self,
                                      HyphaeTrayLayout *layout);
guint hyphae_tray_dbusmenu_get_revision (HyphaeTrayDbusmenu *self);

G_END_DECLS
