/* SPDX-License-Identifier: MIT */
/*
 * hyphaed: the Hyphae daemon. For now it runs the bare WireGuard engine:
 *   hyphaed --wireguard IFNAME [--foreground]
 * and, built as hyphae-wg, wireguard-go's calling convention for wg-quick:
 *   hyphae-wg [-f|--foreground] IFNAME   (WG_PROCESS_FOREGROUND=1 also stays)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wireguard/wg-runner.h"

static int
usage(const char *prog, int status)
{
#ifdef HYPHAE_WG_ENTRY
    fprintf(status ? stderr : stdout, "Usage: %s [-f/--foreground] INTERFACE-NAME\n", prog);
#else
    fprintf(status ? stderr : stdout,
            "Usage: %s --wireguard INTERFACE-NAME [--foreground]\n"
            "Runs a userspace WireGuard interface configured with wg(8) through\n"
            "/var/run/wireguard/INTERFACE-NAME.sock.\n",
            prog);
#endif
    return status;
}

int
main(int argc, char **argv)
{
    struct wg_runner_options opts = { 0 };
    const char *env = getenv("WG_PROCESS_FOREGROUND");
    bool wireguard = false;

#ifdef HYPHAE_WG_ENTRY
    wireguard = true;
    opts.foreground = env && strcmp(env, "1") == 0;
#else
    (void)env;
#endif
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
            return usage(argv[0], 0);
        else if (strcmp(a, "--version") == 0) {
            printf("hyphaed " HYPHAE_VERSION "\n");
            return 0;
        } else if (strcmp(a, "-f") == 0 || strcmp(a, "--foreground") == 0)
            opts.foreground = true;
        else if (strcmp(a, "--wireguard") == 0 && i + 1 < argc) {
            wireguard = true;
            opts.ifname = argv[++i];
        } else if (a[0] != '-' && !opts.ifname && wireguard)
            opts.ifname = a;
        else
            return usage(argv[0], 2);
    }
    if (!wireguard || !opts.ifname)
        return usage(argv[0], 2);
    return wg_runner_main(&opts);
}
