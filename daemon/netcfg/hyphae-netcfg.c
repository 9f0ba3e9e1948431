/* SPDX-License-Identifier: MIT */
#include "hyphae-netcfg.h"

#include <errno.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/ip.h"

/* ---- a tiny rtnetlink client ------------------------------------------- */

enum {
  NL_BUF = 32768,
  MSG_CAP = 1024
};

struct _HyphaeNetcfg {
  char *ifname;
  int fd;
  guint32 seq;
  guint8 *rx; /* NL_BUF bytes */
};

/* One prefix (common/ip.h): unused bytes zero, so equal is memcmp. */
typedef struct ip_prefix Prefix;

typedef struct {
  struct nlmsghdr h;
  guint8 body[MSG_CAP];
} NlMsg;

static gboolean
set_errno_error (GError **error, int err, const char *what)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err), "%s: %s", what, g_strerror (err));
  return FALSE;
}

static void *
msg_init (NlMsg *m, guint16 type, guint16 flags, gsize hdr_len)
{
  memset (m, 0, sizeof *m);
  m->h.nlmsg_type = type;
  m->h.nlmsg_flags = NLM_F_REQUEST | flags;
  m->h.nlmsg_len = NLMSG_LENGTH (hdr_len);
  return NLMSG_DATA (&m->h);
}

static void
msg_attr (NlMsg *m, guint16 type, const void *data, gsize len)
{
  struct rtattr *rta = (struct rtattr *) ((guint8 *) &m->h + NLMSG_ALIGN (m->h.nlmsg_len));

  g_assert (NLMSG_ALIGN (m->h.nlmsg_len) + RTA_SPACE (len) <= sizeof *m);
  rta->rta_type = type;
  rta->rta_len = RTA_LENGTH (len);
  if (len > 0)
    memcpy (RTA_DATA (rta), data, len);
  m->h.nlmsg_len = NLMSG_ALIGN (m->h.nlmsg_len) + RTA_SPACE (len);
}

static void
msg_attr_u32 (NlMsg *m, guint16 type, guint32 v)
{
  msg_attr (m, type, &v, sizeof v);
}

/* Send a request under the next sequence number. 0 or a negative errno. */
static int
nl_send (HyphaeNetcfg *nc, struct nlmsghdr *h)
{
  struct sockaddr_nl to = { .nl_family = AF_NETLINK };

  h->nlmsg_seq = ++nc->seq;
  if (sendto (nc->fd, h, h->nlmsg_len, 0, (struct sockaddr *) &to, sizeof to) < 0)
    return -errno;
  return 0;
}

/* Receive one datagram into nc->rx: its length, or a negative errno. */
static int
nl_recv (HyphaeNetcfg *nc)
{
  for (;;)
    {
      /* MSG_TRUNC: the real size, so a reply larger than our buffer is an
       * error rather than silently cut. */
      ssize_t n = recv (nc->fd, nc->rx, NL_BUF, MSG_TRUNC);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -errno;
      if (n > NL_BUF)
        return -EMSGSIZE;
      return (int) n;
    }
}

/* The errno an NLMSG_ERROR message carries (0 = ack), or -EPROTO if short. */
static int
nl_error (struct nlmsghdr *r)
{
  if (r->nlmsg_len < NLMSG_LENGTH (sizeof (struct nlmsgerr)))
    return -EPROTO;
  return ((struct nlmsgerr *) NLMSG_DATA (r))->error;
}

typedef void (*DumpFn) (struct nlmsghdr *h, gpointer user_data);

/* Send one request and read the answers to it until the kernel's last word:
 * NLMSG_ERROR (an ack carries 0) or NLMSG_DONE (a dump's end). Other answers
 * go to fn, if any. Returns 0 or a negative errno. */
