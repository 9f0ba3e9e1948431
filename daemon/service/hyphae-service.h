/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "hyphae-ipn.h"

G_BEGIN_DECLS

/*
 * HyphaeService: the D-Bus object io.github.hyphae.Mesh1 at
 * /io/github/hyphae/Mesh1 (data/io.github.hyphae.Mesh1.xml), a thin layer
 * over HyphaeIpn. Properties follow the ipn's notify signals (no polling);
 * each mutating method is checked with polkit (hyphae-polkit.h) before it
 * reaches the ipn; every a{sv} is validated strictly.
 */
#define HYPHAE_TYPE_SERVICE (hyphae_service_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeService, hyphae_service, HYPHAE, SERVICE, GObject)

HyphaeService *hyphae_service_new (HyphaeIpn *ipn);
gboolean hyphae_service_export (HyphaeService *self,
                                GDBusConnection *connection,
                                GError **error);
/* Unexports and cancels pending polkit checks. */
void hyphae_service_unexport (HyphaeService *self);

/* Exposed for tests: the a{sv} of one node as GetPeers returns it. */
/* home_derp_code: the RegionCode of the node's HomeDERP, NULL if unknown. */
GVariant *hyphae_service_node_to_variant (HyphaeNetmap *netmap,
                                          const HyphaeNode *node,
                                          const HyphaeIpnPeerStats *stats,
                                          const char *home_derp_code,
                                          gboolean is_self,
                                          gboolean online,
                                          gboolean is_exit_node);

G_END_DECLS
