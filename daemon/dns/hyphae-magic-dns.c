/* SPDX-License-Identifier: MIT */
/*
 * HyphaeMagicDns (hyphae-magic-dns.h): the engine's dns code answers from a
 * record table built per update; what it does not answer goes upstream by
 * the plan (hyphae-dns-plan.h) through hyphae-dns-forward.
 */
#include "hyphae-magic-dns.h"

#include <string.h>
#include <sys/socket.h>

#include "common/ip.h"
#include "dns/dns-answer.h"
#include "dns/dns-packet.h"
#include "dns/dns-records.h"
#include "dns/dns-resolve.h"
#include "hyphae-dns-forward.h"
#include "hyphae-dns-plan.h"
#include "hyphae-json.h"

/* tailcfg.NodeAttrMagicDNSPeerAAAA: AAAA records for peers (capver 116). */
#define CAP_MAGICDNS_AAAA "magicdns-aaaa"
/* tailcfg.NodeAttrDNSSubdomainResolve: names under the node resolve to it
 * (ipnlocal magicDNSSubdomainHost: our CapMap for ourselves, a peer's own). */
#define CAP_SUBDOMAIN_RESOLVE "dns-subdomain-resolve"
/* A peer of at least this capability version serves DNS on its peerapi
 * (ipnlocal/local.go peerCanProxyDNS). */
#define CAPVER_PEERAPI_DNS 26

struct _HyphaeMagicDns {
  GObject parent_instance;

  HyphaeMagicDnsInjectFunc inject;
  gpointer inject_data;

  struct dns_table *table; /* NULL before the first update */
  HyphaeDnsPlan *plan;     /* NULL before the first update */
  GPtrArray *os_fallback;  /* HyphaeDnsResolver*: what the OS had */
  SoupSession *session;    /* DoH, made on first use */
  GCancellable *cancel;    /* every forward; cancelled at dispose */
  HyphaeMagicDnsStats stats;
};

G_DEFINE_FINAL_TYPE (HyphaeMagicDns, hyphae_magic_dns, G_TYPE_OBJECT)

/* ---- answers ------------------------------------------------------------------- */

static void
send_payload (HyphaeMagicDns *self,
              const struct dns_packet *pkt,
              const guint8 *payload,
              gsize len)
{
  guint8 out[DNS_PACKET_IPV6_HDR + DNS_PACKET_UDP_HDR + HYPHAE_DNS_FORWARD_ANSWER_MAX];
  gsize n = dns_packet_build_reply (pkt, payload, len, out, sizeof out);
  int err;

  if (n == 0)
    return;
  err = self->inject (out, n, self->inject_data);
  if (err < 0)
    g_debug ("answer into the TUN: %s", g_strerror (-err));
}

static void
send_error (HyphaeMagicDns *self,
            const struct dns_packet *pkt,
            const struct dns_query *q,
            guint8 rcode)
{
  guint8 out[DNS_ANSWER_MAX];
  gsize n = dns_answer_error (q, rcode, dns_packet_max_payload (pkt, DNS_PACKET_MTU), out, sizeof out);

  self->stats.failed++;
  if (n > 0)
    send_payload (self, pkt, out, n);
}

/* ---- forwarding ------------------------------------------------------------------ */

typedef struct {
  HyphaeMagicDns *self; /* not a reference: read only while cancel is not cancelled */
  GCancellable *cancel;
  struct dns_packet pkt; /* addresses only (payload NULL) */
  struct dns_query q;
} Pending;

static void
forwarded_cb (GObject *source,
              GAsyncResult *result,
              gpointer user_data)
{
  Pending *p = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) answer = NULL;
  HyphaeMagicDns *self = p->self;
  guint8 rcode = DNS_RCODE_SERVFAIL;

  answer = hyphae_dns_forward_finish (result, &rcode, &error);
  if (g_cancellable_is_cancelled (p->cancel))
    goto out; /* disposed: nothing to answer into */
  self->stats.inflight--;
  if (answer != NULL)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (answer, &len);
      g_autofree guint8 *msg = g_memdup2 (data, len);
      gsize max = MIN (dns_packet_max_payload (&p->pkt, DNS_PACKET_MTU), p->q.udp_size);

      len = dns_answer_fit (msg, len, max);
      if (len > 0)
        {
          send_payload (self, &p->pkt, msg, len);
          goto out;
        }
      g_debug ("%s: an upstream answer that cannot be cut to %" G_GSIZE_FORMAT " bytes", p->q.qname, max);
    }
  else
    g_debug ("%s: %s", p->q.qname, error->message);
  send_error (self, &p->pkt, &p->q, rcode);