static int
nl_request (HyphaeNetcfg *nc, struct nlmsghdr *h, int flags, DumpFn fn, gpointer user_data)
{
  int len;

  h->nlmsg_flags |= flags;
  if ((len = nl_send (nc, h)) < 0)
    return len;
  for (;;)
    {
      struct nlmsghdr *r;

      if ((len = nl_recv (nc)) < 0)
        return len;
      for (r = (struct nlmsghdr *) nc->rx; NLMSG_OK (r, len); r = NLMSG_NEXT (r, len))
        {
          if (r->nlmsg_seq != nc->seq)
            continue;
          if (r->nlmsg_type == NLMSG_DONE)
            return 0;
          if (r->nlmsg_type == NLMSG_ERROR)
            return nl_error (r);
          if (fn != NULL)
            fn (r, user_data);
        }
    }
}

/* Send one request and wait for its ack. Returns 0 or a negative errno. */
static int
nl_talk (HyphaeNetcfg *nc, struct nlmsghdr *h)
{
  return nl_request (nc, h, NLM_F_ACK, NULL, NULL);
}

/* Run a dump request, calling fn for each message. 0 or a negative errno. */
static int
nl_dump (HyphaeNetcfg *nc, struct nlmsghdr *h, DumpFn fn, gpointer user_data)
{
  return nl_request (nc, h, NLM_F_DUMP, fn, user_data);
}

/* Attributes of a message whose fixed header is hdr_len bytes; tb[type] or NULL. */
static void
parse_attrs (struct nlmsghdr *h, gsize hdr_len, struct rtattr **tb, int max)
{
  struct rtattr *rta;
  int len;

  memset (tb, 0, sizeof (*tb) * (max + 1));
  if (h->nlmsg_len < NLMSG_LENGTH (hdr_len))
    return;
  len = (int) (h->nlmsg_len - NLMSG_LENGTH (NLMSG_ALIGN (hdr_len)));
  for (rta = (struct rtattr *) ((guint8 *) NLMSG_DATA (h) + NLMSG_ALIGN (hdr_len));
       RTA_OK (rta, len); rta = RTA_NEXT (rta, len))
    if (rta->rta_type <= max)
      tb[rta->rta_type] = rta;
}

static gboolean
attr_u32 (struct rtattr *rta, guint32 *out)
{
  if (rta == NULL || RTA_PAYLOAD (rta) < sizeof (guint32))
    return FALSE;
  memcpy (out, RTA_DATA (rta), sizeof (guint32));
  return TRUE;
}

/* Keep a copy of a dumped message (to delete it later by sending it back). */
static void
collect (GPtrArray *list, struct nlmsghdr *h)
{
  g_ptr_array_add (list, g_memdup2 (h, h->nlmsg_len));
}

static int
addr_bytes (int family)
{
  return family == AF_INET ? 4 : 16;
}

/* ---- link -------------------------------------------------------------- */

static int
link_set (HyphaeNetcfg *nc, int ifindex, gboolean up, guint32 mtu)
{
  NlMsg m;
  struct ifinfomsg *ifi = msg_init (&m, RTM_NEWLINK, 0, sizeof *ifi);

  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  ifi->ifi_flags = up ? IFF_UP : 0;
  ifi->ifi_change = IFF_UP;
  if (mtu > 0)
    msg_attr_u32 (&m, IFLA_MTU, mtu);
  return nl_talk (nc, &m.h);
}

/* ---- addresses --------------------------------------------------------- */

typedef struct {
  int ifindex;
  GPtrArray *msgs; /* dumped RTM_NEWADDR messages on ifindex */
} AddrDump;

static void
addr_dump_cb (struct nlmsghdr *h, gpointer user_data)
{
  AddrDump *d = user_data;
  struct ifaddrmsg *ifa = NLMSG_DATA (h);

  if (h->nlmsg_type != RTM_NEWADDR || h->nlmsg_len < NLMSG_LENGTH (sizeof *ifa))
    return;
  /* The kernel's own IPv6 link-local address is not ours to manage. */
  if ((int) ifa->ifa_index != d->ifindex || ifa->ifa_scope == RT_SCOPE_LINK)
    return;
  collect (d->msgs, h);
}

enum {
  ADDR_FLAGS = IFA_F_NOPREFIXROUTE
};

