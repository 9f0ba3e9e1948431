/* SPDX-License-Identifier: MIT */
#pragma once

#include <adwaita.h>

#include "hyphae-application.h"

G_BEGIN_DECLS

/* The main window: a header bar with the primary menu, a toast overlay and a
 * stack of pages chosen from the application's HyphaeClient and key agent:
 * a state page (no daemon, keyring, browser sign-in, waiting for approval,
 * connecting, stopped, an error), the sign-in page, or the main view while
 * Running. win.* actions: hyphae-window-actions.c. */
#define HYPHAE_TYPE_WINDOW (hyphae_window_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeWindow, hyphae_window, HYPHAE, WINDOW, AdwApplicationWindow)

HyphaeWindow *hyphae_window_new (HyphaeApplication *app);
/* A toast with text (an event the user should see: copied, failed). */
void hyphae_window_add_toast (HyphaeWindow *self,
                              const char *text);

G_END_DECLS
