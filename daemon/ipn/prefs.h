/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

#include "hyphae-ipn.h"

G_BEGIN_DECLS

/*
 * HyphaeIpnPrefs on disk: DIR/prefs.json, a JSON object with ipn.Prefs'
 * field names (WantRunning, ControlURL, Hostname, ExitNodeID,
 * ExitNodeAllowLANAccess, CorpDNS, RouteAll, ShieldsUp) and ours
 * (ExitNodeKillSwitch, default false). Written atomically
 * (g_file_set_contents_full, mode 0600). Absent fields take the default;
 * unknown fields are ignored (a newer version may add some).
 */
#define HYPHAE_IPN_DEFAULT_CONTROL_URL "https://controlplane.tailscale.com"

/* Defaults: WantRunning false, ControlURL as above, CorpDNS true, RouteAll false. */
void hyphae_ipn_prefs_init_defaults (HyphaeIpnPrefs *prefs);
void hyphae_ipn_prefs_clear (HyphaeIpnPrefs *prefs);
void hyphae_ipn_prefs_copy (HyphaeIpnPrefs *dst,
                            const HyphaeIpnPrefs *src);
/* Copy the fields named by mask from src into dst. */
void hyphae_ipn_prefs_merge (HyphaeIpnPrefs *dst,
                             const HyphaeIpnPrefs *src,
                             HyphaeIpnPrefMask mask);
gboolean hyphae_ipn_prefs_equal (const HyphaeIpnPrefs *a,
                                 const HyphaeIpnPrefs *b);

char *hyphae_ipn_prefs_to_json (const HyphaeIpnPrefs *prefs);
/* On error *prefs holds the defaults. */
gboolean hyphae_ipn_prefs_from_json (const char *json,
                                     gsize len,
                                     HyphaeIpnPrefs *prefs,
                                     GError **error);

/*
 * Load DIR/prefs.json. Missing file: defaults, TRUE. Corrupt file: defaults,
 * the file is renamed prefs.json.bad, TRUE, and *warning (if non-NULL) says
 * what was wrong (transfer full). FALSE only when the file exists but cannot
 * be read.
 */
gboolean hyphae_ipn_prefs_load (const char *state_dir,
                                HyphaeIpnPrefs *prefs,
                                char **warning,
                                GError **error);
gboolean hyphae_ipn_prefs_save (const char *state_dir,
                                const HyphaeIpnPrefs *prefs,
                                GError **error);

G_END_DECLS
