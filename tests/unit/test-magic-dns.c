/* SPDX-License-Identifier: MIT */
/*
 * Tests for daemon/dns (HyphaeMagicDns and its upstream plan), with real
 * sockets: queries go in as the runner hands them over (whole IP packets to
 * 100.100.100.100:53 or [fd7a:115c:a1e0::53]:53), answers come out of the
 * inject function; upstreams are real UDP, TCP and HTTP servers on loopback.
 *
 *  /magic-dns/plan            routing decisions: routes, default resolvers, exit node DoH and
 *                             UseWithExitNode, WireGuard-only exit resolvers, FallbackResolvers,
 *                             the OS's fallback, CorpDNS off
 *  /magic-dns/local           netmap names (FQDN, bare, IPv6 transport), PTR of 100.x and fd7a,
 *                             NXDOMAIN under the suffix, ExtraRecords, AAAA only with magicdns-aaaa,
 *                             names under a node with dns-subdomain-resolve
 *  /magic-dns/corp-dns-off    names and ExtraRecords still answered; the suffix is no zone and
 *                             nothing is forwarded (SERVFAIL), as tailscaled
 *  /magic-dns/servfail        no route and no resolver: SERVFAIL; before any update: SERVFAIL
 *  /magic-dns/split-udp       a split route's UDP resolver answers, with the client's ID
 *  /magic-dns/tcp-retry       a truncated UDP answer is asked again over TCP
 *  /magic-dns/upstream-fails  SERVFAIL and REFUSED upstream answers
 *  /magic-dns/fallback        the OS's nameservers when there is no default, ours skipped
 *  /magic-dns/exit-doh        through an exit node: its peerapi DoH (a real HTTP server)
 *  /magic-dns/forward-race   no UDP answer: TCP beside it after HYPHAE_DNS_FORWARD_UDP_RACE_MS
 *  /magic-dns/forward-timeout  nothing answers: SERVFAIL and G_IO_ERROR_TIMED_OUT at the timeout
 *  /magic-dns/inflight        past HYPHAE_MAGIC_DNS_INFLIGHT_MAX: SERVFAIL at once; disposing
 *                             with queries in flight is clean
 *  /magic-dns/malformed       garbage, truncated packets, responses: dropped; a bad question:
 *                             FORMERR; never a crash
 */
#include <arpa/inet.h>
#include <libsoup/soup.h>
#include <string.h>
#include <sys/socket.h>

#include "hyphae-dns-forward.h"
#include "hyphae-dns-plan.h"
#include "hyphae-magic-dns.h"

#define SUFFIX   "tail1.ts.test"
#define KEY_SELF "nodekey:1111111111111111111111111111111111111111111111111111111111111111"
#define KEY_PEER "nodekey:2222222222222222222222222222222222222222222222222222222222222222"
#define KEY_EXIT "nodekey:3333333333333333333333333333333333333333333333333333333333333333"
#define WAIT_S   30 /* a hang guard, not a delay */

/* ---- queries and answers -------------------------------------------------------- */

static GByteArray *
dns_query (guint16 id,
           const char *name,
           guint16 qtype)
{
  GByteArray *m = g_byte_array_new ();
  guint8 hdr[12] = { id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };
  g_auto(GStrv) labels = g_strsplit (name, ".", -1);
  guint8 tail[4] = { qtype >> 8, qtype & 0xff, 0, 1 };

  g_byte_array_append (m, hdr, sizeof hdr);
  for (guint i = 0; labels[i] != NULL; i++)
    {
      guint8 l = (guint8) strlen (labels[i]);

      if (l == 0)
        continue;
      g_byte_array_append (m, &l, 1);
      g_byte_array_append (m, (const guint8 *) labels[i], l);
    }
  g_byte_array_append (m, (const guint8 *) "", 1);
  g_byte_array_append (m, tail, sizeof tail);
  return m;
}

/* An IP packet from src:sport to the service address (v4 or v6), port 53. */
static GByteArray *
ip_wrap (const char *src,
         guint16 sport,
         const guint8 *payload,
         gsize len)
{
  GByteArray *p = g_byte_array_new ();
  guint8 udp[8] = { sport >> 8, sport & 0xff, 0, 53, (len + 8) >> 8, (len + 8) & 0xff, 0, 0 };

  if (strchr (src, ':') == NULL)
    {
      guint8 h[20] = { 0x45, 0, (20 + 8 + len) >> 8, (20 + 8 + len) & 0xff, 0, 0, 0, 0, 64, 17 };

      inet_pton (AF_INET, src, h + 12);
      inet_pton (AF_INET, HYPHAE_DNS_SERVICE_IPV4, h + 16);
      g_byte_array_append (p, h, sizeof h);
    }
  else
    {
      guint8 h[40] = { 0x60, 0, 0, 0, (8 + len) >> 8, (8 + len) & 0xff, 17, 64 };

      inet_pton (AF_INET6, src, h + 8);
      inet_pton (AF_INET6, HYPHAE_DNS_SERVICE_IPV6, h + 24);
      g_byte_array_append (p, h, sizeof h);
    }
  g_byte_array_append (p, udp, sizeof udp);
  g_byte_array_append (p, payload, len);
  return p;
}

typedef struct {
  guint8 rcode;
  gboolean tc;
  guint16 id;
  guint ancount;
  char addrs[8][INET6_ADDRSTRLEN]; /* A / AAAA answers */
  guint n_addrs;
  char ptr[256];
  char dst[INET6_ADDRSTRLEN]; /* the IP packet's destination */
} Answer;

/* A name at off (labels or pointers, bounded) into out; returns FALSE on junk. */
static gboolean
read_name (const guint8 *m,
           gsize len,
           gsize *off,
           char *out,
           gsize cap)
{
  gsize o = *off, n = 0;
  gboolean jumped = FALSE;

  for (int hops = 0; hops < 32 && o < len;)
    {
      guint8 l = m[o];

      if (l == 0)
        {
          if (!jumped)
            *off = o + 1;
          if (n > 0)
            n--; /* the last dot */
          out[n] = '\0';
          return TRUE;
        }
      if ((l & 0xc0) == 0xc0)
        {
          if (o + 1 >= len)
            return FALSE;
          if (!jumped)
            *off = o + 2;
          jumped = TRUE;
          hops++;
          o = (gsize) ((l & 0x3f) << 8 | m[o + 1]);
          continue;
        }
      if (o + 1 + l > len || n + l + 2 > cap)
        return FALSE;
      memcpy (out + n, m + o + 1, l);
      n += l;
      out[n++] = '.';
      o += 1 + l;
    }
  return FALSE;
}

