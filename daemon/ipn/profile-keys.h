/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

#include "crypto/keys.h"

G_BEGIN_DECLS

/*
 * A profile's private keys (docs/ARCHITECTURE.md "Key owners"), in locked memory (secmem).
 * Daemon-owned profiles keep them in DIR/profiles/NAME/keys (file 0600,
 * directories 0700), one "kind=privkey:<64 hex>" line each:
 *   machine=privkey:…
 *   node=privkey:…       (absent after logout: the machine key stays)
 * Keys given by the desktop app (SetKeys) live in the same structure with
 * persist = FALSE and are never written.
 */
typedef struct {
  gboolean has_machine;
  guint8 machine[KEY_LEN];
  gboolean has_node;
  guint8 node[KEY_LEN];
  gboolean persist; /* daemon-owned: saved in the state dir */
} HyphaeProfileKeys;

HyphaeProfileKeys *hyphae_profile_keys_new (void);
void hyphae_profile_keys_free (HyphaeProfileKeys *keys);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HyphaeProfileKeys, hyphae_profile_keys_free)

/* DIR/profiles/NAME/keys (transfer full). */
char *hyphae_profile_keys_path (const char *state_dir,
                                const char *profile);
/* FALSE with G_FILE_ERROR_NOENT when there is no file; G_IO_ERROR_INVALID_DATA
 * when it does not parse (keys are left empty); G_IO_ERROR_PERMISSION_DENIED,
 * without reading it, when the file is not a regular file owned by our euid
 * with no group/other permission bits. Sets persist. */
gboolean hyphae_profile_keys_load (HyphaeProfileKeys *keys,
                                   const char *state_dir,
                                   const char *profile,
                                   GError **error);
/* Atomic write, 0600. */
gboolean hyphae_profile_keys_save (const HyphaeProfileKeys *keys,
                                   const char *state_dir,
                                   const char *profile,
                                   GError **error);
/* Generate whichever of machine/node is missing; TRUE if one was made. */
gboolean hyphae_profile_keys_fill (HyphaeProfileKeys *keys);

G_END_DECLS
