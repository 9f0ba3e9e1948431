/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * Being an exit node or a subnet router: the kernel forwards what peers send
 * into the TUN for other networks, and masquerades it behind this host's
 * address on the way out, so the replies come back to us.
 *
 *  - sysctls net.ipv4.ip_forward and net.ipv6.conf.all.forwarding set to 1;
 *    the values found before are kept in STATE_DIR/forwarding (written
 *    before the first change, so a crash leaves them for the next start or
 *    `hyphaed --cleanup`) and put back on remove;
 *  - nftables table `inet hyphae` (libnftables), replaced atomically:
 *      chain forward     (filter, hook forward): packets in from the TUN get
 *                        mark 0x40000 in 0xff0000 and are accepted; packets
 *                        out to the TUN are accepted;
 *      chain postrouting (nat, hook postrouting): marked packets leaving by
 *                        another interface are masqueraded.
 *    Tailscale's layout (util/linuxfw/nftables_runner.go: ts-forward marks
 *    with TailscaleSubnetRouteMark 0x40000, ts-postrouting masquerades
 *    marked packets); the mark is needed because the input interface is no
 *    longer known in postrouting. Our own table instead of chains jumped to
 *    from the system's: removing it leaves nothing behind.
 *
 * Apply and remove are idempotent; remove also works after a crash (no
 * HyphaeNat needed: hyphae_nat_cleanup).
 */
#define HYPHAE_NAT_TABLE        "hyphae"
#define HYPHAE_NAT_FORWARD_MARK 0x40000u
#define HYPHAE_NAT_FORWARD_MASK 0xff0000u

typedef struct _HyphaeNat HyphaeNat;

/* Nothing changes until _apply. state_dir: where the saved sysctls live. */
HyphaeNat *hyphae_nat_new (const char *ifname,
                           const char *state_dir);
/* Removes what it set up (as _remove) and frees. */
void hyphae_nat_free (HyphaeNat *nat);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HyphaeNat, hyphae_nat_free)

/* Forwarding on, the table in place (again: a table deleted by hand comes
 * back). */
gboolean hyphae_nat_apply (HyphaeNat *nat,
                           GError **error);
/* The table gone, the sysctls as they were. */
gboolean hyphae_nat_remove (HyphaeNat *nat,
                            GError **error);
gboolean hyphae_nat_is_applied (HyphaeNat *nat);

/* For `hyphaed --cleanup` and startup after a crash: delete the table if it
 * exists and restore the sysctls saved in state_dir, if any. */
gboolean hyphae_nat_cleanup (const char *state_dir,
                             GError **error);

/* The ruleset _apply loads (nft syntax), for the tests. */
char *hyphae_nat_ruleset (const char *ifname);

G_END_DECLS