static void
parse_answer (GBytes *pkt,
              Answer *a)
{
  gsize plen, hl, len, off = 12;
  const guint8 *p = g_bytes_get_data (pkt, &plen);
  const guint8 *m;
  char name[256];

  memset (a, 0, sizeof *a);
  g_assert_cmpuint (plen, >=, 28);
  if ((p[0] >> 4) == 4)
    {
      hl = (gsize) (p[0] & 0xf) * 4;
      inet_ntop (AF_INET, p + 16, a->dst, sizeof a->dst);
    }
  else
    {
      hl = 40;
      inet_ntop (AF_INET6, p + 24, a->dst, sizeof a->dst);
    }
  m = p + hl + 8;
  len = plen - hl - 8;
  g_assert_cmpuint (len, >=, 12);
  if (g_getenv ("DUMP"))
    {
      for (gsize i = 0; i < plen; i++)
        g_printerr ("%02x%s", p[i], i % 16 == 15 ? "\n" : " ");
      g_printerr ("\n");
    }
  a->id = (guint16) (m[0] << 8 | m[1]);
  a->tc = (m[2] & 0x02) != 0;
  a->rcode = m[3] & 0xf;
  a->ancount = (guint) (m[6] << 8 | m[7]);
  if (m[5] == 1) /* FORMERR answers may have no question */
    {
      g_assert_true (read_name (m, len, &off, name, sizeof name));
      off += 4;
    }
  for (guint i = 0; i < a->ancount; i++)
    {
      guint16 type, rdlen;

      g_assert_true (read_name (m, len, &off, name, sizeof name));
      g_assert_cmpuint (off + 10, <=, len);
      type = (guint16) (m[off] << 8 | m[off + 1]);
      rdlen = (guint16) (m[off + 8] << 8 | m[off + 9]);
      off += 10;
      g_assert_cmpuint (off + rdlen, <=, len);
      if ((type == 1 && rdlen == 4) || (type == 28 && rdlen == 16))
        {
          g_assert_cmpuint (a->n_addrs, <, G_N_ELEMENTS (a->addrs));
          inet_ntop (type == 1 ? AF_INET : AF_INET6, m + off, a->addrs[a->n_addrs++], INET6_ADDRSTRLEN);
        }
      else if (type == 12)
        {
          gsize o = off;

          g_assert_true (read_name (m, len, &o, a->ptr, sizeof a->ptr));
        }
      off += rdlen;
    }
}

/* ---- the object under test ----------------------------------------------------------- */

typedef struct {
  HyphaeMagicDns *dns;
  GPtrArray *out; /* GBytes: injected packets */
  guint16 next_id;
} Fixture;

static int
inject_cb (const guint8 *pkt,
           gsize len,
           gpointer user_data)
{
  Fixture *fx = user_data;

  g_ptr_array_add (fx->out, g_bytes_new (pkt, len));
  return 0;
}

static void
fixture_init (Fixture *fx)
{
  fx->out = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  fx->dns = hyphae_magic_dns_new (inject_cb, fx);
  fx->next_id = 0x1000;
}

static void
fixture_clear (Fixture *fx)
{
  g_clear_object (&fx->dns);
  /* Cancelled forwards finish on the loop: let them, so LSan sees no leak. */
  for (int i = 0; i < 200 && g_main_context_iteration (NULL, FALSE); i++)
    ;
  g_ptr_array_unref (fx->out);
}

static gboolean
timeout_flag_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Run the loop until n answers are out (a hang guard of WAIT_S). */
static void
wait_out (Fixture *fx,
          guint n)
{
  gboolean late = FALSE;
  guint id = g_timeout_add_seconds (WAIT_S, timeout_flag_cb, &late);

  while (fx->out->len < n && !late)
    g_main_context_iteration (NULL, TRUE);
  if (!late)
    g_source_remove (id);
  g_assert_cmpuint (fx->out->len, >=, n);
}

/* One query from src (100.64.0.1 by default) and its answer. */
static void
ask_from (Fixture *fx,
          const char *src,
          const char *name,
          guint16 qtype,
          Answer *a)
{
  guint16 id = fx->next_id++;
  g_autoptr(GByteArray) q = dns_query (id, name, qtype);
  g_autoptr(GByteArray) pkt = ip_wrap (src, 40000, q->data, q->len);
  guint before = fx->out->len;

  hyphae_magic_dns_handle_query_packet (fx->dns, pkt->data, pkt->len);
  wait_out (fx, before + 1);
  g_assert_cmpuint (fx->out->len, ==, before + 1);
  parse_answer (g_ptr_array_index (fx->out, before), a);
  g_assert_cmpuint (a->id, ==, id);
  g_assert_cmpstr (a->dst, ==, src);
}

static void
ask (Fixture *fx,
     const char *name,
     guint16 qtype,
     Answer *a)
{
  ask_from (fx, "100.64.0.1", name, qtype, a);
}

/* The netmap: self 100.64.0.1 + fd7a:115c:a1e0::1, a peer, an exit-node-
 * capable peer; extra is spliced into the self node (CapMap, say). */
