/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-keyring"

#include "config.h"

#include <glib/gi18n.h>
#include <libsecret/secret.h>
#include <sodium.h>

#include "hyphae-keyring.h"

#define KEY_LEN          32
#define PRIVKEY_PREFIX   "privkey:"
#define PRIVKEY_TEXT_LEN (sizeof PRIVKEY_PREFIX - 1 + 2 * KEY_LEN)

/* clang-format off */
G_DEFINE_ENUM_TYPE (HyphaeKeyringState, hyphae_keyring_state,
                    G_DEFINE_ENUM_VALUE (HYPHAE_KEYRING_STATE_UNKNOWN, "unknown"),
                    G_DEFINE_ENUM_VALUE (HYPHAE_KEYRING_STATE_READY, "ready"),
                    G_DEFINE_ENUM_VALUE (HYPHAE_KEYRING_STATE_LOCKED, "locked"),
                    G_DEFINE_ENUM_VALUE (HYPHAE_KEYRING_STATE_MISSING, "missing"),
                    G_DEFINE_ENUM_VALUE (HYPHAE_KEYRING_STATE_FAILED, "failed"))
G_DEFINE_QUARK (hyphae-keyring-error-quark, hyphae_keyring_error)
/* clang-format on */

static const SecretSchema *
key_schema (void)
{
  static const SecretSchema schema = {
    "io.github.hyphae.Key",
    SECRET_SCHEMA_NONE,
    {
      { "profile", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { "control-url", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { "kind", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
    },
  };
  return &schema;
}

static const char *
kind_name (HyphaeKeyKind kind)
{
  return kind == HYPHAE_KEY_KIND_MACHINE ? "machine" : "node";
}

HyphaeKeyringState
hyphae_keyring_state_for_error (const GError *error)
{
  if (error == NULL)
    return HYPHAE_KEYRING_STATE_READY;
  if (error->domain == HYPHAE_KEYRING_ERROR)
    switch ((HyphaeKeyringError) error->code)
      {
      case HYPHAE_KEYRING_ERROR_LOCKED: return HYPHAE_KEYRING_STATE_LOCKED;
      case HYPHAE_KEYRING_ERROR_MISSING: return HYPHAE_KEYRING_STATE_MISSING;
      case HYPHAE_KEYRING_ERROR_FAILED: return HYPHAE_KEYRING_STATE_FAILED;
      }
  return HYPHAE_KEYRING_STATE_FAILED;
}

/* libsecret's and the bus's errors, sorted into ours (cancellation stays). */
static GError *
keyring_error (GError *error)
{
  GError *ours;
  int code = HYPHAE_KEYRING_ERROR_FAILED;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || error->domain == HYPHAE_KEYRING_ERROR)
    return error;
  if (g_error_matches (error, SECRET_ERROR, SECRET_ERROR_IS_LOCKED))
    code = HYPHAE_KEYRING_ERROR_LOCKED;
  /* "The name org.freedesktop.secrets was not provided by any .service
   * files": no keyring daemon installed or running for this session. */
  else if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
           g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER) ||
           g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_SERVICE_NOT_FOUND))
    code = HYPHAE_KEYRING_ERROR_MISSING;
  g_dbus_error_strip_remote_error (error);
  ours = g_error_new_literal (HYPHAE_KEYRING_ERROR, code, error->message);
  g_error_free (error);
  return ours;
}

static void
ensure_sodium (void)
{
  static gsize done;

  if (g_once_init_enter (&done))
    {
      /* Fails only with an unusable system RNG; randombytes_buf aborts then. */
      if (sodium_init () < 0)
        g_warning ("libsodium did not initialise");
      g_once_init_leave (&done, 1);
    }
}

char *
hyphae_keyring_new_key (void)
{
  guint8 priv[KEY_LEN];
  char *text = g_malloc (PRIVKEY_TEXT_LEN + 1);

  ensure_sodium ();
  randombytes_buf (priv, sizeof priv);
  /* X25519 clamping, as hyphaed's key_clamp (daemon/engine/crypto/keys.c). */
  priv[0] &= 248;
  priv[31] = (priv[31] & 127) | 64;
  memcpy (text, PRIVKEY_PREFIX, sizeof PRIVKEY_PREFIX - 1);
  sodium_bin2hex (text + sizeof PRIVKEY_PREFIX - 1, 2 * KEY_LEN + 1, priv, sizeof priv);
  sodium_memzero (priv, sizeof priv);
  return text;
}

void
hyphae_keyring_secret_free (char *secret)
{
  if (secret == NULL)
    return;
  sodium_memzero (secret, strlen (secret));
  g_free (secret);
}

