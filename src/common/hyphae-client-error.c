/* SPDX-License-Identifier: MIT */
#include "hyphae-client-error.h"

/* clang-format off */
G_DEFINE_QUARK (hyphae-client-error-quark, hyphae_client_error)
/* clang-format on */

HyphaeClientFailure
hyphae_client_error_failure (const GError *error)
{
  g_autofree char *remote = NULL;

  g_return_val_if_fail (error != NULL, HYPHAE_CLIENT_FAILURE_OTHER);

  if (error->domain == HYPHAE_MESH_ERROR)
    {
      switch ((HyphaeMeshError) error->code)
        {
        case HYPHAE_MESH_ERROR_NOT_AUTHORIZED: return HYPHAE_CLIENT_FAILURE_NOT_AUTHORIZED;
        case HYPHAE_MESH_ERROR_NEEDS_LOGIN: return HYPHAE_CLIENT_FAILURE_NEEDS_LOGIN;
        case HYPHAE_MESH_ERROR_UNREACHABLE: return HYPHAE_CLIENT_FAILURE_UNREACHABLE;
        case HYPHAE_MESH_ERROR_BAD_AUTH_KEY: return HYPHAE_CLIENT_FAILURE_BAD_AUTH_KEY;
        case HYPHAE_MESH_ERROR_ENGINE_FAILED: return HYPHAE_CLIENT_FAILURE_ENGINE;
        case HYPHAE_MESH_ERROR_TOO_MANY_REQUESTS: return HYPHAE_CLIENT_FAILURE_TOO_MANY_REQUESTS;
        case HYPHAE_MESH_ERROR_INVALID_ARGUMENT: return HYPHAE_CLIENT_FAILURE_INVALID_ARGUMENT;
        case HYPHAE_MESH_ERROR_NOT_FOUND:
        case HYPHAE_MESH_ERROR_TIMED_OUT:
        case HYPHAE_MESH_ERROR_FAILED:
        default: return HYPHAE_CLIENT_FAILURE_OTHER;
        }
    }
  if (g_error_matches (error, HYPHAE_CLIENT_ERROR, HYPHAE_CLIENT_ERROR_NO_DAEMON) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_CHILD_EXITED) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_EXEC_FAILED) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_FAILED) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_CHILD_SIGNALED) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED))
    return HYPHAE_CLIENT_FAILURE_NO_DAEMON;
  remote = g_dbus_error_get_remote_error (error);
  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED) ||
      g_strcmp0 (remote, "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired") == 0)
    return HYPHAE_CLIENT_FAILURE_NOT_AUTHORIZED;
  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS))
    return HYPHAE_CLIENT_FAILURE_INVALID_ARGUMENT;
  return HYPHAE_CLIENT_FAILURE_OTHER;
}

char *
hyphae_client_error_message (const GError *error)
{
  g_autoptr(GError) stripped = NULL;

  g_return_val_if_fail (error != NULL, NULL);

  stripped = g_error_copy (error);
  g_dbus_error_strip_remote_error (stripped);
  return g_strdup (stripped->message);
}
