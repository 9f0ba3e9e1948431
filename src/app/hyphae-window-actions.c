/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-window-actions"

#include "config.h"

#include <glib/gi18n.h>

#include "hyphae-compat.h"
#include "hyphae-window-private.h"

static void
hyphae_window_actions_log_out (GSimpleAction *action,
                               GVariant *param,
                               gpointer user_data)
{
  hyphae_compat_confirm (GTK_WINDOW (user_data), _ ("Log Out?"),
                         _ ("This device leaves the tailnet and forgets its node key: signing in again makes it a "
                            "new node that an administrator may have to approve."),
                         _ ("Log Out"), "app.log-out");
}

static void
set_adding_profile (HyphaeWindow *self,
                    gboolean adding)
{
  self->adding_profile = adding;
  if (adding)
    hyphae_sign_in_page_reset (self->sign_in_page, NULL, TRUE);
  _hyphae_window_update (self);
}

static void
hyphae_window_actions_add_profile (GSimpleAction *action,
                                   GVariant *param,
                                   gpointer user_data)
{
  set_adding_profile (user_data, TRUE);
}

static void
hyphae_window_actions_cancel_add_profile (GSimpleAction *action,
                                          GVariant *param,
                                          gpointer user_data)
{
  set_adding_profile (user_data, FALSE);
}

static void
hyphae_window_actions_open_auth_url (GSimpleAction *action,
                                     GVariant *param,
                                     gpointer user_data)
{
  HyphaeWindow *self = user_data;

  if (self->auth_url != NULL)
    hyphae_compat_show_uri (GTK_WINDOW (self), self->auth_url);
}

static void
hyphae_window_actions_cancel_browser_sign_in (GSimpleAction *action,
                                              GVariant *param,
                                              gpointer user_data)
{
  HyphaeWindow *self = user_data;

  g_clear_pointer (&self->auth_url, g_free);
  _hyphae_window_update (self);
}

static void
hyphae_window_actions_dismiss_error (GSimpleAction *action,
                                     GVariant *param,
                                     gpointer user_data)
{
  HyphaeWindow *self = user_data;

  g_strfreev (self->dismissed_health);
  g_object_get (self->client, "health", &self->dismissed_health, NULL);
  _hyphae_window_update (self);
}

static void
hyphae_window_actions_retry_daemon (GSimpleAction *action,
                                    GVariant *param,
                                    gpointer user_data)
{
  hyphae_client_retry (HYPHAE_WINDOW (user_data)->client);
}

static const GActionEntry actions[] = {
  { "log-out", hyphae_window_actions_log_out },
  { "add-profile", hyphae_window_actions_add_profile },
  { "cancel-add-profile", hyphae_window_actions_cancel_add_profile },
  { "open-auth-url", hyphae_window_actions_open_auth_url },
  { "cancel-browser-sign-in", hyphae_window_actions_cancel_browser_sign_in },
  { "dismiss-error", hyphae_window_actions_dismiss_error },
  { "retry-daemon", hyphae_window_actions_retry_daemon },
};

void
_hyphae_window_actions_update (HyphaeWindow *self)
{
  GAction *log_out = g_action_map_lookup_action (G_ACTION_MAP (self), "log-out");
  HyphaeState state = hyphae_client_get_state (self->client);
  gboolean signed_in = hyphae_client_get_daemon_state (self->client) == HYPHAE_DAEMON_STATE_RUNNING &&
                       state != HYPHAE_STATE_NO_STATE && state != HYPHAE_STATE_NEEDS_LOGIN;

  g_simple_action_set_enabled (G_SIMPLE_ACTION (log_out), signed_in);
}

void
_hyphae_window_actions_init (HyphaeWindow *self)
{
  g_action_map_add_action_entries (G_ACTION_MAP (self), actions, G_N_ELEMENTS (actions), self);
}
