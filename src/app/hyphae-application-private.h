/* SPDX-License-Identifier: MIT */
#pragma once

#include "hyphae-application.h"
#include "hyphae-autostart.h"
#include "hyphae-key-agent.h"
#include "hyphae-notifier.h"
#include "hyphae-tray.h"

G_BEGIN_DECLS

struct _HyphaeApplication {
  AdwApplication parent_instance;

  /* Held once for --hide-window: the app stays without a window. */
  gboolean held;
  /* The one client of hyphaed; the window and the tray are views of it. */
  HyphaeClient *client;
  GSettings *settings;
  HyphaeKeyAgent *key_agent;
  HyphaeTray *tray;
  HyphaeNotifier *notifier;
  HyphaeAutostart *autostart;
};

/* hyphae-application-actions.c: the app.* actions the window, its pages and
 * the tray menu activate (list there). */
void _hyphae_application_actions_init (HyphaeApplication *self);
/* The window, made on first use. */
GtkWindow *_hyphae_application_get_window (HyphaeApplication *self);
/* A toast in the window if there is one (events, not states). */
void _hyphae_application_toast (HyphaeApplication *self,
                                const char *text);

G_END_DECLS
