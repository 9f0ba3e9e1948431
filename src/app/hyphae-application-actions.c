/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-application-actions"

#include "config.h"

#include <glib/gi18n.h>

#include "hyphae-about.h"
#include "hyphae-application-private.h"
#include "hyphae-preferences-window.h"

/*
 * The app.* actions: what the window's pages and the tray menu activate.
 *   connect, disconnect         Up with the profile's keys / Down
 *   sign-in (a{sv})             ControlURL, AuthKey, Hostname, Profile (s each, all optional)
 *   log-out                     Logout (the window asks first)
 *   switch-profile (s)          another profile of GSettings "profiles"
 *   set-exit-node (s)           a stable ID, "" for none; a chosen node is remembered
 *   toggle-exit-node            none ↔ the node remembered for this profile
 *   set-allow-lan-access (b)    ExitNodeAllowLANAccess
 *   set-exit-node-kill-switch (b)  ExitNodeKillSwitch
 *   toggle-advertise-exit-node  run as an exit node (AdvertiseRoutes' /0s) or stop
 *   copy (s)                    text to the clipboard, with a toast
 *   retry-keyring               look at the keyring again (Unlock, Try Again)
 *   show-window, quit
 *   preferences, about          their windows
 * Failures become toasts: the window's pages show states, not events.
 */

static void
toast_failure (HyphaeApplication *self,
               const GError *error)
{
  g_autofree char *message = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  /* polkit's refusal names an action ID: say what it means instead. */
  if (hyphae_client_error_failure (error) == HYPHAE_CLIENT_FAILURE_NOT_AUTHORIZED)
    {
      _hyphae_application_toast (self, _ ("Not allowed: your account may not change Hyphae’s connection on "
                                          "this computer. Ask an administrator."));
      return;
    }
  message = hyphae_client_error_message (error);
  _hyphae_application_toast (self, message);
}

static void
on_client_call_done (GObject *object,
                     GAsyncResult *result,
                     gpointer user_data)
{
  g_autoptr (HyphaeApplication) self = user_data;
  g_autoptr (GError) error = NULL;

  if (!hyphae_client_call_finish (HYPHAE_CLIENT (object), result, &error))
    toast_failure (self, error);
}

static void
on_key_agent_done (GObject *object,
                   GAsyncResult *result,
                   gpointer user_data)
{
  g_autoptr (HyphaeApplication) self = user_data;
  g_autoptr (GError) error = NULL;

  if (!hyphae_key_agent_finish (HYPHAE_KEY_AGENT (object), result, &error))
    toast_failure (self, error);
}

static void
hyphae_application_actions_connect (GSimpleAction *action,
                                    GVariant *param,
                                    gpointer user_data)
{
  HyphaeApplication *self = user_data;

  hyphae_key_agent_connect (self->key_agent, NULL, on_key_agent_done, g_object_ref (self));
}

static void
hyphae_application_actions_disconnect (GSimpleAction *action,
                                       GVariant *param,
                                       gpointer user_data)
{
  HyphaeApplication *self = user_data;

  hyphae_client_down (self->client, NULL, on_client_call_done, g_object_ref (self));
}

static void
hyphae_application_actions_sign_in (GSimpleAction *action,
                                    GVariant *param,
                                    gpointer user_data)
{
  HyphaeApplication *self = user_data;
  g_auto (GVariantDict) dict = G_VARIANT_DICT_INIT (param);
  const char *profile = NULL;
  HyphaeUpOptions options = { .client_keys = TRUE };

  g_variant_dict_lookup (&dict, "ControlURL", "&s", &options.control_url);
  g_variant_dict_lookup (&dict, "AuthKey", "&s", &options.auth_key);
  g_variant_dict_lookup (&dict, "Hostname", "&s", &options.hostname);
  g_variant_dict_lookup (&dict, "Profile", "&s", &profile);
  hyphae_key_agent_sign_in (self->key_agent, profile, &options, NULL, on_key_agent_done, g_object_ref (self));
}

static void
hyphae_application_actions_log_out (GSimpleAction *action,
                                    GVariant *param,
                                    gpointer user_data)
{
  HyphaeApplication *self = user_data;

  hyphae_key_agent_log_out (self->key_agent, NULL, on_key_agent_done, g_object_ref (self));
}

static void
hyphae_application_actions_switch_profile (GSimpleAction *action,
                                           GVariant *param,
                                           gpointer user_data)
{
  HyphaeApplication *self = user_data;

  hyphae_key_agent_switch_profile (self->key_agent, g_variant_get_string (param, NULL), NULL, on_key_agent_done,
                                   g_object_ref (self));
}

/* GSettings "last-exit-node" is a{ss}: profile → stable ID. */
static char *
last_exit_node (HyphaeApplication *self)
{
  g_autoptr (GVariant) map = g_settings_get_value (self->settings, "last-exit-node");
  const char *profile = hyphae_key_agent_get_profile (self->key_agent);
  char *id = NULL;

  if (!g_variant_lookup (map, profile != NULL ? profile : "", "s", &id))
    return NULL;
  return id;
}

static void
remember_exit_node (HyphaeApplication *self,
                    const char *stable_id)
{
  g_autoptr (GVariant) map = g_settings_get_value (self->settings, "last-exit-node");
  const char *profile = hyphae_key_agent_get_profile (self->key_agent);
  GVariantBuilder builder;
  GVariantIter iter;
  const char *key, *value;

  if (profile == NULL)
    profile = "";
  /* a{ss}, not a GVariantDict's a{sv} (a critical from g_settings_set_value). */
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{ss}"));
  g_variant_iter_init (&iter, map);
  while (g_variant_iter_next (&iter, "{&s&s}", &key, &value))
    if (!g_str_equal (key, profile))
      g_variant_builder_add (&builder, "{ss}", key, value);
  g_variant_builder_add (&builder, "{ss}", profile, stable_id);
  g_settings_set_value (self->settings, "last-exit-node", g_variant_builder_end (&builder));
}

