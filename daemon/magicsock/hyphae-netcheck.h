/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "common/endpoint.h"

G_BEGIN_DECLS

/*
 * HyphaeNetcheck: what the network lets us do, measured by STUN (Tailscale's
 * net/netcheck, as wgengine/magicsock runs it). Binding requests go to the
 * STUN address of every node of every DERP region through a send function
 * the owner gives: hyphaed sends them from the WireGuard socket
 * (wg_runner_send_udp), so the reflexive address STUN reports is the one
 * peers can reach us at. Answers come back through hyphae_netcheck_rx (the
 * runner's STUN events). A report ends when every probe answered or after
 * HYPHAE_NETCHECK_TIMEOUT_MS, and says:
 *  - the latency to each region (best of its nodes, per family);
 *  - the preferred (home) DERP region: the lowest latency, never a region
 *    marked Avoid or NoMeasureNoHome (the latter is not even probed), and
 *    the previous home kept unless the new one is better by more than 10 ms
 *    and by a third (netcheck.go addReportHistoryAndSetPreferredDERP);
 *    without any answer, the previous home, else the first region (lowest
 *    id) that may be one: DERP still works over TCP where UDP does not;
 *  - WorkingUDP / WorkingIPv6: any IPv4 / IPv6 answer;
 *  - MappingVariesByDestIP: two servers (distinct addresses) saw us at
 *    different IPv4 address:ports (a NAT that maps per destination); unset
 *    with fewer than two answering servers;
 *  - the reflexive addresses (GlobalV4, GlobalV6): our STUN endpoints.
 * Reports repeat every 20–26 s (magicsock's periodic re-STUN) and at once on
 * hyphae_netcheck_start (link changes, a new DERP map).
 */
#define HYPHAE_NETCHECK_MAX_SERVERS 8
#define HYPHAE_NETCHECK_TIMEOUT_MS  3000 /* netcheck.go stunProbeTimeout */
#define HYPHAE_NETCHECK_RETRY_MS    500  /* unanswered probes are sent once more */

typedef struct {
  int region_id;
  char code[32];               /* RegionCode */
  gboolean avoid;              /* measured, never chosen as home */
  gboolean no_measure_no_home; /* neither probed nor home */
  guint n_servers;
  union wg_sockaddr servers[HYPHAE_NETCHECK_MAX_SERVERS]; /* STUN address:port of its nodes */
} HyphaeNetcheckRegion;

typedef struct {
  int region_id;
  double v4_seconds; /* 0: no IPv4 answer */
  double v6_seconds; /* 0: no IPv6 answer */
} HyphaeNetcheckLatency;

/* HYPHAE_NETCHECK_UNSET / FALSE / TRUE: tailcfg's opt.Bool. */
typedef enum {
  HYPHAE_NETCHECK_UNSET,
  HYPHAE_NETCHECK_FALSE,
  HYPHAE_NETCHECK_TRUE,
} HyphaeNetcheckBool;

typedef struct {
  gboolean working_udp;
  gboolean working_ipv6;
  HyphaeNetcheckBool mapping_varies_by_dest_ip;
  int preferred_derp; /* 0: no region at all */
  guint n_latency;
  HyphaeNetcheckLatency *latency; /* n_latency, by region id */
  union wg_sockaddr global_v4;    /* AF_UNSPEC: none */
  union wg_sockaddr global_v6;
} HyphaeNetcheckReport;

/* Send one datagram; FALSE if it could not go (counted as unanswered). */
typedef gboolean (*HyphaeNetcheckSendFunc) (const guint8 *data,
                                            gsize len,
                                            const union wg_sockaddr *to,
                                            gpointer user_data);

#define HYPHAE_TYPE_NETCHECK (hyphae_netcheck_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeNetcheck, hyphae_netcheck, HYPHAE, NETCHECK, GObject)

/* Signal "report" (const HyphaeNetcheckReport *, transfer none) at the end of each. */
HyphaeNetcheck *hyphae_netcheck_new (HyphaeNetcheckSendFunc send,
                                     gpointer user_data);
/* The regions to measure (copied); a new set starts a report. */
void hyphae_netcheck_set_regions (HyphaeNetcheck *self,
                                  const HyphaeNetcheckRegion *regions,
                                  guint n);
/* Start a report now (a running one is abandoned), then periodically. */
void hyphae_netcheck_start (HyphaeNetcheck *self);
/* Stop probing (no more reports until _start). */
void hyphae_netcheck_stop (HyphaeNetcheck *self);
/* A STUN datagram from `from`: TRUE if it answered one of our probes. */
gboolean hyphae_netcheck_rx (HyphaeNetcheck *self,
                             const guint8 *data,
                             gsize len,
                             const union wg_sockaddr *from);
/* The last finished report, NULL before the first. */
const HyphaeNetcheckReport *hyphae_netcheck_get_report (HyphaeNetcheck *self);
/* The region's code, NULL if unknown. */
const char *hyphae_netcheck_region_code (HyphaeNetcheck *self,
                                         int region_id);
/* The home region of a report given the previous one (the rules above; a
 * pure function, for the report and the tests). */
int hyphae_netcheck_pick_home (const HyphaeNetcheckRegion *regions,
                               guint n_regions,
                               const HyphaeNetcheckReport *rep,
                               int prev);
/* Tests: the period between reports (ms; 0 = 20–26 s). */
void hyphae_netcheck_set_interval_for_testing (HyphaeNetcheck *self,
                                               guint interval_ms);

G_END_DECLS
