/* SPDX-License-Identifier: MIT */
/*
 * The bypass mark on the sockets hyphaed dials (daemon/netcfg/hyphae-bypass.c):
 * a plain socket, a GSocketClient's sockets (control's upgrade, DERP) and a
 * libsoup message's (control's /key, ping answers) carry SO_MARK 0x80000
 * before they connect; without CAP_NET_ADMIN marking fails softly, logged
 * once per process.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libsoup/soup.h>

#include "fixture-missing.h"
#include "hyphae-bypass.h"
#include "hyphae-netcfg.h"

static gint
socket_mark (GSocket *socket)
{
  g_autoptr(GError) error = NULL;
  gint mark = -1;

  g_assert_true (g_socket_get_option (socket, SOL_SOCKET, SO_MARK, &mark, &error));
  g_assert_no_error (error);
  return mark;
}

static gboolean
need_root (void)
{
  if (geteuid () == 0)
    return TRUE;
  fixture_missing ("needs root (CAP_NET_ADMIN) to set SO_MARK");
  return FALSE;
}

static void
test_mark_socket (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;

  g_assert_cmpuint (HYPHAE_BYPASS_MARK, ==, HYPHAE_NETCFG_BYPASS_MARK);
  if (!need_root ())
    return;
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_assert_cmpint (socket_mark (socket), ==, 0);
  g_assert_true (hyphae_bypass_mark_socket (socket));
  g_assert_cmpint (socket_mark (socket), ==, 0x80000);
}

/* Without CAP_NET_ADMIN (root turned into nobody, in a child): FALSE, the
 * socket still usable, one message for the first failure only. */
static void
test_unprivileged (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocket) a = NULL, b = NULL;

      if (geteuid () == 0)
        g_assert_true (setgid (65534) == 0 && setuid (65534) == 0);
      a = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
      g_assert_no_error (error);
      b = g_socket_new (G_SOCKET_FAMILY_IPV6, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
      g_assert_no_error (error);
      g_test_expect_message ("hyphae-netcfg", G_LOG_LEVEL_MESSAGE, "Cannot mark hyphaed's own connections*");
      g_assert_false (hyphae_bypass_mark_socket (a));
      g_test_assert_expected_messages ();
      /* The second failure is silent (an unexpected message would abort). */
      g_assert_false (hyphae_bypass_mark_socket (b));
      g_assert_cmpint (socket_mark (a), ==, 0);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* A listener on 127.0.0.1 whose thread answers one connection with an
 * empty 204. */
typedef struct {
  GSocket *listener;
  guint16 port;
  GThread *thread;
} Server;

static gpointer
server_thread (gpointer data)
{
  static const char answer[] = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
  Server *s = data;
  g_autoptr(GSocket) conn = g_socket_accept (s->listener, NULL, NULL);
  char buf[2048];

  if (conn == NULL)
    return NULL;
  /* The request fits in one read here; what it says does not matter. */
  (void) g_socket_receive (conn, buf, sizeof buf, NULL, NULL);
  (void) g_socket_send (conn, answer, sizeof answer - 1, NULL, NULL);
  (void) g_socket_close (conn, NULL);
  return NULL;
}

static void
server_start (Server *s)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  s->listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (s->listener, addr, TRUE, &error));
  g_assert_true (g_socket_listen (s->listener, &error));
  g_assert_no_error (error);
  bound = g_socket_get_local_address (s->listener, &error);
  g_assert_no_error (error);
  s->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  s->thread = g_thread_new ("server", server_thread, s);
}

static void
server_stop (Server *s)
{
  g_thread_join (s->thread);
  g_clear_object (&s->listener);
}

static void
test_socket_client (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketClient) client = NULL;
  g_autoptr(GSocketConnection) conn = NULL;
  Server s = { 0 };

  if (!need_root ())
    return;
  server_start (&s);
  client = g_socket_client_new ();
  hyphae_bypass_mark_socket_client (client);
  conn = g_socket_client_connect_to_host (client, "127.0.0.1", s.port, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (socket_mark (g_socket_connection_get_socket (conn)), ==, 0x80000);
  g_clear_object (&conn);
  server_stop (&s);
}

/* What a libsoup message's socket carried once connected (after our handler). */
static void
on_network_event (SoupMessage *msg,
                  GSocketClientEvent event,
                  GIOStream *connection,
                  gpointer user_data)
{
  gint *mark = user_data;

  if (event == G_SOCKET_CLIENT_CONNECTED)
    *mark = socket_mark (g_socket_connection_get_socket (G_SOCKET_CONNECTION (connection)));
}

static void
test_soup_message (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SoupSession) session = NULL;
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autofree char *url = NULL;
  Server s = { 0 };
  gint mark = -1;

  if (!need_root ())
    return;
  server_start (&s);
  url = g_strdup_printf ("http://127.0.0.1:%u/key", s.port);
  msg = soup_message_new (SOUP_METHOD_GET, url);
  g_signal_connect (msg, "network-event", G_CALLBACK (hyphae_bypass_soup_network_event), NULL);
  g_signal_connect (msg, "network-event", G_CALLBACK (on_network_event), &mark);
  session = soup_session_new ();
  soup_session_set_proxy_resolver (session, NULL);
  body = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, SOUP_STATUS_NO_CONTENT);
  g_assert_cmpint (mark, ==, 0x80000);
  g_clear_object (&session);
  server_stop (&s);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/bypass/mark-socket", test_mark_socket);
  g_test_add_func ("/bypass/unprivileged", test_unprivileged);
  g_test_add_func ("/bypass/socket-client", test_socket_client);
  g_test_add_func ("/bypass/soup-message", test_soup_message);
  return g_test_run ();
}
