/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-application"

#include "config.h"

#include <glib/gi18n.h>

#include "hyphae-application-private.h"
#include "hyphae-window.h"

G_DEFINE_FINAL_TYPE (HyphaeApplication, hyphae_application, ADW_TYPE_APPLICATION)

static const GOptionEntry option_entries[] = {
  { "hide-window", 0, 0, G_OPTION_ARG_NONE, NULL, N_ ("Start in the background, without a window"), NULL },
  { "version", 0, 0, G_OPTION_ARG_NONE, NULL, N_ ("Print the version and exit"), NULL },
  { NULL }
};

GtkWindow *
_hyphae_application_get_window (HyphaeApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (window == NULL)
    window = GTK_WINDOW (hyphae_window_new (self));
  return window;
}

static int
hyphae_application_handle_local_options (GApplication *app,
                                         GVariantDict *options)
{
  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("hyphae %s\n", HYPHAE_VERSION);
      return EXIT_SUCCESS;
    }
  /* Go on: the primary instance gets the options in command_line. */
  return -1;
}

static int
hyphae_application_command_line (GApplication *app,
                                 GApplicationCommandLine *command_line)
{
  HyphaeApplication *self = HYPHAE_APPLICATION (app);
  GVariantDict *options = g_application_command_line_get_options_dict (command_line);

  if (!g_variant_dict_contains (options, "hide-window"))
    g_action_group_activate_action (G_ACTION_GROUP (self), "show-window", NULL);
  else if (!self->held)
    {
      /* Nothing shows yet: keep running in the background (the tray, next,
       * is what the user sees then). */
      self->held = TRUE;
      g_application_hold (app);
    }
  return EXIT_SUCCESS;
}

static void
hyphae_application_activate (GApplication *app)
{
  g_action_group_activate_action (G_ACTION_GROUP (app), "show-window", NULL);
}

static void
hyphae_application_startup (GApplication *app)
{
  G_APPLICATION_CLASS (hyphae_application_parent_class)->startup (app);

  HyphaeApplication *self = HYPHAE_APPLICATION (app);

  self->client = hyphae_client_new (G_BUS_TYPE_SYSTEM);
  self->settings = g_settings_new (APPLICATION_ID);
  self->key_agent = hyphae_key_agent_new (self->client, self->settings);
  self->tray = hyphae_tray_new (app, self->client);
  self->notifier = hyphae_notifier_new (GTK_APPLICATION (app), self->client, self->settings);
  self->autostart = hyphae_autostart_new (self->settings);
  _hyphae_application_actions_init (self);
}

static void
hyphae_application_shutdown (GApplication *app)
{
  HyphaeApplication *self = HYPHAE_APPLICATION (app);

  if (self->held)
    {
      self->held = FALSE;
      g_application_release (app);
    }
  G_APPLICATION_CLASS (hyphae_application_parent_class)->shutdown (app);
  g_clear_object (&self->autostart);
  g_clear_object (&self->notifier);
  g_clear_object (&self->tray);
  g_clear_object (&self->key_agent);
  g_clear_object (&self->settings);
  g_clear_object (&self->client);
}

static void
hyphae_application_class_init (HyphaeApplicationClass *klass)
{
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  app_class->handle_local_options = hyphae_application_handle_local_options;
  app_class->command_line = hyphae_application_command_line;
  app_class->activate = hyphae_application_activate;
  app_class->startup = hyphae_application_startup;
  app_class->shutdown = hyphae_application_shutdown;
}

static void
hyphae_application_init (HyphaeApplication *self)
{
  g_application_add_main_option_entries (G_APPLICATION (self), option_entries);
}

HyphaeClient *
hyphae_application_get_client (HyphaeApplication *self)
{
  g_return_val_if_fail (HYPHAE_IS_APPLICATION (self), NULL);

  return self->client;
}

GSettings *
hyphae_application_get_settings (HyphaeApplication *self)
{
  g_return_val_if_fail (HYPHAE_IS_APPLICATION (self), NULL);

  return self->settings;
}

HyphaeKeyAgent *
hyphae_application_get_key_agent (HyphaeApplication *self)
{
  g_return_val_if_fail (HYPHAE_IS_APPLICATION (self), NULL);

  return self->key_agent;
}

void
_hyphae_application_toast (HyphaeApplication *self,
                           const char *text)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (window != NULL)
    hyphae_window_add_toast (HYPHAE_WINDOW (window), text);
}

HyphaeApplication *
hyphae_application_new (void)
{
  return g_object_new (HYPHAE_TYPE_APPLICATION,
                       "application-id", APPLICATION_ID,
                       "flags", G_APPLICATION_HANDLES_COMMAND_LINE,
                       "resource-base-path", "/io/github/hyphae/Hyphae",
                       NULL);
}
