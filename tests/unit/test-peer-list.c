/* SPDX-License-Identifier: MIT */
/*
 * HyphaePeerList and HyphaePeer without a display or a bus: the exact
 * items-changed a merge emits (what GtkListView and GTK 4.8's sort and
 * filter models rely on to keep rows, selection and scroll), the notifies
 * of one peer, object identity across updates, and reference balance.
 */
#include <string.h>

#include <glib.h>

#include "hyphae-peer-list.h"

/* A GetPeers dictionary: id, host name, online, and rx bytes (a key that
 * is neither a sort nor a filter key). */
static HyphaePeerInfo *
make_info (const char *id,
           const char *host,
           gboolean online,
           guint64 rx)
{
  g_autofree char *dns = g_strdup_printf ("%s.tail.example.", host);
  g_autofree char *ip = g_strdup_printf ("100.64.0.%u", (guint) g_str_hash (id) % 250 + 1);
  const char *ips[] = { ip, "fd7a:115c:a1e0::1", NULL };
  GVariantDict d;
  g_autoptr(GVariant) v = NULL;

  g_variant_dict_init (&d, NULL);
  g_variant_dict_insert (&d, "ID", "s", id);
  g_variant_dict_insert (&d, "HostName", "s", host);
  g_variant_dict_insert (&d, "DNSName", "s", dns);
  g_variant_dict_insert (&d, "OS", "s", "linux");
  g_variant_dict_insert_value (&d, "TailscaleIPs", g_variant_new_strv (ips, -1));
  g_variant_dict_insert (&d, "Online", "b", online);
  g_variant_dict_insert (&d, "RxBytes", "t", rx);
  v = g_variant_ref_sink (g_variant_dict_end (&d));
  return hyphae_peer_info_new (v);
}

/* "a b c": each letter a peer online with rx 0; "A" is "a" offline. */
static GPtrArray *
make_infos (const char *spec)
{
  GPtrArray *infos = g_ptr_array_new_with_free_func ((GDestroyNotify) hyphae_peer_info_unref);

  for (const char *c = spec; *c != '\0'; c++)
    {
      char id[] = { g_ascii_tolower (*c), '\0' };
      g_autofree char *host = g_strdup_printf ("host-%s", id);

      if (*c != ' ')
        g_ptr_array_add (infos, make_info (id, host, g_ascii_islower (*c), 0));
    }
  return infos;
}

typedef struct {
  HyphaePeerList *list;
  GString *changes; /* "pos,removed,added;" per items-changed */
} Fixture;

static void
on_items_changed (GListModel *model,
                  guint position,
                  guint removed,
                  guint added,
                  Fixture *f)
{
  g_string_append_printf (f->changes, "%u,%u,%u;", position, removed, added);
}

static void
fixture_set_up (Fixture *f,
                gconstpointer data)
{
  f->list = hyphae_peer_list_new ();
  f->changes = g_string_new (NULL);
  g_signal_connect (f->list, "items-changed", G_CALLBACK (on_items_changed), f);
}

static void
fixture_tear_down (Fixture *f,
                   gconstpointer data)
{
  g_object_add_weak_pointer (G_OBJECT (f->list), (gpointer *) &f->list);
  g_object_unref (f->list);
  g_assert_null (f->list);
  g_string_free (f->changes, TRUE);
}

/* Merges spec, returns the items-changed seen (and clears them). */
static const char *
merge (Fixture *f,
       const char *spec)
{
  g_autoptr(GPtrArray) infos = make_infos (spec);

  g_string_truncate (f->changes, 0);
  hyphae_peer_list_update (f->list, infos);
  return f->changes->str;
}

/* The ids in list order, as a string. */
static char *
ids (Fixture *f)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (f->list)); i++)
    {
      g_autoptr(HyphaePeer) p = g_list_model_get_item (G_LIST_MODEL (f->list), i);

      g_string_append (s, hyphae_peer_get_id (p));
    }
  return g_string_free (s, FALSE);
}

static HyphaePeer *
item (Fixture *f,
      guint i)
{
  HyphaePeer *p = g_list_model_get_item (G_LIST_MODEL (f->list), i);

  g_object_unref (p); /* the list keeps it */
  return p;
}

static void
assert_ids (Fixture *f,
            const char *expected)
{
  g_autofree char *got = ids (f);

  g_assert_cmpstr (got, ==, expected);
}

