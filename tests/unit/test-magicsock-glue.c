/* SPDX-License-Identifier: MIT */
/*
 * HyphaeNetcheck against real STUN servers: Tailscale's derper (HYPHAE_DERPER)
 * on two loopback addresses, probed from one UDP socket as hyphaed probes
 * from its WireGuard socket. Checks what a report says (latency per region,
 * the home region never an Avoid one, NoMeasureNoHome never probed,
 * WorkingUDP, MappingVariesByDestIP, our reflexive address) and the
 * fallback when no server answers. Then HyphaeMagicsock itself, on two
 * runners in a network namespace with two derpers as regions 1 and 2: each
 * node's home is the region its map lets be one, STUN adds the reflexive
 * endpoint, a disco ping to a peer homed in the other region opens that
 * region's connection on demand (the ping waits while it dials) and gets its
 * pong through it, and that connection closes once idle while home stays.
 */
#include <arpa/inet.h>
#include <string.h>

#include "crypto/keys.h"
#include "fixture-files.h"
#include "fixture-missing.h"
#include "fixture-netns.h"
#include "fixture-spawn.h"
#include "fixture-threads.h"
#include "hyphae-magicsock.h"
#include "hyphae-netcheck.h"
#include "wireguard/wg-runner.h"

static FixtureNetns ns;

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
start_derper (const char *derper, const char *dir, const char *ip, guint16 stun_port, guint16 tls_port)
{
  g_autofree char *addr = g_strdup_printf ("%s:%u", ip, tls_port ? tls_port : free_udp_port (ip));
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
  a = start_derper (derper, dir, "127.0.0.1", pa, 0);
  b = start_derper (derper, dir, "127.0.0.2", pb, 0);
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

/* The home region: lowest latency, Avoid never, and the previous home kept
 * unless the new one wins by 10 ms and by a third (netcheck.go). */
static void
test_pick_home (void)
{
  HyphaeNetcheckRegion regions[] = { { .region_id = 1 }, { .region_id = 2 }, { .region_id = 3, .avoid = TRUE }, { .region_id = 4 } };
  HyphaeNetcheckLatency lat[] = { { 1, 0.090, 0 }, { 2, 0.070, 0 }, { 3, 0.001, 0 }, { 4, 0, 0.075 } };
  HyphaeNetcheckReport rep = { .n_latency = G_N_ELEMENTS (lat), .latency = lat };
  guint n = G_N_ELEMENTS (regions);

  /* No previous home: the fastest that may be home (3 is Avoid). */
  g_assert_cmpint (hyphae_netcheck_pick_home (regions, n, &rep, 0), ==, 2);
  /* 20 ms better but not by a third (70 > 90 × 2/3): stay at 1. */
  g_assert_cmpint (hyphae_netcheck_pick_home (regions, n, &rep, 1), ==, 1);
  /* Only 5 ms better than an IPv6-only latency: stay at 4. */
  g_assert_cmpint (hyphae_netcheck_pick_home (regions, n, &rep, 4), ==, 4);
  /* Better by a third and by 10 ms: move. */
  lat[1].v4_seconds = 0.050;
  g_assert_cmpint (hyphae_netcheck_pick_home (regions, n, &rep, 1), ==, 2);
  /* The old home did not answer this time: move. */
  lat[0].v4_seconds = 0;
  lat[1].v4_seconds = 0.089;
  g_assert_cmpint (hyphae_netcheck_pick_home (regions, n, &rep, 1), ==, 4);
  /* An Avoid region is never kept as home. */
  g_assert_cmpint (hyphae_netcheck_pick_home (regions, n, &rep, 3), ==, 4);
  /* Nothing answered: the old home if it may be one, else the lowest id. */
  rep.n_latency = 0;
  g_assert_cmpint (hyphae_netcheck_pick_home (regions, n, &rep, 4), ==, 4);
  g_assert_cmpint (hyphae_netcheck_pick_home (regions, n, &rep, 3), ==, 1);
  g_assert_cmpint (hyphae_netcheck_pick_home (regions, 0, &rep, 0), ==, 0);
}

/* ---- HyphaeMagicsock on two runners ------------------------------------------ */

typedef struct {
  guint8 node_priv[KEY_LEN], node_pub[KEY_LEN], disco_priv[KEY_LEN], disco_pub[KEY_LEN];
  struct wg_runner *runner;
  HyphaeMagicsock *ms;
} Node;

static void
node_init (Node *n, const char *ifname)
{
  struct wg_runner_config cfg = { .ifname = ifname, .magicsock = TRUE };

  key_generate_private (n->node_priv);
  key_public_from_private (n->node_pub, n->node_priv);
  key_generate_private (n->disco_priv);
  key_public_from_private (n->disco_pub, n->disco_priv);
  cfg.private_key = n->node_priv;
  g_assert_cmpint (wg_runner_start (&cfg, &n->runner), ==, 0);
  n->ms = hyphae_magicsock_new (n->runner, n->disco_priv, n->node_priv);
  g_assert_nonnull (n->ms);
}

static void
node_clear (Node *n)
{
  g_clear_object (&n->ms);
  g_clear_pointer (&n->runner, wg_runner_stop);
}

static char *
region_json (int id, guint16 tls, guint16 stun, const char *ip, gboolean home)
{
  return g_strdup_printf ("\"%d\":{\"RegionID\":%d,\"RegionCode\":\"r%d\",\"NoMeasureNoHome\":%s,"
                          "\"Nodes\":[{\"Name\":\"%da\",\"RegionID\":%d,\"HostName\":\"%s\",\"IPv4\":\"%s\","
                          "\"DERPPort\":%u,\"STUNPort\":%u,\"InsecureForTests\":true}]}",
                          id, id, id, home ? "false" : "true", id, id, ip, ip, tls, stun);
}

/* self's netmap: peer homed in peer_home, home_region the only region self may call home. */
static HyphaeNetmap *
netmap_for (const Node *self, const Node *peer, int peer_home, int home_region, const guint16 ports[4])
{
  char nk[sizeof KEY_PREFIX_NODE + KEY_HEX_LEN], pk[sizeof KEY_PREFIX_NODE + KEY_HEX_LEN];
  char dk[sizeof KEY_PREFIX_DISCO + KEY_HEX_LEN];
  g_autofree char *r1 = region_json (1, ports[0], ports[1], "127.0.0.1", home_region == 1);
  g_autofree char *r2 = region_json (2, ports[2], ports[3], "127.0.0.2", home_region == 2);
  g_autofree char *json = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeMapUpdate) up = NULL;
  HyphaeNetmap *nm;

  key_to_text (nk, sizeof nk, KEY_PREFIX_NODE, self->node_pub);
  key_to_text (pk, sizeof pk, KEY_PREFIX_NODE, peer->node_pub);
  key_to_text (dk, sizeof dk, KEY_PREFIX_DISCO, peer->disco_pub);
  json = g_strdup_printf ("{\"Node\":{\"ID\":1,\"StableID\":\"s1\",\"Name\":\"self.ts.net.\",\"Key\":\"%s\","
                          "\"Addresses\":[\"100.64.0.1/32\"],\"MachineAuthorized\":true},"
                          "\"Peers\":[{\"ID\":2,\"StableID\":\"s2\",\"Name\":\"peer.ts.net.\",\"Key\":\"%s\","
                          "\"DiscoKey\":\"%s\",\"HomeDERP\":%d,\"Addresses\":[\"100.64.0.2/32\"],"
                          "\"MachineAuthorized\":true}],"
                          "\"DERPMap\":{\"Regions\":{%s,%s}}}",
                          nk, pk, dk, peer_home, r1, r2);
  up = hyphae_map_update_parse (json, strlen (json), &error);
  g_assert_no_error (error);
  nm = hyphae_netmap_apply (NULL, up, g_get_real_time () / G_USEC_PER_SEC, &error);
  g_assert_no_error (error);
  return nm;
}

