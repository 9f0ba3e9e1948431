/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-peer-page"

#include "config.h"

#include <glib/gi18n.h>

#include "hyphae-copy-row.h"
#include "hyphae-format.h"
#include "hyphae-peer-page.h"
#include "hyphae-peer-watch.h"

#define REFRESH_SECONDS 2

struct _HyphaePeerPage {
  GtkBox parent_instance;

  GtkLabel *title_label;
  HyphaeCopyRow *dns_row;
  HyphaeCopyRow *ipv4_row;
  HyphaeCopyRow *ipv6_row;
  AdwActionRow *os_row;
  AdwActionRow *status_row;
  AdwActionRow *expiry_row;
  AdwActionRow *path_row;
  AdwActionRow *rx_row;
  AdwActionRow *tx_row;
  GtkButton *exit_node_button;

  HyphaeClient *client;
  HyphaePeer *peer;
  guint refresh_id;
};

G_DEFINE_FINAL_TYPE (HyphaePeerPage, hyphae_peer_page, GTK_TYPE_BOX)

static void
set_subtitle (AdwActionRow *row,
              char *text /* owned */)
{
  adw_action_row_set_subtitle (row, text);
  g_free (text);
}

static void
update_exit_node_button (HyphaePeerPage *self)
{
  gboolean is_exit = hyphae_peer_get_is_exit_node (self->peer);
  GtkWidget *button = GTK_WIDGET (self->exit_node_button);

  gtk_widget_set_visible (button, is_exit || hyphae_peer_get_exit_node_option (self->peer));
  gtk_button_set_label (self->exit_node_button, is_exit ? _ ("Stop Using as Exit Node") : _ ("Use as Exit Node"));
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (button),
                                          g_variant_new_string (is_exit ? "" : hyphae_peer_get_id (self->peer)));
  if (is_exit)
    {
      gtk_widget_remove_css_class (button, "suggested-action");
      gtk_widget_add_css_class (button, "destructive-action");
    }
  else
    {
      gtk_widget_remove_css_class (button, "destructive-action");
      gtk_widget_add_css_class (button, "suggested-action");
    }
}

static void
update (HyphaePeerPage *self)
{
  HyphaePeer *p = self->peer;
  HyphaePeerInfo *info = hyphae_peer_get_info (p);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  gtk_label_set_label (self->title_label, hyphae_peer_get_display_name (p));
  hyphae_copy_row_set_value (self->dns_row, hyphae_peer_get_magic_dns_name (p));
  hyphae_copy_row_set_value (self->ipv4_row, hyphae_peer_get_ipv4 (p));
  hyphae_copy_row_set_value (self->ipv6_row, hyphae_peer_get_ipv6 (p));
  set_subtitle (self->os_row, hyphae_format_os (hyphae_peer_get_os (p)));
  set_subtitle (self->status_row, hyphae_format_last_seen (hyphae_peer_get_last_seen (p), hyphae_peer_get_online (p), now));
  set_subtitle (self->expiry_row, hyphae_format_key_expiry (hyphae_peer_get_key_expiry (p), info->expired, now));
  set_subtitle (self->path_row, hyphae_format_path (hyphae_peer_get_cur_addr (p), hyphae_peer_get_relay (p)));
  set_subtitle (self->rx_row, hyphae_format_bytes (hyphae_peer_get_rx_bytes (p)));
  set_subtitle (self->tx_row, hyphae_format_bytes (hyphae_peer_get_tx_bytes (p)));
  update_exit_node_button (self);
}

void
hyphae_peer_page_set_peer (HyphaePeerPage *self,
                           HyphaePeer *peer)
{
  g_return_if_fail (HYPHAE_IS_PEER_PAGE (self));

  hyphae_peer_watch (&self->peer, peer, (HyphaePeerChangedFunc) update, self);
}

void
hyphae_peer_page_set_client (HyphaePeerPage *self,
                             HyphaeClient *client)
{
  g_return_if_fail (HYPHAE_IS_PEER_PAGE (self) && self->client == NULL);

  self->client = g_object_ref (client);
}

static gboolean
refresh (gpointer user_data)
{
  HyphaePeerPage *self = user_data;

  if (self->client != NULL)
    hyphae_client_refresh_peers (self->client);
  /* "5 minutes ago" ages without any notify. */
  if (self->peer != NULL)
    update (self);
  return G_SOURCE_CONTINUE;
}

static void
hyphae_peer_page_map (GtkWidget *widget)
{
  HyphaePeerPage *self = HYPHAE_PEER_PAGE (widget);

  GTK_WIDGET_CLASS (hyphae_peer_page_parent_class)->map (widget);
  if (self->refresh_id == 0)
    self->refresh_id = g_timeout_add_seconds (REFRESH_SECONDS, refresh, self);
  refresh (self);
}

static void
hyphae_peer_page_unmap (GtkWidget *widget)
{
  HyphaePeerPage *self = HYPHAE_PEER_PAGE (widget);

  g_clear_handle_id (&self->refresh_id, g_source_remove);
  GTK_WIDGET_CLASS (hyphae_peer_page_parent_class)->unmap (widget);
}

static void
hyphae_peer_page_dispose (GObject *object)
{
  HyphaePeerPage *self = HYPHAE_PEER_PAGE (object);

  g_clear_handle_id (&self->refresh_id, g_source_remove);
  hyphae_peer_page_set_peer (self, NULL);
  g_clear_object (&self->client);
  G_OBJECT_CLASS (hyphae_peer_page_parent_class)->dispose (object);
}

static void
hyphae_peer_page_class_init (HyphaePeerPageClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = hyphae_peer_page_dispose;
  widget_class->map = hyphae_peer_page_map;
  widget_class->unmap = hyphae_peer_page_unmap;

  g_type_ensure (HYPHAE_TYPE_COPY_ROW);
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/hyphae/Hyphae/hyphae-peer-page.ui");
  gtk_widget_class_bind_template_child (widget_class, HyphaePeerPage, title_label);
  gtk_widget_class_bind_template_child (widget_class, HyphaePeerPage, dns_row);
  gtk_widget_class_bind_template_child (widget_class, HyphaePeerPage, ipv4_row);
  gtk_widget_class_bind_template_child (widget_class, HyphaePeerPage, ipv6_row);
  gtk_widget_class_bind_template_child (widget_class, HyphaePeerPage, os_row);
  gtk_widget_class_bind_template_child (widget_class, HyphaePeerPage, status_row);
  gtk_widget_class_bind_template_child (widget_class, HyphaePeerPage, expiry_row);
  gtk_widget_class_bind_template_child (widget_class, HyphaePeerPage, path_row);
  gtk_widget_class_bind_template_child (widget_class, HyphaePeerPage, rx_row);
  gtk_widget_class_bind_template_child (widget_class, HyphaePeerPage, tx_row);
  gtk_widget_class_bind_template_child (widget_class, HyphaePeerPage, exit_node_button);
}

static void
hyphae_peer_page_init (HyphaePeerPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
