/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-main-view"

#include "config.h"

#include <glib/gi18n.h>

#include "hyphae-main-view.h"

/* PLACEHOLDER until the main view part lands: one status page. */

struct _HyphaeMainView {
  AdwBin parent_instance;

  HyphaeClient *client;
};

G_DEFINE_FINAL_TYPE (HyphaeMainView, hyphae_main_view, ADW_TYPE_BIN)

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
  G_OBJECT_CLASS (klass)->dispose = hyphae_main_view_dispose;
}

static void
hyphae_main_view_init (HyphaeMainView *self)
{
  GtkWidget *page = adw_status_page_new ();

  adw_status_page_set_icon_name (ADW_STATUS_PAGE (page), "network-vpn-symbolic");
  adw_status_page_set_title (ADW_STATUS_PAGE (page), _ ("Connected"));
  adw_bin_set_child (ADW_BIN (self), page);
}

GtkWidget *
hyphae_main_view_new (HyphaeClient *client)
{
  HyphaeMainView *self = g_object_new (HYPHAE_TYPE_MAIN_VIEW, NULL);

  self->client = g_object_ref (client);
  return GTK_WIDGET (self);
}
