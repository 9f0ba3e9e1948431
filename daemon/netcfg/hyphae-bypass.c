/* SPDX-License-Identifier: MIT */
#include "hyphae-bypass.h"

#include <errno.h>
#include <sys/socket.h>

gboolean
hyphae_bypass_mark_socket (GSocket *socket)
{
  static gint logged;
  g_autoptr(GError) error = NULL;

  g_return_val_if_fail (G_IS_SOCKET (socket), FALSE);

  if (g_socket_set_option (socket, SOL_SOCKET, SO_MARK, (gint) HYPHAE_BYPASS_MARK, &error))
    return TRUE;
  if (g_atomic_int_compare_and_exchange (&logged, 0, 1))
    g_message ("Cannot mark hyphaed's own connections (SO_MARK 0x%x: %s): with an exit node "
               "in use they would enter the tunnel; hyphaed needs CAP_NET_ADMIN",
               HYPHAE_BYPASS_MARK, error->message);
  return FALSE;
}

/* GSocketClient::event and SoupMessage::network-event alike. */
static void
mark_connecting (GSocketClientEvent event,
                 GIOStream *connection)
{
  if (event == G_SOCKET_CLIENT_CONNECTING && G_IS_SOCKET_CONNECTION (connection))
    (void) hyphae_bypass_mark_socket (g_socket_connection_get_socket (G_SOCKET_CONNECTION (connection)));
}

static void
socket_client_event_cb (GSocketClient *client,
                        GSocketClientEvent event,
                        GSocketConnectable *connectable,
                        GIOStream *connection,
                        gpointer user_data)
{
  mark_connecting (event, connection);
}

void
hyphae_bypass_mark_socket_client (GSocketClient *client)
{
  g_return_if_fail (G_IS_SOCKET_CLIENT (client));

  g_signal_connect (client, "event", G_CALLBACK (socket_client_event_cb), NULL);
}

void
hyphae_bypass_soup_network_event (gpointer msg,
                                  GSocketClientEvent event,
                                  GIOStream *connection,
                                  gpointer user_data)
{
  mark_connecting (event, connection);
}