static HyphaeNetmap *
netmap_new (const char *self_extra,
            int exit_peerapi_port)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *json = g_strdup_printf (
    "{\"Node\":{\"ID\":1,\"StableID\":\"s1\",\"Name\":\"self." SUFFIX ".\",\"Key\":\"" KEY_SELF "\","
    "\"Addresses\":[\"100.64.0.1/32\",\"fd7a:115c:a1e0::1/128\"]%s},"
    "\"Peers\":[{\"ID\":2,\"StableID\":\"s2\",\"Name\":\"Peer." SUFFIX ".\",\"Key\":\"" KEY_PEER "\","
    "\"Addresses\":[\"100.64.0.2/32\",\"fd7a:115c:a1e0::2/128\"]},"
    "{\"ID\":3,\"StableID\":\"s3\",\"Name\":\"exit." SUFFIX ".\",\"Key\":\"" KEY_EXIT "\",\"Cap\":130,"
    "\"Addresses\":[\"127.0.0.1/32\"],\"AllowedIPs\":[\"127.0.0.1/32\",\"0.0.0.0/0\",\"::/0\"],"
    "\"Hostinfo\":{\"Services\":[{\"Proto\":\"peerapi4\",\"Port\":%d}]}}]}",
    self_extra, exit_peerapi_port);
  g_autoptr(HyphaeMapUpdate) update = hyphae_map_update_parse (json, strlen (json), &error);
  HyphaeNetmap *nm;

  g_assert_no_error (error);
  nm = hyphae_netmap_apply (NULL, update, 1759276800, &error);
  g_assert_no_error (error);
  return nm;
}

static HyphaeDnsConfig *
config_new (const char *json)
{
  g_autoptr(GError) error = NULL;
  HyphaeDnsConfig *c = hyphae_dns_config_parse (json, &error);

  g_assert_no_error (error);
  return c;
}

static void
update (Fixture *fx,
        const char *self_extra,
        const char *config_json,
        gboolean corp_dns,
        gboolean use_exit,
        int exit_port)
{
  g_autoptr(HyphaeNetmap) nm = netmap_new (self_extra, exit_port);
  g_autoptr(HyphaeDnsConfig) c = config_json ? config_new (config_json) : NULL;

  hyphae_magic_dns_update (fx->dns, nm, c, corp_dns, use_exit ? hyphae_netmap_get_peer (nm, 1) : NULL);
}

/* ---- upstream servers on loopback ---------------------------------------------------- */

typedef enum {
  UP_ANSWER,   /* A 192.0.2.<n> */
  UP_TRUNCATE, /* UDP: TC and no records; TCP: the answer */
  UP_SILENT,
  UP_SERVFAIL,
  UP_REFUSED,
} UpMode;

typedef struct {
  UpMode mode;
  guint8 last_octet;
  GSocket *udp;
  GSource *source;
  GSocketService *tcp;
  guint16 port;
  gint udp_queries;
  gint tcp_queries;
} Upstream;

/* The answer to query q (header and question copied). */
static GByteArray *
up_answer (Upstream *up,
           const guint8 *q,
           gsize len,
           gboolean over_tcp)
{
  GByteArray *a = g_byte_array_new ();
  gsize off = 12;
  guint8 rr[16] = { 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, up->last_octet };

  while (off < len && q[off] != 0)
    off += 1 + q[off];
  off += 5;
  g_assert_cmpuint (off, <=, len);
  g_byte_array_append (a, q, off);
  a->data[2] |= 0x80;
  a->data[3] = 0x80;
  a->data[6] = a->data[7] = a->data[8] = a->data[9] = a->data[10] = a->data[11] = 0;
  switch (up->mode)
    {
    case UP_SERVFAIL:
      a->data[3] |= 2;
      break;
    case UP_REFUSED:
      a->data[3] |= 5;
      break;
    case UP_TRUNCATE:
      if (!over_tcp)
        {
          a->data[2] |= 0x02;
          break;
        }
      G_GNUC_FALLTHROUGH;
    case UP_ANSWER:
    case UP_SILENT:
    default:
      a->data[7] = 1;
      g_byte_array_append (a, rr, sizeof rr);
      break;
    }
  return a;
}

static gboolean
up_udp_cb (GSocket *socket,
           GIOCondition condition,
           gpointer user_data)
{
  Upstream *up = user_data;
  guint8 buf[4096];
  GSocketAddress *from = NULL;
  gssize n = g_socket_receive_from (socket, &from, (char *) buf, sizeof buf, NULL, NULL);

  if (n >= 12)
    {
      g_atomic_int_inc (&up->udp_queries);
      if (up->mode != UP_SILENT)
        {
          g_autoptr(GByteArray) a = up_answer (up, buf, (gsize) n, FALSE);

          g_socket_send_to (socket, from, (const char *) a->data, a->len, NULL, NULL);
        }
    }
  g_clear_object (&from);
  return G_SOURCE_CONTINUE;
}

/* TCP in the service's own thread: blocking reads are fine there. */
static gboolean
up_tcp_cb (GThreadedSocketService *service,
           GSocketConnection *conn,
           GObject *source,
           gpointer user_data)
{
  Upstream *up = user_data;
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
  guint8 lb[2], q[4096];
  gsize n, qlen;
  g_autoptr(GByteArray) a = NULL;
  guint8 alb[2];

  if (!g_input_stream_read_all (in, lb, 2, &n, NULL, NULL) || n != 2)
    return TRUE;
  qlen = (gsize) (lb[0] << 8 | lb[1]);
  if (qlen > sizeof q || !g_input_stream_read_all (in, q, qlen, &n, NULL, NULL) || n != qlen)
    return TRUE;
  g_atomic_int_inc (&up->tcp_queries);
  a = up_answer (up, q, qlen, TRUE);
  alb[0] = (guint8) (a->len >> 8);
  alb[1] = (guint8) a->len;
  g_output_stream_write_all (out, alb, 2, NULL, NULL, NULL);
  g_output_stream_write_all (out, a->data, a->len, NULL, NULL, NULL);
  return TRUE;
}

/* A UDP socket on an ephemeral port and a TCP listener on the same port: the
 * kernel picks the UDP port, which another program may hold over TCP, so
 * the pair is tried again on another port then (not a fixed port). */
static gboolean
upstream_bind (Upstream *up,
               GInetAddress *lo)
{
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GSocketAddress) tcp_addr = NULL;
  g_autoptr(GError) error = NULL;

  up->udp = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  g_socket_bind (up->udp, any, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (up->udp, &error);
  g_assert_no_error (error);
  up->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  up->tcp = g_threaded_socket_service_new (4);
  tcp_addr = g_inet_socket_address_new (lo, up->port);
  if (g_socket_listener_add_address (G_SOCKET_LISTENER (up->tcp), tcp_addr, G_SOCKET_TYPE_STREAM,
                                     G_SOCKET_PROTOCOL_TCP, NULL, NULL, &error))
    return TRUE;
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_socket_close (up->udp, NULL);
  g_clear_object (&up->udp);
  g_clear_object (&up->tcp);
  return FALSE;
}

