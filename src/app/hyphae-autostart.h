/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * GSettings start-at-login, applied: in a Flatpak (/.flatpak-info) through
 * the Background portal (RequestBackground with autostart and the command
 * line `hyphae --hide-window`), otherwise as the XDG autostart entry
 * $XDG_CONFIG_HOME/autostart/io.github.hyphae.Hyphae.desktop, written or
 * removed. Property "background-allowed" (b): the app may keep running
 * without a window (the portal granted it, or the autostart entry is in
 * place), so closing the window hides it.
 */
#define HYPHAE_TYPE_AUTOSTART (hyphae_autostart_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeAutostart, hyphae_autostart, HYPHAE, AUTOSTART, GObject)

HyphaeAutostart *hyphae_autostart_new (GSettings *settings);
gboolean hyphae_autostart_get_background_allowed (HyphaeAutostart *self);

G_END_DECLS