out:
  g_object_unref (p->cancel);
  g_free (p);
}

/* tsdns.go hasRDNSBonjourPrefix: DNS-SD browsing names are NXDOMAIN, not
 * sent upstream (the forwarder drops that spam the same way). */
static gboolean
is_dns_sd_browse (const char *name)
{
  static const char * const bases[] = { "b.", "db.", "r.", "dr.", "lb." };

  for (guint i = 0; i < G_N_ELEMENTS (bases); i++)
    if (g_str_has_prefix (name, bases[i]) && g_str_has_prefix (name + strlen (bases[i]), "_dns-sd._udp."))
      return TRUE;
  return FALSE;
}

static SoupSession *
get_session (HyphaeMagicDns *self)
{
  if (self->session == NULL)
    self->session = soup_session_new_with_options ("timeout", HYPHAE_MAGIC_DNS_TIMEOUT_MS / 1000,
                                                   "idle-timeout", 10, /* forwarder.go dohIdleConnTimeout */
                                                   "user-agent", "hyphaed", NULL);
  return self->session;
}

static void
forward (HyphaeMagicDns *self,
         const struct dns_packet *pkt,
         const struct dns_query *q)
{
  GPtrArray *upstreams;
  g_autoptr(GBytes) query = NULL;
  gboolean doh = FALSE;
  Pending *p;

  if (is_dns_sd_browse (q->qname))
    {
      guint8 out[DNS_ANSWER_MAX];
      struct dns_reply reply = { .rcode = DNS_RCODE_NXDOMAIN };
      gsize n = dns_answer_build (q, &reply, dns_packet_max_payload (pkt, DNS_PACKET_MTU), out, sizeof out);

      self->stats.local++;
      if (n > 0)
        send_payload (self, pkt, out, n);
      return;
    }
  upstreams = self->plan != NULL ? hyphae_dns_plan_upstreams (self->plan, q->qname, self->os_fallback) : NULL;
  if (upstreams == NULL)
    {
      send_error (self, pkt, q, DNS_RCODE_SERVFAIL);
      return;
    }
  if (self->stats.inflight >= HYPHAE_MAGIC_DNS_INFLIGHT_MAX)
    {
      g_debug ("%u queries in flight: SERVFAIL for %s", self->stats.inflight, q->qname);
      send_error (self, pkt, q, DNS_RCODE_SERVFAIL);
      return;
    }
  for (guint i = 0; i < upstreams->len; i++)
    doh |= ((HyphaeDnsResolver *) g_ptr_array_index (upstreams, i))->kind == HYPHAE_DNS_RESOLVER_DOH;

  p = g_new0 (Pending, 1);
  p->self = self;
  p->cancel = g_object_ref (self->cancel);
  p->pkt = *pkt;
  p->pkt.payload = NULL;
  p->pkt.payload_len = 0;
  p->q = *q;
  query = g_bytes_new (pkt->payload, pkt->payload_len);
  self->stats.inflight++;
  self->stats.forwarded++;
  hyphae_dns_forward_async (upstreams, query, doh ? get_session (self) : NULL, HYPHAE_MAGIC_DNS_TIMEOUT_MS,
                            self->cancel, forwarded_cb, p);
}

/* ---- queries --------------------------------------------------------------------- */

void
hyphae_magic_dns_handle_query_packet (HyphaeMagicDns *self,
                                      const guint8 *pkt,
                                      gsize len)
{
  struct dns_packet p;
  struct dns_query q;
  guint8 out[DNS_ANSWER_MAX];
  gsize out_len = 0;
  enum dns_verdict verdict;

  g_return_if_fail (HYPHAE_IS_MAGIC_DNS (self));

  self->stats.queries++;
  if (pkt == NULL || dns_packet_parse (pkt, len, &p) != 0)
    {
      self->stats.failed++;
      return; /* not a UDP packet to us: nothing to answer to */
    }
  verdict = dns_respond (self->table, p.payload, p.payload_len, dns_packet_max_payload (&p, DNS_PACKET_MTU), &q,
                         out, sizeof out, &out_len);
  switch (verdict)
    {
    case DNS_VERDICT_ANSWER:
      if (out_len >= DNS_HEADER_LEN && (out[3] & 0xf) != DNS_RCODE_NOERROR && (out[3] & 0xf) != DNS_RCODE_NXDOMAIN)
        self->stats.failed++;
      else
        self->stats.local++;
      send_payload (self, &p, out, out_len);
      break;
    case DNS_VERDICT_FORWARD:
      forward (self, &p, &q);
      break;
    case DNS_VERDICT_DROP:
    default:
      self->stats.failed++;
      break;
    }
}

