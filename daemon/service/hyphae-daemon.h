/* SPDX-License-Identifier: MIT */
#pragma once

/* hyphaed's mesh mode: HyphaeIpn + the D-Bus service on a GLib main loop. */
struct hyphae_daemon_options {
  const char *state_dir; /* NULL = /var/lib/hyphae */
  const char *ifname;    /* NULL = hyphae0 */
  const char *uapi_dir;  /* NULL = /var/run/wireguard */
  unsigned port;         /* 0 = 41641 */
};

/* Runs until SIGTERM/SIGINT or until the bus name is lost; returns the exit status. */
int hyphae_daemon_main (const struct hyphae_daemon_options *options);

/* `hyphaed --cleanup`: undo what a hyphaed that died left in the OS, as its
 * state dir records it (the OS DNS settings); also run at every start. 0 when
 * nothing is left, 1 when something could not be put back. */
int hyphae_daemon_cleanup (const struct hyphae_daemon_options *options);
