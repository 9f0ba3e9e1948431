/* SPDX-License-Identifier: MIT */
/*
 * HyphaeNetcheck against real STUN servers: Tailscale's derper (HYPHAE_DERPER)
 * on two loopback addresses, probed from one UDP socket as hyphaed probes
 * from its WireGuard socket. Checks what a report says (latency per region,
 * the home region never an Avoid one, NoMeasureNoHome never probed,
 * WorkingUDP, MappingVariesByDestIP, our reflexive address) and the
 * fallback when no server answers.
 */
#include <arpa/inet.h>
#include <string.h>

#include "fixture-files.h"
#include "fixture-missing.h"
#include "fixture-spawn.h"
#include "hyphae-netcheck.h"

typedef struct {
  GSocket *socket;
  GSource *source;
  HyphaeNetcheck *netcheck;
  gboolean got_report;
  guint n_sent;
} Fixture;

static gboolean
send_cb (const guint8 *data, gsize len, const union wg_sockaddr *to, gpointer user_data)
{
  Fixture *f = user_data;
  g_autoptr(GSocketAddress) addr = g_socket_address_new_from_native ((gpointer) &to->sa, wg_sockaddr_len (to));

  f->n_sent++;
  return g_socket_send_to (f->socket, addr, (const char *) data, len, NULL, NULL) == (gssize) len;
}

static gboolean
readable_cb (GSocket *socket, GIOCondition cond, gpointer user_data)
{
  Fixture *f = user_data;
  guint8 buf[2048];
  GSocketAddress *from = NULL;
  gssize n = g_socket_receive_from (socket, &from, (char *) buf, sizeof buf, NULL, NULL);

  if (n > 0 && from != NULL)
    {
      union wg_sockaddr sa = { 0 };

      g_socket_address_to_native (from, &sa, sizeof sa, NULL);
      (void) hyphae_netcheck_rx (f->netcheck, buf, (gsize) n, &sa);
    }
  g_clear_object (&from);
  return G_SOURCE_CONTINUE;
}

static void
on_report (HyphaeNetcheck *nc, const HyphaeNetcheckReport *rep, gpointer user_data)
{
  ((Fixture *) user_data)->got_report = TRUE;
}

static void
fixture_setup (Fixture *f)
{
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GError) error = NULL;

  f->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  g_socket_bind (f->socket, any, FALSE, &error);
  g_assert_no_error (error);
  g_socket_set_blocking (f->socket, FALSE);
  f->source = g_socket_create_source (f->socket, G_IO_IN, NULL);
  g_source_set_callback (f->source, (GSourceFunc) (GCallback) readable_cb, f, NULL);
  g_source_attach (f->source, NULL);
  f->netcheck = hyphae_netcheck_new (send_cb, f);
  g_signal_connect (f->netcheck, "report", G_CALLBACK (on_report), f);
}

static void
fixture_teardown (Fixture *f)
{
  g_clear_object (&f->netcheck);
  g_source_destroy (f->source);
  g_source_unref (f->source);
  g_clear_object (&f->socket);
}

static gboolean
too_long (gpointer data)
{
  g_error ("no netcheck report within 30 s");
  return G_SOURCE_REMOVE;
}

static const HyphaeNetcheckReport *
wait_report (Fixture *f)
{
  guint id = g_timeout_add_seconds (30, too_long, NULL);

  f->got_report = FALSE;
  while (!f->got_report)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (id);
  return hyphae_netcheck_get_report (f->netcheck);
}

