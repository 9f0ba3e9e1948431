/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-application-actions"

#include "config.h"

#include "hyphae-application-private.h"

static void
hyphae_application_actions_quit (GSimpleAction *action,
                                 GVariant *param,
                                 gpointer user_data)
{
  g_application_quit (G_APPLICATION (user_data));
}

static void
hyphae_application_actions_show_window (GSimpleAction *action,
                                        GVariant *param,
                                        gpointer user_data)
{
  gtk_window_present (_hyphae_application_get_window (HYPHAE_APPLICATION (user_data)));
}

static const GActionEntry actions[] = {
  { "quit", hyphae_application_actions_quit },
  { "show-window", hyphae_application_actions_show_window },
};

void
_hyphae_application_actions_init (HyphaeApplication *self)
{
  static const char *quit_accels[] = { "<Primary>q", NULL };

  g_action_map_add_action_entries (G_ACTION_MAP (self), actions, G_N_ELEMENTS (actions), self);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit_accels);
}
