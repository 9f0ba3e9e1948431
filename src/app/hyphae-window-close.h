/* SPDX-License-Identifier: MIT */
#pragma once

#include "hyphae-application.h"

G_BEGIN_DECLS

/*
 * The main window's size and what closing it does. The size and maximized
 * state come from GSettings window-width, window-height, window-maximized
 * and go back there on close and when the app quits. Closing hides the window and the app keeps
 * running when something outside the window shows it (the tray is
 * registered) or it was allowed to run in the background (start at login,
 * the Background portal); otherwise closing quits the app.
 */
void hyphae_window_close_attach (GtkWindow *window,
                                 HyphaeApplication *app);

G_END_DECLS