/* IFA_FLAGS when the kernel sends it (it has the high flags), else ifa_flags. */
static guint32
addr_flags (struct nlmsghdr *h)
{
  struct ifaddrmsg *ifa = NLMSG_DATA (h);
  struct rtattr *tb[IFA_MAX + 1];
  guint32 flags = ifa->ifa_flags;

  parse_attrs (h, sizeof *ifa, tb, IFA_MAX);
  (void) attr_u32 (tb[IFA_FLAGS], &flags);
  return flags;
}

static gboolean
addr_of (struct nlmsghdr *h, Prefix *p)
{
  struct ifaddrmsg *ifa = NLMSG_DATA (h);
  struct rtattr *tb[IFA_MAX + 1];
  struct rtattr *a;

  parse_attrs (h, sizeof *ifa, tb, IFA_MAX);
  a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
  if (a == NULL || (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) ||
      RTA_PAYLOAD (a) < (unsigned) addr_bytes (ifa->ifa_family))
    return FALSE;
  memset (p, 0, sizeof *p);
  p->addr.family = ifa->ifa_family;
  p->bits = ifa->ifa_prefixlen;
  memcpy (p->addr.bytes, RTA_DATA (a), addr_bytes (p->addr.family));
  return TRUE;
}

static int
addr_add (HyphaeNetcfg *nc, int ifindex, const Prefix *p)
{
  NlMsg m;
  struct ifaddrmsg *ifa = msg_init (&m, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, sizeof *ifa);

  ifa->ifa_family = p->addr.family;
  ifa->ifa_prefixlen = p->bits;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = ifindex;
  /* No duplicate address detection on a point-to-point TUN: usable at once. */
  ifa->ifa_flags = p->addr.family == AF_INET6 ? IFA_F_NODAD : 0;
  msg_attr (&m, IFA_LOCAL, p->addr.bytes, addr_bytes (p->addr.family));
  msg_attr (&m, IFA_ADDRESS, p->addr.bytes, addr_bytes (p->addr.family));
  /* No prefix route: the kernel would put one in main (for an IPv6 /128
   * too), and every route of ours lives in table 52. The flag only fits the
   * 32-bit IFA_FLAGS attribute. */
  msg_attr_u32 (&m, IFA_FLAGS, ADDR_FLAGS | ifa->ifa_flags);
  return nl_talk (nc, &m.h);
}

/* Send a dumped message back as a delete. ESRCH/ENOENT/EADDRNOTAVAIL: gone already. */
static int
delete_dumped (HyphaeNetcfg *nc, struct nlmsghdr *h, guint16 del_type)
{
  int r;

  h->nlmsg_type = del_type;
  h->nlmsg_flags = NLM_F_REQUEST;
  r = nl_talk (nc, h);
  if (r == -ESRCH || r == -ENOENT || r == -EADDRNOTAVAIL)
    r = 0;
  return r;
}

static gboolean
sync_addresses (HyphaeNetcfg *nc, int ifindex, GArray *want, GError **error)
{
  g_autoptr(GPtrArray) have = g_ptr_array_new_with_free_func (g_free);
  AddrDump d = { ifindex, have };
  g_autofree gboolean *present = g_new0 (gboolean, want->len + 1);
  NlMsg m;
  struct ifaddrmsg *ifa = msg_init (&m, RTM_GETADDR, 0, sizeof *ifa);
  int r;

  ifa->ifa_family = AF_UNSPEC;
  if ((r = nl_dump (nc, &m.h, addr_dump_cb, &d)) < 0)
    return set_errno_error (error, -r, "Cannot list addresses");
  for (guint i = 0; i < have->len; i++)
    {
      Prefix p;
      gboolean wanted = FALSE;

      if (!addr_of (have->pdata[i], &p))
        continue;
      /* One of ours from before the flag (or someone's copy): replaced. */
      for (guint k = 0; (addr_flags (have->pdata[i]) & ADDR_FLAGS) == ADDR_FLAGS && k < want->len; k++)
        if (ip_prefix_equal (&p, &g_array_index (want, Prefix, k)))
          wanted = present[k] = TRUE;
      if (!wanted && (r = delete_dumped (nc, have->pdata[i], RTM_DELADDR)) < 0)
        return set_errno_error (error, -r, "Cannot remove an address");
    }
  for (guint k = 0; k < want->len; k++)
    if (!present[k] && (r = addr_add (nc, ifindex, &g_array_index (want, Prefix, k))) < 0)
      return set_errno_error (error, -r, "Cannot add an address");
  return TRUE;
}

