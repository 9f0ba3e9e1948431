/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-tray-layout"

#include "config.h"

#include <string.h>

#include "hyphae-tray-layout.h"

struct _HyphaeTrayLayout {
  GHashTable *items; /* GINT_TO_POINTER (id) → HyphaeTrayItem */
};

static void
item_free (gpointer data)
{
  HyphaeTrayItem *item = data;

  g_clear_pointer (&item->props, g_variant_unref);
  g_clear_pointer (&item->children, g_array_unref);
  g_clear_pointer (&item->target, g_variant_unref);
  g_free (item->action);
  g_free (item);
}

static HyphaeTrayItem *
item_new (int id,
          GVariant *props,
          const char *action,
          GVariant *target)
{
  HyphaeTrayItem *item = g_new0 (HyphaeTrayItem, 1);

  item->id = id;
  item->props = props != NULL ? g_variant_ref_sink (props) : g_variant_ref_sink (g_variant_new ("a{sv}", NULL));
  item->children = g_array_new (FALSE, FALSE, sizeof (int));
  item->action = g_strdup (action);
  item->target = target != NULL ? g_variant_ref_sink (target) : NULL;
  return item;
}

HyphaeTrayLayout *
hyphae_tray_layout_new (void)
{
  HyphaeTrayLayout *self = g_new0 (HyphaeTrayLayout, 1);
  GVariantBuilder root;

  self->items = g_hash_table_new_full (NULL, NULL, NULL, item_free);
  g_variant_builder_init (&root, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&root, "{sv}", "children-display", g_variant_new_string ("submenu"));
  g_hash_table_insert (self->items, GINT_TO_POINTER (0), item_new (0, g_variant_builder_end (&root), NULL, NULL));
  return self;
}

void
hyphae_tray_layout_free (HyphaeTrayLayout *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->items);
  g_free (self);
}

int
hyphae_tray_layout_add (HyphaeTrayLayout *self,
                        int parent,
                        int id,
                        GVariant *props,
                        const char *action,
                        GVariant *target)
{
  HyphaeTrayItem *up = g_hash_table_lookup (self->items, GINT_TO_POINTER (parent));

  g_return_val_if_fail (up != NULL, -1);
  g_return_val_if_fail (!g_hash_table_contains (self->items, GINT_TO_POINTER (id)), -1);

  g_hash_table_insert (self->items, GINT_TO_POINTER (id), item_new (id, props, action, target));
  g_array_append_val (up->children, id);
  return id;
}

const HyphaeTrayItem *
hyphae_tray_layout_lookup (HyphaeTrayLayout *self,
                           int id)
{
  return g_hash_table_lookup (self->items, GINT_TO_POINTER (id));
}

static void
collect_ids (HyphaeTrayLayout *self,
             int id,
             GArray *ids)
{
  const HyphaeTrayItem *item = hyphae_tray_layout_lookup (self, id);

  g_array_append_val (ids, id);
  for (guint i = 0; i < item->children->len; i++)
    collect_ids (self, g_array_index (item->children, int, i), ids);
}

GArray *
hyphae_tray_layout_ids (HyphaeTrayLayout *self)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (int));

  collect_ids (self, 0, ids);
  return ids;
}

GVariant *
hyphae_tray_item_get_properties (const HyphaeTrayItem *item,
                                 const char * const *names)
{
  GVariantBuilder builder;
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_iter_init (&iter, item->props);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value))
    if (names == NULL || names[0] == NULL || g_strv_contains (names, key))
      g_variant_builder_add (&builder, "{sv}", key, value);
  return g_variant_builder_end (&builder);
}

GVariant *
hyphae_tray_layout_serialize (HyphaeTrayLayout *self,
                              int parent,
                              int depth,
                              const char * const *names)
{
  const HyphaeTrayItem *item = hyphae_tray_layout_lookup (self, parent);
  GVariantBuilder children;

  if (item == NULL)
    return NULL;
  g_variant_builder_init (&children, G_VARIANT_TYPE ("av"));
  if (depth != 0)
    for (guint i = 0; i < item->children->len; i++)
      g_variant_builder_add (
        &children, "v",
        hyphae_tray_layout_serialize (self, g_array_index (item->children, int, i), depth - 1, names));
  return g_variant_new ("(i@a{sv}av)", item->id, hyphae_tray_item_get_properties (item, names), &children);
}

static gboolean
same_children (const HyphaeTrayItem *a,
               const HyphaeTrayItem *b)
{
  return a->children->len == b->children->len &&
         (a->children->len == 0 || memcmp (a->children->data, b->children->data, a->children->len * sizeof (int)) == 0);
}

/* The property names of a that b does not have. */
static GVariant *
lost_properties (const HyphaeTrayItem *a,
                 const HyphaeTrayItem *b)
{
  GVariantBuilder names;
  GVariantIter iter;
  const char *key;
  gboolean any = FALSE;

  g_variant_builder_init (&names, G_VARIANT_TYPE_STRING_ARRAY);
  g_variant_iter_init (&iter, a->props);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, NULL))
    if (!g_variant_lookup (b->props, key, "*", NULL))
      {
        g_variant_builder_add (&names, "s", key);
        any = TRUE;
      }
  if (!any)
    {
      g_variant_builder_clear (&names);
      return NULL;
    }
  return g_variant_builder_end (&names);
}

gboolean
hyphae_tray_layout_diff (HyphaeTrayLayout *old,
                         HyphaeTrayLayout *new,
                         int *layout_parent,
                         GVariant **updated,
                         GVariant **removed)
{
  g_autoptr (GArray) ids = hyphae_tray_layout_ids (new);
  GVariantBuilder up, rm;
  gboolean any_up = FALSE, any_rm = FALSE;
  int n_parents = 0;

  *layout_parent = 0;
  g_variant_builder_init (&up, G_VARIANT_TYPE ("a(ia{sv})"));
  g_variant_builder_init (&rm, G_VARIANT_TYPE ("a(ias)"));
  for (guint i = 0; i < ids->len; i++)
    {
      int id = g_array_index (ids, int, i);
      const HyphaeTrayItem *b = hyphae_tray_layout_lookup (new, id);
      const HyphaeTrayItem *a = hyphae_tray_layout_lookup (old, id);
      GVariant *lost;

      if (a == NULL)
        continue; /* new: its parent's children changed */
      if (!same_children (a, b) && n_parents++ == 0)
        *layout_parent = id;
      if (g_variant_equal (a->props, b->props))
        continue;
      g_variant_builder_add (&up, "(i@a{sv})", id, b->props);
      any_up = TRUE;
      if ((lost = lost_properties (a, b)) != NULL)
        {
          g_variant_builder_add (&rm, "(i@as)", id, lost);
          any_rm = TRUE;
        }
    }
  if (n_parents > 1)
    *layout_parent = 0;
  /* An item gone is a change of its parent's children, seen above. */
  *updated = any_up ? g_variant_builder_end (&up) : NULL;
  *removed = any_rm ? g_variant_builder_end (&rm) : NULL;
  if (!any_up)
    g_variant_builder_clear (&up);
  if (!any_rm)
    g_variant_builder_clear (&rm);
  return n_parents > 0;
}
