/* SPDX-License-Identifier: MIT */
/*
 * Tests for daemon/magicsock/hyphae-derp-conn against real derper (tailscale
 * v1.102.5, $HYPHAE_DERPER) and a DERP server that misbehaves on purpose
 * (tests/tailscale/cmd/hostile-derp, $HYPHAE_HOSTILE_DERP), all on loopback in a network namespace of the test's own.
 *
 *  /derp-conn/derper/insecure     two node keys exchange packets (InsecureForTests);
 *                                 PeerGone when one of them goes away
 *  /derp-conn/derper/pinned       CertName sha256-raw: the right pin works, a wrong one
 *                                 is refused (with InsecureForTests too, as Go's tlsClient)
 *  /derp-conn/derper/restart      derper killed and restarted: both reconnect, traffic resumes
 *  /derp-conn/hostile/MODE        bad magic, 2 GiB frame, silence (the read deadline),
 *                                 ServerInfo that does not open: a clear error, then the
 *                                 reconnect logs in; unknown frames skipped; Health; Restarting
 *  /derp-conn/hostile/node-order  nodes in order: STUN-only skipped, a refused one passed by
 *  /derp-conn/hostile/plain-http  TS_DEBUG_USE_DERP_HTTP=1 speaks plain HTTP
 *  /derp-conn/queue-bound         a burst past the write queue drops packets, never blocks,
 *                                 and every packet accepted arrives
 */
#include <string.h>

#include <gio/gio.h>

#include "crypto/keys.h"
#include "fixture-missing.h"
#include "fixture-netns.h"
#include "fixture-spawn.h"
#include "fixture-threads.h"
#include "hyphae-derp-conn.h"

#define DERPER_PORT "8443"
#define WAIT_S      30

static FixtureNetns netns;