typedef struct {
  gboolean done;
  gboolean ok;
  HyphaeMagicsockPingResult res;
  GError *error;
} PingWait;

static void
ping_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PingWait *w = user_data;

  w->ok = hyphae_magicsock_ping_finish (HYPHAE_MAGICSOCK (source), result, &w->res, &w->error);
  w->done = TRUE;
}

/* Both homes chosen and logged in (a packet to B before B is in region 2
 * would be dropped by the server). */
static gboolean
homes_up (Node *a, Node *b)
{
  gboolean a_up = FALSE, b_up = FALSE;

  return hyphae_magicsock_get_home_derp (a->ms) == 1 && hyphae_magicsock_get_home_derp (b->ms) == 2 &&
         hyphae_magicsock_has_derp_link (a->ms, 1, &a_up) && a_up &&
         hyphae_magicsock_has_derp_link (b->ms, 2, &b_up) && b_up;
}

/* Iterate the main loop until cond (or fail after 30 s: a hang guard). */
#define WAIT_FOR(cond, what)                                     \
  G_STMT_START                                                   \
  {                                                              \
    gint64 end_ = g_get_monotonic_time () + 30 * G_USEC_PER_SEC; \
    while (!(cond))                                              \
      {                                                          \
        if (g_get_monotonic_time () > end_)                      \
          g_error ("not within 30 s: %s", what);                 \
        g_main_context_iteration (NULL, FALSE);                  \
        g_usleep (1000);                                         \
      }                                                          \
  }                                                              \
  G_STMT_END

