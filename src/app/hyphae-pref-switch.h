/* SPDX-License-Identifier: MIT */
#pragma once

#include <gtk/gtk.h>

#include "hyphae-client.h"

G_BEGIN_DECLS

/*
 * A GtkSwitch as a view of one of HyphaeClient's properties (a boolean, or
 * a string: on while it is not empty), without a feedback loop: a change
 * from the daemon (also one made outside, `hyphaectl set`) moves the switch
 * and sends nothing; a flip by the user asks the daemon, and the switch
 * settles on what the daemon then says (GtkSwitch's delayed state), also
 * when the call fails or changes nothing.
 *
 * A flip sets the Prefs key `pref_key` (hyphae_client_set_bool_pref), or,
 * with pref_key NULL, activates `action` (no parameter) from the switch.
 */
void hyphae_pref_switch_bind (GtkSwitch *sw,
                              HyphaeClient *client,
                              const char *property,
                              const char *pref_key,
                              const char *action);

G_END_DECLS
