/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-tray"

#include "config.h"

#include "hyphae-tray.h"

/* PLACEHOLDER until the tray part lands: never registers. */

struct _HyphaeTray {
  GObject parent_instance;

  GApplication *app; /* not owned: the application owns the tray */
  HyphaeClient *client;
};

G_DEFINE_FINAL_TYPE (HyphaeTray, hyphae_tray, G_TYPE_OBJECT)

static void
hyphae_tray_dispose (GObject *object)
{
  HyphaeTray *self = HYPHAE_TRAY (object);

  g_clear_object (&self->client);
  G_OBJECT_CLASS (hyphae_tray_parent_class)->dispose (object);
}

static void
hyphae_tray_class_init (HyphaeTrayClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = hyphae_tray_dispose;
}

static void
hyphae_tray_init (HyphaeTray *self)
{
}

HyphaeTray *
hyphae_tray_new (GApplication *app,
                 HyphaeClient *client)
{
  HyphaeTray *self = g_object_new (HYPHAE_TYPE_TRAY, NULL);

  self->app = app;
  self->client = g_object_ref (client);
  return self;
}

gboolean
hyphae_tray_get_registered (HyphaeTray *self)
{
  return FALSE;
}
