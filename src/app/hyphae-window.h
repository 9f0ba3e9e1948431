/* SPDX-License-Identifier: MIT */
#pragma once

#include <adwaita.h>

#include "hyphae-application.h"

G_BEGIN_DECLS

/* The main window: a header bar, a toast overlay and a stack of pages. For
 * now one status page says whether hyphaed is reachable and its State: a
 * view of the application's HyphaeClient. */
#define HYPHAE_TYPE_WINDOW (hyphae_window_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeWindow, hyphae_window, HYPHAE, WINDOW, AdwApplicationWindow)

HyphaeWindow *hyphae_window_new (HyphaeApplication *app);
/* A toast with text (an event the user should see: copied, failed). */
void hyphae_window_add_toast (HyphaeWindow *self,
                              const char *text);

G_END_DECLS
