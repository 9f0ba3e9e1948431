/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * What hyphaed does to itself when it runs as the mesh daemon (prctl(2),
 * capabilities(7); docs/ARCHITECTURE.md "Local users").
 *
 * hyphae_harden_not_dumpable: PR_SET_DUMPABLE 0: no core file, and /proc/PID/
 * (mem, environ, maps …) and ptrace closed to everyone without
 * CAP_SYS_PTRACE, also to processes of the daemon's own user.
 *
 * hyphae_harden_drop_capabilities: keeps only HYPHAE_HARDEN_KEPT_CAPS (TUN,
 * rtnetlink, SO_MARK) in the effective and permitted sets, empties the
 * inheritable and ambient sets, and takes every other capability out of the
 * bounding set when it may (CAP_SETPCAP: started as root by D-Bus without
 * systemd). Under the systemd unit the bounding set is already that small.
 * No libcap: prctl and capset(2) suffice.
 */
#define HYPHAE_HARDEN_KEPT_CAPS "cap_net_admin"

gboolean hyphae_harden_not_dumpable (GError **error);
gboolean hyphae_harden_drop_capabilities (GError **error);

G_END_DECLS
