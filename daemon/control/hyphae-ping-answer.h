/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "hyphae-h2.h"
#include "netmap.h"

G_BEGIN_DECLS

/* Answers MapResponse.PingRequest for one control client (see the .c). */
typedef struct _HyphaePingAnswerer HyphaePingAnswerer;

HyphaePingAnswerer *hyphae_ping_answerer_new (const char *control_url);
/* Cancels what is in flight first. */
void hyphae_ping_answerer_free (HyphaePingAnswerer *self);
/* h2: the Noise connection to control (URLIsNoise and c2n go over it). */
void hyphae_ping_answerer_handle (HyphaePingAnswerer *self,
                                  HyphaeH2Client *h2,
                                  const HyphaeMapPingRequest *pr);
/* The connection is going away: cancel every answer in flight. Their
 * callbacks, whenever they come, only free what they own. */
void hyphae_ping_answerer_cancel_all (HyphaePingAnswerer *self);

/* Why a plain-HTTP ping may not go to address (a static string), or NULL if
 * it may. */
const char *hyphae_ping_address_refusal (GInetAddress *address);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HyphaePingAnswerer, hyphae_ping_answerer_free)

G_END_DECLS
