/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-dns-group"

#include "config.h"

#include "hyphae-dns-group.h"
#include "hyphae-format.h"

struct _HyphaeDnsGroup {
  AdwPreferencesGroup parent_instance;

  AdwActionRow *mode_row;
  AdwActionRow *nameservers_row;
  AdwActionRow *search_row;
  AdwActionRow *error_row;

  HyphaeClient *client;
};

G_DEFINE_FINAL_TYPE (HyphaeDnsGroup, hyphae_dns_group, ADW_TYPE_PREFERENCES_GROUP)

static void
set_list (AdwActionRow *row,
          HyphaeClient *client,
          const char *property)
{
  g_auto (GStrv) items = NULL;
  g_autofree char *text = NULL;

  g_object_get (client, property, &items, NULL);
  text = hyphae_format_list ((const char * const *) items);
  adw_action_row_set_subtitle (row, text);
}

static void
update_rows (HyphaeDnsGroup *self)
{
  g_autofree char *mode = NULL;
  g_autofree char *mode_text = NULL;
  g_autofree char *error = NULL;

  g_object_get (self->client, "dns-mode", &mode, "dns-error", &error, NULL);
  mode_text = hyphae_format_dns_mode (mode);
  adw_action_row_set_subtitle (self->mode_row, mode_text);
  set_list (self->nameservers_row, self->client, "dns-nameservers");
  set_list (self->search_row, self->client, "dns-search-domains");
  adw_action_row_set_subtitle (self->error_row, error != NULL ? error : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_row), error != NULL && *error != '\0');
}

void
hyphae_dns_group_set_client (HyphaeDnsGroup *self,
                             HyphaeClient *client)
{
  static const char * const watched[] = {
    "notify::dns-mode",
    "notify::dns-nameservers",
    "notify::dns-search-domains",
    "notify::dns-error",
  };

  g_return_if_fail (HYPHAE_IS_DNS_GROUP (self) && self->client == NULL);

  self->client = g_object_ref (client);
  for (size_t i = 0; i < G_N_ELEMENTS (watched); i++)
    g_signal_connect_object (client, watched[i], G_CALLBACK (update_rows), self, G_CONNECT_SWAPPED);
  update_rows (self);
}

static void
hyphae_dns_group_dispose (GObject *object)
{
  HyphaeDnsGroup *self = HYPHAE_DNS_GROUP (object);

  g_clear_object (&self->client);
  G_OBJECT_CLASS (hyphae_dns_group_parent_class)->dispose (object);
}

static void
hyphae_dns_group_class_init (HyphaeDnsGroupClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = hyphae_dns_group_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/hyphae/Hyphae/hyphae-dns-group.ui");
  gtk_widget_class_bind_template_child (widget_class, HyphaeDnsGroup, mode_row);
  gtk_widget_class_bind_template_child (widget_class, HyphaeDnsGroup, nameservers_row);
  gtk_widget_class_bind_template_child (widget_class, HyphaeDnsGroup, search_row);
  gtk_widget_class_bind_template_child (widget_class, HyphaeDnsGroup, error_row);
}

static void
hyphae_dns_group_init (HyphaeDnsGroup *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
