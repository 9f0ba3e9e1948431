/* SPDX-License-Identifier: MIT */
#pragma once

#include <adwaita.h>

#include "hyphae-client.h"

G_BEGIN_DECLS

/* "This Device": the client's self node (name, IPv4, IPv6, MagicDNS name),
 * each row with a copy button (app.copy). */
#define HYPHAE_TYPE_SELF_GROUP (hyphae_self_group_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeSelfGroup, hyphae_self_group, HYPHAE, SELF_GROUP, AdwPreferencesGroup)

void hyphae_self_group_set_client (HyphaeSelfGroup *self,
                                   HyphaeClient *client);

G_END_DECLS
