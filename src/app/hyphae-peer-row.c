/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-peer-row"

#include "config.h"

#include <glib/gi18n.h>

#include "hyphae-format.h"
#include "hyphae-peer-row.h"
#include "hyphae-peer-watch.h"

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

void
hyphae_peer_row_set_peer (HyphaePeerRow *self,
                          HyphaePeer *peer)
{
  /* What show_peer() reads (not the counters a peer page refreshes). */
  static const char * const shown[] = {
    "id",
    "display-name",
    "os",
    "ipv4",
    "ipv6",
    "online",
    "is-exit-node",
    "magic-dns-name",
    NULL,
  };

  g_return_if_fail (HYPHAE_IS_PEER_ROW (self));

  hyphae_peer_watch_only (&self->peer, peer, shown, (HyphaePeerChangedFunc) show_peer, self);
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

  object_class->dispose = hyphae_peer_row_dispose;
  object_class->finalize = hyphae_peer_row_finalize;
}

static GtkWidget *
label_new (const char *css_class,
           const char *css_class2)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (label, css_class);
  if (css_class2 != NULL)
    gtk_widget_add_css_class (label, css_class2);
  return label;
}

static GtkWidget *
button_new (const char *icon_name,
            const char *action_name)
{
  GtkWidget *button = icon_name != NULL ? gtk_button_new_from_icon_name (icon_name) : gtk_button_new ();

  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (button, "flat");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (button), action_name);
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (button), g_variant_new_string (""));
  return button;
}

/* Built in code, not from a .ui template: a GtkListView makes a row for
 * each peer scrolled or filtered into view, and GtkBuilder took ~2 ms a row
 * (10,000 peers, filtering: frames over 16 ms). No tooltips either: setting
 * one asks the X server where the pointer is, a round trip per row. */
static void
hyphae_peer_row_init (HyphaePeerRow *self)
{
  GtkWidget *box = GTK_WIDGET (self);
  GtkWidget *names = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);

  self->labelled_online = -1;
  gtk_box_set_spacing (GTK_BOX (self), 6);
  gtk_widget_set_margin_start (box, 6);
  gtk_widget_set_margin_end (box, 6);
  gtk_widget_set_margin_top (box, 3);
  gtk_widget_set_margin_bottom (box, 3);

  self->name_label = GTK_LABEL (label_new ("heading", NULL));
  self->detail_label = GTK_LABEL (label_new ("caption", "dim-label"));
  gtk_box_append (GTK_BOX (names), GTK_WIDGET (self->name_label));
  gtk_box_append (GTK_BOX (names), GTK_WIDGET (self->detail_label));
  self->open_button = button_new (NULL, "main-view.show-peer");
  gtk_button_set_child (GTK_BUTTON (self->open_button), names);
  gtk_widget_set_hexpand (self->open_button, TRUE);
  gtk_widget_set_valign (self->open_button, GTK_ALIGN_FILL);
  gtk_box_append (GTK_BOX (self), self->open_button);

  self->exit_badge = label_new ("caption-heading", "accent");
  gtk_label_set_label (GTK_LABEL (self->exit_badge), _ ("Exit Node"));
  gtk_widget_set_valign (self->exit_badge, GTK_ALIGN_CENTER);
  gtk_widget_set_visible (self->exit_badge, FALSE);
  gtk_box_append (GTK_BOX (self), self->exit_badge);

  self->status_label = GTK_LABEL (label_new ("caption", NULL));
  gtk_label_set_width_chars (self->status_label, 7);
  gtk_label_set_xalign (self->status_label, 1);
  gtk_widget_set_valign (GTK_WIDGET (self->status_label), GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (self), GTK_WIDGET (self->status_label));

  self->copy_name_button = button_new ("edit-copy-symbolic", "app.copy");
  gtk_box_append (GTK_BOX (self), self->copy_name_button);
  self->copy_address_button = button_new ("network-workgroup-symbolic", "app.copy");
  gtk_box_append (GTK_BOX (self), self->copy_address_button);
}

GtkWidget *
hyphae_peer_row_new (void)
{
  return g_object_new (HYPHAE_TYPE_PEER_ROW, NULL);
}