static void
test_magicsock_derp (void)
{
  const char *derper = g_getenv ("HYPHAE_DERPER");
  g_autofree char *dir = NULL;
  g_autoptr(GSubprocess) d1 = NULL, d2 = NULL;
  guint16 ports[4];
  g_autoptr(HyphaeNetmap) nm_a = NULL, nm_b = NULL;
  const char * const *eps;
  const guint *types = NULL;
  char stun_ep[64];
  gboolean have_stun = FALSE;
  PingWait w = { 0 };
  Node a = { 0 }, b = { 0 };

  if (!fixture_netns_ready (&ns))
    return;
  if (derper == NULL || !g_file_test (derper, G_FILE_TEST_IS_EXECUTABLE))
    {
      fixture_missing ("HYPHAE_DERPER (Tailscale's derper) is not set");
      return;
    }
  dir = g_dir_make_tmp ("magicsock-XXXXXX", NULL);
  ports[0] = free_udp_port ("127.0.0.1");
  ports[1] = free_udp_port ("127.0.0.1");
  ports[2] = free_udp_port ("127.0.0.2");
  ports[3] = free_udp_port ("127.0.0.2");
  d1 = start_derper (derper, dir, "127.0.0.1", ports[1], ports[0]);
  d2 = start_derper (derper, dir, "127.0.0.2", ports[3], ports[2]);
  node_init (&a, "hmsa0");
  node_init (&b, "hmsb0");
  /* A may only live in region 1 and B only in 2: a ping from A to B must
   * open A's connection to region 2. */
  nm_a = netmap_for (&a, &b, 2, 1, ports);
  nm_b = netmap_for (&b, &a, 1, 2, ports);
  hyphae_magicsock_set_netmap (a.ms, nm_a);
  hyphae_magicsock_set_netmap (b.ms, nm_b);
  WAIT_FOR (homes_up (&a, &b), "home regions 1 and 2 connected");
  g_assert_true (hyphae_magicsock_has_derp_link (a.ms, 1, NULL));
  g_assert_false (hyphae_magicsock_has_derp_link (a.ms, 2, NULL));

  /* STUN from the runner's socket: our reflexive address is an endpoint, type 2. */
  g_snprintf (stun_ep, sizeof stun_ep, "127.0.0.1:%u", wg_runner_get_listen_port (a.runner));
  eps = hyphae_magicsock_get_endpoints (a.ms, &types);
  for (guint i = 0; eps != NULL && eps[i] != NULL; i++)
    have_stun |= g_str_equal (eps[i], stun_ep) && types[i] == 2;
  g_assert_true (have_stun);
  g_assert_true (hyphae_magicsock_get_report (a.ms)->working_udp);

  /* No direct endpoints in the maps: the pong comes through B's home region. */
  hyphae_magicsock_ping_async (a.ms, b.node_pub, 20000, NULL, ping_done, &w);
  WAIT_FOR (w.done, "a pong from B");
  g_assert_no_error (w.error);
  g_assert_true (w.ok);
  g_assert_cmpint (w.res.path.derp_region, ==, 2);
  g_assert_cmpstr (w.res.path.derp_code, ==, "r2");
  g_assert_true (hyphae_magicsock_has_derp_link (a.ms, 2, NULL));

  /* Unused, region 2's connection closes; home stays. */
  hyphae_magicsock_set_derp_idle_for_testing (a.ms, 300);
  WAIT_FOR (!hyphae_magicsock_has_derp_link (a.ms, 2, NULL), "region 2's connection closed when idle");
  g_assert_true (hyphae_magicsock_has_derp_link (a.ms, 1, NULL));

  node_clear (&a);
  node_clear (&b);
  fixture_stop_pool_threads ();
  fixture_child_stop (d1);
  fixture_child_stop (d2);
  fixture_rm_rf (dir);
}

