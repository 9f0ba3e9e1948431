/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-peer-row"

#include "config.h"

#include <glib/gi18n.h>

#include "hyphae-format.h"
#include "hyphae-peer-row.h"

struct _HyphaePeerRow {
  GtkBox parent_instance;

  GtkWidget *open_button;
  GtkLabel *name_label;
  GtkLabel *detail_label;
  GtkLabel *status_label;
  GtkWidget *exit_badge;
  GtkWidget *copy_name_button;
  GtkWidget *copy_address_button;

  HyphaePeer *peer;
  char *labelled_for;  /* the display name the accessible labels say */
  int labelled_online; /* what the status label's says: -1 nothing yet */
};

G_DEFINE_FINAL_TYPE (HyphaePeerRow, hyphae_peer_row, GTK_TYPE_BOX)

static void
set_button (GtkWidget *button,
            const char *target,
            char *label /* owned */)
{
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (button), g_variant_new_string (target));
  if (label != NULL)
    {
      gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
      gtk_widget_set_tooltip_text (button, label);
      g_free (label);
    }
}

/* Everything the row shows, from the peer: a few label sets (each a no-op
 * when unchanged), called on bind and on the peer's notifies. */
static void
show_peer (HyphaePeerRow *self)
{
  HyphaePeer *p = self->peer;
  const char *name = hyphae_peer_get_display_name (p);
  const char *address = hyphae_peer_get_ipv4 (p);
  gboolean online = hyphae_peer_get_online (p);
  gboolean relabel = g_strcmp0 (self->labelled_for, name) != 0;
  g_autofree char *os = hyphae_format_os (hyphae_peer_get_os (p));
  g_autofree char *detail = NULL;

  if (*address == '\0')
    address = hyphae_peer_get_ipv6 (p);
  detail = *address != '\0' ? g_strdup_printf ("%s · %s", os, address) : g_strdup (os);
  gtk_label_set_label (self->name_label, name);
  gtk_label_set_label (self->detail_label, detail);
  gtk_label_set_label (self->status_label, online ? _ ("Online") : _ ("Offline"));
  if (relabel || self->labelled_online != online)
    {
      /* Translators: %s is a device's name: what a screen reader says of its status. */
      g_autofree char *label = g_strdup_printf (online ? _ ("%s: Online") : _ ("%s: Offline"), name);

      gtk_accessible_update_property (GTK_ACCESSIBLE (self->status_label), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
      self->labelled_online = online;
    }
  if (online)
    gtk_widget_remove_css_class (GTK_WIDGET (self->status_label), "dim-label");
  else
    gtk_widget_add_css_class (GTK_WIDGET (self->status_label), "dim-label");
  gtk_widget_set_visible (self->exit_badge, hyphae_peer_get_is_exit_node (p));
  gtk_widget_set_sensitive (self->copy_address_button, *address != '\0');

  /* Translators: %s is a device's name; the label of a button that opens its page. */
  set_button (self->open_button, hyphae_peer_get_id (p), relabel ? g_strdup_printf (_ ("Details of %s"), name) : NULL);
  /* Translators: %s is a device's name. */
  set_button (self->copy_name_button, hyphae_peer_get_magic_dns_name (p),
              relabel ? g_strdup_printf (_ ("Copy MagicDNS name of %s"), name) : NULL);
  /* Translators: %s is a device's name. */
  set_button (self->copy_address_button, address,
              relabel ? g_strdup_printf (_ ("Copy address of %s"), name) : NULL);
  if (relabel)
    {
      g_free (self->labelled_for);
      self->labelled_for = g_strdup (name);
    }
}

static void
on_peer_notify (GObject *object,
                GParamSpec *pspec,
                gpointer user_data)
{
  show_peer (user_data);
}

void
hyphae_peer_row_set_peer (HyphaePeerRow *self,
                          HyphaePeer *peer)
{
  g_return_if_fail (HYPHAE_IS_PEER_ROW (self));

  if (self->peer == peer)
    return;
  if (self->peer != NULL)
    g_signal_handlers_disconnect_by_func (self->peer, on_peer_notify, self);
  g_set_object (&self->peer, peer);
  if (peer == NULL)
    return;
  g_signal_connect (peer, "notify", G_CALLBACK (on_peer_notify), self);
  show_peer (self);
}

static void
hyphae_peer_row_dispose (GObject *object)
{
  hyphae_peer_row_set_peer (HYPHAE_PEER_ROW (object), NULL);
  G_OBJECT_CLASS (hyphae_peer_row_parent_class)->dispose (object);
}

static void
hyphae_peer_row_finalize (GObject *object)
{
  g_free (HYPHAE_PEER_ROW (object)->labelled_for);
  G_OBJECT_CLASS (hyphae_peer_row_parent_class)->finalize (object);
}

static void
hyphae_peer_row_class_init (HyphaePeerRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = hyphae_peer_row_dispose;
  object_class->finalize = hyphae_peer_row_finalize;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/hyphae/Hyphae/hyphae-peer-row.ui");
  gtk_widget_class_bind_template_child (widget_class, HyphaePeerRow, open_button);
  gtk_widget_class_bind_template_child (widget_class, HyphaePeerRow, name_label);
  gtk_widget_class_bind_template_child (widget_class, HyphaePeerRow, detail_label);
  gtk_widget_class_bind_template_child (widget_class, HyphaePeerRow, status_label);
  gtk_widget_class_bind_template_child (widget_class, HyphaePeerRow, exit_badge);
  gtk_widget_class_bind_template_child (widget_class, HyphaePeerRow, copy_name_button);
  gtk_widget_class_bind_template_child (widget_class, HyphaePeerRow, copy_address_button);
}

static void
hyphae_peer_row_init (HyphaePeerRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->labelled_online = -1;
}

GtkWidget *
hyphae_peer_row_new (void)
{
  return g_object_new (HYPHAE_TYPE_PEER_ROW, NULL);
}