/* ---- routes ------------------------------------------------------------ */

typedef struct {
  Prefix dst;
  guint8 type; /* RTN_UNICAST into the TUN, or RTN_THROW */
} Route;

typedef struct {
  guint32 table;
  GPtrArray *msgs;
} RouteDump;

static guint32
route_table (struct nlmsghdr *h, struct rtattr **tb)
{
  struct rtmsg *rtm = NLMSG_DATA (h);
  guint32 table = rtm->rtm_table;

  (void) attr_u32 (tb[RTA_TABLE], &table);
  return table;
}

static void
route_dump_cb (struct nlmsghdr *h, gpointer user_data)
{
  RouteDump *d = user_data;
  struct rtattr *tb[RTA_MAX + 1];

  if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH (sizeof (struct rtmsg)))
    return;
  parse_attrs (h, sizeof (struct rtmsg), tb, RTA_MAX);
  if (route_table (h, tb) == d->table)
    collect (d->msgs, h);
}

static int
dump_routes (HyphaeNetcfg *nc, guint32 table, GPtrArray *out)
{
  RouteDump d = { table, out };
  NlMsg m;
  struct rtmsg *rtm = msg_init (&m, RTM_GETROUTE, 0, sizeof *rtm);

  rtm->rtm_family = AF_UNSPEC;
  return nl_dump (nc, &m.h, route_dump_cb, &d);
}

static void
route_of (struct nlmsghdr *h, Route *rt, int *oif)
{
  struct rtmsg *rtm = NLMSG_DATA (h);
  struct rtattr *tb[RTA_MAX + 1];
  guint32 o = 0;

  parse_attrs (h, sizeof *rtm, tb, RTA_MAX);
  memset (rt, 0, sizeof *rt);
  rt->dst.addr.family = rtm->rtm_family;
  rt->dst.bits = rtm->rtm_dst_len;
  rt->type = rtm->rtm_type;
  if (tb[RTA_DST] != NULL && (rtm->rtm_family == AF_INET || rtm->rtm_family == AF_INET6) &&
      RTA_PAYLOAD (tb[RTA_DST]) >= (unsigned) addr_bytes (rtm->rtm_family))
    memcpy (rt->dst.addr.bytes, RTA_DATA (tb[RTA_DST]), addr_bytes (rtm->rtm_family));
  (void) attr_u32 (tb[RTA_OIF], &o);
  *oif = (int) o;
}

static int
route_add (HyphaeNetcfg *nc, int ifindex, const Route *rt)
{
  NlMsg m;
  struct rtmsg *rtm = msg_init (&m, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, sizeof *rtm);

  rtm->rtm_family = rt->dst.addr.family;
  rtm->rtm_dst_len = rt->dst.bits;
  rtm->rtm_table = HYPHAE_NETCFG_TABLE;
  rtm->rtm_protocol = RTPROT_STATIC;
  rtm->rtm_type = rt->type;
  rtm->rtm_scope = rt->type == RTN_UNICAST ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  if (rt->dst.bits > 0)
    msg_attr (&m, RTA_DST, rt->dst.addr.bytes, addr_bytes (rt->dst.addr.family));
  msg_attr_u32 (&m, RTA_TABLE, HYPHAE_NETCFG_TABLE);
  if (rt->type == RTN_UNICAST)
    msg_attr_u32 (&m, RTA_OIF, (guint32) ifindex);
  return nl_talk (nc, &m.h);
}

