/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

#include "hyphae-dns-config.h"

G_BEGIN_DECLS

/*
 * One DNS query sent upstream for MagicDNS, after tailscaled's forwarder
 * (net/dns/resolver/forwarder.go, v1.102.5): every resolver of the list at
 * once, the first good answer wins; an answer with SERVFAIL or REFUSED counts
 * as that resolver failing.
 *  - UDP resolvers: a connected socket per query (the kernel drops datagrams
 *    from anyone else; the answer must carry the query's ID and QR). A
 *    truncated answer (TC) is asked again over TCP at once; without any UDP
 *    answer after HYPHAE_DNS_FORWARD_UDP_RACE_MS, TCP starts beside it
 *    (udpRaceTimeout). tailscaled hands a truncated answer to a UDP client
 *    and lets it retry over TCP; our clients cannot (MagicDNS serves no TCP),
 *    so we retry upstream ourselves.
 *  - DoH resolvers (https:// and, for an exit node's peerapi, http://):
 *    POST application/dns-message through libsoup (sendDoH); 5xx is a
 *    server failure; the body is read up to HYPHAE_DNS_FORWARD_ANSWER_MAX.
 * Everything stops at timeout_ms (tsdns.go dnsQueryTimeout) or when
 * cancellable is cancelled.
 */
#define HYPHAE_DNS_FORWARD_UDP_RACE_MS 2000 /* forwarder.go udpRaceTimeout */
#define HYPHAE_DNS_FORWARD_ANSWER_MAX  65535

/* query: the client's DNS message as received (≥ 12 bytes). session: for DoH
 * (may be NULL when no resolver is DoH). */
void hyphae_dns_forward_async (GPtrArray *resolvers,
                               GBytes *query,
                               SoupSession *session,
                               guint timeout_ms,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data);

/* The winning answer, or NULL with *rcode the answer to give instead
 * (SERVFAIL, or REFUSED when every resolver refused) and an error saying why. */
GBytes *hyphae_dns_forward_finish (GAsyncResult *result,
                                   guint8 *rcode,
                                   GError **error);

G_END_DECLS
