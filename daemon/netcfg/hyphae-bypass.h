/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * The bypass mark on the sockets hyphaed dials itself (control, DERP, the
 * HEAD requests control asks for), so that none of them loops into the
 * tunnel once an exit node puts 0.0.0.0/0 and ::/0 into table 52: policy
 * rule 5210 sends marked packets to the main table (hyphae-netcfg.h).
 * Tailscale does the same for every socket it dials outside the tunnel
 * (net/netns/netns_linux.go: SO_MARK, which needs CAP_NET_ADMIN).
 *
 * Without CAP_NET_ADMIN the mark cannot be set: the socket is used as it is
 * (fine while no exit node is in use) and the first failure is logged once
 * per process. The WireGuard runner's UDP sockets carry the same mark
 * through its fwmark option.
 */
#define HYPHAE_BYPASS_MARK 0x80000u /* = HYPHAE_NETCFG_BYPASS_MARK */

/* Mark socket (before it connects). FALSE, and a log line the first time,
 * when the kernel refuses. */
gboolean hyphae_bypass_mark_socket (GSocket *socket);

/* Every socket client connects from now on gets the mark before it
 * connects (GSocketClient::event, G_SOCKET_CLIENT_CONNECTING). */
void hyphae_bypass_mark_socket_client (GSocketClient *client);

/* The same for one libsoup message (its connection's sockets):
 * g_signal_connect (msg, "network-event", G_CALLBACK (hyphae_bypass_soup_network_event), NULL).
 * msg is a SoupMessage (this library does not link libsoup). */
void hyphae_bypass_soup_network_event (gpointer msg,
                                       GSocketClientEvent event,
                                       GIOStream *connection,
                                       gpointer user_data);

G_END_DECLS
