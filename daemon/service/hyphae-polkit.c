/* SPDX-License-Identifier: MIT */
#include "hyphae-polkit.h"

#include "hyphae-mesh-error.h"

/* polkit's CheckAuthorizationFlags: AllowUserInteraction. */
#define POLKIT_FLAG_ALLOW_USER_INTERACTION 1u

typedef struct {
  GDBusConnection *connection;
  char            *sender;
  char            *action_id;
  gboolean         interactive;
} CheckData;

static void
check_data_free (CheckData *data)
{
  g_clear_object (&data->connection);
  g_free (data->sender);
  g_free (data->action_id);
  g_free (data);
}

static void
deny (GTask      *task,
      const char *action_id,
      const char *why)
{
  g_task_return_new_error (task, HYPHAE_MESH_ERROR, HYPHAE_MESH_ERROR_NOT_AUTHORIZED,
                           "Not authorized to %s (%s)", action_id, why);
}

static void
on_check_authorization (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
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

  /* No timeout: an authentication dialog waits for the user (SYSTEM.md §2).
   * The cancellation id is "" (not cancellable by id). */
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
                          G_MAXINT,
                          g_task_get_cancellable (task),
                          on_check_authorization,
                          task);
}

static void
on_get_unix_user (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  GTask *task = user_data;
  g_autoptr(GVariant) reply = NULL;
  guint32 uid;

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
  /* Not root, or the bus could not tell: polkit decides. */
  ask_polkit (task);
}

void
hyphae_polkit_check_async (GDBusConnection     *connection,
                           const char          *sender,
                           const char          *action_id,
                           gboolean             interactive,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
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
hyphae_polkit_check_finish (GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