char *
hyphae_keyring_secret_dup (const char *secret)
{
  return g_strdup (secret);
}

void
hyphae_keyring_keys_free (HyphaeKeyringKeys *keys)
{
  if (keys == NULL)
    return;
  hyphae_keyring_secret_free (keys->machine_key);
  hyphae_keyring_secret_free (keys->node_key);
  g_free (keys);
}

/* Ends task with error (libsecret's, taken and sorted) or TRUE. */
static void
return_result (GTask *task,
               GError *error)
{
  if (error != NULL)
    g_task_return_error (task, keyring_error (error));
  else
    g_task_return_boolean (task, TRUE);
}

gboolean
hyphae_keyring_finish (GAsyncResult *result,
                       GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* --------------------------------------------------------------- probe */

static void
on_probed (GObject *source,
           GAsyncResult *result,
           gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;
  GList *items = secret_password_search_finish (result, &error);

  g_list_free_full (items, g_object_unref);
  return_result (task, error);
}

void
hyphae_keyring_probe (GCancellable *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, hyphae_keyring_probe);
  /* Our schema's items, if any: no unlock, no secret read. */
  secret_password_search (key_schema (), SECRET_SEARCH_NONE, cancellable, on_probed, task, NULL);
}

/* ---------------------------------------------------------------- load */

typedef struct {
  GList *items; /* SecretRetrievable, the newest of each kind first */
  GList *next;  /* the one whose secret is read now */
  HyphaeKeyringKeys *keys;
} Load;

static void
load_free (gpointer data)
{
  Load *load = data;

  g_list_free_full (load->items, g_object_unref);
  hyphae_keyring_keys_free (load->keys);
  g_free (load);
}

static int
newest_first (gconstpointer a,
              gconstpointer b)
{
  guint64 ma = secret_retrievable_get_modified ((SecretRetrievable *) a);
  guint64 mb = secret_retrievable_get_modified ((SecretRetrievable *) b);

  if (ma == mb)
    return 0;
  return ma < mb ? 1 : -1;
}

/* The kind attribute of item; NULL for neither. */
static char **
slot_for (Load *load,
          SecretRetrievable *item)
{
  g_autoptr (GHashTable) attributes = secret_retrievable_get_attributes (item);
  const char *kind = g_hash_table_lookup (attributes, "kind");

  if (g_strcmp0 (kind, "machine") == 0)
    return &load->keys->machine_key;
  if (g_strcmp0 (kind, "node") == 0)
    return &load->keys->node_key;
  return NULL;
}

static void read_next (GTask *task);

static void
on_secret (GObject *source,
           GAsyncResult *result,
           gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  Load *load = g_task_get_task_data (task);
  GError *error = NULL;
  SecretValue *value = secret_retrievable_retrieve_secret_finish (SECRET_RETRIEVABLE (source), result, &error);
  char **slot;

  if (value == NULL)
    {
      if (error == NULL)
        error = g_error_new_literal (SECRET_ERROR, SECRET_ERROR_PROTOCOL, "The keyring returned no secret");
      g_task_return_error (task, keyring_error (error));
      return;
    }
  slot = slot_for (load, SECRET_RETRIEVABLE (source));
  /* The newest item of a kind came first: an older one stays unread. */
  if (slot != NULL && *slot == NULL)
    {
      const char *text = secret_value_get_text (value);

      if (text != NULL && strlen (text) == PRIVKEY_TEXT_LEN && g_str_has_prefix (text, PRIVKEY_PREFIX))
        *slot = hyphae_keyring_secret_dup (text);
      else
        g_warning ("A %s key in the keyring is not a “privkey:” key: ignored",
                   slot == &load->keys->machine_key ? "machine" : "node");
    }
  secret_value_unref (value);
  load->next = load->next->next;
  read_next (g_steal_pointer (&task));
}

static void
read_next (GTask *task)
{
  Load *load = g_task_get_task_data (task);

  if (load->next == NULL)
    {
      HyphaeKeyringKeys *keys = g_steal_pointer (&load->keys);

      g_task_return_pointer (task, keys, (GDestroyNotify) hyphae_keyring_keys_free);
      g_object_unref (task);
      return;
    }
  secret_retrievable_retrieve_secret (load->next->data, g_task_get_cancellable (task), on_secret, task);
}