static gboolean
tick_cb (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

/* Runs the main loop until cond holds; fails the test after secs. */
#define WAIT_FOR(cond, secs)                                                    \
  G_STMT_START                                                                  \
  {                                                                             \
    gint64 end_ = g_get_monotonic_time () + (gint64) (secs) *G_USEC_PER_SEC;    \
    guint tick_ = g_timeout_add (20, tick_cb, NULL);                            \
    while (!(cond))                                                             \
      {                                                                         \
        if (g_get_monotonic_time () > end_)                                     \
          g_error ("timed out after %d s waiting for %s", (int) (secs), #cond); \
        g_main_context_iteration (NULL, TRUE);                                  \
      }                                                                         \
    g_source_remove (tick_);                                                    \
  }                                                                             \
  G_STMT_END

/* ---- one DERP client under test ---------------------------------------------------- */

typedef struct {
  guint8 priv[KEY_LEN];
  guint8 pub[KEY_LEN];
  HyphaeDerpConn *conn;
  GPtrArray *rx;   /* GBytes: src ‖ data */
  GPtrArray *gone; /* GBytes: key */
} Node;

static void
on_packet (HyphaeDerpConn *conn,
           const guint8 src[HYPHAE_DERP_CONN_KEY_LEN],
           const guint8 *data,
           gsize len,
           gpointer user_data)
{
  Node *node = user_data;
  GByteArray *b = g_byte_array_new ();

  g_byte_array_append (b, src, KEY_LEN);
  g_byte_array_append (b, data, (guint) len);
  g_ptr_array_add (node->rx, g_byte_array_free_to_bytes (b));
}

static void
on_peer_gone (HyphaeDerpConn *conn,
              GBytes *key,
              guint reason,
              gpointer user_data)
{
  Node *node = user_data;

  g_test_message ("peer gone, reason %u", reason);
  g_ptr_array_add (node->gone, g_bytes_ref (key));
}

static HyphaeDerpRegion *
region_new (const char *port,
            const char *extra)
{
  g_autofree char *json = g_strdup_printf (
    "{\"Regions\":{\"900\":{\"RegionID\":900,\"RegionCode\":\"test\",\"RegionName\":\"Test\","
    "\"Nodes\":[{\"Name\":\"900a\",\"RegionID\":900,\"HostName\":\"127.0.0.1\","
    "\"IPv4\":\"127.0.0.1\",\"IPv6\":\"none\",\"STUNPort\":-1,\"DERPPort\":%s%s%s}]}}}",
    port, extra[0] ? "," : "", extra);
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeDerpMap) map = hyphae_derp_map_parse (json, strlen (json), &error);

  g_assert_no_error (error);
  return hyphae_derp_region_ref (hyphae_derp_map_lookup_region (map, 900));
}

static void
node_start (Node *node,
            HyphaeDerpRegion *region)
{
  memset (node, 0, sizeof *node);
  key_generate_private (node->priv);
  g_assert_true (key_public_from_private (node->pub, node->priv));
  node->rx = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  node->gone = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  node->conn = hyphae_derp_conn_new (region, node->priv, on_packet, node, NULL);
  g_signal_connect (node->conn, "peer-gone", G_CALLBACK (on_peer_gone), node);
}

static void
node_stop (Node *node)
{
  if (node->conn != NULL)
    {
      hyphae_derp_conn_close (node->conn);
      /* Let the cancelled operations finish: they hold references. */
      WAIT_FOR (G_OBJECT (node->conn)->ref_count == 1, WAIT_S);
      g_clear_object (&node->conn);
    }
  g_clear_pointer (&node->rx, g_ptr_array_unref);
  g_clear_pointer (&node->gone, g_ptr_array_unref);
}

/* Whether node received data from src (any packet so far). */
static gboolean
has_packet (Node *node,
            const guint8 *src,
            const char *data)
{
  for (guint i = 0; i < node->rx->len; i++)
    {
      gsize len;
      const guint8 *p = g_bytes_get_data (node->rx->pdata[i], &len);

      if (len == KEY_LEN + strlen (data) && memcmp (p, src, KEY_LEN) == 0 &&
          memcmp (p + KEY_LEN, data, strlen (data)) == 0)
        return TRUE;
    }
  return FALSE;
}

static gboolean
health_has (Node *node,
            const char *text)
{
  return strstr (hyphae_derp_conn_get_health (node->conn), text) != NULL;
}

static void
exchange (Node *a,
          Node *b,
          const char *tag)
{
  g_autofree char *ab = g_strdup_printf ("a to b %s", tag);
  g_autofree char *ba = g_strdup_printf ("b to a %s", tag);

  WAIT_FOR (hyphae_derp_conn_get_connected (a->conn) && hyphae_derp_conn_get_connected (b->conn),
            WAIT_S);
  /* derper may deliver before it has registered the peer: resend until it arrives. */
  WAIT_FOR ((hyphae_derp_conn_send (a->conn, b->pub, (const guint8 *) ab, strlen (ab)),
             has_packet (b, a->pub, ab)),
            WAIT_S);
  WAIT_FOR ((hyphae_derp_conn_send (b->conn, a->pub, (const guint8 *) ba, strlen (ba)),
             has_packet (a, b->pub, ba)),
            WAIT_S);
}

/* ---- servers ------------------------------------------------------------------------- */

typedef struct {
  char *dir;
  char *log;
  GSubprocess *proc;
} Server;

/* The text after prefix in the server's log, up to a quote, space or line end. */
static char *
log_value (Server *s,
           const char *prefix)
{
  g_autofree char *text = NULL;
  const char *p;

  if (!g_file_get_contents (s->log, &text, NULL, NULL))
    return NULL;
  p = strstr (text, prefix);
  if (p == NULL)
    return NULL;
  p += strlen (prefix);
  return g_strndup (p, strcspn (p, "\" \n"));
}

static void
server_run (Server *s,
            const char *cmdline)
{
  g_autofree char *sh = g_strdup_printf ("exec %s >>%s 2>&1", cmdline, s->log);
  const char * const argv[] = { "sh", "-c", sh, NULL };
  g_autoptr(GError) error = NULL;

  s->proc = fixture_child_new (G_SUBPROCESS_FLAGS_NONE, argv, &error);
  g_assert_no_error (error);
}

static void
server_stop (Server *s)
{
  if (s->proc != NULL)
    fixture_child_stop (s->proc);
  g_clear_object (&s->proc);
}

static void
server_clear (Server *s)
{
  server_stop (s);
  if (s->dir != NULL)
    fixture_rm_rf (s->dir);
  g_clear_pointer (&s->dir, g_free);
  g_clear_pointer (&s->log, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Server, server_clear)

static void
server_init (Server *s)
{
  g_autoptr(GError) error = NULL;

  memset (s, 0, sizeof *s);
  s->dir = g_dir_make_tmp ("hyphae-derp-conn-XXXXXX", &error);
  g_assert_no_error (error);
  s->log = g_build_filename (s->dir, "server.log", NULL);
}

static gboolean
derper_start (Server *s)
{
  const char *derper = g_getenv ("HYPHAE_DERPER");
  g_autofree char *cmd = NULL;

  if (derper == NULL || !g_file_test (derper, G_FILE_TEST_IS_EXECUTABLE))
    {
      fixture_missing ("HYPHAE_DERPER does not name derper (tailscale.com/cmd/derper, built by "
                       "tests/tailscale)");
      return FALSE;
    }
  cmd = g_strdup_printf ("'%s' -a 127.0.0.1:" DERPER_PORT " -certmode manual -certdir '%s' "
                         "-hostname 127.0.0.1 -http-port -1 -stun-port -1 -c '%s/derper.key'",
                         derper, s->dir, s->dir);
  server_run (s, cmd);
  return TRUE;
}

/* derper logs the DERPNode JSON of its self-signed certificate. */
static char *
derper_cert_name (Server *s)
{
  char *pin = NULL;

  WAIT_FOR ((pin = log_value (s, "\"CertName\":\"")) != NULL, WAIT_S);
  g_test_message ("derper CertName %s", pin);
  return pin;
}

static const char *
need_hostile (void)
{
  const char *bin = g_getenv ("HYPHAE_HOSTILE_DERP");

  if (bin == NULL || !g_file_test (bin, G_FILE_TEST_IS_EXECUTABLE))
    {
      fixture_missing ("HYPHAE_HOSTILE_DERP does not name hostile-derp (built by "
                       "tests/tailscale/cmd/hostile-derp with Go >= 1.26)");
      return NULL;
    }
  return bin;
}

/* Starts hostile-derp in mode; *port and *pin from its first lines. */
static gboolean
hostile_start (Server *s,
               const char *mode,
               gboolean plain,
               char **port,
               char **pin)
{
  const char *bin = need_hostile ();
  g_autofree char *cmd = NULL;
  g_autofree char *addr = NULL;

  if (bin == NULL)
    return FALSE;
  cmd = g_strdup_printf ("'%s' -a 127.0.0.1:0 -hostname 127.0.0.1 -mode %s%s", bin, mode,
                         plain ? " -http" : "");
  server_run (s, cmd);
  WAIT_FOR ((addr = log_value (s, "listening ")) != NULL, WAIT_S);
  *port = g_strdup (strrchr (addr, ':') + 1);
  if (pin != NULL)
    WAIT_FOR ((*pin = log_value (s, "certname sha256-raw:")) != NULL, WAIT_S);
  return TRUE;
}

/* ---- against derper ------------------------------------------------------------------ */

static void
test_derper_insecure (void)
{
  g_auto(Server) s = { 0 };
  g_autoptr(HyphaeDerpRegion) region = NULL;
  Node a, b;

  if (!fixture_netns_ready (&netns))
    return;
  server_init (&s);
  if (!derper_start (&s))
    return;
  region = region_new (DERPER_PORT, "\"InsecureForTests\":true");
  node_start (&a, region);
  node_start (&b, region);
  hyphae_derp_conn_set_preferred (a.conn, TRUE);
  exchange (&a, &b, "insecure");
  g_assert_cmpstr (hyphae_derp_conn_get_health (a.conn), ==, "");
  g_assert_cmpuint (hyphae_derp_conn_get_n_connects (a.conn), ==, 1);

  /* b leaves: derper tells a, which sent to it. */
  node_stop (&b);
  WAIT_FOR (a.gone->len > 0, WAIT_S);
  g_assert_cmpmem (g_bytes_get_data (a.gone->pdata[0], NULL), KEY_LEN, b.pub, KEY_LEN);
  g_assert_true (hyphae_derp_conn_get_connected (a.conn));
  node_stop (&a);
}

static void
test_derper_pinned (void)
{
  g_auto(Server) s = { 0 };
  g_autofree char *pin = NULL;
  g_autofree char *extra = NULL;
  g_autoptr(HyphaeDerpRegion) right = NULL;
  g_autoptr(HyphaeDerpRegion) wrong = NULL;
  g_autoptr(HyphaeDerpRegion) wrong_insecure = NULL;
  const char *bad = "\"CertName\":\"sha256-raw:"
                    "0000000000000000000000000000000000000000000000000000000000000000\"";
  Node a, b, c, d;

  if (!fixture_netns_ready (&netns))
    return;
  server_init (&s);
  if (!derper_start (&s))
    return;
  pin = derper_cert_name (&s);
  g_assert_true (g_str_has_prefix (pin, "sha256-raw:"));
  extra = g_strdup_printf ("\"CertName\":\"%s\"", pin);
  right = region_new (DERPER_PORT, extra);
  node_start (&a, right);
  node_start (&b, right);
  exchange (&a, &b, "pinned");

  wrong = region_new (DERPER_PORT, bad);
  node_start (&c, wrong);
  WAIT_FOR (health_has (&c, "not the CertName pin"), WAIT_S);
  g_test_message ("wrong pin: %s", hyphae_derp_conn_get_health (c.conn));
  g_assert_false (hyphae_derp_conn_get_connected (c.conn));

  g_free (extra);
  extra = g_strdup_printf ("%s,\"InsecureForTests\":true", bad);
  wrong_insecure = region_new (DERPER_PORT, extra);
  node_start (&d, wrong_insecure);
  WAIT_FOR (health_has (&d, "not the CertName pin"), WAIT_S);
  g_assert_false (hyphae_derp_conn_get_connected (d.conn));
  g_assert_cmpuint (hyphae_derp_conn_get_n_connects (c.conn), ==, 0);
  g_assert_cmpuint (hyphae_derp_conn_get_n_connects (d.conn), ==, 0);

  node_stop (&a);
  node_stop (&b);
  node_stop (&c);
  node_stop (&d);
}

static void
test_derper_restart (void)
{
  g_auto(Server) s = { 0 };
  g_autoptr(HyphaeDerpRegion) region = NULL;
  gint64 started;
  Node a, b;

  if (!fixture_netns_ready (&netns))
    return;
  server_init (&s);
  if (!derper_start (&s))
    return;
  region = region_new (DERPER_PORT, "\"InsecureForTests\":true");
  node_start (&a, region);
  node_start (&b, region);
  exchange (&a, &b, "before");

  server_stop (&s);
  WAIT_FOR (!hyphae_derp_conn_get_connected (a.conn) && !hyphae_derp_conn_get_connected (b.conn),
            WAIT_S);
  g_test_message ("while derper is down: %s", hyphae_derp_conn_get_health (a.conn));

  g_assert_true (derper_start (&s));
  started = g_get_monotonic_time ();
  WAIT_FOR (hyphae_derp_conn_get_connected (a.conn) && hyphae_derp_conn_get_connected (b.conn),
            WAIT_S);
  g_test_message ("both back %" G_GINT64_FORMAT " ms after derper restarted",
                  (g_get_monotonic_time () - started) / 1000);
  g_assert_cmpuint (hyphae_derp_conn_get_n_connects (a.conn), ==, 2);
  g_assert_cmpuint (hyphae_derp_conn_get_n_connects (b.conn), ==, 2);
  exchange (&a, &b, "after");
  node_stop (&a);
  node_stop (&b);
}

/* ---- against hostile-derp --------------------------------------------------------------- */

typedef struct {
  const char *mode;
  const char *health; /* what the client must say */
  guint read_timeout_ms;
  guint n_connects; /* logins, the misbehaving connection's included */
} HostileCase;

static const HostileCase hostile_cases[] = {
  { "bad-magic", "malformed frame", 0, 1 },
  { "huge-frame", "larger than the 1 MiB limit", 0, 2 },
  /* The good session's KeepAlives (every 250 ms) keep it within the deadline. */
  { "silence", "read deadline", 1000, 1 },
  { "bad-serverinfo", "ServerInfo does not open", 0, 1 },
};

static const guint8 marker_key[KEY_LEN] = {
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
  0x11,
};
static const guint8 unknown_src[KEY_LEN] = {
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
  0x22,
};

/* A pinned region at the hostile server. */
static HyphaeDerpRegion *
hostile_region (const char *port,
                const char *pin)
{
  g_autofree char *extra = pin != NULL ? g_strdup_printf ("\"CertName\":\"sha256-raw:%s\"", pin)
                                       : g_strdup ("");

  return region_new (port, extra);
}

/* A good session: the server's Ping was answered ("pong ok"), and it echoes. */
static void
check_good_session (Node *n)
{
  WAIT_FOR (hyphae_derp_conn_get_connected (n->conn), WAIT_S);
  WAIT_FOR (has_packet (n, marker_key, "pong ok"), WAIT_S);
  g_assert_true (hyphae_derp_conn_send (n->conn, n->pub, (const guint8 *) "echo", 4));
  WAIT_FOR (has_packet (n, n->pub, "echo"), WAIT_S);
}

/* hostile-derp in mode and one client of it (pinned, or over plain HTTP);
 * FALSE when the test was skipped. */
static gboolean
hostile_node_start (Server *s,
                    const char *mode,
                    gboolean plain,
                    Node *n)
{
  g_autofree char *port = NULL;
  g_autofree char *pin = NULL;
  g_autoptr(HyphaeDerpRegion) region = NULL;

  if (!fixture_netns_ready (&netns))
    return FALSE;
  server_init (s);
  if (!hostile_start (s, mode, plain, &port, plain ? NULL : &pin))
    return FALSE;
  region = hostile_region (port, pin);
  node_start (n, region);
  return TRUE;
}

static void
test_hostile (gconstpointer data)
{
  const HostileCase *hc = data;
  g_auto(Server) s = { 0 };
  Node n;

  if (!hostile_node_start (&s, hc->mode, FALSE, &n))
    return;
  if (hc->read_timeout_ms != 0)
    hyphae_derp_conn_set_read_timeout (n.conn, hc->read_timeout_ms);

  /* The first connection misbehaves: a clear error, then the next one (good) logs in. */
  WAIT_FOR (health_has (&n, hc->health), WAIT_S);
  g_test_message ("%s: %s", hc->mode, hyphae_derp_conn_get_health (n.conn));
  check_good_session (&n);
  g_assert_cmpstr (hyphae_derp_conn_get_health (n.conn), ==, "");
  g_assert_cmpuint (hyphae_derp_conn_get_n_connects (n.conn), ==, hc->n_connects);
  node_stop (&n);
}

static void
test_hostile_unknown_frames (void)
{
  g_auto(Server) s = { 0 };
  Node n;

  if (!hostile_node_start (&s, "unknown-frames", FALSE, &n))
    return;
  check_good_session (&n);
  /* Unknown types (one of 70,000 bytes) around them were skipped, in order. */
  g_assert_true (has_packet (&n, unknown_src, "one"));
  g_assert_true (has_packet (&n, unknown_src, "two"));
  g_assert_cmpuint (hyphae_derp_conn_get_n_connects (n.conn), ==, 1);
  node_stop (&n);
}

static void
test_hostile_health (void)
{
  g_auto(Server) s = { 0 };
  Node n;

  if (!hostile_node_start (&s, "health", FALSE, &n))
    return;
  WAIT_FOR (has_packet (&n, marker_key, "pong ok"), WAIT_S);
  g_assert_cmpstr (hyphae_derp_conn_get_health (n.conn), ==, "hostile: degraded");
  g_assert_true (hyphae_derp_conn_get_connected (n.conn));
  node_stop (&n);
}

static void
test_hostile_restarting (void)
{
  g_auto(Server) s = { 0 };
  Node n;

  if (!hostile_node_start (&s, "restarting", FALSE, &n))
    return;
  /* Logged in, told "restarting", dropped: back on the next connection. */
  WAIT_FOR (hyphae_derp_conn_get_n_connects (n.conn) == 2, WAIT_S);
  check_good_session (&n);
  node_stop (&n);
}

/* Nodes in the map's order: a STUN-only one skipped (dialled, its wrong pin
 * would fail the attempt), a refused one passed by. */
static void
test_hostile_node_order (void)
{
  g_auto(Server) s = { 0 };
  g_autofree char *port = NULL;
  g_autofree char *pin = NULL;
  g_autofree char *json = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeDerpMap) map = NULL;
  Node n;

  if (!fixture_netns_ready (&netns))
    return;
  server_init (&s);
  if (!hostile_start (&s, "good", FALSE, &port, &pin))
    return;
  json = g_strdup_printf (
    "{\"Regions\":{\"900\":{\"RegionCode\":\"test\",\"Nodes\":["
    "{\"Name\":\"stun\",\"HostName\":\"127.0.0.1\",\"STUNOnly\":true,\"DERPPort\":%s,"
    "\"CertName\":\"sha256-raw:00\"},"
    "{\"Name\":\"refused\",\"HostName\":\"127.0.0.1\",\"IPv6\":\"none\",\"DERPPort\":1},"
    "{\"Name\":\"good\",\"HostName\":\"127.0.0.1\",\"IPv6\":\"none\",\"DERPPort\":%s,"
    "\"CertName\":\"sha256-raw:%s\"}]}}}",
    port, port, pin);
  map = hyphae_derp_map_parse (json, strlen (json), &error);
  g_assert_no_error (error);
  node_start (&n, hyphae_derp_map_lookup_region (map, 900));
  check_good_session (&n);
  g_assert_cmpuint (hyphae_derp_conn_get_n_connects (n.conn), ==, 1);
  node_stop (&n);
}

/* In a subprocess of its own, whose main() set TS_DEBUG_USE_DERP_HTTP before
 * any thread existed (setenv is not thread-safe). */
static void
test_hostile_plain_http (void)
{
  g_auto(Server) s = { 0 };
  Node n;

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }
  if (!hostile_node_start (&s, "good", TRUE, &n))
    return;
  check_good_session (&n);
  node_stop (&n);
}