static void
upstream_start (Upstream *up,
                UpMode mode,
                guint8 last_octet)
{
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  guint tries = 0;

  memset (up, 0, sizeof *up);
  up->mode = mode;
  up->last_octet = last_octet;
  while (!upstream_bind (up, lo))
    g_assert_cmpuint (++tries, <, 100);
  g_socket_set_blocking (up->udp, FALSE);
  up->source = g_socket_create_source (up->udp, G_IO_IN, NULL);
  g_source_set_callback (up->source, G_SOURCE_FUNC (up_udp_cb), up, NULL);
  g_source_attach (up->source, NULL);
  g_signal_connect (up->tcp, "run", G_CALLBACK (up_tcp_cb), up);
  g_socket_service_start (up->tcp);
}

static void
upstream_stop (Upstream *up)
{
  g_source_destroy (up->source);
  g_source_unref (up->source);
  g_socket_close (up->udp, NULL);
  g_object_unref (up->udp);
  g_socket_service_stop (up->tcp);
  g_socket_listener_close (G_SOCKET_LISTENER (up->tcp));
  g_object_unref (up->tcp);
}

static char *
upstream_addr (const Upstream *up)
{
  return g_strdup_printf ("127.0.0.1:%u", up->port);
}

/* ---- plan ------------------------------------------------------------------------ */

static const char *
first_addr (GPtrArray *list)
{
  return list != NULL && list->len > 0 ? ((HyphaeDnsResolver *) g_ptr_array_index (list, 0))->addr : NULL;
}

static void
test_plan (void)
{
  g_autoptr(HyphaeDnsConfig) c = config_new (
    "{\"Resolvers\":[{\"Addr\":\"1.1.1.1\"},{\"Addr\":\"9.9.9.9\",\"UseWithExitNode\":true}],"
    "\"FallbackResolvers\":[{\"Addr\":\"8.8.8.8\"}],"
    "\"Routes\":{\"corp.test\":[{\"Addr\":\"10.0.0.1\"}],\"lab.corp.test\":[{\"Addr\":\"10.0.0.2\",\"UseWithExitNode\":true}],"
    "\"zone.test\":[]}}");
  g_autoptr(HyphaeDnsConfig) bare = config_new ("{\"Routes\":{\"corp.test\":[{\"Addr\":\"10.0.0.1\"}]},"
                                                 "\"FallbackResolvers\":[{\"Addr\":\"8.8.8.8\"}]}");
  g_autoptr(HyphaeDnsConfig) wg = config_new ("{\"Resolvers\":[{\"Addr\":\"4.4.4.4\"}]}");
  g_autoptr(GPtrArray) os = g_ptr_array_new_with_free_func ((GDestroyNotify) hyphae_dns_resolver_free);
  HyphaeDnsPlanInput in = { .config = c, .corp_dns = TRUE };
  HyphaeDnsPlan *plan;

  g_ptr_array_add (os, hyphae_dns_resolver_parse ("192.168.1.1", NULL));

  /* No exit node: routes whole, Resolvers as the default. */
  plan = hyphae_dns_plan_new (&in);
  g_assert_cmpstr (first_addr (hyphae_dns_plan_upstreams (plan, "a.corp.test", os)), ==, "10.0.0.1");
  g_assert_cmpstr (first_addr (hyphae_dns_plan_upstreams (plan, "corp.test", os)), ==, "10.0.0.1");
  g_assert_cmpstr (first_addr (hyphae_dns_plan_upstreams (plan, "x.lab.corp.test", os)), ==, "10.0.0.2");
  g_assert_cmpuint (hyphae_dns_plan_upstreams (plan, "example.com", os)->len, ==, 2);
  g_assert_cmpstr (first_addr (hyphae_dns_plan_upstreams (plan, "notcorp.test", os)), ==, "1.1.1.1");
  hyphae_dns_plan_free (plan);

  /* An exit node that serves DNS: UseWithExitNode resolvers only, else its DoH. */
  in.exit_node = TRUE;
  in.exit_doh_url = "http://100.64.0.9:1234/dns-query";
  plan = hyphae_dns_plan_new (&in);
  g_assert_cmpstr (first_addr (hyphae_dns_plan_upstreams (plan, "a.corp.test", os)), ==, "9.9.9.9");
  g_assert_cmpstr (first_addr (hyphae_dns_plan_upstreams (plan, "a.lab.corp.test", os)), ==, "10.0.0.2");
  g_assert_cmpuint (hyphae_dns_plan_upstreams (plan, "example.com", os)->len, ==, 1);
  hyphae_dns_plan_free (plan);
  in.config = bare;
  plan = hyphae_dns_plan_new (&in);
  g_assert_cmpstr (first_addr (hyphae_dns_plan_upstreams (plan, "example.com", os)), ==,
                   "http://100.64.0.9:1234/dns-query");
  g_assert_cmpstr (first_addr (hyphae_dns_plan_upstreams (plan, "a.corp.test", os)), ==,
                   "http://100.64.0.9:1234/dns-query");
  hyphae_dns_plan_free (plan);

  /* An exit node that does not: FallbackResolvers; a WireGuard-only one's first. */
  in.exit_doh_url = NULL;
  plan = hyphae_dns_plan_new (&in);
  g_assert_cmpstr (first_addr (hyphae_dns_plan_upstreams (plan, "example.com", os)), ==, "8.8.8.8");
  g_assert_cmpstr (first_addr (hyphae_dns_plan_upstreams (plan, "a.corp.test", os)), ==, "10.0.0.1");
  hyphae_dns_plan_free (plan);
  in.exit_wg_resolvers = wg->resolvers;
  plan = hyphae_dns_plan_new (&in);
  g_assert_cmpstr (first_addr (hyphae_dns_plan_upstreams (plan, "example.com", os)), ==, "4.4.4.4");
  hyphae_dns_plan_free (plan);

  /* No exit node, no Resolvers: the OS's; none: SERVFAIL. */
  in = (HyphaeDnsPlanInput) { .config = bare, .corp_dns = TRUE };
  plan = hyphae_dns_plan_new (&in);
  g_assert_cmpstr (first_addr (hyphae_dns_plan_upstreams (plan, "example.com", os)), ==, "192.168.1.1");
  g_assert_null (hyphae_dns_plan_upstreams (plan, "example.com", NULL));
  g_assert_cmpstr (first_addr (hyphae_dns_plan_upstreams (plan, "a.corp.test", NULL)), ==, "10.0.0.1");
  hyphae_dns_plan_free (plan);
  in.config = NULL;
  plan = hyphae_dns_plan_new (&in);
  g_assert_null (hyphae_dns_plan_upstreams (plan, "a.corp.test", NULL));
  hyphae_dns_plan_free (plan);

  /* CorpDNS off: nothing is forwarded, not even to the OS's. */
  in = (HyphaeDnsPlanInput) { .config = c, .corp_dns = FALSE };
  plan = hyphae_dns_plan_new (&in);
  g_assert_null (hyphae_dns_plan_upstreams (plan, "a.corp.test", os));
  g_assert_null (hyphae_dns_plan_upstreams (plan, "example.com", os));
  hyphae_dns_plan_free (plan);
}

