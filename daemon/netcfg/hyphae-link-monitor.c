/* SPDX-License-Identifier: MIT */
#include "hyphae-link-monitor.h"

#include <errno.h>
#include <glib-unix.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Large enough for any one rtnetlink notification (the kernel builds them in
 * NLMSG_GOODSIZE, at most 8 KiB); a longer one is still counted (MSG_TRUNC). */
enum {
  RX_BUF = 32768
};
/* Datagrams read per wakeup at most: anyone may unicast to our port, and a
 * flood must not keep the main loop here; the rest waits for the next one. */
enum {
  RX_BATCH = 256
};

struct _HyphaeLinkMonitor {
  GObject parent_instance;

  int fd;
  GSource *source;
  guint8 *rx; /* RX_BUF bytes */
};

G_DEFINE_FINAL_TYPE (HyphaeLinkMonitor, hyphae_link_monitor, G_TYPE_OBJECT)

enum {
  SIG_CHANGED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

gboolean
hyphae_link_monitor_parse (const void *buf,
                           gsize len)
{
  const guint8 *p = buf;
  gsize off = 0;
  gboolean change = FALSE;

  /* NLMSG_OK / NLMSG_NEXT, on a copy of each header so that buf needs no
   * alignment, and in gsize so that no length can wrap. */
  while (len - off >= sizeof (struct nlmsghdr))
    {
      struct nlmsghdr h;
      gsize next;

      memcpy (&h, p + off, sizeof h);
      if (h.nlmsg_len < sizeof h || h.nlmsg_len > len - off)
        break;
      switch (h.nlmsg_type)
        {
        case RTM_NEWADDR:
        case RTM_DELADDR:
          change |= h.nlmsg_len >= NLMSG_LENGTH (sizeof (struct ifaddrmsg));
          break;
        case RTM_NEWLINK:
        case RTM_DELLINK:
          change |= h.nlmsg_len >= NLMSG_LENGTH (sizeof (struct ifinfomsg));
          break;
        default:
          break;
        }
      next = ((gsize) h.nlmsg_len + NLMSG_ALIGNTO - 1) & ~((gsize) NLMSG_ALIGNTO - 1);
      if (next >= len - off)
        break;
      off += next;
    }
  return change;
}

/* Read everything queued, then emit once if any of it was a change. */
static gboolean
on_readable (int fd, GIOCondition cond, gpointer user_data)
{
  HyphaeLinkMonitor *self = user_data;
  gboolean changed = FALSE;

  for (guint i = 0; i < RX_BATCH; i++)
    {
      struct sockaddr_nl from = { 0 };
      socklen_t from_len = sizeof from;
      ssize_t n = recvfrom (fd, self->rx, RX_BUF, MSG_DONTWAIT | MSG_TRUNC,
                            (struct sockaddr *) &from, &from_len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == ENOBUFS)
        {
          /* The kernel dropped notifications: assume anything changed. */
          changed = TRUE;
          continue;
        }
      if (n < 0)
        break; /* EAGAIN: drained */
      /* Only the kernel (port 0) speaks on these groups; anyone may unicast
       * to our port. */
      if (from_len != sizeof from || from.nl_family != AF_NETLINK || from.nl_pid != 0)
        continue;
      if (n > RX_BUF)
        changed = TRUE; /* too long to read, but from the kernel: a change */
      else if (hyphae_link_monitor_parse (self->rx, (gsize) n))
        changed = TRUE;
    }
  if (changed)
    g_signal_emit (self, signals[SIG_CHANGED], 0);
  return G_SOURCE_CONTINUE;
}

HyphaeLinkMonitor *
hyphae_link_monitor_new (GError **error)
{
  g_autoptr(HyphaeLinkMonitor) self = g_object_new (HYPHAE_TYPE_LINK_MONITOR, NULL);
  g_autoptr(GMainContext) context = g_main_context_ref_thread_default ();
  struct sockaddr_nl sa = {
    .nl_family = AF_NETLINK,
    .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR,
  };

  self->fd = socket (AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  if (self->fd < 0 || bind (self->fd, (struct sockaddr *) &sa, sizeof sa) < 0)
    {
      int err = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                   "Cannot watch links and addresses (rtnetlink): %s", g_strerror (err));
      return NULL;
    }
  self->rx = g_malloc (RX_BUF);
  self->source = g_unix_fd_source_new (self->fd, G_IO_IN);
  g_source_set_callback (self->source, G_SOURCE_FUNC (on_readable), self, NULL);
  g_source_set_static_name (self->source, "hyphae-link-monitor");
  g_source_attach (self->source, context);
  return g_steal_pointer (&self);
}

static void
hyphae_link_monitor_finalize (GObject *object)
{
  HyphaeLinkMonitor *self = HYPHAE_LINK_MONITOR (object);

  if (self->source != NULL)
    {
      g_source_destroy (self->source);
      g_source_unref (self->source);
    }
  if (self->fd >= 0)
    close (self->fd);
  g_free (self->rx);
  G_OBJECT_CLASS (hyphae_link_monitor_parent_class)->finalize (object);
}

static void
hyphae_link_monitor_class_init (HyphaeLinkMonitorClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = hyphae_link_monitor_finalize;
  signals[SIG_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass),
                                       G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
hyphae_link_monitor_init (HyphaeLinkMonitor *self)
{
  self->fd = -1;
}

GArray *
hyphae_link_monitor_list_addresses (GError **error)
{
  g_autoptr(GArray) list = g_array_new (FALSE, TRUE, sizeof (HyphaeLocalAddress));
  struct ifaddrs *ifa0 = NULL;

  if (getifaddrs (&ifa0) != 0)
    {
      int err = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                   "Cannot list the local addresses: %s", g_strerror (err));
      return NULL;
    }
  for (struct ifaddrs *ifa = ifa0; ifa != NULL; ifa = ifa->ifa_next)
    {
      HyphaeLocalAddress a = { 0 };

      if (ifa->ifa_addr == NULL || !(ifa->ifa_flags & IFF_UP) || (ifa->ifa_flags & IFF_LOOPBACK))
        continue;
      if (ifa->ifa_addr->sa_family == AF_INET)
        memcpy (a.addr.bytes, &((const struct sockaddr_in *) (const void *) ifa->ifa_addr)->sin_addr, 4);
      else if (ifa->ifa_addr->sa_family == AF_INET6)
        memcpy (a.addr.bytes, &((const struct sockaddr_in6 *) (const void *) ifa->ifa_addr)->sin6_addr, 16);
      else
        continue;
      a.addr.family = ifa->ifa_addr->sa_family;
      g_strlcpy (a.ifname, ifa->ifa_name, sizeof a.ifname);
      g_array_append_val (list, a);
    }
  freeifaddrs (ifa0);
  return g_steal_pointer (&list);
}