static void
test_add_remove (Fixture *f,
                 gconstpointer data)
{
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (f->list)), ==, 0);
  g_assert_true (g_list_model_get_item_type (G_LIST_MODEL (f->list)) == HYPHAE_TYPE_PEER);
  g_assert_cmpstr (merge (f, "abc"), ==, "0,0,3;");
  assert_ids (f, "abc");
  /* new runs at their daemon positions */
  g_assert_cmpstr (merge (f, "xabycz"), ==, "0,0,1;3,0,1;5,0,1;");
  assert_ids (f, "xabycz");
  /* removed runs, each once */
  g_assert_cmpstr (merge (f, "xcz"), ==, "1,3,0;");
  assert_ids (f, "xcz");
  g_assert_cmpstr (merge (f, "c"), ==, "0,1,0;1,1,0;");
  assert_ids (f, "c");
  /* mixed: removed first, then added */
  g_assert_cmpstr (merge (f, "dce"), ==, "0,0,1;2,0,1;");
  g_assert_cmpstr (merge (f, "fe"), ==, "0,2,0;0,0,1;");
  assert_ids (f, "fe");
  g_assert_cmpstr (merge (f, ""), ==, "0,2,0;");
  /* a duplicate id is ignored */
  g_assert_cmpstr (merge (f, "aba"), ==, "0,0,2;");
  assert_ids (f, "ab");
  g_assert_null (g_list_model_get_item (G_LIST_MODEL (f->list), 2));
}

static void
test_reorder (Fixture *f,
              gconstpointer data)
{
  HyphaePeer *a, *b, *c;

  merge (f, "abc");
  a = item (f, 0), b = item (f, 1), c = item (f, 2);
  g_assert_cmpstr (merge (f, "cab"), ==, "2,1,0;0,0,1;");
  assert_ids (f, "cab");
  g_assert_true (item (f, 0) == c && item (f, 1) == a && item (f, 2) == b);
  g_assert_cmpstr (merge (f, "bdc"), ==, "1,1,0;1,1,0;0,0,1;1,0,1;");
  assert_ids (f, "bdc");
  g_assert_true (item (f, 0) == b && item (f, 2) == c);
}

typedef struct {
  guint online, rx, other;
} Notifies;

static void
on_notify (HyphaePeer *peer,
           GParamSpec *pspec,
           Notifies *n)
{
  if (g_str_equal (pspec->name, "online"))
    n->online++;
  else if (g_str_equal (pspec->name, "rx-bytes"))
    n->rx++;
  else
    n->other++;
}

static void
test_update_in_place (Fixture *f,
                      gconstpointer data)
{
  g_autoptr(GPtrArray) infos = make_infos ("abc");
  Notifies n = { 0 };
  HyphaePeer *b;

  hyphae_peer_list_update (f->list, infos);
  b = item (f, 1);
  g_signal_connect (b, "notify", G_CALLBACK (on_notify), &n);

  /* identical: no signal at all */
  g_assert_cmpstr (merge (f, "abc"), ==, "");
  g_assert_cmpuint (n.online + n.rx + n.other, ==, 0);

  /* online flip (a sort key): one notify::online, one (pos,1,1), same object */
  g_assert_cmpstr (merge (f, "aBc"), ==, "1,1,1;");
  g_assert_cmpuint (n.online, ==, 1);
  g_assert_cmpuint (n.rx + n.other, ==, 0);
  g_assert_true (item (f, 1) == b);
  g_assert_false (hyphae_peer_get_online (b));
  g_assert_true (hyphae_peer_list_lookup (f->list, "b") == b);

  /* another key: the notify only, no items-changed */
  g_ptr_array_remove_index (infos, 1);
  g_ptr_array_insert (infos, 1, make_info ("b", "host-b", FALSE, 4096));
  g_string_truncate (f->changes, 0);
  hyphae_peer_list_update (f->list, infos);
  g_assert_cmpstr (f->changes->str, ==, "");
  g_assert_cmpuint (n.rx, ==, 1);
  g_assert_cmpuint (n.online + n.other, ==, 1);
  g_assert_cmpuint (hyphae_peer_get_rx_bytes (b), ==, 4096);

  /* a renamed host changes display-name (sort) and search-text (filter):
   * one (pos,1,1) for both */
  g_ptr_array_remove_index (infos, 1);
  g_ptr_array_insert (infos, 1, make_info ("b", "renamed", FALSE, 4096));
  g_string_truncate (f->changes, 0);
  hyphae_peer_list_update (f->list, infos);
  g_assert_cmpstr (f->changes->str, ==, "1,1,1;");
  g_assert_cmpstr (hyphae_peer_get_display_name (b), ==, "renamed");
  g_assert_cmpstr (hyphae_peer_get_magic_dns_name (b), ==, "renamed.tail.example");
  g_assert_cmpstr (hyphae_peer_get_dns_name (b), ==, "renamed.tail.example.");
}

/* Up to 16 peers changed in place: one (pos,1,1) each; more: one range from
 * the first to the last (GTK 4.8's sort model would make each a wide range),
 * announced after a peer inserted on the way. */
static void
test_update_many (Fixture *f,
                  gconstpointer data)
{
  g_assert_cmpstr (merge (f, "abcdefghijklmnopqrst"), ==, "0,0,20;");
  /* x new at 0, then b…s (18) offline: positions 2…19 */
  g_assert_cmpstr (merge (f, "xaBCDEFGHIJKLMNOPQRSt"), ==, "0,0,1;2,18,18;");
  g_assert_cmpstr (merge (f, "xabCDEFGHIJKLMNOPQRSt"), ==, "2,1,1;");
  g_assert_cmpstr (merge (f, "xabcdefghijklmnopqrSt"), ==,
                   "3,1,1;4,1,1;5,1,1;6,1,1;7,1,1;8,1,1;9,1,1;10,1,1;11,1,1;12,1,1;13,1,1;14,1,1;15,1,1;16,1,1;"
                   "17,1,1;18,1,1;");
  assert_ids (f, "xabcdefghijklmnopqrst");
}