static void
set_exit_node (HyphaeApplication *self,
               const char *stable_id)
{
  if (*stable_id != '\0')
    remember_exit_node (self, stable_id);
  hyphae_client_set_exit_node (self->client, stable_id, NULL, on_client_call_done, g_object_ref (self));
}

static void
hyphae_application_actions_set_exit_node (GSimpleAction *action,
                                          GVariant *param,
                                          gpointer user_data)
{
  set_exit_node (user_data, g_variant_get_string (param, NULL));
}

static void
hyphae_application_actions_toggle_exit_node (GSimpleAction *action,
                                             GVariant *param,
                                             gpointer user_data)
{
  HyphaeApplication *self = user_data;
  g_autofree char *current = NULL;
  g_autofree char *last = NULL;

  g_object_get (self->client, "exit-node-id", &current, NULL);
  if (current != NULL && *current != '\0')
    {
      set_exit_node (self, "");
      return;
    }
  last = last_exit_node (self);
  if (last == NULL)
    {
      _hyphae_application_toast (self, _ ("Choose an exit node first"));
      return;
    }
  set_exit_node (self, last);
}

static void
hyphae_application_actions_set_allow_lan_access (GSimpleAction *action,
                                                 GVariant *param,
                                                 gpointer user_data)
{
  HyphaeApplication *self = user_data;

  hyphae_client_set_exit_node_allow_lan_access (self->client, g_variant_get_boolean (param), NULL,
                                                on_client_call_done, g_object_ref (self));
}

static void
hyphae_application_actions_set_exit_node_kill_switch (GSimpleAction *action,
                                                      GVariant *param,
                                                      gpointer user_data)
{
  HyphaeApplication *self = user_data;

  hyphae_client_set_bool_pref (self->client, "ExitNodeKillSwitch", g_variant_get_boolean (param), NULL,
                               on_client_call_done, g_object_ref (self));
}

static void
hyphae_application_actions_toggle_advertise_exit_node (GSimpleAction *action,
                                                       GVariant *param,
                                                       gpointer user_data)
{
  HyphaeApplication *self = user_data;
  gboolean on = FALSE;

  g_object_get (self->client, "advertise-exit-node", &on, NULL);
  hyphae_client_set_advertise_exit_node (self->client, !on, NULL, on_client_call_done, g_object_ref (self));
}

static void
hyphae_application_actions_copy (GSimpleAction *action,
                                 GVariant *param,
                                 gpointer user_data)
{
  const char *text = g_variant_get_string (param, NULL);
  g_autofree char *message = NULL;

  gdk_clipboard_set_text (gdk_display_get_clipboard (gdk_display_get_default ()), text);
  /* Translators: %s is what was copied: a name or an address. */
  message = g_strdup_printf (_ ("Copied “%s”"), text);
  _hyphae_application_toast (user_data, message);
}

static void
hyphae_application_actions_retry_keyring (GSimpleAction *action,
                                          GVariant *param,
                                          gpointer user_data)
{
  hyphae_key_agent_retry (HYPHAE_APPLICATION (user_data)->key_agent);
}

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

/* The window to put a dialog over: the main window if it is shown. */
static GtkWindow *
visible_window (HyphaeApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  return window != NULL && gtk_widget_get_visible (GTK_WIDGET (window)) ? window : NULL;
}

static void
hyphae_application_actions_preferences (GSimpleAction *action,
                                        GVariant *param,
                                        gpointer user_data)
{
  HyphaeApplication *self = user_data;

  hyphae_preferences_window_present (self->settings, visible_window (self));
}

static void
hyphae_application_actions_about (GSimpleAction *action,
                                  GVariant *param,
                                  gpointer user_data)
{
  hyphae_about_present (visible_window (user_data));
}

static const GActionEntry actions[] = {
  { "connect", hyphae_application_actions_connect },
  { "disconnect", hyphae_application_actions_disconnect },
  { "sign-in", hyphae_application_actions_sign_in, "a{sv}" },
  { "log-out", hyphae_application_actions_log_out },
  { "switch-profile", hyphae_application_actions_switch_profile, "s" },
  { "set-exit-node", hyphae_application_actions_set_exit_node, "s" },
  { "toggle-exit-node", hyphae_application_actions_toggle_exit_node },
  { "set-allow-lan-access", hyphae_application_actions_set_allow_lan_access, "b" },
  { "set-exit-node-kill-switch", hyphae_application_actions_set_exit_node_kill_switch, "b" },
  { "toggle-advertise-exit-node", hyphae_application_actions_toggle_advertise_exit_node },
  { "copy", hyphae_application_actions_copy, "s" },
  { "retry-keyring", hyphae_application_actions_retry_keyring },
  { "quit", hyphae_application_actions_quit },
  { "show-window", hyphae_application_actions_show_window },
  { "preferences", hyphae_application_actions_preferences },
  { "about", hyphae_application_actions_about },
};

void
_hyphae_application_actions_init (HyphaeApplication *self)
{
  static const char *quit_accels[] = { "<Primary>q", NULL };

  g_action_map_add_action_entries (G_ACTION_MAP (self), actions, G_N_ELEMENTS (actions), self);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit_accels);
}
