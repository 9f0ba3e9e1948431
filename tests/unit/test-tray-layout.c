/* SPDX-License-Identifier: MIT */
/*
 * The tray menu's dbusmenu tree (src/app/hyphae-tray-layout.c) without a
 * display or a bus: GetLayout's depth and property filter, and what a
 * rebuild tells the hosts: ItemsPropertiesUpdated for items whose
 * properties changed (with the ones they lost), LayoutUpdated with the one
 * parent whose children changed, or 0 for several, and nothing when
 * nothing changed.
 */
#include <glib.h>

#include "hyphae-tray-layout.h"

static GVariant *
props (const char *label,
       int toggle_state)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "label", g_variant_new_string (label));
  if (toggle_state >= 0)
    {
      g_variant_builder_add (&b, "{sv}", "toggle-type", g_variant_new_string ("radio"));
      g_variant_builder_add (&b, "{sv}", "toggle-state", g_variant_new_int32 (toggle_state));
    }
  return g_variant_builder_end (&b);
}

/* 1 Status, 20 Exit Node ▸ (21 None, 1000 node-x), 30 Peers ▸ (2000 node-x).
 * exit_on: node-x is the exit node; extra_peer: 2001 node-y in Peers. */
static HyphaeTrayLayout *
make_layout (const char *status,
             gboolean exit_on,
             gboolean extra_peer)
{
  HyphaeTrayLayout *layout = hyphae_tray_layout_new ();

  hyphae_tray_layout_add (layout, 0, 1, props (status, -1), NULL, NULL);
  hyphae_tray_layout_add (layout, 0, 20, props ("Exit Node", -1), NULL, NULL);
  hyphae_tray_layout_add (layout, 20, 21, props ("None", exit_on ? 0 : 1), "app.set-exit-node",
                          g_variant_new_string (""));
  hyphae_tray_layout_add (layout, 20, 1000, props ("node-x", exit_on ? 1 : 0), "app.set-exit-node",
                          g_variant_new_string ("nX"));
  hyphae_tray_layout_add (layout, 0, 30, props ("Peers", -1), NULL, NULL);
  hyphae_tray_layout_add (layout, 30, 2000, props ("node-x", -1), "app.copy", g_variant_new_string ("x.ts.net"));
  if (extra_peer)
    hyphae_tray_layout_add (layout, 30, 2001, props ("node-y", -1), "app.copy", g_variant_new_string ("y.ts.net"));
  return layout;
}

static char *
print_and_free (GVariant *v)
{
  char *s;

  if (v == NULL)
    return g_strdup ("(none)");
  g_variant_ref_sink (v);
  s = g_variant_print (v, FALSE);
  g_variant_unref (v);
  return s;
}

static void
test_serialize (void)
{
  g_autoptr (HyphaeTrayLayout) layout = make_layout ("Connected", FALSE, FALSE);
  const char *labels[] = { "label", NULL };
  g_autofree char *all = print_and_free (hyphae_tray_layout_serialize (layout, 20, -1, NULL));
  g_autofree char *none = print_and_free (hyphae_tray_layout_serialize (layout, 0, 0, labels));
  g_autofree char *one = print_and_free (hyphae_tray_layout_serialize (layout, 0, 1, labels));
  g_autoptr (GArray) ids = hyphae_tray_layout_ids (layout);
  const int want_ids[] = { 0, 1, 20, 21, 1000, 30, 2000 };

  g_assert_cmpstr (all, ==,
                   "(20, {'label': <'Exit Node'>}, [<(21, {'label': <'None'>, 'toggle-type': <'radio'>, "
                   "'toggle-state': <1>}, @av [])>, <(1000, {'label': <'node-x'>, 'toggle-type': <'radio'>, "
                   "'toggle-state': <0>}, @av [])>])");
  /* Depth 0: no children; the filter drops the root's children-display. */
  g_assert_cmpstr (none, ==, "(0, {}, [])");
  /* Depth 1: the children, without theirs. */
  g_assert_cmpstr (one, ==,
                   "(0, {}, [<(1, {'label': <'Connected'>}, @av [])>, <(20, {'label': <'Exit Node'>}, "
                   "@av [])>, <(30, {'label': <'Peers'>}, @av [])>])");
  g_assert_null (hyphae_tray_layout_serialize (layout, 99, -1, NULL));
  g_assert_cmpmem (ids->data, ids->len * sizeof (int), want_ids, sizeof want_ids);
  g_assert_cmpstr (hyphae_tray_layout_lookup (layout, 2000)->action, ==, "app.copy");
}

typedef struct {
  gboolean layout_changed;
  int parent;
  char *updated;
  char *removed;
} Diff;