/* ---- local answers ---------------------------------------------------------------------- */

static const char *local_config =
  "{\"Proxied\":true,\"Domains\":[\"" SUFFIX "\",\"corp.test\"],"
  "\"ExtraRecords\":[{\"Name\":\"web.corp.test\",\"Value\":\"10.1.2.3\"},"
  "{\"Name\":\"v6.corp.test\",\"Type\":\"AAAA\",\"Value\":\"fd00::5\"}],"
  "\"Routes\":{\"corp.test\":[]}}";

static void
test_local (void)
{
  Fixture fx;
  Answer a;

  fixture_init (&fx);
  update (&fx, "", local_config, TRUE, FALSE, 1);

  ask (&fx, "peer." SUFFIX, 1, &a);
  g_assert_cmpuint (a.rcode, ==, 0);
  g_assert_cmpuint (a.n_addrs, ==, 1);
  g_assert_cmpstr (a.addrs[0], ==, "100.64.0.2");
  ask (&fx, "PEER." SUFFIX ".", 1, &a);
  g_assert_cmpstr (a.addrs[0], ==, "100.64.0.2");
  ask (&fx, "self." SUFFIX, 1, &a);
  g_assert_cmpstr (a.addrs[0], ==, "100.64.0.1");
  /* A bare name, under the MagicDNS suffix. */
  ask (&fx, "peer", 1, &a);
  g_assert_cmpuint (a.rcode, ==, 0);
  g_assert_cmpuint (a.n_addrs, ==, 1);
  g_assert_cmpstr (a.addrs[0], ==, "100.64.0.2");
  /* AAAA: we have IPv4 and control did not say magicdns-aaaa: the name
   * exists, no records (tailscaled's magicDNSAddrs). */
  ask (&fx, "peer." SUFFIX, 28, &a);
  g_assert_cmpuint (a.rcode, ==, 0);
  g_assert_cmpuint (a.n_addrs, ==, 0);
  /* Over IPv6, to fd7a:115c:a1e0::53. */
  ask_from (&fx, "fd7a:115c:a1e0::1", "peer." SUFFIX, 1, &a);
  g_assert_cmpstr (a.addrs[0], ==, "100.64.0.2");
  /* PTR of both families of the peer. */
  ask (&fx, "2.0.64.100.in-addr.arpa", 12, &a);
  g_assert_cmpuint (a.rcode, ==, 0);
  g_assert_cmpstr (a.ptr, ==, "peer." SUFFIX);
  ask (&fx, "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.e.1.a.c.5.1.1.a.7.d.f.ip6.arpa", 12, &a);
  g_assert_cmpuint (a.rcode, ==, 0);
  g_assert_cmpstr (a.ptr, ==, "peer." SUFFIX);
  /* Not known, under zones we answer alone: NXDOMAIN. */
  ask (&fx, "nobody." SUFFIX, 1, &a);
  g_assert_cmpuint (a.rcode, ==, 3);
  ask (&fx, "99.0.64.100.in-addr.arpa", 12, &a);
  g_assert_cmpuint (a.rcode, ==, 3);
  ask (&fx, "nothing.corp.test", 1, &a);
  g_assert_cmpuint (a.rcode, ==, 3);
  /* ExtraRecords. */
  ask (&fx, "web.corp.test", 1, &a);
  g_assert_cmpuint (a.rcode, ==, 0);
  g_assert_cmpstr (a.addrs[0], ==, "10.1.2.3");
  ask (&fx, "v6.corp.test", 28, &a);
  g_assert_cmpstr (a.addrs[0], ==, "fd00::5");
  /* A bare name under a search domain. */
  ask (&fx, "web", 1, &a);
  g_assert_cmpstr (a.addrs[0], ==, "10.1.2.3");
  fixture_clear (&fx);

  /* dns-subdomain-resolve on our node: names under ours resolve to us. */
  fixture_init (&fx);
  update (&fx, ",\"CapMap\":{\"dns-subdomain-resolve\":null}", local_config, TRUE, FALSE, 1);
  ask (&fx, "www.self." SUFFIX, 1, &a);
  g_assert_cmpuint (a.rcode, ==, 0);
  g_assert_cmpstr (a.addrs[0], ==, "100.64.0.1");
  ask (&fx, "www.peer." SUFFIX, 1, &a);
  g_assert_cmpuint (a.rcode, ==, 3);
  fixture_clear (&fx);

  /* magicdns-aaaa on our node: AAAA for peers. */
  fixture_init (&fx);
  update (&fx, ",\"CapMap\":{\"magicdns-aaaa\":null}", local_config, TRUE, FALSE, 1);
  ask (&fx, "peer." SUFFIX, 28, &a);
  g_assert_cmpuint (a.n_addrs, ==, 1);
  g_assert_cmpstr (a.addrs[0], ==, "fd7a:115c:a1e0::2");
  fixture_clear (&fx);
}

