/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-window-close"

#include "config.h"

#include "hyphae-application-private.h"
#include "hyphae-window-close.h"

static gboolean
can_run_in_background (HyphaeApplication *app)
{
  return (app->tray != NULL && hyphae_tray_get_registered (app->tray)) || (app->autostart != NULL && hyphae_autostart_get_background_allowed (app->autostart));
}

static void
save_size (GtkWindow *window,
           GSettings *settings)
{
  int width, height;

  /* The default size follows the unmaximized size the user gave it. */
  gtk_window_get_default_size (window, &width, &height);
  /* Not g_settings_delay(): it would keep the app's shared GSettings in
   * delay-apply mode for good. */
  g_settings_set_int (settings, "window-width", width);
  g_settings_set_int (settings, "window-height", height);
  g_settings_set_boolean (settings, "window-maximized", gtk_window_is_maximized (window));
}

/* app.quit (Ctrl+Q, the tray's Quit) ends the app without a close. */
static void
on_shutdown (GApplication *app,
             GtkWindow *window)
{
  save_size (window, hyphae_application_get_settings (HYPHAE_APPLICATION (app)));
}

static gboolean
on_close_request (GtkWindow *window,
                  HyphaeApplication *app)
{
  save_size (window, hyphae_application_get_settings (app));
  if (can_run_in_background (app))
    {
      g_debug ("hiding the window: the app keeps running");
      gtk_widget_set_visible (GTK_WIDGET (window), FALSE);
      return TRUE;
    }
  /* Also when --hide-window holds the app. */
  g_debug ("closing the window: the app quits");
  g_application_quit (G_APPLICATION (app));
  return FALSE;
}

void
hyphae_window_close_attach (GtkWindow *window,
                            HyphaeApplication *app)
{
  GSettings *settings = hyphae_application_get_settings (app);
  int width = g_settings_get_int (settings, "window-width");
  int height = g_settings_get_int (settings, "window-height");

  if (width > 0 && height > 0)
    gtk_window_set_default_size (window, width, height);
  if (g_settings_get_boolean (settings, "window-maximized"))
    gtk_window_maximize (window);
  g_signal_connect_object (window, "close-request", G_CALLBACK (on_close_request), app, 0);
  /* Before the application's own shutdown (a cleanup-stage signal), which
   * drops its settings. */
  g_signal_connect_object (app, "shutdown", G_CALLBACK (on_shutdown), window, 0);
}
