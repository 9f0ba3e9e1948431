/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-exit-node-page"

#include "config.h"

#include "hyphae-exit-node-page.h"
#include "hyphae-exit-node-row.h"
#include "hyphae-peer-list-view.h"
#include "hyphae-pref-switch.h"

struct _HyphaeExitNodePage {
  GtkBox parent_instance;

  GtkListBox *list_box;
  GtkSwitch *lan_switch;
  GtkSwitch *kill_switch;

  HyphaeClient *client;
  GtkFilter *filter; /* exit-node-option */
  GListStore *choices;
};

G_DEFINE_FINAL_TYPE (HyphaeExitNodePage, hyphae_exit_node_page, GTK_TYPE_BOX)

static GtkWidget *
create_row (gpointer item,
            gpointer user_data)
{
  HyphaeExitNodePage *self = user_data;

  /* The None choice is the store's one GtkStringObject. */
  return hyphae_exit_node_row_new (self->client, HYPHAE_IS_PEER (item) ? item : NULL);
}

void
hyphae_exit_node_page_set_client (HyphaeExitNodePage *self,
                                  HyphaeClient *client)
{
  GtkFilterListModel *offered;
  GtkSortListModel *sorted;
  g_autoptr (GtkStringObject) none = gtk_string_object_new ("");
  GtkFlattenListModel *all;

  g_return_if_fail (HYPHAE_IS_EXIT_NODE_PAGE (self) && self->client == NULL);

  self->client = g_object_ref (client);
  self->filter = GTK_FILTER (
    gtk_bool_filter_new (gtk_property_expression_new (HYPHAE_TYPE_PEER, NULL, "exit-node-option")));
  offered = gtk_filter_list_model_new (g_object_ref (G_LIST_MODEL (hyphae_client_get_peers (client))),
                                       g_object_ref (self->filter));
  sorted = gtk_sort_list_model_new (G_LIST_MODEL (offered), hyphae_peer_list_view_new_sorter ());
  /* [None] followed by the candidates, as one list. */
  self->choices = g_list_store_new (G_TYPE_LIST_MODEL);
  {
    g_autoptr (GListStore) first = g_list_store_new (G_TYPE_OBJECT);

    g_list_store_append (first, none);
    g_list_store_append (self->choices, first);
  }
  g_list_store_append (self->choices, sorted);
  g_object_unref (sorted);
  all = gtk_flatten_list_model_new (g_object_ref (G_LIST_MODEL (self->choices)));
  gtk_list_box_bind_model (self->list_box, G_LIST_MODEL (all), create_row, self, NULL);
  g_object_unref (all);
  hyphae_pref_switch_bind (self->lan_switch, client, "exit-node-allow-lan-access", "ExitNodeAllowLANAccess", NULL);
  hyphae_pref_switch_bind (self->kill_switch, client, "exit-node-kill-switch", "ExitNodeKillSwitch", NULL);
}

static void
hyphae_exit_node_page_map (GtkWidget *widget)
{
  HyphaeExitNodePage *self = HYPHAE_EXIT_NODE_PAGE (widget);

  GTK_WIDGET_CLASS (hyphae_exit_node_page_parent_class)->map (widget);
  /* HyphaePeerList re-announces a peer when its sort or search keys change,
   * not when only its exit node offer does: look again on each showing
   * (a few thousand property reads at most). */
  if (self->filter != NULL)
    gtk_filter_changed (self->filter, GTK_FILTER_CHANGE_DIFFERENT);
}

static void
hyphae_exit_node_page_dispose (GObject *object)
{
  HyphaeExitNodePage *self = HYPHAE_EXIT_NODE_PAGE (object);

  if (self->list_box != NULL)
    gtk_list_box_bind_model (self->list_box, NULL, NULL, NULL, NULL);
  g_clear_object (&self->choices);
  g_clear_object (&self->filter);
  g_clear_object (&self->client);
  G_OBJECT_CLASS (hyphae_exit_node_page_parent_class)->dispose (object);
}

static void
hyphae_exit_node_page_class_init (HyphaeExitNodePageClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = hyphae_exit_node_page_dispose;
  widget_class->map = hyphae_exit_node_page_map;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/hyphae/Hyphae/hyphae-exit-node-page.ui");
  gtk_widget_class_bind_template_child (widget_class, HyphaeExitNodePage, list_box);
  gtk_widget_class_bind_template_child (widget_class, HyphaeExitNodePage, lan_switch);
  gtk_widget_class_bind_template_child (widget_class, HyphaeExitNodePage, kill_switch);
}

static void
hyphae_exit_node_page_init (HyphaeExitNodePage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  /* Its own label only (AdwActionRow adds the row's title to it). */
  gtk_accessible_reset_relation (GTK_ACCESSIBLE (self->lan_switch), GTK_ACCESSIBLE_RELATION_LABELLED_BY);
  gtk_accessible_reset_relation (GTK_ACCESSIBLE (self->kill_switch), GTK_ACCESSIBLE_RELATION_LABELLED_BY);
}
