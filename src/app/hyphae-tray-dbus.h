/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* What the tray's two exported objects share (hyphae-tray.c, the item;
 * hyphae-tray-dbusmenu.c, the menu). */

/* The interface of src/app/tray/NAME.xml (in the GResource), parsed once. */
GDBusInterfaceInfo *hyphae_tray_dbus_interface_info (const char *name);
/* A signal from path; params (floating or NULL) is consumed, also when
 * nothing is sent because connection is NULL. */
void hyphae_tray_dbus_emit (GDBusConnection *connection,
                            const char *path,
                            const char *interface,
                            const char *signal,
                            GVariant *params);

G_END_DECLS
