/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-main-view"

#include "config.h"

#include "hyphae-dns-group.h"
#include "hyphae-exit-node-page.h"
#include "hyphae-main-view.h"
#include "hyphae-peer-list-view.h"
#include "hyphae-peer-page.h"
#include "hyphae-profiles-page.h"
#include "hyphae-self-group.h"
#include "hyphae-settings-group.h"

/*
 * An AdwLeaflet that never unfolds: the overview (this device, the
 * switches and the peers side by side) and, one at a time, a peer's page,
 * the exit node page or the profiles page, each with a Back button. The
 * pages' buttons reach it through its actions:
 *   main-view.show-peer (s)      a peer's page, by stable ID
 *   main-view.show-exit-nodes, main-view.show-profiles, main-view.back
 */

struct _HyphaeMainView {
  AdwBin parent_instance;

  AdwLeaflet *leaflet;
  GtkWidget *overview;
  HyphaeSelfGroup *self_group;
  HyphaeSettingsGroup *settings_group;
  HyphaeDnsGroup *dns_group;
  HyphaePeerListView *peer_list;
  HyphaePeerPage *peer_page;
  HyphaeExitNodePage *exit_node_page;
  GtkWidget *profiles_page;

  HyphaeClient *client;
};

G_DEFINE_FINAL_TYPE (HyphaeMainView, hyphae_main_view, ADW_TYPE_BIN)

/* AdwLeaflet keeps the pages it does not show in the accessibility tree,
 * VISIBLE: mark them hidden, so a screen reader (and the tests) see only
 * the page on screen. */
static void
on_visible_child (GObject *object,
                  GParamSpec *pspec,
                  gpointer user_data)
{
  HyphaeMainView *self = user_data;
  GtkWidget *shown = adw_leaflet_get_visible_child (self->leaflet);

  for (GtkWidget *page = gtk_widget_get_first_child (GTK_WIDGET (self->leaflet)); page != NULL;
       page = gtk_widget_get_next_sibling (page))
    gtk_accessible_update_state (GTK_ACCESSIBLE (page), GTK_ACCESSIBLE_STATE_HIDDEN, page != shown, -1);
}

static void
show_peer (GtkWidget *widget,
           const char *action_name,
           GVariant *param)
{
  HyphaeMainView *self = HYPHAE_MAIN_VIEW (widget);
  HyphaePeer *peer = hyphae_peer_list_lookup (hyphae_client_get_peers (self->client),
                                              g_variant_get_string (param, NULL));

  if (peer == NULL)
    return;
  hyphae_peer_page_set_peer (self->peer_page, peer);
  adw_leaflet_set_visible_child (self->leaflet, GTK_WIDGET (self->peer_page));
}

static void
show_exit_nodes (GtkWidget *widget,
                 const char *action_name,
                 GVariant *param)
{
  HyphaeMainView *self = HYPHAE_MAIN_VIEW (widget);

  adw_leaflet_set_visible_child (self->leaflet, GTK_WIDGET (self->exit_node_page));
}

static void
show_profiles (GtkWidget *widget,
               const char *action_name,
               GVariant *param)
{
  HyphaeMainView *self = HYPHAE_MAIN_VIEW (widget);

  adw_leaflet_set_visible_child (self->leaflet, self->profiles_page);
}

static void
back (GtkWidget *widget,
      const char *action_name,
      GVariant *param)
{
  HyphaeMainView *self = HYPHAE_MAIN_VIEW (widget);

  adw_leaflet_set_visible_child (self->leaflet, self->overview);
}

static void
hyphae_main_view_dispose (GObject *object)
{
  HyphaeMainView *self = HYPHAE_MAIN_VIEW (object);

  g_clear_object (&self->client);
  G_OBJECT_CLASS (hyphae_main_view_parent_class)->dispose (object);
}

static void
hyphae_main_view_class_init (HyphaeMainViewClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = hyphae_main_view_dispose;

  g_type_ensure (HYPHAE_TYPE_SELF_GROUP);
  g_type_ensure (HYPHAE_TYPE_SETTINGS_GROUP);
  g_type_ensure (HYPHAE_TYPE_DNS_GROUP);
  g_type_ensure (HYPHAE_TYPE_PEER_LIST_VIEW);
  g_type_ensure (HYPHAE_TYPE_PEER_PAGE);
  g_type_ensure (HYPHAE_TYPE_EXIT_NODE_PAGE);
  g_type_ensure (HYPHAE_TYPE_PROFILES_PAGE);
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/hyphae/Hyphae/hyphae-main-view.ui");
  gtk_widget_class_bind_template_child (widget_class, HyphaeMainView, leaflet);
  gtk_widget_class_bind_template_child (widget_class, HyphaeMainView, overview);
  gtk_widget_class_bind_template_child (widget_class, HyphaeMainView, self_group);
  gtk_widget_class_bind_template_child (widget_class, HyphaeMainView, settings_group);
  gtk_widget_class_bind_template_child (widget_class, HyphaeMainView, dns_group);
  gtk_widget_class_bind_template_child (widget_class, HyphaeMainView, peer_list);
  gtk_widget_class_bind_template_child (widget_class, HyphaeMainView, peer_page);
  gtk_widget_class_bind_template_child (widget_class, HyphaeMainView, exit_node_page);
  gtk_widget_class_bind_template_child (widget_class, HyphaeMainView, profiles_page);
  gtk_widget_class_bind_template_callback (widget_class, on_visible_child);

  gtk_widget_class_install_action (widget_class, "main-view.show-peer", "s", show_peer);
  gtk_widget_class_install_action (widget_class, "main-view.show-exit-nodes", NULL, show_exit_nodes);
  gtk_widget_class_install_action (widget_class, "main-view.show-profiles", NULL, show_profiles);
  gtk_widget_class_install_action (widget_class, "main-view.back", NULL, back);
}

static void
hyphae_main_view_init (HyphaeMainView *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  hyphae_peer_list_view_capture_keys (self->peer_list, self->overview);
  on_visible_child (NULL, NULL, self);
}

GtkWidget *
hyphae_main_view_new (HyphaeClient *client)
{
  HyphaeMainView *self = g_object_new (HYPHAE_TYPE_MAIN_VIEW, NULL);

  self->client = g_object_ref (client);
  hyphae_self_group_set_client (self->self_group, client);
  hyphae_settings_group_set_client (self->settings_group, client);
  hyphae_dns_group_set_client (self->dns_group, client);
  hyphae_peer_list_view_set_peers (self->peer_list, hyphae_client_get_peers (client));
  hyphae_peer_page_set_client (self->peer_page, client);
  hyphae_exit_node_page_set_client (self->exit_node_page, client);
  return GTK_WIDGET (self);
}