/* The LAN: the main table's on-link unicast prefixes of the other links. */
static void
lan_prefixes (GPtrArray *main_routes, int ifindex, GArray *want)
{
  for (guint i = 0; i < main_routes->len; i++)
    {
      struct nlmsghdr *h = main_routes->pdata[i];
      struct rtmsg *rtm = NLMSG_DATA (h);
      Route rt;
      int oif;

      struct rtattr *tb[RTA_MAX + 1];

      route_of (h, &rt, &oif);
      parse_attrs (h, sizeof *rtm, tb, RTA_MAX);
      /* On-link: through a device, no gateway (IPv6 has no link scope). */
      if (tb[RTA_GATEWAY] != NULL || tb[RTA_MULTIPATH] != NULL || oif == 0 ||
          rt.type != RTN_UNICAST || rt.dst.bits == 0 || oif == ifindex ||
          (rt.dst.addr.family != AF_INET && rt.dst.addr.family != AF_INET6) ||
          (rt.dst.addr.family == AF_INET && rtm->rtm_scope != RT_SCOPE_LINK))
        continue;
      /* IPv6 link-local and multicast are never routed through table 52's /0 by scope. */
      if (rt.dst.addr.family == AF_INET6 &&
          (rt.dst.addr.bytes[0] == 0xff ||
           (rt.dst.addr.bytes[0] == 0xfe && (rt.dst.addr.bytes[1] & 0xc0) == 0x80)))
        continue;
      rt.type = RTN_THROW;
      g_array_append_val (want, rt);
    }
}

static gboolean
sync_routes (HyphaeNetcfg *nc, int ifindex, GArray *want, GError **error)
{
  g_autoptr(GPtrArray) have = g_ptr_array_new_with_free_func (g_free);
  g_autofree gboolean *present = g_new0 (gboolean, want->len + 1);
  int r;

  if ((r = dump_routes (nc, HYPHAE_NETCFG_TABLE, have)) < 0)
    return set_errno_error (error, -r, "Cannot list routes");
  for (guint i = 0; i < have->len; i++)
    {
      Route rt;
      int oif;
      gboolean wanted = FALSE;

      route_of (have->pdata[i], &rt, &oif);
      for (guint k = 0; k < want->len; k++)
        {
          const Route *w = &g_array_index (want, Route, k);

          if (ip_prefix_equal (&rt.dst, &w->dst) && rt.type == w->type &&
              (w->type != RTN_UNICAST || oif == ifindex) && !present[k])
            wanted = present[k] = TRUE;
        }
      if (!wanted && (r = delete_dumped (nc, have->pdata[i], RTM_DELROUTE)) < 0)
        return set_errno_error (error, -r, "Cannot remove a route");
    }
  for (guint k = 0; k < want->len; k++)
    if (!present[k] && (r = route_add (nc, ifindex, &g_array_index (want, Route, k))) < 0)
      {
        g_autofree char *what = g_strdup_printf ("Cannot add route %u", k);

        return set_errno_error (error, -r, what);
      }
  return TRUE;
}

/* ---- rules ------------------------------------------------------------- */

typedef struct {
  guint32 priority;
  gboolean marked; /* fwmark bypass/mask */
  guint8 action;   /* FR_ACT_TO_TBL or FR_ACT_UNREACHABLE */
  guint32 table;
} Rule;

static const Rule wanted_rules[] = {
  { HYPHAE_NETCFG_RULE_BASE + 10, TRUE, FR_ACT_TO_TBL, RT_TABLE_MAIN },
  { HYPHAE_NETCFG_RULE_BASE + 30, TRUE, FR_ACT_TO_TBL, RT_TABLE_DEFAULT },
  { HYPHAE_NETCFG_RULE_BASE + 50, TRUE, FR_ACT_UNREACHABLE, 0 },
  { HYPHAE_NETCFG_RULE_BASE + 70, FALSE, FR_ACT_TO_TBL, HYPHAE_NETCFG_TABLE },
};

static gboolean
is_our_priority (guint32 prio)
{
  for (guint i = 0; i < G_N_ELEMENTS (wanted_rules); i++)
    if (wanted_rules[i].priority == prio)
      return TRUE;
  return FALSE;
}

static void
rule_dump_cb (struct nlmsghdr *h, gpointer user_data)
{
  GPtrArray *out = user_data;
  struct rtattr *tb[FRA_MAX + 1];
  guint32 prio = 0;

  if (h->nlmsg_type != RTM_NEWRULE || h->nlmsg_len < NLMSG_LENGTH (sizeof (struct fib_rule_hdr)))
    return;
  parse_attrs (h, sizeof (struct fib_rule_hdr), tb, FRA_MAX);
  if (attr_u32 (tb[FRA_PRIORITY], &prio) && is_our_priority (prio))
    collect (out, h);
}

