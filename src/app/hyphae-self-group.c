/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-self-group"

#include "config.h"

#include "hyphae-copy-row.h"
#include "hyphae-peer-watch.h"
#include "hyphae-pref-switch.h"
#include "hyphae-self-group.h"

struct _HyphaeSelfGroup {
  AdwPreferencesGroup parent_instance;

  HyphaeCopyRow *name_row;
  HyphaeCopyRow *ipv4_row;
  HyphaeCopyRow *ipv6_row;
  HyphaeCopyRow *dns_row;
  GtkSwitch *exit_node_switch;

  HyphaeClient *client;
  HyphaePeer *peer; /* the client's self, watched */
};

G_DEFINE_FINAL_TYPE (HyphaeSelfGroup, hyphae_self_group, ADW_TYPE_PREFERENCES_GROUP)

static void
update_rows (HyphaeSelfGroup *self)
{
  HyphaePeer *p = self->peer;

  hyphae_copy_row_set_value (self->name_row, p != NULL ? hyphae_peer_get_host_name (p) : "");
  hyphae_copy_row_set_value (self->ipv4_row, p != NULL ? hyphae_peer_get_ipv4 (p) : "");
  hyphae_copy_row_set_value (self->ipv6_row, p != NULL ? hyphae_peer_get_ipv6 (p) : "");
  hyphae_copy_row_set_value (self->dns_row, p != NULL ? hyphae_peer_get_magic_dns_name (p) : "");
}

static void
on_self_changed (GObject *object,
                 GParamSpec *pspec,
                 gpointer user_data)
{
  HyphaeSelfGroup *self = user_data;
  hyphae_peer_watch (&self->peer, hyphae_client_get_self (self->client), (HyphaePeerChangedFunc) update_rows, self);
  update_rows (self); /* also when it is none */
}

void
hyphae_self_group_set_client (HyphaeSelfGroup *self,
                              HyphaeClient *client)
{
  g_return_if_fail (HYPHAE_IS_SELF_GROUP (self) && self->client == NULL);

  self->client = g_object_ref (client);
  g_signal_connect_object (client, "notify::self", G_CALLBACK (on_self_changed), self, 0);
  /* On = AdvertiseRoutes has the exit routes; the action adds or removes
   * them, keeping the subnets. */
  hyphae_pref_switch_bind (self->exit_node_switch, client, "advertise-exit-node", NULL,
                           "app.toggle-advertise-exit-node");
  on_self_changed (NULL, NULL, self);
}

static void
hyphae_self_group_dispose (GObject *object)
{
  HyphaeSelfGroup *self = HYPHAE_SELF_GROUP (object);

  hyphae_peer_watch (&self->peer, NULL, (HyphaePeerChangedFunc) update_rows, self);
  g_clear_object (&self->client);
  G_OBJECT_CLASS (hyphae_self_group_parent_class)->dispose (object);
}

static void
hyphae_self_group_class_init (HyphaeSelfGroupClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = hyphae_self_group_dispose;

  g_type_ensure (HYPHAE_TYPE_COPY_ROW);
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/hyphae/Hyphae/hyphae-self-group.ui");
  gtk_widget_class_bind_template_child (widget_class, HyphaeSelfGroup, name_row);
  gtk_widget_class_bind_template_child (widget_class, HyphaeSelfGroup, ipv4_row);
  gtk_widget_class_bind_template_child (widget_class, HyphaeSelfGroup, ipv6_row);
  gtk_widget_class_bind_template_child (widget_class, HyphaeSelfGroup, dns_row);
  gtk_widget_class_bind_template_child (widget_class, HyphaeSelfGroup, exit_node_switch);
}

static void
hyphae_self_group_init (HyphaeSelfGroup *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  /* Named by its own label only (see hyphae-settings-group.c). */
  gtk_accessible_reset_relation (GTK_ACCESSIBLE (self->exit_node_switch), GTK_ACCESSIBLE_RELATION_LABELLED_BY);
}
