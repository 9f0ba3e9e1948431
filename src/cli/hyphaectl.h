/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "hyphae-mesh-proxy.h"
#include "hyphae-peer-list.h"

G_BEGIN_DECLS

/* Exit codes, documented in `hyphaectl --help`. */
enum {
  CTL_EXIT_OK = 0,
  CTL_EXIT_FAILED = 1,         /* any other failure */
  CTL_EXIT_USAGE = 2,          /* bad command line or invalid argument */
  CTL_EXIT_NO_DAEMON = 3,      /* hyphaed is not running and cannot be activated */
  CTL_EXIT_NOT_AUTHORIZED = 4, /* polkit denied the call */
  CTL_EXIT_UNREACHABLE = 5,    /* the control server cannot be reached */
  CTL_EXIT_BAD_AUTH_KEY = 6,   /* the control server refused the auth key */
  CTL_EXIT_NEEDS_LOGIN = 7,    /* a browser login is needed (the URL was printed) */
  CTL_EXIT_ENGINE = 8,         /* the WireGuard engine or the network setup failed */
  CTL_EXIT_TOO_MANY = 9,       /* too many requests of this user wait for polkit */
};

/* Prints "hyphaectl: …" for error and returns the matching exit code. */
int ctl_error_exit (const GError *error);
/* Prints the message and "Try --help"; returns CTL_EXIT_USAGE. */
int ctl_usage_error (const char *fmt,
                     ...) G_GNUC_PRINTF (1, 2);
/* The proxy (activating hyphaed), or NULL with *exit_code set. */
HyphaeMesh1 *ctl_connect_daemon (int *exit_code);
/* The one peer `what` names (host name, MagicDNS name, IP, stable id), or
 * NULL after saying why. peers: HyphaePeerInfo. */
HyphaePeerInfo *ctl_find_peer (GPtrArray *peers,
                               const char *what);

/* hyphaectl-ping.c: `ping`. */
int ctl_cmd_ping (int argc,
                  char **argv);

/* hyphaectl-filter.c: `debug filter`. */
int ctl_cmd_debug_filter (int argc,
                          char **argv);
/* hyphaectl-dns.c: `dns status`, and the DNS line `status` ends with. */
int ctl_cmd_dns (int argc,
                 char **argv);
void ctl_print_dns_line (HyphaeMesh1 *proxy);

/* hyphaectl-status.c: `status`, `status --json`, `ip`. peers: HyphaePeerInfo. */
int ctl_print_status (HyphaeMesh1 *proxy,
                      GPtrArray *peers);
int ctl_print_status_json (HyphaeMesh1 *proxy,
                           GPtrArray *peers);
/* IPv4 first, then IPv6, as `tailscale ip`; which: 0 both, 4, 6. */
int ctl_print_ips (HyphaeMesh1 *proxy,
                   char * const *addresses,
                   int which);

G_END_DECLS
