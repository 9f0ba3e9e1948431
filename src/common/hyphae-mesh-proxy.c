/* SPDX-License-Identifier: MIT */
#include "hyphae-mesh-proxy.h"

#define NO_DAEMON_TEXT "hyphaed is not running and could not be started"

/* The proxy if hyphaed is there; else NULL and a NO_DAEMON error saying why.
 * Takes proxy and proxy_error (what creating the proxy gave). */
static HyphaeMesh1 *
check_daemon (HyphaeMesh1 *proxy,
              GError *proxy_error,
              GError **error)
{
  g_autoptr(HyphaeMesh1) owned = proxy;
  g_autoptr(GError) local_error = proxy_error;
  g_autofree char *owner = NULL;

  if (owned == NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      g_dbus_error_strip_remote_error (local_error);
      g_set_error (error, HYPHAE_CLIENT_ERROR, HYPHAE_CLIENT_ERROR_NO_DAEMON,
                   NO_DAEMON_TEXT ": %s", local_error->message);
      return NULL;
    }
  /* An unknown service is no error for GDBusProxy: it just has no owner. */
  owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (owned));
  if (owner == NULL)
    {
      g_set_error (error, HYPHAE_CLIENT_ERROR, HYPHAE_CLIENT_ERROR_NO_DAEMON,
                   NO_DAEMON_TEXT " (%s has no owner on the system bus; is hyphaed installed?)",
                   HYPHAE_MESH_BUS_NAME);
      return NULL;
    }
  return g_steal_pointer (&owned);
}

HyphaeMesh1 *
hyphae_mesh_connect_sync (GCancellable *cancellable,
                          GError **error)
{
  GError *proxy_error = NULL;
  HyphaeMesh1 *proxy;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* The typed errors must be registered before the first call fails. */
  (void) HYPHAE_MESH_ERROR;
  proxy = hyphae_mesh1_proxy_new_for_bus_sync (G_BUS_TYPE_SYSTEM, G_DBUS_PROXY_FLAGS_NONE,
                                               HYPHAE_MESH_BUS_NAME, HYPHAE_MESH_OBJECT_PATH,
                                               cancellable, &proxy_error);
  return check_daemon (proxy, proxy_error, error);
}

static void
on_proxy_ready (GObject *source,
                GAsyncResult *result,
                gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *proxy_error = NULL;
  GError *error = NULL;
  HyphaeMesh1 *proxy = hyphae_mesh1_proxy_new_for_bus_finish (result, &proxy_error);

  proxy = check_daemon (proxy, proxy_error, &error);
  if (proxy == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, proxy, g_object_unref);
}

void
hyphae_mesh_connect (GCancellable *cancellable,
                     GAsyncReadyCallback callback,
                     gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, hyphae_mesh_connect);
  (void) HYPHAE_MESH_ERROR;
  hyphae_mesh1_proxy_new_for_bus (G_BUS_TYPE_SYSTEM, G_DBUS_PROXY_FLAGS_NONE,
                                  HYPHAE_MESH_BUS_NAME, HYPHAE_MESH_OBJECT_PATH,
                                  cancellable, on_proxy_ready, task);
}

HyphaeMesh1 *
hyphae_mesh_connect_finish (GAsyncResult *result,
                            GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == hyphae_mesh_connect, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

GPtrArray *
hyphae_mesh_get_peers_sync (HyphaeMesh1 *proxy,
                            GCancellable *cancellable,
                            GError **error)
{
  g_autoptr(GVariant) peers = NULL;

  g_return_val_if_fail (HYPHAE_IS_MESH1 (proxy), NULL);

  if (!hyphae_mesh1_call_get_peers_sync (proxy, G_DBUS_CALL_FLAGS_NONE, -1, &peers, cancellable, error))
    return NULL;
  return hyphae_peer_info_list_new (peers);
}

HyphaePeerInfo *
hyphae_mesh_dup_self (HyphaeMesh1 *proxy)
{
  g_autoptr(GVariant) self_node = NULL;

  g_return_val_if_fail (HYPHAE_IS_MESH1 (proxy), NULL);
  self_node = hyphae_mesh1_dup_self (proxy);
  return hyphae_peer_info_new_self (self_node);
}

HyphaeTailnetInfo *
hyphae_mesh_dup_tailnet (HyphaeMesh1 *proxy)
{
  g_autoptr(GVariant) tailnet = NULL;

  g_return_val_if_fail (HYPHAE_IS_MESH1 (proxy), NULL);
  tailnet = hyphae_mesh1_dup_tailnet (proxy);
  return hyphae_tailnet_info_new (tailnet);
}

char *
hyphae_mesh_get_auth_url (HyphaeMesh1 *proxy)
{
  g_autofree char *url = NULL;

  g_return_val_if_fail (HYPHAE_IS_MESH1 (proxy), NULL);

  if (!hyphae_mesh1_call_get_auth_url_sync (proxy, G_DBUS_CALL_FLAGS_NONE, -1, &url, NULL, NULL) ||
      *url == '\0')
    return NULL;
  return g_steal_pointer (&url);
}
