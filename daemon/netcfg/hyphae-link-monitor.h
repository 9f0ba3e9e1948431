/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>
#include <net/if.h>

#include "common/ip.h"

G_BEGIN_DECLS

/*
 * Link and address changes of the caller's network namespace, from the
 * kernel's rtnetlink groups (RTMGRP_LINK, RTMGRP_IPV4_IFADDR,
 * RTMGRP_IPV6_IFADDR). The monitor decides nothing: it says "something
 * changed" and hyphae_link_monitor_list_addresses() says what is there now.
 * Policy (which addresses become endpoints, which paths to re-evaluate)
 * belongs to whoever connects to `changed`.
 *
 * `changed` (no arguments) is emitted on the thread-default main context of
 * the thread that made the monitor: once per wakeup, after the messages
 * already queued on the socket have been read (a burst such as an interface
 * coming up with several addresses is one emission; at most 256 datagrams a
 * wakeup), and also when the kernel dropped messages (ENOBUFS), since then
 * we cannot know what changed.
 * Messages that do not come from the kernel, or that are not a well-formed
 * address or link message, are ignored. There is no debounce delay
 * (tailscaled's net/netmon/netmon.go `debounce` waits 1 s): a subscriber that
 * wants one adds it.
 */
#define HYPHAE_TYPE_LINK_MONITOR (hyphae_link_monitor_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeLinkMonitor, hyphae_link_monitor, HYPHAE, LINK_MONITOR, GObject)

/* Opens and subscribes the rtnetlink socket (G_IO_ERROR on failure). */
HyphaeLinkMonitor *hyphae_link_monitor_new (GError **error);

typedef struct {
  char ifname[IF_NAMESIZE];
  struct ip_addr addr;
} HyphaeLocalAddress;

/* Every IPv4 and IPv6 address on a link that is up and not a loopback link,
 * in the kernel's order (getifaddrs), duplicates kept: a GArray of
 * HyphaeLocalAddress, or NULL with error set if the OS would not say. Needs
 * no monitor: subscribers call it from `changed`. */
GArray *hyphae_link_monitor_list_addresses (GError **error);

/* TRUE if one datagram from the kernel holds at least one RTM_NEWADDR,
 * RTM_DELADDR, RTM_NEWLINK or RTM_DELLINK whose fixed header is complete.
 * Every length is checked against len; anything malformed counts as nothing.
 * (What the monitor runs on each datagram; public for the tests.) */
gboolean hyphae_link_monitor_parse (const void *buf,
                                    gsize len);

G_END_DECLS