/* ---- the records ----------------------------------------------------------------- */

static gboolean
node_has_cap (const HyphaeNode *node,
              const char *cap)
{
  g_autoptr(JsonObject) caps = NULL;

  /* Most nodes have neither cap: no JSON tree for them. */
  if (node->cap_map_json == NULL || strstr (node->cap_map_json, cap) == NULL)
    return FALSE;
  caps = hyphae_json_parse_object (node->cap_map_json, strlen (node->cap_map_json), G_MAXINT, NULL);
  return caps != NULL && json_object_has_member (caps, cap);
}

/* The node's single addresses (Addresses "ip/32", "ip/128"). */
static guint
node_addrs (const HyphaeNode *node,
            struct ip_addr *out,
            guint max)
{
  guint n = 0;

  for (guint i = 0; node->addresses != NULL && node->addresses[i] != NULL && n < max; i++)
    {
      struct ip_prefix pfx;

      if (ip_prefix_parse (&pfx, node->addresses[i], strlen (node->addresses[i])) && ip_prefix_is_host (&pfx))
        out[n++] = pfx.addr;
    }
  return n;
}

typedef struct {
  gboolean self_v6_only;
  gboolean want_aaaa;
  gboolean full; /* the table refused more */
} AddrRules;

/* ipnlocal magicDNSAddrs: with an IPv4 address of our own, peers' IPv6
 * addresses are left out unless control set magicdns-aaaa; with only IPv6
 * ourselves, only IPv6 ones. */
static void
add_node (struct dns_table_builder *b,
          const HyphaeNode *node,
          gboolean subdomains,
          AddrRules *rules)
{
  struct ip_addr addrs[16];
  guint n;
  gboolean has4 = FALSE;

  if (node->name == NULL || node->name[0] == '\0' || rules->full)
    return;
  n = node_addrs (node, addrs, G_N_ELEMENTS (addrs));
  for (guint i = 0; i < n; i++)
    has4 |= addrs[i].family == AF_INET;
  for (guint i = 0; i < n; i++)
    {
      int err;

      if (rules->self_v6_only ? addrs[i].family != AF_INET6
                              : (addrs[i].family == AF_INET6 && has4 && !rules->want_aaaa))
        /* tailscaled answers PTR from every node address. */
        err = dns_table_builder_add_ptr (b, node->name, &addrs[i]);
      else
        err = dns_table_builder_add (b, node->name, &addrs[i]);
      if (err == -E2BIG)
        {
          g_warning ("MagicDNS: more names than the record table holds; the rest are left out");
          rules->full = TRUE;
          return;
        }
      if (err < 0)
        g_debug ("MagicDNS: %s not added: %s", node->name, g_strerror (-err));
    }
  /* NodeAttrDNSSubdomainResolve: names under the node's resolve to it. */
  if (subdomains && dns_table_builder_add_subdomain_host (b, node->name) == -E2BIG)
    rules->full = TRUE;
}

