/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "filter-compile.h"
#include "wireguard/wg-runner.h"

G_BEGIN_DECLS

/*
 * The packet filter as ipn keeps it: the last parsed PacketFilter (parsed
 * again only when its text changes), the plan installed in the runner
 * (installed again only when the plan's digest changes, so the per-rule
 * counters survive netmap deltas that do not touch the filter), and what was
 * logged (an entry left out or a refused filter is logged once, not on every
 * netmap). Main loop only.
 */
typedef struct _HyphaeFilterState HyphaeFilterState;

HyphaeFilterState *hyphae_filter_state_new (void);
void hyphae_filter_state_free (HyphaeFilterState *st);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HyphaeFilterState, hyphae_filter_state_free)

/* nm + options → the runner's filter (see filter-compile.h for the rules). */
void hyphae_filter_state_update (HyphaeFilterState *st,
                                 struct wg_runner *runner,
                                 const HyphaeNetmap *nm,
                                 const HyphaeFilterOptions *options);
/* Why the control server's filter was refused (for Health), or NULL. */
const char *hyphae_filter_state_get_problem (HyphaeFilterState *st);
/* The runner went away: the next update installs into the new one. */
void hyphae_filter_state_reset (HyphaeFilterState *st);

/*
 * GetFilterStats' a{sv} (data/io.github.hyphae.Mesh1.xml): "Installed" b,
 * "ShieldsUp" b, "DenyAll" b, "Why" s, "ServerRules" u, "Rejected" as,
 * "Accepted" a{st} and "Dropped" a{st} by reason, "RejectsSent" t, "Rules"
 * aa{sv} ("Index" u, "Sources" s, "Destinations" s, "Protocols" s,
 * "Accepts" t, "Drops" t). Transfer floating.
 */
GVariant *hyphae_filter_state_stats (HyphaeFilterState *st,
                                     struct wg_runner *runner);

G_END_DECLS
