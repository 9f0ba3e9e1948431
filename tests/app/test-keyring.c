/* SPDX-License-Identifier: MIT */
/*
 * hyphae-keyring against a real gnome-keyring-daemon, without a display:
 * run by keyring-run.sh, which sets KEYRING_MODE.
 *   available  a headless, unlocked login keyring: new keys, store / load /
 *              delete with the schema's attributes, replace in place, then
 *              the collection locked with no prompter (an unlock that fails
 *              as a dismissed one): LOCKED, never "no keys"
 *   missing    nothing provides org.freedesktop.secrets: MISSING everywhere
 */
#include <libsecret/secret.h>

#include "hyphae-keyring.h"

#define URL "http://control.test:8080"

/* -------------------------------------------------- async made simple */

static GAsyncResult *
wait_result (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

static void
on_result (GObject *source,
           GAsyncResult *result,
           gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static HyphaeKeyringKeys *
load (const char *profile,
      GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  hyphae_keyring_load (profile, NULL, on_result, &result);
  return hyphae_keyring_load_finish (wait_result (&result), error);
}

static gboolean
store (const char *profile,
       HyphaeKeyKind kind,
       const char *secret,
       GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  hyphae_keyring_store (profile, URL, kind, secret, NULL, on_result, &result);
  return hyphae_keyring_finish (wait_result (&result), error);
}

static gboolean
delete_key (const char *profile,
            HyphaeKeyKind kind,
            GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  hyphae_keyring_delete (profile, kind, NULL, on_result, &result);
  return hyphae_keyring_finish (wait_result (&result), error);
}

static gboolean
probe (GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  hyphae_keyring_probe (NULL, on_result, &result);
  return hyphae_keyring_finish (wait_result (&result), error);
}

/* The items of the schema with these attributes, read as another program
 * would (libsecret directly, the schema by name). */
static GList *
items_with (const char *profile,
            const char *kind)
{
  static const SecretSchema schema = {
    "io.github.hyphae.Key",
    SECRET_SCHEMA_NONE,
    { { "profile", SECRET_SCHEMA_ATTRIBUTE_STRING }, { "kind", SECRET_SCHEMA_ATTRIBUTE_STRING }, { NULL, 0 } },
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  GList *items;

  /* Async on the default context, as the app calls it (the _sync variant
   * leaves a few bytes of GDBusProxy set-up behind in its private context). */
  secret_password_search (&schema, SECRET_SEARCH_ALL, NULL, on_result, &result, "profile", profile, "kind", kind,
                          NULL);
  items = secret_password_search_finish (wait_result (&result), &error);
  g_assert_no_error (error);
  return items;
}

static void
free_items (GList *items)
{
  g_list_free_full (items, g_object_unref);
}

/* ------------------------------------------------------------- tests */

static void
test_new_key (void)
{
  g_auto (HyphaeKeyringSecret) a = hyphae_keyring_new_key ();
  g_auto (HyphaeKeyringSecret) b = hyphae_keyring_new_key ();
  guint8 first, last;

  g_assert_cmpuint (strlen (a), ==, 8 + 64);
  g_assert_true (g_str_has_prefix (a, "privkey:"));
  for (const char *p = a + 8; *p != '\0'; p++)
    g_assert_true (g_ascii_isxdigit (*p) && !g_ascii_isupper (*p));
  g_assert_cmpstr (a, !=, b);
  /* Clamped as X25519 wants (hyphaed's key_clamp): low 3 bits of the first
   * byte clear, the top bit of the last clear and the next one set. */
  first = g_ascii_xdigit_value (a[8]) << 4 | g_ascii_xdigit_value (a[9]);
  last = g_ascii_xdigit_value (a[8 + 62]) << 4 | g_ascii_xdigit_value (a[8 + 63]);
  g_assert_cmpuint (first & 7, ==, 0);
  g_assert_cmpuint (last & 0xc0, ==, 0x40);
}

static void
test_probe_ready (void)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (probe (&error));
  g_assert_no_error (error);
  g_assert_cmpint (hyphae_keyring_state_for_error (error), ==, HYPHAE_KEYRING_STATE_READY);
}

static void
test_store_load_delete (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HyphaeKeyringKeys) none = NULL, keys = NULL, after = NULL, other = NULL;
  g_auto (HyphaeKeyringSecret) machine = hyphae_keyring_new_key ();
  g_auto (HyphaeKeyringSecret) node = hyphae_keyring_new_key ();
  g_auto (HyphaeKeyringSecret) node2 = hyphae_keyring_new_key ();
  g_auto (HyphaeKeyringSecret) other_machine = hyphae_keyring_new_key ();
  GList *items;
  g_autoptr (GHashTable) attributes = NULL;
  g_autofree char *label = NULL;

  /* Nothing yet: a READY keyring without keys, no error. */
  none = load ("work", &error);
  g_assert_no_error (error);
  g_assert_null (none->machine_key);
  g_assert_null (none->node_key);

  g_assert_true (store ("work", HYPHAE_KEY_KIND_MACHINE, machine, &error));
  g_assert_true (store ("work", HYPHAE_KEY_KIND_NODE, node, &error));
  g_assert_true (store ("home", HYPHAE_KEY_KIND_MACHINE, other_machine, &error));
  g_assert_no_error (error);
  keys = load ("work", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (keys->machine_key, ==, machine);
  g_assert_cmpstr (keys->node_key, ==, node);

  /* One item per kind, with the schema's attributes and a label. */
  items = items_with ("work", "node");
  g_assert_cmpuint (g_list_length (items), ==, 1);
  attributes = secret_retrievable_get_attributes (items->data);
  g_assert_cmpstr (g_hash_table_lookup (attributes, "control-url"), ==, URL);
  g_assert_cmpstr (g_hash_table_lookup (attributes, "xdg:schema"), ==, "io.github.hyphae.Key");
  label = secret_retrievable_get_label (items->data);
  g_assert_cmpstr (label, ==, "Hyphae node key (work, " URL ")");
  free_items (items);

  /* A rotated node key replaces the item in place. */
  g_assert_true (store ("work", HYPHAE_KEY_KIND_NODE, node2, &error));
  items = items_with ("work", "node");
  g_assert_cmpuint (g_list_length (items), ==, 1);
  free_items (items);
  g_clear_pointer (&keys, hyphae_keyring_keys_free);
  keys = load ("work", &error);
  g_assert_cmpstr (keys->node_key, ==, node2);

  /* Log out: the node key goes, the machine key and the other profile stay. */
  g_assert_true (delete_key ("work", HYPHAE_KEY_KIND_NODE, &error));
  g_assert_no_error (error);
  after = load ("work", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (after->machine_key, ==, machine);
  g_assert_null (after->node_key);
  other = load ("home", &error);
  g_assert_cmpstr (other->machine_key, ==, other_machine);
  /* Deleting what is not there is fine. */
  g_assert_true (delete_key ("work", HYPHAE_KEY_KIND_NODE, &error));
  g_assert_no_error (error);
}

static void
lock_login_collection (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  g_autoptr (GVariant) reply = NULL;
  const char *paths[] = { "/org/freedesktop/secrets/collection/login", NULL };

  g_assert_no_error (error);
  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.secrets", "/org/freedesktop/secrets",
                                       "org.freedesktop.Secret.Service", "Lock",
                                       g_variant_new ("(^ao)", paths), NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                                       &error);
  g_assert_no_error (error);
}

static void
test_locked (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HyphaeKeyringKeys) keys = NULL;
  g_auto (HyphaeKeyringSecret) machine = hyphae_keyring_new_key ();
  g_auto (HyphaeKeyringSecret) node = hyphae_keyring_new_key ();

  g_assert_true (store ("locked", HYPHAE_KEY_KIND_MACHINE, machine, &error));
  g_assert_true (store ("locked", HYPHAE_KEY_KIND_NODE, node, &error));
  g_assert_no_error (error);
  lock_login_collection ();

  /* The unlock prompt cannot be shown (no prompter): an error, not "no keys". */
  keys = load ("locked", &error);
  g_assert_null (keys);
  g_assert_error (error, HYPHAE_KEYRING_ERROR, HYPHAE_KEYRING_ERROR_LOCKED);
  g_assert_cmpint (hyphae_keyring_state_for_error (error), ==, HYPHAE_KEYRING_STATE_LOCKED);
  g_clear_error (&error);

  /* A profile without items in a locked keyring: storing is refused as locked. */
  g_assert_false (store ("fresh", HYPHAE_KEY_KIND_MACHINE, machine, &error));
  g_assert_error (error, HYPHAE_KEYRING_ERROR, HYPHAE_KEYRING_ERROR_LOCKED);
}

static void
test_missing (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HyphaeKeyringKeys) keys = NULL;
  g_auto (HyphaeKeyringSecret) key = hyphae_keyring_new_key ();

  g_assert_false (probe (&error));
  g_assert_error (error, HYPHAE_KEYRING_ERROR, HYPHAE_KEYRING_ERROR_MISSING);
  g_assert_cmpint (hyphae_keyring_state_for_error (error), ==, HYPHAE_KEYRING_STATE_MISSING);
  g_clear_error (&error);
  keys = load ("work", &error);
  g_assert_null (keys);
  g_assert_error (error, HYPHAE_KEYRING_ERROR, HYPHAE_KEYRING_ERROR_MISSING);
  g_clear_error (&error);
  g_assert_false (store ("work", HYPHAE_KEY_KIND_NODE, key, &error));
  g_assert_error (error, HYPHAE_KEYRING_ERROR, HYPHAE_KEYRING_ERROR_MISSING);
  g_clear_error (&error);
  g_assert_false (delete_key ("work", HYPHAE_KEY_KIND_NODE, &error));
  g_assert_error (error, HYPHAE_KEYRING_ERROR, HYPHAE_KEYRING_ERROR_MISSING);
}

int
main (int argc,
      char **argv)
{
  const char *mode = g_getenv ("KEYRING_MODE");

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/keyring/new-key", test_new_key);
  if (g_strcmp0 (mode, "available") == 0)
    {
      g_test_add_func ("/keyring/probe-ready", test_probe_ready);
      g_test_add_func ("/keyring/store-load-delete", test_store_load_delete);
      /* Last: it leaves the keyring locked. */
      g_test_add_func ("/keyring/locked", test_locked);
    }
  else if (g_strcmp0 (mode, "missing") == 0)
    g_test_add_func ("/keyring/missing", test_missing);
  else
    g_error ("run by keyring-run.sh (KEYRING_MODE available or missing)");
  return g_test_run ();
}