static void
diff (HyphaeTrayLayout *a,
      HyphaeTrayLayout *b,
      Diff *out)
{
  GVariant *updated, *removed;

  out->layout_changed = hyphae_tray_layout_diff (a, b, &out->parent, &updated, &removed);
  out->updated = print_and_free (updated);
  out->removed = print_and_free (removed);
}

static void
diff_clear (Diff *d)
{
  g_free (d->updated);
  g_free (d->removed);
}

static void
test_diff_same (void)
{
  g_autoptr (HyphaeTrayLayout) a = make_layout ("Connected", FALSE, FALSE);
  g_autoptr (HyphaeTrayLayout) b = make_layout ("Connected", FALSE, FALSE);
  Diff d;

  diff (a, b, &d);
  g_assert_false (d.layout_changed);
  g_assert_cmpstr (d.updated, ==, "(none)");
  g_assert_cmpstr (d.removed, ==, "(none)");
  diff_clear (&d);
}

/* Choosing the exit node: two radio items change, the tree does not. */
static void
test_diff_properties (void)
{
  g_autoptr (HyphaeTrayLayout) a = make_layout ("Connected", FALSE, FALSE);
  g_autoptr (HyphaeTrayLayout) b = make_layout ("Connected through node-x", TRUE, FALSE);
  Diff d;

  diff (a, b, &d);
  g_assert_false (d.layout_changed);
  g_assert_cmpstr (d.updated, ==,
                   "[(1, {'label': <'Connected through node-x'>}), (21, {'label': <'None'>, 'toggle-type': "
                   "<'radio'>, 'toggle-state': <0>}), (1000, {'label': <'node-x'>, 'toggle-type': <'radio'>, "
                   "'toggle-state': <1>})]");
  g_assert_cmpstr (d.removed, ==, "(none)");
  diff_clear (&d);
}

/* A property dropped (a radio item that is a plain item now). */
static void
test_diff_removed (void)
{
  g_autoptr (HyphaeTrayLayout) a = make_layout ("Connected", FALSE, FALSE);
  g_autoptr (HyphaeTrayLayout) b = hyphae_tray_layout_new ();
  Diff d;

  hyphae_tray_layout_add (b, 0, 1, props ("Connected", -1), NULL, NULL);
  hyphae_tray_layout_add (b, 0, 20, props ("Exit Node", -1), NULL, NULL);
  hyphae_tray_layout_add (b, 20, 21, props ("None", -1), NULL, NULL);
  hyphae_tray_layout_add (b, 20, 1000, props ("node-x", 0), NULL, NULL);
  hyphae_tray_layout_add (b, 0, 30, props ("Peers", -1), NULL, NULL);
  hyphae_tray_layout_add (b, 30, 2000, props ("node-x", -1), NULL, NULL);
  diff (a, b, &d);
  g_assert_false (d.layout_changed);
  g_assert_cmpstr (d.updated, ==, "[(21, {'label': <'None'>})]");
  g_assert_cmpstr (d.removed, ==, "[(21, ['toggle-type', 'toggle-state'])]");
  diff_clear (&d);
}

/* A peer joins: the Peers submenu's children changed, that parent alone. */
static void
test_diff_layout (void)
{
  g_autoptr (HyphaeTrayLayout) a = make_layout ("Connected", FALSE, FALSE);
  g_autoptr (HyphaeTrayLayout) b = make_layout ("Connected", FALSE, TRUE);
  g_autoptr (HyphaeTrayLayout) c = hyphae_tray_layout_new ();
  Diff d;

  diff (a, b, &d);
  g_assert_true (d.layout_changed);
  g_assert_cmpint (d.parent, ==, 30);
  g_assert_cmpstr (d.updated, ==, "(none)");
  diff_clear (&d);
  /* ... and leaves. */
  diff (b, a, &d);
  g_assert_true (d.layout_changed);
  g_assert_cmpint (d.parent, ==, 30);
  diff_clear (&d);
  /* Signed out: the root's and both submenus' children: the root (0). */
  hyphae_tray_layout_add (c, 0, 1, props ("Signed out", -1), NULL, NULL);
  diff (a, c, &d);
  g_assert_true (d.layout_changed);
  g_assert_cmpint (d.parent, ==, 0);
  g_assert_cmpstr (d.updated, ==, "[(1, {'label': <'Signed out'>})]");
  diff_clear (&d);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tray-layout/serialize", test_serialize);
  g_test_add_func ("/tray-layout/diff/same", test_diff_same);
  g_test_add_func ("/tray-layout/diff/properties", test_diff_properties);
  g_test_add_func ("/tray-layout/diff/removed", test_diff_removed);
  g_test_add_func ("/tray-layout/diff/layout", test_diff_layout);
  return g_test_run ();
}
