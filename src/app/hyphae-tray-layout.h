/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * A com.canonical.dbusmenu menu as data: items by id (0 is the root), each
 * with its non-default dbusmenu properties (label, enabled, type,
 * children-display, toggle-type, toggle-state, visible), its children and
 * the action a click activates. Built whole from the model each time
 * (hyphae-tray-menu.c); hyphae_tray_layout_diff() tells what the hosts need
 * to hear. No D-Bus here: hyphae-tray-dbusmenu.c exports it.
 */
typedef struct _HyphaeTrayLayout HyphaeTrayLayout;

typedef struct {
  int id;
  GVariant *props;  /* a{sv}, the non-default properties */
  GArray *children; /* int ids, in order */
  char *action;     /* "app.copy" or NULL */
  GVariant *target; /* the action's parameter or NULL */
} HyphaeTrayItem;

/* A layout with an empty root (id 0). */
HyphaeTrayLayout *hyphae_tray_layout_new (void);
void hyphae_tray_layout_free (HyphaeTrayLayout *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HyphaeTrayLayout, hyphae_tray_layout_free)

/* Adds an item as the last child of parent (which must exist; ids are
 * unique). props: a floating or owned a{sv} (sunk). Returns the id. */
int hyphae_tray_layout_add (HyphaeTrayLayout *self,
                            int parent,
                            int id,
                            GVariant *props,
                            const char *action,
                            GVariant *target);

const HyphaeTrayItem *hyphae_tray_layout_lookup (HyphaeTrayLayout *self,
                                                 int id);
/* Every id, the root first then depth first, in menu order. */
GArray *hyphae_tray_layout_ids (HyphaeTrayLayout *self);

/* The properties of item, only those in names (NULL or empty: all);
 * floating. */
GVariant *hyphae_tray_item_get_properties (const HyphaeTrayItem *item,
                                           const char * const *names);
/* GetLayout's (ia{sv}av) for parent: depth -1 = everything below it, 0 = no
 * children, n = n levels; NULL if there is no such item. */
GVariant *hyphae_tray_layout_serialize (HyphaeTrayLayout *self,
                                        int parent,
                                        int depth,
                                        const char * const *names);

/* What changed from old to new, for the hosts:
 *   returns TRUE if the tree changed (an item's children, added or removed
 *   items): *layout_parent is the one item whose children changed, or 0
 *   when several did (LayoutUpdated's parent);
 *   updated: a(ia{sv}) of the items in both whose properties differ (all of
 *   their properties); removed: a(ias) of the properties they lost
 *   (ItemsPropertiesUpdated). Each is NULL when empty (transfer full,
 *   floating). */
gboolean hyphae_tray_layout_diff (HyphaeTrayLayout *old,
                                  HyphaeTrayLayout *new,
                                  int *layout_parent,
                                  GVariant **updated,
                                  GVariant **removed);

G_END_DECLS