static void
test_queue_bound (void)
{
  g_auto(Server) s = { 0 };
  guint8 packet[1200];
  guint accepted = 0, dropped = 0;
  Node n;

  if (!hostile_node_start (&s, "good", FALSE, &n))
    return;
  check_good_session (&n);
  g_ptr_array_set_size (n.rx, 0);

  /* Without the main loop running nothing drains: the queue must refuse. */
  memset (packet, 0x5a, sizeof packet);
  for (guint i = 0; i < 2000; i++)
    {
      if (hyphae_derp_conn_send (n.conn, n.pub, packet, sizeof packet))
        accepted++;
      else
        dropped++;
    }
  g_test_message ("accepted %u, dropped %u", accepted, dropped);
  g_assert_cmpuint (dropped, >, 0);
  g_assert_cmpuint (accepted, <=, HYPHAE_DERP_CONN_QUEUE_MAX / sizeof packet);
  g_assert_false (hyphae_derp_conn_send (n.conn, n.pub, packet, 64 * 1024 + 1));

  /* Every accepted packet goes out whole and comes back. */
  WAIT_FOR (n.rx->len == accepted, WAIT_S);
  g_assert_true (hyphae_derp_conn_get_connected (n.conn));
  g_assert_cmpuint (hyphae_derp_conn_get_n_connects (n.conn), ==, 1);
  node_stop (&n);
}

