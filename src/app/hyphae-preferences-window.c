/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-preferences-window"

#include "config.h"

#include "hyphae-preferences-window.h"

struct _HyphaePreferencesWindow {
  AdwPreferencesWindow parent_instance;

  GtkSwitch *tray_switch;
  GtkSwitch *login_switch;
  GtkSwitch *notifications_switch;
};

G_DEFINE_FINAL_TYPE (HyphaePreferencesWindow, hyphae_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

static void
hyphae_preferences_window_class_init (HyphaePreferencesWindowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/hyphae/Hyphae/hyphae-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, HyphaePreferencesWindow, tray_switch);
  gtk_widget_class_bind_template_child (widget_class, HyphaePreferencesWindow, login_switch);
  gtk_widget_class_bind_template_child (widget_class, HyphaePreferencesWindow, notifications_switch);
}

static void
hyphae_preferences_window_init (HyphaePreferencesWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
hyphae_preferences_window_new (GSettings *settings)
{
  HyphaePreferencesWindow *self = g_object_new (HYPHAE_TYPE_PREFERENCES_WINDOW, NULL);

  g_settings_bind (settings, "show-tray-icon", self->tray_switch, "active", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "start-at-login", self->login_switch, "active", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (settings, "notifications", self->notifications_switch, "active", G_SETTINGS_BIND_DEFAULT);
  return GTK_WIDGET (self);
}

void
hyphae_preferences_window_present (GSettings *settings,
                                   GtkWindow *parent)
{
  static GtkWidget *instance;

  if (instance == NULL)
    {
      /* Not added to the application: gtk_application_get_active_window()
       * stays the main window, which the app's toasts and actions expect. */
      instance = hyphae_preferences_window_new (settings);
      g_object_add_weak_pointer (G_OBJECT (instance), (gpointer *) &instance);
      gtk_window_set_hide_on_close (GTK_WINDOW (instance), FALSE);
    }
  gtk_window_set_transient_for (GTK_WINDOW (instance), parent);
  gtk_window_set_destroy_with_parent (GTK_WINDOW (instance), TRUE);
  gtk_window_present (GTK_WINDOW (instance));
}