static void
test_corp_dns_off (void)
{
  Fixture fx;
  Upstream up;
  g_autofree char *addr = NULL;
  g_autofree char *config = NULL;
  Answer a;

  upstream_start (&up, UP_ANSWER, 7);
  addr = upstream_addr (&up);
  config = g_strdup_printf ("{\"Proxied\":true,\"Resolvers\":[{\"Addr\":\"%s\"}],"
                            "\"ExtraRecords\":[{\"Name\":\"web.corp.test\",\"Value\":\"10.1.2.3\"}]}",
                            addr);
  fixture_init (&fx);
  update (&fx, "", config, FALSE, FALSE, 1);
  ask (&fx, "peer." SUFFIX, 1, &a);
  g_assert_cmpstr (a.addrs[0], ==, "100.64.0.2");
  ask (&fx, "web.corp.test", 1, &a);
  g_assert_cmpstr (a.addrs[0], ==, "10.1.2.3");
  ask (&fx, "nobody." SUFFIX, 1, &a);
  g_assert_cmpuint (a.rcode, ==, 2);
  ask (&fx, "example.com", 1, &a);
  g_assert_cmpuint (a.rcode, ==, 2);
  g_assert_cmpint (g_atomic_int_get (&up.udp_queries), ==, 0);
  /* On again: forwarded. */
  update (&fx, "", config, TRUE, FALSE, 1);
  ask (&fx, "example.com", 1, &a);
  g_assert_cmpuint (a.rcode, ==, 0);
  g_assert_cmpstr (a.addrs[0], ==, "192.0.2.7");
  fixture_clear (&fx);
  upstream_stop (&up);
}

static void
test_servfail (void)
{
  Fixture fx;
  Answer a;

  fixture_init (&fx);
  ask (&fx, "example.com", 1, &a); /* before any update */
  g_assert_cmpuint (a.rcode, ==, 2);
  update (&fx, "", "{\"Proxied\":true}", TRUE, FALSE, 1);
  ask (&fx, "example.com", 1, &a);
  g_assert_cmpuint (a.rcode, ==, 2);
  update (&fx, "", NULL, TRUE, FALSE, 1);
  ask (&fx, "example.com", 1, &a);
  g_assert_cmpuint (a.rcode, ==, 2);
  fixture_clear (&fx);
}

/* ---- forwarding --------------------------------------------------------------------------- */

static void
test_split_udp (void)
{
  Fixture fx;
  Upstream up;
  g_autofree char *config = NULL;
  g_autofree char *addr = NULL;
  HyphaeMagicDnsStats st;
  Answer a;

  upstream_start (&up, UP_ANSWER, 1);
  addr = upstream_addr (&up);
  config = g_strdup_printf ("{\"Proxied\":true,\"Routes\":{\"corp.test\":[{\"Addr\":\"%s\"}]}}", addr);
  fixture_init (&fx);
  update (&fx, "", config, TRUE, FALSE, 1);
  ask (&fx, "host.corp.test", 1, &a);
  g_assert_cmpuint (a.rcode, ==, 0);
  g_assert_cmpuint (a.n_addrs, ==, 1);
  g_assert_cmpstr (a.addrs[0], ==, "192.0.2.1");
  g_assert_cmpint (g_atomic_int_get (&up.udp_queries), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&up.tcp_queries), ==, 0);
  ask_from (&fx, "fd7a:115c:a1e0::1", "other.corp.test", 1, &a);
  g_assert_cmpstr (a.addrs[0], ==, "192.0.2.1");
  /* Outside the route, no default: SERVFAIL, nothing sent. */
  ask (&fx, "example.com", 1, &a);
  g_assert_cmpuint (a.rcode, ==, 2);
  g_assert_cmpint (g_atomic_int_get (&up.udp_queries), ==, 2);
  hyphae_magic_dns_get_stats (fx.dns, &st);
  g_assert_cmpuint (st.forwarded, ==, 2);
  g_assert_cmpuint (st.inflight, ==, 0);
  fixture_clear (&fx);
  upstream_stop (&up);
}

static void
test_tcp_retry (void)
{
  Fixture fx;
  Upstream up;
  g_autofree char *config = NULL;
  g_autofree char *addr = NULL;
  Answer a;

  upstream_start (&up, UP_TRUNCATE, 2);
  addr = upstream_addr (&up);
  config = g_strdup_printf ("{\"Resolvers\":[{\"Addr\":\"%s\"}]}", addr);
  fixture_init (&fx);
  update (&fx, "", config, TRUE, FALSE, 1);
  ask (&fx, "big.example", 1, &a);
  g_assert_cmpuint (a.rcode, ==, 0);
  g_assert_false (a.tc);
  g_assert_cmpuint (a.n_addrs, ==, 1);
  g_assert_cmpstr (a.addrs[0], ==, "192.0.2.2");
  g_assert_cmpint (g_atomic_int_get (&up.udp_queries), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&up.tcp_queries), ==, 1);
  fixture_clear (&fx);
  upstream_stop (&up);
}

static void
test_upstream_fails (void)
{
  Fixture fx;
  Upstream sf, ref;
  g_autofree char *config = NULL;
  g_autofree char *a1 = NULL;
  g_autofree char *a2 = NULL;
  Answer a;

  upstream_start (&sf, UP_SERVFAIL, 0);
  upstream_start (&ref, UP_REFUSED, 0);
  a1 = upstream_addr (&sf);
  a2 = upstream_addr (&ref);
  config = g_strdup_printf ("{\"Routes\":{\"both.test\":[{\"Addr\":\"%s\"},{\"Addr\":\"%s\"}],"
                            "\"refused.test\":[{\"Addr\":\"%s\"}]}}",
                            a1, a2, a2);
  fixture_init (&fx);
  update (&fx, "", config, TRUE, FALSE, 1);
  ask (&fx, "x.both.test", 1, &a);
  g_assert_cmpuint (a.rcode, ==, 2);
  ask (&fx, "x.refused.test", 1, &a);
  g_assert_cmpuint (a.rcode, ==, 5);
  fixture_clear (&fx);
  upstream_stop (&sf);
  upstream_stop (&ref);
}

