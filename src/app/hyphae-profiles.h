/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * The app's profiles (several tailnets or accounts) in GSettings: "profiles"
 * a(ss) holds each one's name and control server URL ("" for the default
 * server), "current-profile" the one in use. Their keys live in the keyring
 * (hyphae-keyring.h), under the same name.
 */

/* The control URL of profile name; NULL when there is no such profile. */
char *hyphae_profiles_lookup (GSettings *settings,
                              const char *name);
/* Adds name (or gives it control_url), and makes it the current profile. */
void hyphae_profiles_set_current (GSettings *settings,
                                  const char *name,
                                  const char *control_url);
/* The name for signing in to control_url: the profile of that server if
 * there is one, else a new name after its host ("default" for the default
 * server), made unique with " 2", " 3"… */
char *hyphae_profiles_name_for_url (GSettings *settings,
                                    const char *control_url);

G_END_DECLS