static gboolean
rule_matches (struct nlmsghdr *h, const Rule *w, guint32 mark)
{
  struct fib_rule_hdr *frh = NLMSG_DATA (h);
  struct rtattr *tb[FRA_MAX + 1];
  guint32 prio = 0, fwmark = 0, fwmask = 0, table = frh->table;

  parse_attrs (h, sizeof *frh, tb, FRA_MAX);
  (void) attr_u32 (tb[FRA_PRIORITY], &prio);
  (void) attr_u32 (tb[FRA_FWMARK], &fwmark);
  (void) attr_u32 (tb[FRA_FWMASK], &fwmask);
  (void) attr_u32 (tb[FRA_TABLE], &table);
  if (prio != w->priority || frh->action != w->action || (frh->flags & FIB_RULE_INVERT) ||
      frh->src_len != 0 || frh->dst_len != 0)
    return FALSE;
  if (w->action == FR_ACT_TO_TBL && table != w->table)
    return FALSE;
  if (w->marked)
    return fwmark == mark && fwmask == HYPHAE_NETCFG_MARK_MASK;
  return tb[FRA_FWMARK] == NULL || fwmark == 0;
}

static int
rule_add (HyphaeNetcfg *nc, int family, const Rule *w, guint32 mark)
{
  NlMsg m;
  struct fib_rule_hdr *frh = msg_init (&m, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, sizeof *frh);

  frh->family = family;
  frh->action = w->action;
  frh->table = w->table < 256 ? w->table : RT_TABLE_UNSPEC;
  /* Always an explicit priority (else the kernel picks one: net/core/fib_rules.c). */
  msg_attr_u32 (&m, FRA_PRIORITY, w->priority);
  if (w->action == FR_ACT_TO_TBL)
    msg_attr_u32 (&m, FRA_TABLE, w->table);
  if (w->marked)
    {
      msg_attr_u32 (&m, FRA_FWMARK, mark);
      msg_attr_u32 (&m, FRA_FWMASK, HYPHAE_NETCFG_MARK_MASK);
    }
  return nl_talk (nc, &m.h);
}

static int
dump_rules (HyphaeNetcfg *nc, int family, GPtrArray *out)
{
  NlMsg m;
  struct fib_rule_hdr *frh = msg_init (&m, RTM_GETRULE, 0, sizeof *frh);

  frh->family = family;
  return nl_dump (nc, &m.h, rule_dump_cb, out);
}

/* want: our four rules (TRUE) or none (FALSE). */
static gboolean
sync_rules (HyphaeNetcfg *nc, gboolean want, guint32 mark, GError **error)
{
  static const int families[] = { AF_INET, AF_INET6 };

  for (guint f = 0; f < G_N_ELEMENTS (families); f++)
    {
      g_autoptr(GPtrArray) have = g_ptr_array_new_with_free_func (g_free);
      gboolean present[G_N_ELEMENTS (wanted_rules)] = { 0 };
      int r = dump_rules (nc, families[f], have);

      if (r == -EAFNOSUPPORT)
        continue; /* no IPv6 in this kernel */
      if (r < 0)
        return set_errno_error (error, -r, "Cannot list rules");
      for (guint i = 0; i < have->len; i++)
        {
          gboolean keep = FALSE;

          for (guint k = 0; want && k < G_N_ELEMENTS (wanted_rules); k++)
            if (!present[k] && rule_matches (have->pdata[i], &wanted_rules[k], mark))
              keep = present[k] = TRUE;
          if (!keep && (r = delete_dumped (nc, have->pdata[i], RTM_DELRULE)) < 0)
            return set_errno_error (error, -r, "Cannot remove a rule");
        }
      for (guint k = 0; want && k < G_N_ELEMENTS (wanted_rules); k++)
        if (!present[k] && (r = rule_add (nc, families[f], &wanted_rules[k], mark)) < 0)
          return set_errno_error (error, -r, "Cannot add a rule");
    }
  return TRUE;
}

/* ---- public API -------------------------------------------------------- */

