/* SPDX-License-Identifier: MIT */
#include "hyphae-polkit.h"

#include <stdlib.h>

#include "hyphae-mesh-error.h"

/* polkit's CheckAuthorizationFlags: AllowUserInteraction. */
#define POLKIT_FLAG_ALLOW_USER_INTERACTION 1u

/* Long enough for a password typed into an authentication dialog; after it
 * the check is a denial (ARCHITECTURE.md "polkit and root"). HYPHAED_POLKIT_TIMEOUT_MS (read once)
 * shortens it for tests. */
#define POLKIT_TIMEOUT_MS (120 * 1000)

/* uid → number of CheckAuthorization calls in flight for it. */
static GHashTable *pending_by_uid;

typedef struct {
  GDBusConnection *connection;
  char *sender;
  char *action_id;
  gboolean interactive;
  guint32 uid;
  gboolean counted; /* holds one of pending_by_uid[uid] */
} CheckData;

static guint
pending_get (guint32 uid)
{
  return pending_by_uid ? GPOINTER_TO_UINT (g_hash_table_lookup (pending_by_uid, GUINT_TO_POINTER (uid))) : 0;
}

static void
pending_set (guint32 uid,
             guint n)
{
  if (pending_by_uid == NULL)
    pending_by_uid = g_hash_table_new (NULL, NULL);
  if (n == 0)
    g_hash_table_remove (pending_by_uid, GUINT_TO_POINTER (uid));
  else
    g_hash_table_insert (pending_by_uid, GUINT_TO_POINTER (uid), GUINT_TO_POINTER (n));
  if (g_hash_table_size (pending_by_uid) == 0)
    g_clear_pointer (&pending_by_uid, g_hash_table_unref);
}

static int
polkit_timeout_ms (void)
{
  static gsize once;
  static int timeout_ms;

  if (g_once_init_enter (&once))
    {
      const char *env = g_getenv ("HYPHAED_POLKIT_TIMEOUT_MS");
      long v = env ? strtol (env, NULL, 10) : 0;

      timeout_ms = v > 0 && v <= POLKIT_TIMEOUT_MS ? (int) v : POLKIT_TIMEOUT_MS;
      g_once_init_leave (&once, 1);
    }
  return timeout_ms;
}

static void
check_data_free (CheckData *data)
{
  if (data->counted)
    pending_set (data->uid, pending_get (data->uid) - 1);
  g_clear_object (&data->connection);
  g_free (data->sender);
  g_free (data->action_id);
  g_free (data);
}

static void
deny (GTask *task,
      const char *action_id,
      const char *why)
{
  g_task_return_new_error (task, HYPHAE_MESH_ERROR, HYPHAE_MESH_ERROR_NOT_AUTHORIZED,
                           "Not authorized to %s (%s)", action_id, why);
}

static void
on_check_authorization (GObject *source,
                        GAsyncResult *result,
                        gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  CheckData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  gboolean authorized = FALSE, challenge = FALSE;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (reply == NULL)
    {
      g_autofree char *remote = g_dbus_error_get_remote_error (error);

      g_message ("polkit check of %s for %s failed: %s", data->action_id, data->sender,
                 error->message);
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_error (task, g_steal_pointer (&error));
      else
        deny (task, data->action_id, remote ? remote : "polkit did not answer");
      return;
    }
  g_variant_get (reply, "((bb@a{ss}))", &authorized, &challenge, NULL);
  if (authorized)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  deny (task, data->action_id,
        challenge ? "authentication required and not given" : "denied by polkit");
}

static void
ask_polkit (GTask *task)
{
  CheckData *data = g_task_get_task_data (task);
  GVariantBuilder subject_details;
  GVariantBuilder details;

  g_variant_builder_init (&subject_details, G_VARIANT_TYPE ("a{sv}"));
  g_variant_builder_add (&subject_details, "{sv}", "name", g_variant_new_string (data->sender));
  g_variant_builder_init (&details, G_VARIANT_TYPE ("a{ss}"));

  /* The cancellation id is "" (not cancellable by id). */
  g_dbus_connection_call (data->connection,
                          "org.freedesktop.PolicyKit1",
                          "/org/freedesktop/PolicyKit1/Authority",
                          "org.freedesktop.PolicyKit1.Authority",
                          "CheckAuthorization",
                          g_variant_new ("((sa{sv})sa{ss}us)",
                                         "system-bus-name", &subject_details,
                                         data->action_id, &details,
                                         data->interactive ? POLKIT_FLAG_ALLOW_USER_INTERACTION : 0u,
                                         ""),
                          G_VARIANT_TYPE ("((bba{ss}))"),
                          G_DBUS_CALL_FLAGS_NONE,
                          polkit_timeout_ms (),
                          g_task_get_cancellable (task),
                          on_check_authorization,
                          task);
}

static void
on_get_unix_user (GObject *source,
                  GAsyncResult *result,
                  gpointer user_data)
{
  GTask *task = user_data;
  CheckData *data = g_task_get_task_data (task);
  g_autoptr(GVariant) reply = NULL;
  guint32 uid = G_MAXUINT32; /* unknown: one budget for all we cannot tell */

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, NULL);
  if (reply != NULL)
    {
      g_variant_get (reply, "(u)", &uid);
      if (uid == 0)
        {
          g_task_return_boolean (task, TRUE);
          g_object_unref (task);
          return;
        }
    }
  /* Not root, or the bus could not tell: polkit decides, for a bounded
   * number of calls per uid (one client may open many connections). */
  if (pending_get (uid) >= HYPHAE_POLKIT_MAX_PENDING)
    {
      g_message ("polkit check of %s for %s (uid %u) refused: %u already pending",
                 data->action_id, data->sender, uid, HYPHAE_POLKIT_MAX_PENDING);
      g_task_return_new_error (task, HYPHAE_MESH_ERROR, HYPHAE_MESH_ERROR_TOO_MANY_REQUESTS,
                               "Too many requests: %u authorization checks of this user are pending",
                               HYPHAE_POLKIT_MAX_PENDING);
      g_object_unref (task);
      return;
    }
  data->uid = uid;
  data->counted = TRUE;
  pending_set (uid, pending_get (uid) + 1);
  ask_polkit (task);
}

void
hyphae_polkit_check_async (GDBusConnection *connection,
                           const char *sender,
                           const char *action_id,
                           gboolean interactive,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer user_data)
{
  GTask *task;
  CheckData *data;

  g_return_if_fail (G_IS_DBUS_CONNECTION (connection));
  g_return_if_fail (action_id != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, hyphae_polkit_check_async);
  if (sender == NULL)
    {
      /* A peer-to-peer connection has no sender to check. */
      deny (task, action_id, "no sender");
      g_object_unref (task);
      return;
    }
  data = g_new0 (CheckData, 1);
  data->connection = g_object_ref (connection);
  data->sender = g_strdup (sender);
  data->action_id = g_strdup (action_id);
  data->interactive = interactive;
  g_task_set_task_data (task, data, (GDestroyNotify) check_data_free);

  g_dbus_connection_call (connection,
                          "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "GetConnectionUnixUser",
                          g_variant_new ("(s)", sender), G_VARIANT_TYPE ("(u)"),
                          G_DBUS_CALL_FLAGS_NONE, -1, cancellable,
                          on_get_unix_user, task);
}

gboolean
hyphae_polkit_check_finish (GAsyncResult *result,
                            GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
