/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-exit-node-row"

#include "config.h"

#include <glib/gi18n.h>

#include "hyphae-exit-node-row.h"
#include "hyphae-format.h"

struct _HyphaeExitNodeRow {
  AdwActionRow parent_instance;

  GtkToggleButton *choose_button;
  GtkWidget *check_image;

  HyphaeClient *client;
  HyphaePeer *peer; /* NULL: None */
};

G_DEFINE_FINAL_TYPE (HyphaeExitNodeRow, hyphae_exit_node_row, ADW_TYPE_ACTION_ROW)

static void
update_chosen (HyphaeExitNodeRow *self)
{
  g_autofree char *id = NULL;
  const char *mine = self->peer != NULL ? hyphae_peer_get_id (self->peer) : "";
  gboolean chosen;

  g_object_get (self->client, "exit-node-id", &id, NULL);
  chosen = g_strcmp0 (id != NULL ? id : "", mine) == 0;
  /* The action is stateless: clicking never toggles the button itself. */
  gtk_toggle_button_set_active (self->choose_button, chosen);
  gtk_widget_set_opacity (self->check_image, chosen ? 1.0 : 0.0);
}

static void
update_peer (HyphaeExitNodeRow *self)
{
  const char *name = hyphae_peer_get_display_name (self->peer);
  g_autofree char *label = NULL;
  GtkWidget *widget = GTK_WIDGET (self);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self), name);
  if (hyphae_peer_get_online (self->peer))
    {
      g_autofree char *os = hyphae_format_os (hyphae_peer_get_os (self->peer));

      adw_action_row_set_subtitle (ADW_ACTION_ROW (self), os);
      gtk_widget_remove_css_class (widget, "dim-label");
    }
  else
    {
      adw_action_row_set_subtitle (ADW_ACTION_ROW (self), _ ("Offline"));
      gtk_widget_add_css_class (widget, "dim-label");
    }
  /* Translators: %s is a device's name; the label of the button choosing it. */
  label = g_strdup_printf (_ ("Use %s as exit node"), name);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->choose_button), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
}

static void
on_peer_notify (GObject *object,
                GParamSpec *pspec,
                gpointer user_data)
{
  update_peer (user_data);
}

static void
on_exit_node_id (GObject *object,
                 GParamSpec *pspec,
                 gpointer user_data)
{
  update_chosen (user_data);
}

static void
hyphae_exit_node_row_dispose (GObject *object)
{
  HyphaeExitNodeRow *self = HYPHAE_EXIT_NODE_ROW (object);

  if (self->peer != NULL)
    g_signal_handlers_disconnect_by_func (self->peer, on_peer_notify, self);
  g_clear_object (&self->peer);
  g_clear_object (&self->client);
  G_OBJECT_CLASS (hyphae_exit_node_row_parent_class)->dispose (object);
}

static void
hyphae_exit_node_row_class_init (HyphaeExitNodeRowClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = hyphae_exit_node_row_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/hyphae/Hyphae/hyphae-exit-node-row.ui");
  gtk_widget_class_bind_template_child (widget_class, HyphaeExitNodeRow, choose_button);
  gtk_widget_class_bind_template_child (widget_class, HyphaeExitNodeRow, check_image);
}

static void
hyphae_exit_node_row_init (HyphaeExitNodeRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  /* Its own label only (AdwActionRow adds the row's title to it). */
  gtk_accessible_reset_relation (GTK_ACCESSIBLE (self->choose_button), GTK_ACCESSIBLE_RELATION_LABELLED_BY);
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (self), FALSE);
}

GtkWidget *
hyphae_exit_node_row_new (HyphaeClient *client,
                          HyphaePeer *peer)
{
  HyphaeExitNodeRow *self = g_object_new (HYPHAE_TYPE_EXIT_NODE_ROW, NULL);

  self->client = g_object_ref (client);
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (self->choose_button),
                                          g_variant_new_string (peer != NULL ? hyphae_peer_get_id (peer) : ""));
  if (peer != NULL)
    {
      self->peer = g_object_ref (peer);
      g_signal_connect (peer, "notify", G_CALLBACK (on_peer_notify), self);
      update_peer (self);
    }
  else
    {
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self), _ ("None"));
      adw_action_row_set_subtitle (ADW_ACTION_ROW (self), _ ("Connect to the internet directly"));
      gtk_accessible_update_property (GTK_ACCESSIBLE (self->choose_button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                      _ ("Use no exit node"), -1);
    }
  g_signal_connect_object (client, "notify::exit-node-id", G_CALLBACK (on_exit_node_id), self, 0);
  update_chosen (self);
  return GTK_WIDGET (self);
}
