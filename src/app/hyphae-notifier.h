/* SPDX-License-Identifier: MIT */
#pragma once

#include <gtk/gtk.h>

#include "hyphae-client.h"

G_BEGIN_DECLS

/*
 * Desktop notifications (GNotification) for what happens while the main
 * window is hidden or absent, if GSettings "notifications" is on: connected
 * and disconnected, the exit node going offline, this device's key expiring
 * (hyphae-attention.h). Each topic has one notification id, so a newer one
 * replaces the older; a topic notifies at most once per 10 seconds (later
 * changes wait, and only the last one is sent, if it still differs from
 * what was shown and the window is still hidden); a notification is
 * withdrawn once it no longer applies (exit node back or disabled, key
 * renewed, notifications off). An expiring key is told once per expiry (the
 * banner counts). Environment HYPHAE_NOTIFY_INTERVAL: another rate limit,
 * in seconds (tests).
 */
#define HYPHAE_TYPE_NOTIFIER (hyphae_notifier_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeNotifier, hyphae_notifier, HYPHAE, NOTIFIER, GObject)

HyphaeNotifier *hyphae_notifier_new (GtkApplication *app,
                                     HyphaeClient *client,
                                     GSettings *settings);

G_END_DECLS
