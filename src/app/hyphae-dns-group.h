/* SPDX-License-Identifier: MIT */
#pragma once

#include <adwaita.h>

#include "hyphae-client.h"

G_BEGIN_DECLS

/* "System DNS": what the OS resolver was told (Mesh1 DNS, followed live):
 * which resolver hyphaed configured, the nameservers and search domains it
 * gave it, and the OS's refusal when there is one. */
#define HYPHAE_TYPE_DNS_GROUP (hyphae_dns_group_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeDnsGroup, hyphae_dns_group, HYPHAE, DNS_GROUP, AdwPreferencesGroup)

void hyphae_dns_group_set_client (HyphaeDnsGroup *self,
                                  HyphaeClient *client);

G_END_DECLS
