/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The main view's text: pure functions of their arguments (the time "now"
 * included), no widgets, so tests/unit/test-format.c checks them without a
 * display. Every result is newly allocated.
 */

/* A byte count as people read it: "0 bytes", "1.5 kB", "3.2 MB". */
char *hyphae_format_bytes (guint64 bytes);
/* A past moment against now (Unix seconds): "Just now", "5 minutes ago",
 * "3 hours ago", "2 days ago", beyond 30 days the date; 0 is "Never". */
char *hyphae_format_ago (gint64 when,
                         gint64 now);
/* When a peer was last seen: "Online now" while online, else
 * hyphae_format_ago(). */
char *hyphae_format_last_seen (gint64 last_seen,
                               gboolean online,
                               gint64 now);
/* A node key's expiry: "Never expires" (0), "Expired", "Expires in 3 days"
 * (hours, minutes under a day). */
char *hyphae_format_key_expiry (gint64 expiry,
                                gboolean expired,
                                gint64 now);
/* How packets reach a peer: "Direct, 192.0.2.1:41641", "Relay “fra”",
 * else "No connection yet". */
char *hyphae_format_path (const char *cur_addr,
                          const char *relay);
/* A MagicDNS name without its trailing dot ("" stays ""). */
char *hyphae_format_magic_dns (const char *dns_name);
/* An OS as control names it ("linux", "windows", "macOS", …) for people:
 * "Linux", "Windows", "macOS"; "" is "Unknown OS"; others as they are. */
char *hyphae_format_os (const char *os);
/* What the OS resolver is (Mesh1 DNS "Mode"): "systemd-resolved",
 * "/etc/resolv.conf, written by Hyphae" (direct); "none" and "" are
 * "Not set up"; others as they are. */
char *hyphae_format_dns_mode (const char *mode);
/* Addresses or names joined with ", "; none is "None". */
char *hyphae_format_list (const char * const *items);

G_END_DECLS
