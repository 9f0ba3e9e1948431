/* SPDX-License-Identifier: MIT */
#pragma once

#include "hyphae-application.h"

G_BEGIN_DECLS

struct _HyphaeApplication {
  AdwApplication parent_instance;

  /* Held once for --hide-window: the app stays without a window. */
  gboolean held;
  /* The one client of hyphaed; the window (and later the tray) view it. */
  HyphaeClient *client;
};

/* hyphae-application-actions.c: app.quit, app.show-window. */
void _hyphae_application_actions_init (HyphaeApplication *self);
/* The window, made on first use. */
GtkWindow *_hyphae_application_get_window (HyphaeApplication *self);

G_END_DECLS