int
main (int argc,
      char **argv)
{
  int ret;

  /* One namespace for the program: derper and hostile-derp run in it too. */
  fixture_netns_init ();
  fixture_netns_setup (&netns, NULL);
  g_test_init (&argc, &argv, NULL);
  if (g_test_subprocess ())
    g_setenv ("TS_DEBUG_USE_DERP_HTTP", "1", TRUE);

  g_test_add_func ("/derp-conn/derper/insecure", test_derper_insecure);
  g_test_add_func ("/derp-conn/derper/pinned", test_derper_pinned);
  g_test_add_func ("/derp-conn/derper/restart", test_derper_restart);
  for (guint i = 0; i < G_N_ELEMENTS (hostile_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/derp-conn/hostile/%s", hostile_cases[i].mode);

      g_test_add_data_func (path, &hostile_cases[i], test_hostile);
    }
  g_test_add_func ("/derp-conn/hostile/unknown-frames", test_hostile_unknown_frames);
  g_test_add_func ("/derp-conn/hostile/health", test_hostile_health);
  g_test_add_func ("/derp-conn/hostile/restarting", test_hostile_restarting);
  g_test_add_func ("/derp-conn/hostile/node-order", test_hostile_node_order);
  g_test_add_func ("/derp-conn/hostile/plain-http", test_hostile_plain_http);
  g_test_add_func ("/derp-conn/queue-bound", test_queue_bound);

  ret = g_test_run ();
  /* The pool threads that ran TLS handshakes hold gnutls's dynamic TLS
   * blocks, which gcc 12's LeakSanitizer misreads at exit now and then. */
  fixture_stop_pool_threads ();
  fixture_netns_teardown (&netns, NULL);
  return ret;
}
