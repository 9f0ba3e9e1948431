/* SPDX-License-Identifier: MIT */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* The About window (AdwAboutWindow, libadwaita 1.2), over parent (or none). */
void hyphae_about_present (GtkWindow *parent);

G_END_DECLS