static void
test_peer_properties (void)
{
  g_autoptr(HyphaePeerInfo) info = make_info ("n1", "Laptop", TRUE, 7);
  g_autoptr(HyphaePeer) p = hyphae_peer_new (info);
  g_autofree char *search = NULL, *v4 = NULL, *v6 = NULL;
  g_auto(GStrv) addresses = NULL;
  gboolean online;

  g_object_get (p, "search-text", &search, "ipv4", &v4, "ipv6", &v6, "addresses", &addresses, "online",
                &online, NULL);
  g_assert_cmpstr (hyphae_peer_get_display_name (p), ==, "Laptop");
  g_assert_nonnull (strstr (search, "laptop\nlaptop.tail.example\n100.64.0."));
  g_assert_true (g_str_has_suffix (search, "\nlinux"));
  g_assert_true (g_str_has_prefix (v4, "100.64.0."));
  g_assert_cmpstr (v6, ==, "fd7a:115c:a1e0::1");
  g_assert_cmpuint (g_strv_length (addresses), ==, 2);
  g_assert_true (online);
  /* the same info again: nothing changed */
  g_assert_cmpint (hyphae_peer_update (p, info), ==, HYPHAE_PEER_CHANGED_NONE);
}

static void
test_find (Fixture *f,
           gconstpointer data)
{
  HyphaePeer *a;
  guint n = 99;

  merge (f, "ab");
  a = item (f, 0);
  g_assert_true (hyphae_peer_list_find (f->list, "a", &n) == a && n == 1);
  g_assert_true (hyphae_peer_list_find (f->list, "HOST-A", &n) == a && n == 1);
  g_assert_true (hyphae_peer_list_find (f->list, "host-a.tail.example", NULL) == a);
  g_assert_true (hyphae_peer_list_find (f->list, "host-a.tail.example.", NULL) == a);
  g_assert_true (hyphae_peer_list_find (f->list, hyphae_peer_get_ipv4 (a), NULL) == a);
  g_assert_null (hyphae_peer_list_find (f->list, "nothing", &n));
  g_assert_cmpuint (n, ==, 0);
  /* both have the same IPv6 address: ambiguous */
  g_assert_null (hyphae_peer_list_find (f->list, "fd7a:115c:a1e0::1", &n));
  g_assert_cmpuint (n, ==, 2);
  g_assert_null (hyphae_peer_list_lookup (f->list, "zz"));
}

/* Removed peers are finalized unless someone else holds them; unreffing the
 * list frees the rest. */
static void
test_refs (void)
{
  HyphaePeerList *list = hyphae_peer_list_new ();
  g_autoptr(GPtrArray) abc = make_infos ("abc");
  g_autoptr(GPtrArray) b = make_infos ("b");
  HyphaePeer *pa, *pb, *pc, *held;

  hyphae_peer_list_update (list, abc);
  pa = hyphae_peer_list_lookup (list, "a");
  pb = hyphae_peer_list_lookup (list, "b");
  pc = hyphae_peer_list_lookup (list, "c");
  held = g_object_ref (pc);
  g_object_add_weak_pointer (G_OBJECT (pa), (gpointer *) &pa);
  g_object_add_weak_pointer (G_OBJECT (pb), (gpointer *) &pb);
  g_object_add_weak_pointer (G_OBJECT (pc), (gpointer *) &pc);

  hyphae_peer_list_update (list, b);
  g_assert_null (pa);
  g_assert_nonnull (pb);
  g_assert_nonnull (pc); /* held by the "view" */
  g_assert_null (hyphae_peer_list_lookup (list, "c"));
  g_object_unref (held);
  g_assert_null (pc);

  g_object_add_weak_pointer (G_OBJECT (list), (gpointer *) &list);
  g_object_unref (list);
  g_assert_null (list);
  g_assert_null (pb);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define FIXTURE_TEST(path, fn) g_test_add ((path), Fixture, NULL, fixture_set_up, (fn), fixture_tear_down)
  FIXTURE_TEST ("/peer-list/add-remove", test_add_remove);
  FIXTURE_TEST ("/peer-list/reorder", test_reorder);
  FIXTURE_TEST ("/peer-list/update-in-place", test_update_in_place);
  FIXTURE_TEST ("/peer-list/update-many", test_update_many);
  FIXTURE_TEST ("/peer-list/find", test_find);
  g_test_add_func ("/peer-list/refs", test_refs);
  g_test_add_func ("/peer/properties", test_peer_properties);
  return g_test_run ();
}
