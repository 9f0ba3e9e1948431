/* SPDX-License-Identifier: MIT */
/* STUN on UDP (hd-stun.h). */
#include "hd-stun.h"

#include <errno.h>
#include <sys/socket.h>

#include "magicsock/stun.h"

enum {
  STUN_BUDGET = 64, /* datagrams per wake-up */
  STUN_MAX_IN = 1500,
};

struct _HdStun {
  GSocket *socket;
  GSource *source;
  HdMetrics *metrics;
};

static gboolean
on_datagram (GSocket *socket,
             GIOCondition condition,
             gpointer user_data)
{
  HdStun *stun = user_data;
  int fd = g_socket_get_fd (socket);

  for (guint i = 0; i < STUN_BUDGET; i++)
    {
      guint8 in[STUN_MAX_IN], out[STUN_RESPONSE_MAX], txid[STUN_TXID_LEN];
      union wg_sockaddr from = { 0 };
      socklen_t from_len = sizeof from;
      ssize_t n = recvfrom (fd, in, sizeof in, MSG_DONTWAIT, &from.sa, &from_len);
      size_t out_len;

      if (n < 0)
        break; /* EAGAIN, or an ICMP error queued on the socket */
      if (stun_parse_request (in, n, txid) < 0)
        {
          stun->metrics->stun_bad++;
          continue;
        }
      stun->metrics->stun_requests++;
      out_len = stun_build_response (out, txid, &from);
      /* Best effort, as UDP is: a full socket buffer drops this answer. */
      (void) sendto (fd, out, out_len, MSG_DONTWAIT, &from.sa, from_len);
    }
  return G_SOURCE_CONTINUE;
}

HdStun *
hd_stun_new (GInetSocketAddress *address,
             HdMetrics *metrics,
             GError **error)
{
  g_autoptr(GSocket) socket = NULL;
  HdStun *stun;

  socket = g_socket_new (g_socket_address_get_family (G_SOCKET_ADDRESS (address)),
                         G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, error);
  if (socket == NULL)
    return NULL;
  if (!g_socket_bind (socket, G_SOCKET_ADDRESS (address), FALSE, error))
    return NULL;

  stun = g_new0 (HdStun, 1);
  stun->socket = g_steal_pointer (&socket);
  stun->metrics = metrics;
  stun->source = g_socket_create_source (stun->socket, G_IO_IN, NULL);
  g_source_set_callback (stun->source, G_SOURCE_FUNC (on_datagram), stun, NULL);
  g_source_attach (stun->source, NULL);
  return stun;
}

void
hd_stun_free (HdStun *stun)
{
  g_source_destroy (stun->source);
  g_source_unref (stun->source);
  g_socket_close (stun->socket, NULL);
  g_object_unref (stun->socket);
  g_free (stun);
}

GSocketAddress *
hd_stun_get_address (HdStun *stun)
{
  return g_socket_get_local_address (stun->socket, NULL);
}