/* Ping needs no polkit, so anyone may ask: at most 64 wait for pongs, the
 * next is refused at once; a stopping engine ends the waiting ones. */
static void
test_magicsock_pings_bounded (void)
{
  char nk[sizeof KEY_PREFIX_NODE + KEY_HEX_LEN], pk[sizeof KEY_PREFIX_NODE + KEY_HEX_LEN];
  char dk[sizeof KEY_PREFIX_DISCO + KEY_HEX_LEN];
  g_autofree char *json = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeMapUpdate) up = NULL;
  g_autoptr(HyphaeNetmap) nm = NULL;
  PingWait w[HYPHAE_MAGICSOCK_PINGS_MAX + 1] = { 0 };
  Node a = { 0 }, silent = { 0 };

  if (!fixture_netns_ready (&ns))
    return;
  node_init (&a, "hmsp0");
  /* A peer that never answers: its one endpoint is the discard port. */
  key_generate_private (silent.node_priv);
  key_public_from_private (silent.node_pub, silent.node_priv);
  key_generate_private (silent.disco_priv);
  key_public_from_private (silent.disco_pub, silent.disco_priv);
  key_to_text (nk, sizeof nk, KEY_PREFIX_NODE, a.node_pub);
  key_to_text (pk, sizeof pk, KEY_PREFIX_NODE, silent.node_pub);
  key_to_text (dk, sizeof dk, KEY_PREFIX_DISCO, silent.disco_pub);
  json = g_strdup_printf ("{\"Node\":{\"ID\":1,\"StableID\":\"s1\",\"Key\":\"%s\",\"MachineAuthorized\":true},"
                          "\"Peers\":[{\"ID\":2,\"StableID\":\"s2\",\"Key\":\"%s\",\"DiscoKey\":\"%s\","
                          "\"Endpoints\":[\"127.0.0.1:9\"],\"Addresses\":[\"100.64.0.2/32\"],\"MachineAuthorized\":true}]}",
                          nk, pk, dk);
  up = hyphae_map_update_parse (json, strlen (json), &error);
  g_assert_no_error (error);
  nm = hyphae_netmap_apply (NULL, up, g_get_real_time () / G_USEC_PER_SEC, &error);
  g_assert_no_error (error);
  hyphae_magicsock_set_netmap (a.ms, nm);
  /* A peer that is not the machine's: NotFound. */
  {
    PingWait nf = { 0 };

    hyphae_magicsock_ping_async (a.ms, a.node_pub, 0, NULL, ping_done, &nf);
    WAIT_FOR (nf.done, "a ping to an unknown peer refused");
    g_assert_error (nf.error, HYPHAE_MAGICSOCK_ERROR, HYPHAE_MAGICSOCK_ERROR_NOT_FOUND);
    g_clear_error (&nf.error);
  }

  for (guint i = 0; i < G_N_ELEMENTS (w); i++)
    hyphae_magicsock_ping_async (a.ms, silent.node_pub, 60000, NULL, ping_done, &w[i]);
  WAIT_FOR (w[HYPHAE_MAGICSOCK_PINGS_MAX].done, "the ping past the bound refused");
  g_assert_error (w[HYPHAE_MAGICSOCK_PINGS_MAX].error, HYPHAE_MAGICSOCK_ERROR, HYPHAE_MAGICSOCK_ERROR_BUSY);
  for (guint i = 0; i < HYPHAE_MAGICSOCK_PINGS_MAX; i++)
    g_assert_false (w[i].done);
  g_object_run_dispose (G_OBJECT (a.ms));
  WAIT_FOR (w[0].done && w[HYPHAE_MAGICSOCK_PINGS_MAX - 1].done, "the waiting pings ended with the engine");
  for (guint i = 0; i < G_N_ELEMENTS (w); i++)
    {
      g_assert_true (w[i].done);
      g_assert_false (w[i].ok);
      g_clear_error (&w[i].error);
    }
  node_clear (&a);
}

int
main (int argc, char **argv)
{
  fixture_netns_init ();
  fixture_netns_setup (&ns, NULL);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/netcheck/regions", test_regions);
  g_test_add_func ("/netcheck/no-answer", test_no_answer);
  g_test_add_func ("/netcheck/pick-home", test_pick_home);
  g_test_add_func ("/magicsock/derp-on-demand", test_magicsock_derp);
  g_test_add_func ("/magicsock/pings-bounded", test_magicsock_pings_bounded);
  {
    int r = g_test_run ();

    fixture_netns_teardown (&ns, NULL);
    return r;
  }
}
