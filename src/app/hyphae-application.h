/* SPDX-License-Identifier: MIT */
#pragma once

#include <adwaita.h>

#include "hyphae-client.h"
#include "hyphae-key-agent.h"

G_BEGIN_DECLS

/* The app, io.github.hyphae.Hyphae: one instance per session (D-Bus
 * activatable), one window, shown unless started with --hide-window. */
#define HYPHAE_TYPE_APPLICATION (hyphae_application_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeApplication, hyphae_application, HYPHAE, APPLICATION, AdwApplication)

HyphaeApplication *hyphae_application_new (void);

/* hyphaed as the app sees it, made at startup. */
HyphaeClient *hyphae_application_get_client (HyphaeApplication *self);
/* The app's settings (io.github.hyphae.Hyphae) and its keys' keeper. */
GSettings *hyphae_application_get_settings (HyphaeApplication *self);
HyphaeKeyAgent *hyphae_application_get_key_agent (HyphaeApplication *self);

G_END_DECLS