static void
on_unlocked (GObject *source,
             GAsyncResult *result,
             gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  Load *load = g_task_get_task_data (task);
  GError *error = NULL;
  GList *unlocked = NULL;
  int n = secret_service_unlock_finish (SECRET_SERVICE (source), result, &unlocked, &error);

  g_list_free_full (unlocked, g_object_unref);
  /* A dismissed prompt is no error to libsecret: n is 0 then. Whatever is
   * still locked is LOCKED, never "no keys". */
  if (error == NULL && n <= 0)
    error = g_error_new_literal (HYPHAE_KEYRING_ERROR, HYPHAE_KEYRING_ERROR_LOCKED,
                                 _ ("The keyring was not unlocked"));
  if (error != NULL)
    {
      g_task_return_error (task, keyring_error (error));
      return;
    }
  load->next = load->items;
  read_next (g_steal_pointer (&task));
}

static void
on_searched (GObject *source,
             GAsyncResult *result,
             gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  Load *load = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr (GList) locked = NULL;
  SecretService *service = NULL;

  load->items = secret_password_search_finish (result, &error);
  if (error != NULL)
    {
      g_task_return_error (task, keyring_error (error));
      return;
    }
  load->items = g_list_sort (load->items, newest_first);
  /* Items of the Secret Service are SecretItems that may be locked; the
   * file backend's (a Flatpak with the Secret portal) never are. */
  for (GList *l = load->items; l != NULL; l = l->next)
    if (SECRET_IS_ITEM (l->data) && secret_item_get_locked (l->data))
      {
        locked = g_list_prepend (locked, l->data);
        service = secret_item_get_service (l->data);
      }
  if (locked != NULL)
    {
      GCancellable *cancellable = g_task_get_cancellable (task);

      secret_service_unlock (service, locked, cancellable, on_unlocked, g_steal_pointer (&task));
      return;
    }
  load->next = load->items;
  read_next (g_steal_pointer (&task));
}

void
hyphae_keyring_load (const char *profile,
                     GCancellable *cancellable,
                     GAsyncReadyCallback callback,
                     gpointer user_data)
{
  GTask *task;
  Load *load;

  g_return_if_fail (profile != NULL);
  task = g_task_new (NULL, cancellable, callback, user_data);
  load = g_new0 (Load, 1);
  load->keys = g_new0 (HyphaeKeyringKeys, 1);
  g_task_set_source_tag (task, hyphae_keyring_load);
  g_task_set_task_data (task, load, load_free);
  /* Not secret_password_lookup: a dismissed unlock gives NULL without an
   * error there, the same as "no such key". */
  secret_password_search (key_schema (), SECRET_SEARCH_ALL, cancellable, on_searched, task, "profile", profile,
                          NULL);
}

HyphaeKeyringKeys *
hyphae_keyring_load_finish (GAsyncResult *result,
                            GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------- store, delete */

static void
on_stored (GObject *source,
           GAsyncResult *result,
           gpointer user_data)
{
  GError *error = NULL;

  secret_password_store_finish (result, &error);
  return_result (user_data, error);
  g_object_unref (user_data);
}

void
hyphae_keyring_store (const char *profile,
                      const char *control_url,
                      HyphaeKeyKind kind,
                      const char *secret,
                      GCancellable *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer user_data)
{
  GTask *task;
  g_autofree char *label = NULL;

  g_return_if_fail (profile != NULL && secret != NULL);
  task = g_task_new (NULL, cancellable, callback, user_data);
  if (control_url == NULL)
    control_url = "";
  g_task_set_source_tag (task, hyphae_keyring_store);
  /* Translators: a keyring item's label; %s are a profile name and a server URL. */
  if (kind == HYPHAE_KEY_KIND_MACHINE)
    label = g_strdup_printf (_ ("Hyphae machine key (%s, %s)"), profile, control_url);
  else
    /* Translators: a keyring item's label; %s are a profile name and a server URL. */
    label = g_strdup_printf (_ ("Hyphae node key (%s, %s)"), profile, control_url);
  /* An item with the same attributes is replaced, not doubled. */
  secret_password_store (key_schema (), SECRET_COLLECTION_DEFAULT, label, secret, cancellable, on_stored, task,
                         "profile", profile, "control-url", control_url, "kind", kind_name (kind), NULL);
}

static void
on_cleared (GObject *source,
            GAsyncResult *result,
            gpointer user_data)
{
  GError *error = NULL;

  /* FALSE without an error: there was nothing to delete. */
  secret_password_clear_finish (result, &error);
  return_result (user_data, error);
  g_object_unref (user_data);
}

void
hyphae_keyring_delete (const char *profile,
                       HyphaeKeyKind kind,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer user_data)
{
  GTask *task;

  g_return_if_fail (profile != NULL);
  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, hyphae_keyring_delete);
  secret_password_clear (key_schema (), cancellable, on_cleared, task, "profile", profile, "kind",
                         kind_name (kind), NULL);
}
