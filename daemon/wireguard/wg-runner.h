/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "uapi/uapi.h"
#include "crypto/keys.h"
#include "wg/masq.h"

/*
 * The WireGuard engine on a TUN, as a handle (plain C, no GLib).
 *
 * Threads (docs/ARCHITECTURE.md "Threads and locks"): TX reads the TUN in batches, seals and sends
 * with UDP GSO; RX receives with UDP GRO, opens and writes coalesced packets
 * to the TUN; a timer thread sleeps until the next WireGuard timer; a UAPI
 * thread serves wg(8) on UAPI_DIR/IFNAME.sock. The threads block every
 * signal: signal handling stays with the caller.
 *
 * wg_runner_apply takes the same struct uapi_set a `wg set` request is parsed
 * into and goes through the same code, so both behave identically.
 */
struct wg_runner;

struct wg_runner_config {
    const char *ifname;         /* TUN to create or attach to */
    uint16_t listen_port;       /* UDP; 0 = random */
    const uint8_t *private_key; /* 32 bytes, or NULL for none yet */
    uint32_t fwmark;            /* SO_MARK on the UDP sockets; 0 = none */
    const char *uapi_dir;       /* NULL: /var/run/wireguard */
    unsigned int mtu;           /* 0: 1420, wireguard-go's default */
    /*
     * Tailscale mode (hyphaed's mesh): datagrams that look like STUN or disco
     * (Tailscale's packetLooksLike order: STUN, disco, else WireGuard) are not
     * WireGuard's: they go to the event queue; packets to a DERP endpoint
     * (wg_endpoint_is_derp) go there too instead of to UDP; and peers whose
     * endpoint was set with wg_runner_set_peer_endpoint do not roam.
     */
    bool magicsock;
};

/* Create the TUN, sockets and UAPI socket, start the threads. 0 or -errno. */
int wg_runner_start(const struct wg_runner_config *cfg, struct wg_runner **out);
/* Apply a configuration exactly as a UAPI set=1 request would. 0 or -errno. */
int wg_runner_apply(struct wg_runner *r, const struct uapi_set *set);
/* The whole device state as a UAPI get=1 sees it; free with uapi_device_state_clear. */
int wg_runner_get(struct wg_runner *r, struct uapi_device_state *out);

struct wg_runner_peer_stats {
    uint64_t rx_bytes;
    uint64_t tx_bytes;
    int64_t last_handshake_sec; /* unix time, 0 = never */
    bool has_endpoint;
    union wg_sockaddr endpoint;
};
/* One peer's counters without copying the rest; -ENOENT if no such peer. */
int wg_runner_get_peer_stats(struct wg_runner *r, const uint8_t public_key[KEY_LEN],
                             struct wg_runner_peer_stats *out);
/*
 * Start a handshake with a peer now (at most one per REKEY_TIMEOUT, only with
 * an endpoint), instead of waiting for traffic: a peer that forgot our
 * session (its daemon restarted, or we re-added it) would otherwise drop
 * what we send until WireGuard's 15 s no-reply timer. -ENOENT if no such peer.
 */
int wg_runner_initiate_handshake(struct wg_runner *r, const uint8_t public_key[KEY_LEN]);
uint16_t wg_runner_get_listen_port(struct wg_runner *r);

/* ---- Tailscale mode (cfg.magicsock) ---------------------------------------
 * The runner threads hand what is not theirs to the daemon's main loop through
 * one bounded queue (WG_RUNNER_EVENT_QUEUE_MAX events or _BYTES bytes; past
 * that, events are dropped and counted); the eventfd becomes readable when
 * the queue is not empty.
 */
enum {
    WG_RUNNER_EVENT_QUEUE_MAX = 4096,
    WG_RUNNER_EVENT_QUEUE_BYTES = 8 << 20,
};

enum wg_runner_event_kind {
    WG_RUNNER_EVENT_DISCO,     /* a disco datagram from UDP; ep = its source */
    WG_RUNNER_EVENT_STUN,      /* a STUN datagram from UDP; ep = its source */
    WG_RUNNER_EVENT_DERP_SEND, /* WireGuard bytes for a DERP endpoint; ep = that endpoint */
    WG_RUNNER_EVENT_HANDSHAKE, /* WireGuard wants peer_key: we sent it a handshake initiation,
                                * or data (at most once a second per peer): it is active */
    WG_RUNNER_EVENT_DNS,       /* a DNS query read from the TUN: UDP to 100.100.100.100:53 or
                                * [fd7a:115c:a1e0::53]:53; data = the whole IP packet, ep unused.
                                * It never goes to a peer: answer with wg_runner_tun_inject. */
};

struct wg_runner_event {
    enum wg_runner_event_kind kind;
    struct wg_endpoint ep;
    uint8_t peer_key[KEY_LEN]; /* HANDSHAKE only */
    size_t len;
    uint8_t data[]; /* len bytes */
};

