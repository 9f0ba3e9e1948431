/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * The node's keys in the Secret Service (libsecret), schema
 * "io.github.hyphae.Key" with the string attributes "profile",
 * "control-url" and "kind" ("machine" | "node"); the secret is SetKeys'
 * form, "privkey:" + 64 hex digits. One machine key and one node key per
 * profile, in the default collection. There is no other store: when the
 * Secret Service is missing, locked or refusing, the keys go nowhere.
 *
 * Every string holding a key is freed with hyphae_keyring_secret_free(),
 * which wipes it first.
 */

/* Where the Secret Service stands: anything but READY is a page in the
 * window, and no key reaches hyphaed (there is no plaintext fallback). */
typedef enum {
  HYPHAE_KEYRING_STATE_UNKNOWN, /* not asked yet */
  HYPHAE_KEYRING_STATE_READY,   /* reachable and unlocked, keys or not */
  HYPHAE_KEYRING_STATE_LOCKED,  /* the user did not unlock it */
  HYPHAE_KEYRING_STATE_MISSING, /* no Secret Service on the session bus */
  HYPHAE_KEYRING_STATE_FAILED,  /* it refused: keyring-error says why */
} HyphaeKeyringState;

#define HYPHAE_TYPE_KEYRING_STATE (hyphae_keyring_state_get_type ())
GType hyphae_keyring_state_get_type (void) G_GNUC_CONST;

/* What every operation here fails with (also on a cancelled one: G_IO_ERROR). */
#define HYPHAE_KEYRING_ERROR (hyphae_keyring_error_quark ())
GQuark hyphae_keyring_error_quark (void);

typedef enum {
  HYPHAE_KEYRING_ERROR_LOCKED,  /* the unlock prompt was dismissed or failed */
  HYPHAE_KEYRING_ERROR_MISSING, /* nothing provides org.freedesktop.secrets */
  HYPHAE_KEYRING_ERROR_FAILED,  /* anything else the Secret Service said */
} HyphaeKeyringError;

/* READY for NULL; the state an error of this module stands for (FAILED for
 * any other error). */
HyphaeKeyringState hyphae_keyring_state_for_error (const GError *error);

typedef enum {
  HYPHAE_KEY_KIND_MACHINE,
  HYPHAE_KEY_KIND_NODE,
} HyphaeKeyKind;

/* A profile's keys as the keyring holds them; NULL where there is none. */
typedef struct {
  char *machine_key;
  char *node_key;
} HyphaeKeyringKeys;

/* Wipes and frees both keys. */
void hyphae_keyring_keys_free (HyphaeKeyringKeys *keys);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HyphaeKeyringKeys, hyphae_keyring_keys_free)

/* A fresh private key, "privkey:" + 64 hex digits (random, clamped as X25519
 * and hyphaed want it). */
char *hyphae_keyring_new_key (void);
/* Wipes secret (a NUL-terminated key) and frees it; NULL is fine. */
void hyphae_keyring_secret_free (char *secret);
/* g_auto (HyphaeKeyringSecret) key = …: wiped and freed at scope end. */
typedef char *HyphaeKeyringSecret;
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (HyphaeKeyringSecret, hyphae_keyring_secret_free, NULL)
/* A copy of secret, for hyphae_keyring_secret_free(). */
char *hyphae_keyring_secret_dup (const char *secret);

/* Whether the Secret Service answers, without unlocking or reading
 * anything (a search of the schema): for the state before any key is
 * needed. Ends with hyphae_keyring_finish(). */
void hyphae_keyring_probe (GCancellable *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer user_data);

/* The keys of profile: searches without unlocking, then unlocks the
 * locked ones (the Secret Service may prompt). A dismissed or failed
 * unlock is HYPHAE_KEYRING_ERROR_LOCKED, never "no keys": a caller making
 * fresh keys then would make a second node. */
void hyphae_keyring_load (const char *profile,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer user_data);
HyphaeKeyringKeys *hyphae_keyring_load_finish (GAsyncResult *result,
                                               GError **error);

/* Stores (replaces) the kind key of profile. */
void hyphae_keyring_store (const char *profile,
                           const char *control_url,
                           HyphaeKeyKind kind,
                           const char *secret,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer user_data);

/* Deletes the kind key(s) of profile; none there is no error. */
void hyphae_keyring_delete (const char *profile,
                            HyphaeKeyKind kind,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data);

/* Ends probe, store and delete. */
gboolean hyphae_keyring_finish (GAsyncResult *result,
                                GError **error);

G_END_DECLS
