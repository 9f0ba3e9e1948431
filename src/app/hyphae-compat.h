/* SPDX-License-Identifier: MIT */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

/* The few calls whose widget differs between Debian 12's GTK 4.8 /
 * libadwaita 1.2 (built and tested) and the newer Flatpak runtime. The only
 * version checks outside hyphae-banner.c live in hyphae-compat.c. */

/* Opens uri in the user's browser (GtkUriLauncher ≥ 4.10, gtk_show_uri_full
 * before); a failure is a toast in parent when it is a HyphaeWindow. */
void hyphae_compat_show_uri (GtkWindow *parent,
                             const char *uri);

/* Asks heading/body with Cancel and a destructive confirm_label button
 * (AdwAlertDialog ≥ 1.5, AdwMessageDialog before); choosing confirm_label
 * activates action_name ("app.log-out") on parent. */
void hyphae_compat_confirm (GtkWindow *parent,
                            const char *heading,
                            const char *body,
                            const char *confirm_label,
                            const char *action_name);

G_END_DECLS
