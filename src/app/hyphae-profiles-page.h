/* SPDX-License-Identifier: MIT */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* The profiles of GSettings "profiles" (name, control server), the current
 * one marked, a Switch button for each other (app.switch-profile), Add
 * Profile (win.add-profile) and Log Out (win.log-out, which asks first). */
#define HYPHAE_TYPE_PROFILES_PAGE (hyphae_profiles_page_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeProfilesPage, hyphae_profiles_page, HYPHAE, PROFILES_PAGE, GtkBox)

G_END_DECLS
