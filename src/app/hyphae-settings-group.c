/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-settings-group"

#include "config.h"

#include <glib/gi18n.h>

#include "hyphae-peer-watch.h"
#include "hyphae-pref-switch.h"
#include "hyphae-settings-group.h"

struct _HyphaeSettingsGroup {
  AdwPreferencesGroup parent_instance;

  GtkSwitch *dns_switch;
  GtkSwitch *routes_switch;
  GtkSwitch *shields_switch;
  AdwActionRow *exit_node_row;
  GtkSwitch *exit_node_switch;
  GtkWidget *exit_node_button;
  AdwActionRow *profiles_row;
  GtkWidget *profiles_button;

  HyphaeClient *client;
  GSettings *settings;
  HyphaePeer *exit_node; /* watched for its name and online */
};

G_DEFINE_FINAL_TYPE (HyphaeSettingsGroup, hyphae_settings_group, ADW_TYPE_PREFERENCES_GROUP)

static void
update_exit_node_row (HyphaeSettingsGroup *self)
{
  g_autofree char *id = NULL;
  g_autofree char *subtitle = NULL;

  g_object_get (self->client, "exit-node-id", &id, NULL);
  if (self->exit_node != NULL && hyphae_peer_get_online (self->exit_node))
    subtitle = g_strdup (hyphae_peer_get_display_name (self->exit_node));
  else if (self->exit_node != NULL)
    /* Translators: %s is a device's name. */
    subtitle = g_strdup_printf (_ ("%s (offline)"), hyphae_peer_get_display_name (self->exit_node));
  else if (id != NULL && *id != '\0')
    subtitle = g_strdup (_ ("Not in this tailnet now"));
  else
    subtitle = g_strdup (_ ("None"));
  adw_action_row_set_subtitle (self->exit_node_row, subtitle);
}

static void
on_exit_node_changed (GObject *object,
                      GParamSpec *pspec,
                      gpointer user_data)
{
  HyphaeSettingsGroup *self = user_data;
  hyphae_peer_watch (&self->exit_node, hyphae_client_get_exit_node (self->client),
                     (HyphaePeerChangedFunc) update_exit_node_row, self);
  update_exit_node_row (self); /* also when it is none */
}

static void
update_profiles_row (HyphaeSettingsGroup *self)
{
  g_autofree char *current = g_settings_get_string (self->settings, "current-profile");

  adw_action_row_set_subtitle (self->profiles_row, *current != '\0' ? current : _ ("Default"));
}

static void
on_settings_changed (GSettings *settings,
                     const char *key,
                     gpointer user_data)
{
  update_profiles_row (user_data);
}

void
hyphae_settings_group_set_client (HyphaeSettingsGroup *self,
                                  HyphaeClient *client)
{
  g_return_if_fail (HYPHAE_IS_SETTINGS_GROUP (self) && self->client == NULL);

  self->client = g_object_ref (client);
  hyphae_pref_switch_bind (self->dns_switch, client, "corp-dns", "CorpDNS", NULL);
  hyphae_pref_switch_bind (self->routes_switch, client, "route-all", "RouteAll", NULL);
  hyphae_pref_switch_bind (self->shields_switch, client, "shields-up", "ShieldsUp", NULL);
  /* On = an exit node is set; the action turns it off, or back on with the
   * node remembered for this profile. */
  hyphae_pref_switch_bind (self->exit_node_switch, client, "exit-node-id", NULL, "app.toggle-exit-node");
  g_signal_connect_object (client, "notify::exit-node", G_CALLBACK (on_exit_node_changed), self, 0);
  g_signal_connect_object (client, "notify::exit-node-id", G_CALLBACK (on_exit_node_changed), self, 0);
  on_exit_node_changed (NULL, NULL, self);
}

static void
hyphae_settings_group_dispose (GObject *object)
{
  HyphaeSettingsGroup *self = HYPHAE_SETTINGS_GROUP (object);

  hyphae_peer_watch (&self->exit_node, NULL, (HyphaePeerChangedFunc) update_exit_node_row, self);
  g_clear_object (&self->client);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (hyphae_settings_group_parent_class)->dispose (object);
}

static void
hyphae_settings_group_class_init (HyphaeSettingsGroupClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = hyphae_settings_group_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/hyphae/Hyphae/hyphae-settings-group.ui");
  gtk_widget_class_bind_template_child (widget_class, HyphaeSettingsGroup, dns_switch);
  gtk_widget_class_bind_template_child (widget_class, HyphaeSettingsGroup, routes_switch);
  gtk_widget_class_bind_template_child (widget_class, HyphaeSettingsGroup, shields_switch);
  gtk_widget_class_bind_template_child (widget_class, HyphaeSettingsGroup, exit_node_row);
  gtk_widget_class_bind_template_child (widget_class, HyphaeSettingsGroup, exit_node_switch);
  gtk_widget_class_bind_template_child (widget_class, HyphaeSettingsGroup, exit_node_button);
  gtk_widget_class_bind_template_child (widget_class, HyphaeSettingsGroup, profiles_row);
  gtk_widget_class_bind_template_child (widget_class, HyphaeSettingsGroup, profiles_button);
}

static void
hyphae_settings_group_init (HyphaeSettingsGroup *self)
{
  GtkWidget *named[5];

  gtk_widget_init_template (GTK_WIDGET (self));
  named[0] = GTK_WIDGET (self->dns_switch);
  named[1] = GTK_WIDGET (self->routes_switch);
  named[2] = GTK_WIDGET (self->shields_switch);
  named[3] = self->exit_node_button;
  named[4] = self->profiles_button;
  /* AdwActionRow names its activatable widget after the row too (GTK 4.8
   * reads both: "Use tailnet DNS Use Tailnet DNS"): the widgets' own labels
   * say it. */
  for (size_t i = 0; i < G_N_ELEMENTS (named); i++)
    gtk_accessible_reset_relation (GTK_ACCESSIBLE (named[i]), GTK_ACCESSIBLE_RELATION_LABELLED_BY);
  self->settings = g_settings_new (APPLICATION_ID);
  g_signal_connect_object (self->settings, "changed::current-profile", G_CALLBACK (on_settings_changed), self, 0);
  update_profiles_row (self);
}