static guint16
free_udp_port (const char *ip)
{
  g_autoptr(GInetAddress) a = g_inet_address_new_from_string (ip);
  g_autoptr(GSocketAddress) sa = g_inet_socket_address_new (a, 0);
  g_autoptr(GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr(GSocketAddress) bound = NULL;

  g_assert_true (g_socket_bind (s, sa, FALSE, NULL));
  bound = g_socket_get_local_address (s, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

static void
set_server (HyphaeNetcheckRegion *r, const char *ip, guint16 port)
{
  union wg_sockaddr *s = &r->servers[r->n_servers++];

  memset (s, 0, sizeof *s);
  s->in4.sin_family = AF_INET;
  s->in4.sin_port = htons (port);
  inet_pton (AF_INET, ip, &s->in4.sin_addr);
}

/* A derper serving STUN on ip:port (TLS DERP on a free TCP port beside it);
 * returns once it says STUN listens. */
static GSubprocess *
start_derper (const char *derper, const char *dir, const char *ip, guint16 stun_port)
{
  g_autofree char *addr = g_strdup_printf ("%s:%u", ip, free_udp_port (ip));
  g_autofree char *port = g_strdup_printf ("%u", stun_port);
  g_autofree char *certdir = g_build_filename (dir, ip, NULL);
  g_autofree char *key = g_build_filename (certdir, "derper.key", NULL);
  const char *argv[] = { derper, "-a", addr, "-stun-port", port, "-http-port", "-1", "-certmode", "manual",
                         "-certdir", certdir, "-hostname", ip, "-c", key, NULL };
  g_autoptr(GError) error = NULL;
  GSubprocess *child;
  g_autoptr(GDataInputStream) err = NULL;

  g_assert_cmpint (g_mkdir_with_parents (certdir, 0700), ==, 0);
  child = fixture_child_new (G_SUBPROCESS_FLAGS_STDERR_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE, argv, &error);
  g_assert_no_error (error);
  err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (child));
  /* The pipe stays open with the child: a closed stderr would kill derper
   * (SIGPIPE) at its next log line. */
  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (err), FALSE);
  for (;;)
    {
      g_autofree char *line = g_data_input_stream_read_line (err, NULL, NULL, &error);

      g_assert_no_error (error);
      g_assert_nonnull (line); /* derper ended before STUN listened */
      g_test_message ("derper: %s", line);
      if (strstr (line, "STUN server listening") != NULL)
        break;
    }
  return child;
}

static const HyphaeNetcheckLatency *
latency_of (const HyphaeNetcheckReport *rep, int region)
{
  for (guint i = 0; i < rep->n_latency; i++)
    if (rep->latency[i].region_id == region)
      return &rep->latency[i];
  return NULL;
}

static void
test_regions (void)
{
  const char *derper = g_getenv ("HYPHAE_DERPER");
  g_autofree char *dir = NULL;
  g_autoptr(GSubprocess) a = NULL, b = NULL;
  HyphaeNetcheckRegion regions[3] = { { .region_id = 1 }, { .region_id = 2, .avoid = TRUE }, { .region_id = 3, .no_measure_no_home = TRUE } };
  guint16 pa = free_udp_port ("127.0.0.1"), pb = free_udp_port ("127.0.0.2");
  const HyphaeNetcheckReport *rep;
  g_autoptr(GSocketAddress) local = NULL;
  Fixture f = { 0 };

  if (derper == NULL || !g_file_test (derper, G_FILE_TEST_IS_EXECUTABLE))
    {
      fixture_missing ("HYPHAE_DERPER (Tailscale's derper) is not set");
      return;
    }
  dir = g_dir_make_tmp ("netcheck-XXXXXX", NULL);
  a = start_derper (derper, dir, "127.0.0.1", pa);
  b = start_derper (derper, dir, "127.0.0.2", pb);
  set_server (&regions[0], "127.0.0.1", pa);
  set_server (&regions[1], "127.0.0.2", pb);
  set_server (&regions[2], "127.0.0.1", pa);
  fixture_setup (&f);
  hyphae_netcheck_set_regions (f.netcheck, regions, G_N_ELEMENTS (regions));
  hyphae_netcheck_start (f.netcheck);
  rep = wait_report (&f);

  g_assert_true (rep->working_udp);
  g_assert_false (rep->working_ipv6);
  g_assert_nonnull (latency_of (rep, 1));
  g_assert_cmpfloat (latency_of (rep, 1)->v4_seconds, >, 0);
  g_assert_nonnull (latency_of (rep, 2));
  /* NoMeasureNoHome: not probed at all (two probes went out, not three). */
  g_assert_null (latency_of (rep, 3));
  g_assert_cmpuint (f.n_sent, ==, 2);
  /* Region 2 may be faster: Avoid keeps it from being home. */
  g_assert_cmpint (rep->preferred_derp, ==, 1);
  /* Both servers (two addresses) saw the one socket at one address:port. */
  g_assert_cmpint (rep->mapping_varies_by_dest_ip, ==, HYPHAE_NETCHECK_FALSE);
  local = g_socket_get_local_address (f.socket, NULL);
  g_assert_cmpint (rep->global_v4.sa.sa_family, ==, AF_INET);
  g_assert_cmpuint (ntohs (rep->global_v4.in4.sin_port), ==,
                    g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)));
  g_assert_cmpuint (ntohl (rep->global_v4.in4.sin_addr.s_addr), ==, 0x7f000001);
  g_assert_cmpstr (hyphae_netcheck_region_code (f.netcheck, 1), ==, "");

  /* Periodic: another report comes by itself. */
  hyphae_netcheck_set_interval_for_testing (f.netcheck, 50);
  hyphae_netcheck_start (f.netcheck);
  (void) wait_report (&f);
  rep = wait_report (&f);
  g_assert_cmpint (rep->preferred_derp, ==, 1);

  fixture_teardown (&f);
  fixture_child_stop (a);
  fixture_child_stop (b);
  fixture_rm_rf (dir);
}

/* Nobody answers: no UDP, and the home is the first region that may be one
 * (DERP still works over TCP). */
static void
test_no_answer (void)
{
  HyphaeNetcheckRegion regions[3] = { { .region_id = 5, .avoid = TRUE }, { .region_id = 9 }, { .region_id = 7 } };
  guint16 closed = free_udp_port ("127.0.0.1");
  const HyphaeNetcheckReport *rep;
  Fixture f = { 0 };

  for (guint i = 0; i < G_N_ELEMENTS (regions); i++)
    set_server (&regions[i], "127.0.0.1", closed);
  fixture_setup (&f);
  hyphae_netcheck_set_regions (f.netcheck, regions, G_N_ELEMENTS (regions));
  hyphae_netcheck_start (f.netcheck);
  rep = wait_report (&f);
  g_assert_false (rep->working_udp);
  g_assert_cmpuint (rep->n_latency, ==, 0);
  g_assert_cmpint (rep->preferred_derp, ==, 7);
  g_assert_cmpint (rep->mapping_varies_by_dest_ip, ==, HYPHAE_NETCHECK_UNSET);
  g_assert_cmpint (rep->global_v4.sa.sa_family, ==, AF_UNSPEC);
  /* Each probe was sent twice (the retry). */
  g_assert_cmpuint (f.n_sent, ==, 2 * G_N_ELEMENTS (regions));
  fixture_teardown (&f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/netcheck/regions", test_regions);
  g_test_add_func ("/netcheck/no-answer", test_no_answer);
  return g_test_run ();
}