static struct dns_table *
build_table (HyphaeNetmap *nm,
             const HyphaeDnsConfig *config,
             gboolean corp_dns)
{
  struct dns_table_builder *b = dns_table_builder_new ();
  const HyphaeNode *self_node = nm != NULL ? hyphae_netmap_get_self (nm) : NULL;
  const char *suffix = nm != NULL ? hyphae_netmap_get_magicdns_suffix (nm) : "";
  AddrRules rules = { 0 };

  if (b == NULL)
    return NULL;
  /* A node whose key expired gets no DNS at all (dnsConfigForNetmap). */
  if (self_node != NULL && !self_node->expired)
    {
      struct ip_addr addrs[16];
      guint n = node_addrs (self_node, addrs, G_N_ELEMENTS (addrs));
      gboolean has4 = FALSE, has6 = FALSE;

      for (guint i = 0; i < n; i++)
        {
          has4 |= addrs[i].family == AF_INET;
          has6 |= addrs[i].family == AF_INET6;
        }
      rules.self_v6_only = has6 && !has4;
      rules.want_aaaa = node_has_cap (self_node, CAP_MAGICDNS_AAAA);
      /* Self first, then peers: an address's PTR is the first name added. */
      add_node (b, self_node, node_has_cap (self_node, CAP_SUBDOMAIN_RESOLVE), &rules);
      for (guint i = 0; i < hyphae_netmap_get_n_peers (nm); i++)
        {
          const HyphaeNode *peer = hyphae_netmap_get_peer (nm, i);

          add_node (b, peer, node_has_cap (peer, CAP_SUBDOMAIN_RESOLVE), &rules);
        }

      for (guint i = 0; config != NULL && i < config->extra_records->len && !rules.full; i++)
        {
          const HyphaeDnsExtraRecord *rec = &g_array_index (config->extra_records, HyphaeDnsExtraRecord, i);
          struct ip_addr a = { .family = rec->type == 28 ? AF_INET6 : AF_INET };

          memcpy (a.bytes, rec->ip, rec->type == 28 ? 16 : 4);
          if (dns_table_builder_add (b, rec->name, &a) == -E2BIG)
            rules.full = TRUE;
        }

      if (corp_dns && config != NULL)
        {
          /* magicDNSRootDomains: the suffix and the tailnet's reverse zones
           * when MagicDNS is on; routes without resolvers (capver 22). */
          if (config->proxied && suffix[0] != '\0')
            {
              dns_table_builder_add_zone (b, suffix);
              dns_table_builder_add_tailnet_reverse_zones (b);
            }
          for (guint i = 0; i < config->routes->len; i++)
            {
              const HyphaeDnsRoute *route = g_ptr_array_index (config->routes, i);

              if (route->resolvers->len == 0)
                dns_table_builder_add_zone (b, route->suffix);
            }
          /* Bare names: under the MagicDNS suffix, then each search domain. */
          if (suffix[0] != '\0')
            dns_table_builder_add_search (b, suffix);
          for (guint i = 0; config->domains[i] != NULL; i++)
            if (strcmp (config->domains[i], suffix) != 0)
              dns_table_builder_add_search (b, config->domains[i]);
        }
    }
  return dns_table_build (b);
}

/* ---- the exit node --------------------------------------------------------------- */

static gboolean
node_has_family (const HyphaeNode *node,
                 int family,
                 struct ip_addr *out)
{
  struct ip_addr addrs[16];
  guint n = node_addrs (node, addrs, G_N_ELEMENTS (addrs));

  for (guint i = 0; i < n; i++)
    if (addrs[i].family == family)
      {
        if (out != NULL)
          *out = addrs[i];
        return TRUE;
      }
  return FALSE;
}

/* ipnlocal exitNodeCanProxyDNS + peerAPIBase: the exit node's DoH on its
 * peerapi, over IPv4 when we have IPv4 and it has a peerapi4 port, else
 * IPv6 the same way; NULL when it cannot. */
static char *
exit_doh_url (HyphaeNetmap *nm,
              const HyphaeNode *exit_node)
{
  const HyphaeNode *self_node = hyphae_netmap_get_self (nm);
  struct ip_addr ip;
  char text[IP_ADDR_STRLEN];

  if (exit_node->cap < CAPVER_PEERAPI_DNS || self_node == NULL)
    return NULL;
  if (node_has_family (self_node, AF_INET, NULL) && exit_node->peerapi4_port > 0 &&
      node_has_family (exit_node, AF_INET, &ip))
    {
      ip_addr_format (&ip, text);
      return g_strdup_printf ("http://%s:%d/dns-query", text, exit_node->peerapi4_port);
    }
  if (node_has_family (self_node, AF_INET6, NULL) && exit_node->peerapi6_port > 0 &&
      node_has_family (exit_node, AF_INET6, &ip))
    {
      ip_addr_format (&ip, text);
      return g_strdup_printf ("http://[%s]:%d/dns-query", text, exit_node->peerapi6_port);
    }
  return NULL;
}

/* A WireGuard-only exit node's ExitNodeDNSResolvers (a []*dnstype.Resolver). */
static HyphaeDnsConfig *
exit_wg_resolvers (const HyphaeNode *exit_node)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  HyphaeDnsConfig *c;

  if (!exit_node->is_wireguard_only || exit_node->exit_node_dns_resolvers_json == NULL)
    return NULL;
  /* The same reader as DNSConfig.Resolvers. */
  json = g_strdup_printf ("{\"Resolvers\":%s}", exit_node->exit_node_dns_resolvers_json);
  c = hyphae_dns_config_parse (json, &error);
  if (c == NULL)
    g_warning ("exit node %s: ExitNodeDNSResolvers: %s", exit_node->name, error->message);
  return c;
}

