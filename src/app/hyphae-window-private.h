/* SPDX-License-Identifier: MIT */
#pragma once

#include "hyphae-client.h"
#include "hyphae-key-agent.h"
#include "hyphae-sign-in-page.h"
#include "hyphae-state-page.h"
#include "hyphae-window.h"

G_BEGIN_DECLS

struct _HyphaeWindow {
  AdwApplicationWindow parent_instance;

  AdwToastOverlay *toast_overlay;
  GtkStack *stack;
  HyphaeStatePage *state_page;
  HyphaeSignInPage *sign_in_page;

  HyphaeClient *client;      /* the application's */
  HyphaeKeyAgent *key_agent; /* the application's */
  /* The pending browser sign-in's URL (AuthURLReady), until the state moves on. */
  char *auth_url;
  /* The Health the user put aside with "Sign In Again": the error page comes
   * back only when Health changes. */
  char **dismissed_health;
  /* win.add-profile: the sign-in page for another profile, even while Running. */
  gboolean adding_profile;
};

/* hyphae-window-actions.c: win.log-out (asks first), win.add-profile,
 * win.cancel-add-profile, win.open-auth-url, win.cancel-browser-sign-in,
 * win.dismiss-error, win.retry-daemon. */
void _hyphae_window_actions_init (HyphaeWindow *self);
/* Log Out is offered only while signed in. */
void _hyphae_window_actions_update (HyphaeWindow *self);
/* Chooses and fills the page for where the client and the keyring stand. */
void _hyphae_window_update (HyphaeWindow *self);

G_END_DECLS
