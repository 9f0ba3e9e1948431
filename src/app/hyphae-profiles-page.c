/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-profiles-page"

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>

#include "hyphae-profiles-page.h"

struct _HyphaeProfilesPage {
  GtkBox parent_instance;

  GtkListBox *list_box;
  GtkWidget *log_out_button;

  GSettings *settings;
};

G_DEFINE_FINAL_TYPE (HyphaeProfilesPage, hyphae_profiles_page, GTK_TYPE_BOX)

static GtkWidget *
profile_row (const char *name,
             const char *control_url,
             gboolean current)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *suffix;

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), name);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), *control_url != '\0' ? control_url : _ ("Default server"));
  if (current)
    {
      suffix = gtk_label_new (_ ("Current"));
      gtk_widget_add_css_class (suffix, "dim-label");
    }
  else
    {
      /* Translators: %s is a profile's name. */
      g_autofree char *label = g_strdup_printf (_ ("Switch to %s"), name);

      suffix = gtk_button_new_with_label (_ ("Switch"));
      gtk_widget_set_valign (suffix, GTK_ALIGN_CENTER);
      gtk_actionable_set_action_name (GTK_ACTIONABLE (suffix), "app.switch-profile");
      gtk_actionable_set_action_target_value (GTK_ACTIONABLE (suffix), g_variant_new_string (name));
      gtk_accessible_update_property (GTK_ACCESSIBLE (suffix), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
      adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), suffix);
      gtk_accessible_reset_relation (GTK_ACCESSIBLE (suffix), GTK_ACCESSIBLE_RELATION_LABELLED_BY);
    }
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), suffix);
  return row;
}

/* A handful of profiles: rebuilt whole on each change. */
static void
rebuild (HyphaeProfilesPage *self)
{
  g_autoptr (GVariant) profiles = g_settings_get_value (self->settings, "profiles");
  g_autofree char *current = g_settings_get_string (self->settings, "current-profile");
  GVariantIter iter;
  const char *name;
  const char *url;
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->list_box))) != NULL)
    gtk_list_box_remove (self->list_box, child);
  g_variant_iter_init (&iter, profiles);
  while (g_variant_iter_next (&iter, "(&s&s)", &name, &url))
    gtk_list_box_append (self->list_box, profile_row (name, url, g_strcmp0 (name, current) == 0));
  if (g_variant_n_children (profiles) == 0)
    {
      GtkWidget *row = adw_action_row_new ();

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _ ("No Saved Profiles"));
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), _ ("This device uses hyphaed’s own sign-in."));
      gtk_list_box_append (self->list_box, row);
    }
}

static void
on_settings_changed (GSettings *settings,
                     const char *key,
                     gpointer user_data)
{
  if (g_str_equal (key, "profiles") || g_str_equal (key, "current-profile"))
    rebuild (user_data);
}

static void
hyphae_profiles_page_dispose (GObject *object)
{
  g_clear_object (&HYPHAE_PROFILES_PAGE (object)->settings);
  G_OBJECT_CLASS (hyphae_profiles_page_parent_class)->dispose (object);
}

static void
hyphae_profiles_page_class_init (HyphaeProfilesPageClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = hyphae_profiles_page_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/hyphae/Hyphae/hyphae-profiles-page.ui");
  gtk_widget_class_bind_template_child (widget_class, HyphaeProfilesPage, list_box);
  gtk_widget_class_bind_template_child (widget_class, HyphaeProfilesPage, log_out_button);
}

static void
hyphae_profiles_page_init (HyphaeProfilesPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  /* Its own label only (AdwActionRow adds the row's title to it). */
  gtk_accessible_reset_relation (GTK_ACCESSIBLE (self->log_out_button), GTK_ACCESSIBLE_RELATION_LABELLED_BY);
  self->settings = g_settings_new (APPLICATION_ID);
  g_signal_connect_object (self->settings, "changed", G_CALLBACK (on_settings_changed), self, 0);
  rebuild (self);
}