HyphaeNetcfg *
hyphae_netcfg_new (const char *ifname,
                   GError **error)
{
  struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
  int fd = socket (AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  HyphaeNetcfg *nc;

  if (fd < 0)
    {
      set_errno_error (error, errno, "Cannot open rtnetlink");
      return NULL;
    }
  if (bind (fd, (struct sockaddr *) &sa, sizeof sa) < 0)
    {
      set_errno_error (error, errno, "Cannot bind rtnetlink");
      close (fd);
      return NULL;
    }
  nc = g_new0 (HyphaeNetcfg, 1);
  nc->ifname = g_strdup (ifname);
  nc->fd = fd;
  nc->rx = g_malloc (NL_BUF);
  return nc;
}

void
hyphae_netcfg_free (HyphaeNetcfg *nc)
{
  if (nc == NULL)
    return;
  close (nc->fd);
  g_free (nc->rx);
  g_free (nc->ifname);
  g_free (nc);
}

/* What ip_prefix_parse could have made (a zeroed struct is not). */
static gboolean
prefixes_valid (const Prefix *v, guint n, GError **error)
{
  for (guint i = 0; i < n; i++)
    if (ip_addr_bitlen (&v[i].addr) == 0 || v[i].bits > ip_addr_bitlen (&v[i].addr))
      {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "Bad prefix (family %u, /%u)",
                     v[i].addr.family, v[i].bits);
        return FALSE;
      }
  return TRUE;
}

gboolean
hyphae_netcfg_apply (HyphaeNetcfg *nc,
                     const HyphaeNetcfgConfig *config,
                     GError **error)
{
  g_autoptr(GArray) addrs = g_array_new (FALSE, TRUE, sizeof (Prefix));
  g_autoptr(GArray) routes = g_array_new (FALSE, TRUE, sizeof (Route));
  guint32 mark = config->fwmark ? config->fwmark : HYPHAE_NETCFG_BYPASS_MARK;
  int ifindex = (int) if_nametoindex (nc->ifname);
  gboolean has_default = FALSE;
  int r;

  if (ifindex == 0)
    return set_errno_error (error, ENODEV, nc->ifname);
  if (!prefixes_valid (config->addresses, config->n_addresses, error) ||
      !prefixes_valid (config->routes, config->n_routes, error))
    return FALSE;
  g_array_append_vals (addrs, config->addresses, config->n_addresses);
  for (guint i = 0; i < config->n_routes; i++)
    {
      Route rt = { .dst = ip_prefix_masked (&config->routes[i]), .type = RTN_UNICAST };

      has_default |= rt.dst.bits == 0;
      g_array_append_val (routes, rt);
    }
  if (has_default && config->allow_lan)
    {
      g_autoptr(GPtrArray) main_routes = g_ptr_array_new_with_free_func (g_free);

      if ((r = dump_routes (nc, RT_TABLE_MAIN, main_routes)) < 0)
        return set_errno_error (error, -r, "Cannot list the main table");
      lan_prefixes (main_routes, ifindex, routes);
    }

  if ((r = link_set (nc, ifindex, TRUE, config->mtu ? config->mtu : HYPHAE_NETCFG_MTU)) < 0)
    return set_errno_error (error, -r, "Cannot set the link up");
  return sync_addresses (nc, ifindex, addrs, error) &&
         sync_rules (nc, TRUE, mark, error) &&
         sync_routes (nc, ifindex, routes, error);
}

gboolean
hyphae_netcfg_remove (HyphaeNetcfg *nc,
                      GError **error)
{
  g_autoptr(GArray) none = g_array_new (FALSE, TRUE, sizeof (Route));
  int ifindex = (int) if_nametoindex (nc->ifname);

  /* Rules first: without them table 52 is not consulted any more. */
  if (!sync_rules (nc, FALSE, 0, error) || !sync_routes (nc, ifindex, none, error))
    return FALSE;
  if (ifindex != 0)
    {
      g_autoptr(GArray) no_addrs = g_array_new (FALSE, TRUE, sizeof (Prefix));

      return sync_addresses (nc, ifindex, no_addrs, error);
    }
  return TRUE;
}
