/* SPDX-License-Identifier: MIT */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

/* Signing in: the control server's URL (any Tailscale-compatible server, such
 * as Headscale; empty for the default), an optional auth key and, under
 * Advanced, the device name. Sign In checks the URL, then activates
 * app.sign-in with {ControlURL, AuthKey, Hostname[, Profile]} and emits
 * "submitted". In "adding a profile" mode it also asks the profile's name
 * and offers Cancel (win.cancel-add-profile). */
#define HYPHAE_TYPE_SIGN_IN_PAGE (hyphae_sign_in_page_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeSignInPage, hyphae_sign_in_page, HYPHAE, SIGN_IN_PAGE, AdwBin)

GtkWidget *hyphae_sign_in_page_new (void);
/* Starts over: the fields empty but the URL (control_url, may be NULL), no
 * error shown; adding_profile chooses the mode. */
void hyphae_sign_in_page_reset (HyphaeSignInPage *self,
                                const char *control_url,
                                gboolean adding_profile);
/* While TRUE (a call in flight), Sign In is insensitive. */
void hyphae_sign_in_page_set_busy (HyphaeSignInPage *self,
                                   gboolean busy);
/* NULL when text is a usable control server URL ("" is: the default),
 * else what is wrong with it, for the user. */
char *hyphae_sign_in_page_check_url (const char *text);

G_END_DECLS
