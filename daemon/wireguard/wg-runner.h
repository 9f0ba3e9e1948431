/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

/*
 * `hyphaed --wireguard IFNAME`: the bare WireGuard engine on a TUN, driven
 * through the cross-platform UAPI socket like wireguard-go.
 *
 * Threads (DESIGN.md "Threads"): TX reads the TUN in batches, seals and sends
 * with UDP GSO; RX receives with UDP GRO, opens and writes coalesced packets
 * to the TUN; a timer thread sleeps until the next WireGuard timer; a UAPI
 * thread serves wg(8); the main thread waits for signals.
 */
struct wg_runner_options {
    const char *ifname;
    bool foreground;
    const char *uapi_dir;       /* NULL: /var/run/wireguard */
};

/* Runs until SIGINT/SIGTERM or the TUN disappears. Returns an exit status. */
int wg_runner_main(const struct wg_runner_options *opts);