int wg_runner_event_fd(struct wg_runner *r);
/* The oldest event, or NULL when none; free() it. Clears the eventfd when empty. */
struct wg_runner_event *wg_runner_event_pop(struct wg_runner *r);
/* Events dropped because the queue was full. */
uint64_t wg_runner_events_dropped(struct wg_runner *r);

/*
 * Set (and pin: no roaming) the peer's WireGuard endpoint: a UDP address or a
 * DERP endpoint; family AF_UNSPEC clears it. Packets staged for a handshake go
 * out when one completes over the new path; an initiation still unanswered on
 * the old path is sent again over the new one at once. A DERP endpoint is
 * stored with addr 127.3.3.40:region (what stats and `wg show` report).
 * -ENOENT if no such peer, -EINVAL for a DERP endpoint outside Tailscale
 * mode, -EAFNOSUPPORT for another family. wg_runner_apply with an endpoint
 * unpins (the peer roams again).
 */
int wg_runner_set_peer_endpoint(struct wg_runner *r, const uint8_t public_key[KEY_LEN],
                                const struct wg_endpoint *ep);
/*
 * serve: masquerade addresses (capver 59/77/104, wg/masq.h). Our own tailnet
 * addresses (those a masquerade replaces), and the address one peer knows
 * us by (has4/has6 false: none): packets to it leave with that source, its
 * packets to that address arrive with ours. Lost when the peer is removed:
 * set again after each wg_runner_apply. -ENOENT if no such peer.
 */
void wg_runner_set_native_addrs(struct wg_runner *r, const struct wg_masq *native);
int wg_runner_set_peer_masq(struct wg_runner *r, const uint8_t public_key[KEY_LEN],
                            const struct wg_masq *masq);
/* Send one datagram (disco, STUN) from the WireGuard sockets. 0 or -errno. */
int wg_runner_send_udp(struct wg_runner *r, const uint8_t *data, size_t len,
                       const union wg_sockaddr *to);
/*
 * WireGuard bytes that arrived over DERP (from = that DERP endpoint): opened
 * by the device and written to the TUN as a UDP datagram would be. Called on
 * the main loop; serialised with the RX thread.
 */
void wg_runner_rx_inject(struct wg_runner *r, const uint8_t *data, size_t len,
                         const struct wg_endpoint *from);
/*
 * Write one IP packet to the TUN, as if a peer had sent it (a MagicDNS answer).
 * Not filtered. 0 or -errno (-EINVAL: not an IPv4/IPv6 packet or over 65535
 * bytes). Any thread.
 */
int wg_runner_tun_inject(struct wg_runner *r, const uint8_t *pkt, size_t len);

/* ---- packet filter (daemon/engine/filter/filter.h) ------------------------
 * Every packet a peer sends (UDP or DERP) is decrypted, then judged by the
 * filter before it is written to the TUN; a dropped bare TCP SYN is answered
 * with a TSMP reject and a TCP RST through WireGuard to its sender; TSMP
 * from peers is never written to the TUN (Tailscale consumes it). Every
 * packet read from the TUN is noted in the runner's flow table (our UDP flows,
 * whose replies pass), which outlives filter swaps.
 */
struct pf_filter;
struct pf_stats;
/*
 * Replace the inbound filter; ownership taken; NULL = no filter (everything
 * passes, as before a PacketFilter arrives). The old one is freed once no
 * thread uses it (the swap waits for the RX batch in progress). Any thread.
 */
void wg_runner_set_filter(struct wg_runner *r, struct pf_filter *f);
/*
 * A copy of the current filter's counters (pf_filter_stats: per reason, per
 * rule) into *out (free() it), or -ENOENT when no filter is set, -ENOMEM.
 */
int wg_runner_filter_stats(struct wg_runner *r, struct pf_stats **out);
/* Rejects (TSMP + RST pairs) sent for dropped SYNs since start. */
uint64_t wg_runner_filter_rejects_sent(struct wg_runner *r);

const char *wg_runner_get_ifname(struct wg_runner *r);
/* false once a thread stopped on its own (the TUN disappeared). */
bool wg_runner_is_alive(struct wg_runner *r);
/* Join the threads, close the TUN and sockets, remove the UAPI socket, free. */
void wg_runner_stop(struct wg_runner *r);

/* `hyphaed --wireguard IFNAME` / `hyphae-wg IFNAME`. */
struct wg_runner_options {
    const char *ifname;
    bool foreground;
    const char *uapi_dir; /* NULL: /var/run/wireguard */
};

/* Runs until SIGINT/SIGTERM or the TUN disappears. Returns an exit status. */
int wg_runner_main(const struct wg_runner_options *opts);
