/* SPDX-License-Identifier: MIT */
#include "hyphae-peer-list.h"

struct _HyphaePeerList {
  GObject parent_instance;

  GPtrArray *items;  /* HyphaePeer *, owned */
  GHashTable *by_id; /* stable id (a copy: a peer's info is replaced) → HyphaePeer * */
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (HyphaePeerList, hyphae_peer_list, G_TYPE_OBJECT, G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

/* ----------------------------------------------------------- GListModel */

static GType
list_get_item_type (GListModel *model)
{
  return HYPHAE_TYPE_PEER;
}

static guint
list_get_n_items (GListModel *model)
{
  return HYPHAE_PEER_LIST (model)->items->len;
}

static gpointer
list_get_item (GListModel *model,
               guint position)
{
  HyphaePeerList *self = HYPHAE_PEER_LIST (model);

  if (position >= self->items->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->items, position));
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = list_get_item_type;
  iface->get_n_items = list_get_n_items;
  iface->get_item = list_get_item;
}

/* ---------------------------------------------------------------- merge */

static HyphaePeer *
peer_at (HyphaePeerList *self,
         guint i)
{
  return g_ptr_array_index (self->items, i);
}

/* Drops every peer not in wanted, one items-changed per run. */
static void
remove_gone (HyphaePeerList *self,
             GHashTable *wanted)
{
  guint i = 0;

  while (i < self->items->len)
    {
      guint n = 0;

      while (i + n < self->items->len &&
             !g_hash_table_contains (wanted, hyphae_peer_get_id (peer_at (self, i + n))))
        {
          g_hash_table_remove (self->by_id, hyphae_peer_get_id (peer_at (self, i + n)));
          n++;
        }
      if (n == 0)
        {
          i++;
          continue;
        }
      g_ptr_array_remove_range (self->items, i, n);
      g_list_model_items_changed (G_LIST_MODEL (self), i, n, 0);
    }
}

/* Inserts the run of new peers infos[j..] at position j; returns its length. */
static guint
insert_new (HyphaePeerList *self,
            GPtrArray *infos,
            guint j)
{
  guint n = 0;

  for (guint k = j; k < infos->len; k++)
    {
      HyphaePeerInfo *info = g_ptr_array_index (infos, k);
      HyphaePeer *peer;

      if (g_hash_table_contains (self->by_id, info->stable_id))
        break;
      peer = hyphae_peer_new (info);
      g_ptr_array_insert (self->items, j + n, peer);
      g_hash_table_insert (self->by_id, g_strdup (info->stable_id), peer);
      n++;
    }
  g_list_model_items_changed (G_LIST_MODEL (self), j, 0, n);
  return n;
}

/* Past this many peers changed in place, one items-changed covers them all. */
#define FEW_CHANGES 16

/* Re-announces the peers at (ascending positions) whose sort or filter key
 * changed. GTK 4.8's sort model turns each into a range from the peer's old
 * place to its new one (thousands of rows with 10,000 peers), which the
 * filter model and the list view then walk: a merge holding 1,000 online
 * flips stalled the main loop for seconds, where one range over all of
 * them is one walk. */
static void
announce_changed (HyphaePeerList *self,
                  GArray *at)
{
  guint first, n;

  if (at->len <= FEW_CHANGES)
    {
      for (guint k = 0; k < at->len; k++)
        g_list_model_items_changed (G_LIST_MODEL (self), g_array_index (at, guint, k), 1, 1);
      return;
    }
  first = g_array_index (at, guint, 0);
  n = g_array_index (at, guint, at->len - 1) - first + 1;
  g_list_model_items_changed (G_LIST_MODEL (self), first, n, n);
}

void
hyphae_peer_list_update (HyphaePeerList *self,
                         GPtrArray *infos)
{
  g_autoptr(GPtrArray) unique = g_ptr_array_new ();
  g_autoptr(GArray) changed_at = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GHashTable) wanted = g_hash_table_new (g_str_hash, g_str_equal);
  guint j = 0;

  g_return_if_fail (HYPHAE_IS_PEER_LIST (self));
  g_return_if_fail (infos != NULL);

  for (guint k = 0; k < infos->len; k++)
    {
      HyphaePeerInfo *info = g_ptr_array_index (infos, k);

      if (g_hash_table_add (wanted, info->stable_id))
        g_ptr_array_add (unique, info);
    }
  remove_gone (self, wanted);

  /* Now items is a subset of unique: walk unique, making items[j] match. */
  while (j < unique->len)
    {
      HyphaePeerInfo *info = g_ptr_array_index (unique, j);
      HyphaePeer *peer = g_hash_table_lookup (self->by_id, info->stable_id);
      HyphaePeerChanged changed;
      guint from;

      if (peer == NULL)
        {
          j += insert_new (self, unique, j);
          continue;
        }
      changed = hyphae_peer_update (peer, info);
      if (peer_at (self, j) == peer)
        {
          /* Announced at the end: what follows (inserts, moves) happens
           * after j, so this position holds. */
          if (changed & (HYPHAE_PEER_CHANGED_SORT_KEY | HYPHAE_PEER_CHANGED_FILTER_KEY))
            g_array_append_val (changed_at, j);
          j++;
          continue;
        }
      /* Moved (the daemon's order changed): take it out where it was and
       * put it here, the same object. */
      g_ptr_array_find (self->items, peer, &from);
      g_ptr_array_steal_index (self->items, from);
      g_list_model_items_changed (G_LIST_MODEL (self), from, 1, 0);
      g_ptr_array_insert (self->items, j, peer);
      g_list_model_items_changed (G_LIST_MODEL (self), j, 0, 1);
      j++;
    }
  announce_changed (self, changed_at);
}

HyphaePeer *
hyphae_peer_list_lookup (HyphaePeerList *self,
                         const char *id)
{
  g_return_val_if_fail (HYPHAE_IS_PEER_LIST (self), NULL);
  g_return_val_if_fail (id != NULL, NULL);
  return g_hash_table_lookup (self->by_id, id);
}

HyphaePeer *
hyphae_peer_list_find (HyphaePeerList *self,
                       const char *what,
                       guint *n_matches)
{
  HyphaePeer *found = NULL;
  guint n = 0;

  g_return_val_if_fail (HYPHAE_IS_PEER_LIST (self), NULL);
  g_return_val_if_fail (what != NULL, NULL);

  for (guint i = 0; i < self->items->len; i++)
    if (hyphae_peer_info_matches (hyphae_peer_get_info (peer_at (self, i)), what))
      {
        if (n++ == 0)
          found = peer_at (self, i);
      }
  if (n_matches != NULL)
    *n_matches = n;
  return n == 1 ? found : NULL;
}

/* -------------------------------------------------------------- GObject */

HyphaePeerList *
hyphae_peer_list_new (void)
{
  return g_object_new (HYPHAE_TYPE_PEER_LIST, NULL);
}

static void
hyphae_peer_list_finalize (GObject *object)
{
  HyphaePeerList *self = HYPHAE_PEER_LIST (object);

  g_hash_table_unref (self->by_id);
  g_ptr_array_unref (self->items);
  G_OBJECT_CLASS (hyphae_peer_list_parent_class)->finalize (object);
}

static void
hyphae_peer_list_class_init (HyphaePeerListClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = hyphae_peer_list_finalize;
}

static void
hyphae_peer_list_init (HyphaePeerList *self)
{
  self->items = g_ptr_array_new_with_free_func (g_object_unref);
  self->by_id = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}