void
hyphae_magic_dns_update (HyphaeMagicDns *self,
                         HyphaeNetmap *nm,
                         const HyphaeDnsConfig *config,
                         gboolean corp_dns,
                         const HyphaeNode *exit_node)
{
  g_autoptr(HyphaeDnsConfig) wg = NULL;
  g_autofree char *doh = NULL;
  HyphaeDnsPlanInput in = { .config = config, .corp_dns = corp_dns, .exit_node = exit_node != NULL };
  const HyphaeNode *self_node = nm != NULL ? hyphae_netmap_get_self (nm) : NULL;

  g_return_if_fail (HYPHAE_IS_MAGIC_DNS (self));

  if (exit_node != NULL && nm != NULL)
    {
      doh = exit_doh_url (nm, exit_node);
      wg = exit_wg_resolvers (exit_node);
    }
  in.exit_doh_url = doh;
  in.exit_wg_resolvers = wg != NULL ? wg->resolvers : NULL;
  if (self_node != NULL && self_node->expired)
    in.corp_dns = FALSE; /* nothing forwarded either */

  g_clear_pointer (&self->table, dns_table_free);
  self->table = build_table (nm, config, corp_dns);
  g_clear_pointer (&self->plan, hyphae_dns_plan_free);
  self->plan = hyphae_dns_plan_new (&in);
  g_debug ("MagicDNS: %zu names, CorpDNS %s, exit node DNS %s", self->table ? dns_table_n_names (self->table) : 0,
           corp_dns ? "on" : "off", doh != NULL ? doh : "none");
}

void
hyphae_magic_dns_set_fallback_resolvers (HyphaeMagicDns *self,
                                         const char * const *addrs)
{
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) hyphae_dns_resolver_free);

  g_return_if_fail (HYPHAE_IS_MAGIC_DNS (self));
  for (guint i = 0; addrs != NULL && addrs[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;
      HyphaeDnsResolver *r = hyphae_dns_resolver_parse (addrs[i], &error);
      struct ip_addr a = { 0 };

      if (r != NULL && r->kind == HYPHAE_DNS_RESOLVER_UDP)
        {
          a.family = (guint8) r->family;
          memcpy (a.bytes, r->ip, r->family == AF_INET6 ? 16 : 4);
        }
      if (r == NULL)
        g_debug ("fallback resolver %s: %s", addrs[i], error->message);
      else if (a.family != 0 && dns_is_service_addr (&a))
        {
          g_debug ("fallback resolver %s: ourselves, skipped", addrs[i]);
          hyphae_dns_resolver_free (r);
        }
      else
        g_ptr_array_add (list, r);
    }
  /* Forwards in flight keep their own reference to the old list. */
  g_clear_pointer (&self->os_fallback, g_ptr_array_unref);
  self->os_fallback = list;
}

void
hyphae_magic_dns_get_stats (HyphaeMagicDns *self,
                            HyphaeMagicDnsStats *out)
{
  g_return_if_fail (HYPHAE_IS_MAGIC_DNS (self) && out != NULL);
  *out = self->stats;
}

/* ---- GObject ---------------------------------------------------------------------- */

static void
hyphae_magic_dns_dispose (GObject *object)
{
  HyphaeMagicDns *self = HYPHAE_MAGIC_DNS (object);

  /* Forwards still running finish without us (forwarded_cb checks it). */
  g_cancellable_cancel (self->cancel);
  g_clear_object (&self->session);
  G_OBJECT_CLASS (hyphae_magic_dns_parent_class)->dispose (object);
}

static void
hyphae_magic_dns_finalize (GObject *object)
{
  HyphaeMagicDns *self = HYPHAE_MAGIC_DNS (object);

  g_clear_pointer (&self->table, dns_table_free);
  g_clear_pointer (&self->plan, hyphae_dns_plan_free);
  g_clear_pointer (&self->os_fallback, g_ptr_array_unref);
  g_clear_object (&self->cancel);
  G_OBJECT_CLASS (hyphae_magic_dns_parent_class)->finalize (object);
}

static void
hyphae_magic_dns_class_init (HyphaeMagicDnsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = hyphae_magic_dns_dispose;
  object_class->finalize = hyphae_magic_dns_finalize;
}

static void
hyphae_magic_dns_init (HyphaeMagicDns *self)
{
  self->cancel = g_cancellable_new ();
  self->os_fallback = g_ptr_array_new_with_free_func ((GDestroyNotify) hyphae_dns_resolver_free);
}

HyphaeMagicDns *
hyphae_magic_dns_new (HyphaeMagicDnsInjectFunc inject,
                      gpointer user_data)
{
  HyphaeMagicDns *self;

  g_return_val_if_fail (inject != NULL, NULL);
  self = g_object_new (HYPHAE_TYPE_MAGIC_DNS, NULL);
  self->inject = inject;
  self->inject_data = user_data;
  return self;
}
