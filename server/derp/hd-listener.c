/* SPDX-License-Identifier: MIT */
/* hyphae-derp's TCP listener (hd-listener.h). */
#include "hd-listener.h"

enum {
  BACKLOG = 1024,
};

struct _HdListener {
  GSocketService *service;
  GInetSocketAddress *address;
};

static gboolean
on_incoming (GSocketService *service,
             GSocketConnection *connection,
             GObject *source_object,
             gpointer user_data)
{
  hd_server_accept (user_data, connection);
  return TRUE;
}

HdListener *
hd_listener_new (HdServer *srv,
                 GInetSocketAddress *address,
                 GError **error)
{
  g_autoptr(GSocketService) service = g_socket_service_new ();
  g_autoptr(GSocketAddress) effective = NULL;
  HdListener *listener;

  g_socket_listener_set_backlog (G_SOCKET_LISTENER (service), BACKLOG);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (service), G_SOCKET_ADDRESS (address),
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                                      &effective, error))
    return NULL;
  g_signal_connect (service, "incoming", G_CALLBACK (on_incoming), srv);
  g_socket_service_start (service);

  listener = g_new0 (HdListener, 1);
  listener->service = g_steal_pointer (&service);
  listener->address = G_INET_SOCKET_ADDRESS (g_steal_pointer (&effective));
  return listener;
}

void
hd_listener_free (HdListener *listener)
{
  g_socket_service_stop (listener->service);
  g_socket_listener_close (G_SOCKET_LISTENER (listener->service));
  g_object_unref (listener->service);
  g_object_unref (listener->address);
  g_free (listener);
}

GInetSocketAddress *
hd_listener_get_address (HdListener *listener)
{
  return listener->address;
}

GTlsCertificate *
hd_listener_load_cert (const char *cert_file,
                       const char *key_file,
                       GError **error)
{
  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "GIO has no TLS backend (install glib-networking), or use --http");
      return NULL;
    }
  return g_tls_certificate_new_from_files (cert_file, key_file, error);
}
