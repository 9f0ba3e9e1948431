/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "hyphae-mesh1-generated.h"

G_BEGIN_DECLS

/* Exit codes, documented in `hyphaectl --help`. */
enum {
  CTL_EXIT_OK             = 0,
  CTL_EXIT_FAILED         = 1,  /* any other failure */
  CTL_EXIT_USAGE          = 2,  /* bad command line or invalid argument */
  CTL_EXIT_NO_DAEMON      = 3,  /* hyphaed is not running and cannot be activated */
  CTL_EXIT_NOT_AUTHORIZED = 4,  /* polkit denied the call */
  CTL_EXIT_UNREACHABLE    = 5,  /* the control server cannot be reached */
  CTL_EXIT_BAD_AUTH_KEY   = 6,  /* the control server refused the auth key */
  CTL_EXIT_NEEDS_LOGIN    = 7,  /* a browser login is needed (the URL was printed) */
  CTL_EXIT_ENGINE         = 8,  /* the WireGuard engine or the network setup failed */
  CTL_EXIT_TOO_MANY       = 9,  /* too many requests of this user wait for polkit */
};

/* Prints "hyphaectl: …" for error and returns the matching exit code. */
int ctl_error_exit (const GError *error);

/* The pending login URL if the daemon gives it to us (we called Up/Login, or
 * polkit lets us administer it; asked without interaction), else NULL. */
char *ctl_get_auth_url (HyphaeMesh1 *proxy);

/* hyphaectl-status.c: `status`, `status --json`, `ip`. peers is aa{sv}. */
int ctl_print_status      (HyphaeMesh1 *proxy,
                           GVariant    *peers);
int ctl_print_status_json (HyphaeMesh1 *proxy,
                           GVariant    *peers);
/* IPv4 first, then IPv6, as `tailscale ip`; which: 0 both, 4, 6. */
int ctl_print_ips         (HyphaeMesh1 *proxy,
                           GVariant    *node,
                           int          which);

G_END_DECLS
