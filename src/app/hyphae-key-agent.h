/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "hyphae-client.h"
#include "hyphae-keyring.h"

G_BEGIN_DECLS

#define HYPHAE_TYPE_KEY_AGENT (hyphae_key_agent_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeKeyAgent, hyphae_key_agent, HYPHAE, KEY_AGENT, GObject)

/* The app's keys for hyphaed: the machine and node keys of each profile
 * live in the keyring and are handed over with SetKeys before Up; a
 * rotated node key (KeysRotated) is written back. Properties:
 * keyring-state (HyphaeKeyringState, hyphae-keyring.h), keyring-error (s),
 * profile (s: the current profile, "" before the first sign-in).
 * By itself it hands the current profile's keys over again when hyphaed
 * has none (it restarted: KeysOwner "", then Up if WantRunning) or when the
 * app restarted while hyphaed runs on them (KeysOwner "client" with our
 * profile: SetKeys only, so KeysRotated comes here). With KeysOwner
 * "daemon" (`hyphaectl up`) it never does: connect and log_out act on the
 * daemon's own keys, and only sign_in takes the machine over (a new node
 * with keyring keys); docs/ARCHITECTURE.md "The app's keys". */
HyphaeKeyAgent *hyphae_key_agent_new (HyphaeClient *client,
                                      GSettings *settings);

HyphaeKeyringState hyphae_key_agent_get_keyring_state (HyphaeKeyAgent *self);
const char *hyphae_key_agent_get_keyring_error (HyphaeKeyAgent *self);
const char *hyphae_key_agent_get_profile (HyphaeKeyAgent *self);

/* Looks at the keyring again (Unlock / Try Again on the keyring pages):
 * stores a rotated key it could not store before, then hands the keys over
 * if hyphaed is waiting for them. */
void hyphae_key_agent_retry (HyphaeKeyAgent *self);

/* Sign in to options->control_url as profile (NULL: the current one, or a
 * new one named after the server): the profile's keys from the keyring
 * (made and stored on first sign-in), SetKeys, then Up with client keys. */
void hyphae_key_agent_sign_in (HyphaeKeyAgent *self,
                               const char *profile,
                               const HyphaeUpOptions *options,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data);
/* Connect: the current profile's keys, then Up. */
void hyphae_key_agent_connect (HyphaeKeyAgent *self,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data);
/* Logout, then the profile's node key leaves the keyring (the machine key
 * stays: the same machine signs in again). */
void hyphae_key_agent_log_out (HyphaeKeyAgent *self,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data);
/* Another profile: its keys, then Up with its control server. */
void hyphae_key_agent_switch_profile (HyphaeKeyAgent *self,
                                      const char *profile,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
gboolean hyphae_key_agent_finish (HyphaeKeyAgent *self,
                                  GAsyncResult *result,
                                  GError **error);

G_END_DECLS