static void
test_fallback (void)
{
  Fixture fx;
  Upstream up;
  g_autofree char *addr = NULL;
  Answer a;

  upstream_start (&up, UP_ANSWER, 3);
  addr = upstream_addr (&up);
  fixture_init (&fx);
  update (&fx, "", "{\"Proxied\":true}", TRUE, FALSE, 1);
  hyphae_magic_dns_set_fallback_resolvers (fx.dns, (const char * const[]) { "100.100.100.100", "not an address", addr, NULL });
  ask (&fx, "example.com", 1, &a);
  g_assert_cmpuint (a.rcode, ==, 0);
  g_assert_cmpstr (a.addrs[0], ==, "192.0.2.3");
  hyphae_magic_dns_set_fallback_resolvers (fx.dns, NULL);
  ask (&fx, "example.com", 1, &a);
  g_assert_cmpuint (a.rcode, ==, 2);
  g_assert_cmpint (g_atomic_int_get (&up.udp_queries), ==, 1);
  fixture_clear (&fx);
  upstream_stop (&up);
}

typedef struct {
  gint queries;
  gboolean bad_type;
} DohServer;

static void
doh_handler (SoupServer *server,
             SoupServerMessage *msg,
             const char *path,
             GHashTable *query,
             gpointer user_data)
{
  DohServer *srv = user_data;
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr(GBytes) req = soup_message_body_flatten (body);
  gsize len;
  const guint8 *q = g_bytes_get_data (req, &len);
  Upstream fake = { .mode = UP_ANSWER, .last_octet = 4 };
  g_autoptr(GByteArray) a = NULL;

  g_atomic_int_inc (&srv->queries);
  if (g_strcmp0 (soup_server_message_get_method (msg), "POST") != 0 || len < 12 ||
      g_strcmp0 (path, "/dns-query") != 0)
    {
      soup_server_message_set_status (msg, 400, NULL);
      return;
    }
  a = up_answer (&fake, q, len, TRUE);
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, srv->bad_type ? "text/plain" : "application/dns-message",
                                    SOUP_MEMORY_COPY, (const char *) a->data, a->len);
}

static void
test_exit_doh (void)
{
  g_autoptr(SoupServer) server = soup_server_new (NULL, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  GSList *uris;
  DohServer srv = { 0 };
  Fixture fx;
  Answer a;
  int port;

  soup_server_add_handler (server, NULL, doh_handler, &srv, NULL);
  soup_server_listen (server, any, 0, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (server);
  port = g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  fixture_init (&fx);
  /* The exit node (127.0.0.1 here) serves DoH on its peerapi4 port. */
  update (&fx, "", "{\"Proxied\":true}", TRUE, TRUE, port);
  ask (&fx, "example.com", 1, &a);
  g_assert_cmpuint (a.rcode, ==, 0);
  g_assert_cmpstr (a.addrs[0], ==, "192.0.2.4");
  g_assert_cmpint (g_atomic_int_get (&srv.queries), ==, 1);
  /* Local names stay local. */
  ask (&fx, "peer." SUFFIX, 1, &a);
  g_assert_cmpstr (a.addrs[0], ==, "100.64.0.2");
  g_assert_cmpint (g_atomic_int_get (&srv.queries), ==, 1);
  /* Not a DoH answer: SERVFAIL. */
  srv.bad_type = TRUE;
  ask (&fx, "example.com", 1, &a);
  g_assert_cmpuint (a.rcode, ==, 2);
  fixture_clear (&fx);
}

typedef struct {
  GBytes *answer;
  guint8 rcode;
  GError *error;
  gboolean done;
} ForwardResult;

static void
forward_done_cb (GObject *source,
                 GAsyncResult *result,
                 gpointer user_data)
{
  ForwardResult *r = user_data;

  r->answer = hyphae_dns_forward_finish (result, &r->rcode, &r->error);
  r->done = TRUE;
}

/* One query through hyphae_dns_forward_async to the upstream, waited for. */
static void
forward_once (Upstream *up,
              guint timeout_ms,
              ForwardResult *r)
{
  g_autofree char *addr = upstream_addr (up);
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func ((GDestroyNotify) hyphae_dns_resolver_free);
  g_autoptr(GByteArray) q = dns_query (0x7777, "race.example", 1);
  g_autoptr(GBytes) query = g_bytes_new (q->data, q->len);
  gboolean late = FALSE;
  guint id = g_timeout_add_seconds (WAIT_S, timeout_flag_cb, &late);

  memset (r, 0, sizeof *r);
  g_ptr_array_add (list, hyphae_dns_resolver_parse (addr, NULL));
  hyphae_dns_forward_async (list, query, NULL, timeout_ms, NULL, forward_done_cb, r);
  while (!r->done && !late)
    g_main_context_iteration (NULL, TRUE);
  if (!late)
    g_source_remove (id);
  g_assert_true (r->done);
  /* The attempts end after the result: let them, for LSan. */
  for (int i = 0; i < 100 && g_main_context_iteration (NULL, FALSE); i++)
    ;
}

static void
test_forward_race (void)
{
  Upstream up;
  ForwardResult r;
  gint64 t0 = g_get_monotonic_time ();

  upstream_start (&up, UP_SILENT, 0); /* UDP never answers, TCP does */
  forward_once (&up, 10000, &r);
  g_assert_no_error (r.error);
  g_assert_nonnull (r.answer);
  g_assert_cmpint (g_atomic_int_get (&up.udp_queries), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&up.tcp_queries), ==, 1);
  /* Not before the race delay (a lower bound: nothing waits on it). */
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, HYPHAE_DNS_FORWARD_UDP_RACE_MS * 1000);
  g_bytes_unref (r.answer);
  upstream_stop (&up);
}

static void
test_forward_timeout (void)
{
  Upstream up;
  ForwardResult r;

  upstream_start (&up, UP_SILENT, 0);
  /* TCP answers only after the race delay: a shorter timeout ends first. */
  forward_once (&up, 300, &r);
  g_assert_null (r.answer);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpuint (r.rcode, ==, 2);
  g_assert_cmpint (g_atomic_int_get (&up.tcp_queries), ==, 0);
  g_clear_error (&r.error);
  upstream_stop (&up);
}

static void
test_inflight (void)
{
  Fixture fx;
  Upstream up;
  g_autofree char *config = NULL;
  g_autofree char *addr = NULL;
  HyphaeMagicDnsStats st;
  guint extra = 44;

  upstream_start (&up, UP_SILENT, 0);
  addr = upstream_addr (&up);
  config = g_strdup_printf ("{\"Resolvers\":[{\"Addr\":\"%s\"}]}", addr);
  fixture_init (&fx);
  update (&fx, "", config, TRUE, FALSE, 1);
  for (guint i = 0; i < HYPHAE_MAGIC_DNS_INFLIGHT_MAX + extra; i++)
    {
      g_autoptr(GByteArray) q = dns_query ((guint16) i, "slow.example", 1);
      g_autoptr(GByteArray) pkt = ip_wrap ("100.64.0.1", (guint16) (20000 + i), q->data, q->len);

      hyphae_magic_dns_handle_query_packet (fx.dns, pkt->data, pkt->len);
    }
  /* The ones past the bound were answered at once, SERVFAIL. */
  g_assert_cmpuint (fx.out->len, ==, extra);
  for (guint i = 0; i < extra; i++)
    {
      Answer a;

      parse_answer (g_ptr_array_index (fx.out, i), &a);
      g_assert_cmpuint (a.rcode, ==, 2);
    }
  hyphae_magic_dns_get_stats (fx.dns, &st);
  g_assert_cmpuint (st.inflight, ==, HYPHAE_MAGIC_DNS_INFLIGHT_MAX);
  /* Gone with 256 queries upstream: they end without answering. */
  fixture_clear (&fx);
  upstream_stop (&up);
}

static void
test_malformed (void)
{
  Fixture fx;
  g_autoptr(GByteArray) q = dns_query (0x4242, "peer." SUFFIX, 1);
  g_autoptr(GByteArray) pkt = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (12);
  guint8 junk[3000];
  Answer a;

  fixture_init (&fx);
  update (&fx, "", local_config, TRUE, FALSE, 1);

  /* Not packets: nothing. */
  hyphae_magic_dns_handle_query_packet (fx.dns, NULL, 0);
  hyphae_magic_dns_handle_query_packet (fx.dns, (const guint8 *) "\x45", 1);
  pkt = ip_wrap ("100.64.0.1", 40000, q->data, q->len);
  for (gsize cut = 0; cut < pkt->len; cut++)
    hyphae_magic_dns_handle_query_packet (fx.dns, pkt->data, cut < 28 ? cut : cut);
  /* Packets cut inside the DNS message carry a shorter UDP length than the
   * IP header says: refused as a whole; a few answers of FORMERR may come
   * from cuts the packet parser takes. None may be anything else. */
  for (guint i = 0; i < fx.out->len; i++)
    {
      parse_answer (g_ptr_array_index (fx.out, i), &a);
      g_assert_cmpuint (a.rcode, ==, 1);
    }
  g_ptr_array_set_size (fx.out, 0);

  /* A response (QR set): dropped. */
  q->data[2] |= 0x80;
  g_byte_array_unref (pkt);
  pkt = ip_wrap ("100.64.0.1", 40000, q->data, q->len);
  hyphae_magic_dns_handle_query_packet (fx.dns, pkt->data, pkt->len);
  g_assert_cmpuint (fx.out->len, ==, 0);

  /* A question whose name runs past the end: FORMERR. */
  q->data[2] &= 0x7f;
  q->data[12] = 60;
  g_byte_array_unref (pkt);
  pkt = ip_wrap ("100.64.0.1", 40000, q->data, q->len);
  hyphae_magic_dns_handle_query_packet (fx.dns, pkt->data, pkt->len);
  g_assert_cmpuint (fx.out->len, ==, 1);
  parse_answer (g_ptr_array_index (fx.out, 0), &a);
  g_assert_cmpuint (a.rcode, ==, 1);
  g_assert_cmpuint (a.id, ==, 0x4242);
  g_ptr_array_set_size (fx.out, 0);

  /* Oversized and random payloads behind a valid header. */
  for (int round = 0; round < 2000; round++)
    {
      gsize len = (gsize) g_rand_int_range (rand, 0, sizeof junk);

      for (gsize i = 0; i < len; i++)
        junk[i] = (guint8) g_rand_int (rand);
      if (len > 2)
        junk[2] &= 0x7f; /* a query, so that some get answered */
      g_byte_array_unref (pkt);
      pkt = ip_wrap (round % 2 ? "fd7a:115c:a1e0::1" : "100.64.0.1", 40000, junk, len);
      hyphae_magic_dns_handle_query_packet (fx.dns, pkt->data, pkt->len);
    }
  for (int i = 0; i < 100 && g_main_context_iteration (NULL, FALSE); i++)
    ;
  /* Still answering. */
  ask (&fx, "peer." SUFFIX, 1, &a);
  g_assert_cmpstr (a.addrs[0], ==, "100.64.0.2");
  fixture_clear (&fx);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/magic-dns/plan", test_plan);
  g_test_add_func ("/magic-dns/local", test_local);
  g_test_add_func ("/magic-dns/corp-dns-off", test_corp_dns_off);
  g_test_add_func ("/magic-dns/servfail", test_servfail);
  g_test_add_func ("/magic-dns/split-udp", test_split_udp);
  g_test_add_func ("/magic-dns/tcp-retry", test_tcp_retry);
  g_test_add_func ("/magic-dns/upstream-fails", test_upstream_fails);
  g_test_add_func ("/magic-dns/fallback", test_fallback);
  g_test_add_func ("/magic-dns/exit-doh", test_exit_doh);
  g_test_add_func ("/magic-dns/forward-race", test_forward_race);
  g_test_add_func ("/magic-dns/forward-timeout", test_forward_timeout);
  g_test_add_func ("/magic-dns/inflight", test_inflight);
  g_test_add_func ("/magic-dns/malformed", test_malformed);
  return g_test_run ();
}
