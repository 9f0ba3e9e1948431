/* SPDX-License-Identifier: MIT */
/*
 * hyphaed: the Hyphae daemon.
 *   hyphaed [--state-dir DIR] [--ifname NAME] [--port N] [--uapi-dir DIR]
 *     the mesh daemon: io.github.hyphae.Mesh1 on the system bus (D-Bus activated)
 *   hyphaed --cleanup [--state-dir DIR]
 *     undo what a dead hyphaed left in the OS (ExecStopPost of hyphaed.service)
 *   hyphaed --wireguard IFNAME [--foreground]
 *     the bare WireGuard engine, configured with wg(8)
 * and, built as hyphae-wg, wireguard-go's calling convention for wg-quick:
 *   hyphae-wg [-f|--foreground] IFNAME   (WG_PROCESS_FOREGROUND=1 also stays)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wireguard/wg-runner.h"
#ifndef HYPHAE_WG_ENTRY
#include "service/hyphae-daemon.h"
#endif

static int
usage (const char *prog, int status)
{
#ifdef HYPHAE_WG_ENTRY
  fprintf (status ? stderr : stdout, "Usage: %s [-f/--foreground] INTERFACE-NAME\n", prog);
#else
  fprintf (status ? stderr : stdout,
           "Usage: %s [--state-dir DIR] [--ifname NAME] [--port N] [--uapi-dir DIR]\n"
           "       %s --cleanup [--state-dir DIR]\n"
           "       %s --wireguard INTERFACE-NAME [--foreground]\n"
           "\n"
           "The first form runs the mesh daemon: the service io.github.hyphae.Mesh1 on\n"
           "the system bus (DBUS_SYSTEM_BUS_ADDRESS is honoured), keys and prefs in DIR\n"
           "(default /var/lib/hyphae), TUN NAME (hyphae0), UDP port N (41641), the\n"
           "WireGuard UAPI socket in --uapi-dir (/var/run/wireguard).\n"
           "The second runs a userspace WireGuard interface configured with wg(8)\n"
           "through /var/run/wireguard/INTERFACE-NAME.sock.\n"
           "--cleanup puts back what a hyphaed that died left changed in the OS\n"
           "(its DNS settings), as recorded in DIR, and exits.\n",
           prog, prog, prog);
#endif
  return status;
}

#ifndef HYPHAE_WG_ENTRY
/* Port 1..65535; false otherwise. */
static bool
parse_port (const char *s, unsigned *out)
{
  char *end;
  unsigned long v;

  errno = 0;
  v = strtoul (s, &end, 10);
  if (errno || end == s || *end || s[0] == '-' || v == 0 || v > 65535)
    return false;
  *out = (unsigned) v;
  return true;
}
#endif

/* hyphaed --cleanup: the OS state a killed daemon left behind. */
static int
run_cleanup (const char *prog, const char *state_dir)
{
#ifndef HYPHAE_WG_ENTRY
  struct hyphae_daemon_options opts = { .state_dir = state_dir };

  (void) prog;
  return hyphae_daemon_cleanup (&opts);
#else
  (void) state_dir;
  return usage (prog, 2);
#endif
}

/* hyphae-wg (wg-quick's entry point) has no mesh mode and does not link it. */
static int
run_mesh (const char *prog, const char *state_dir, const char *ifname, const char *uapi_dir, unsigned port)
{
#ifndef HYPHAE_WG_ENTRY
  struct hyphae_daemon_options opts = {
    .state_dir = state_dir,
    .ifname = ifname,
    .uapi_dir = uapi_dir,
    .port = port,
  };

  (void) prog;
  return hyphae_daemon_main (&opts);
#else
  (void) state_dir, (void) ifname, (void) uapi_dir, (void) port;
  return usage (prog, 2);
#endif
}

int
main (int argc, char **argv)
{
  struct wg_runner_options opts = { 0 };
  const char *env = getenv ("WG_PROCESS_FOREGROUND");
  const char *state_dir = NULL, *mesh_ifname = NULL, *uapi_dir = NULL;
  unsigned port = 0;
  bool wireguard = false, mesh_opts = false, cleanup = false;

#ifdef HYPHAE_WG_ENTRY
  wireguard = true;
  opts.foreground = env && strcmp (env, "1") == 0;
#else
  (void) env;
#endif
  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i];

      if (strcmp (a, "-h") == 0 || strcmp (a, "--help") == 0)
        return usage (argv[0], 0);
      else if (strcmp (a, "--version") == 0)
        {
          printf ("hyphaed " HYPHAE_VERSION "\n");
          return 0;
        }
      else if (strcmp (a, "-f") == 0 || strcmp (a, "--foreground") == 0)
        opts.foreground = true;
      else if (strcmp (a, "--wireguard") == 0 && i + 1 < argc)
        {
          wireguard = true;
          opts.ifname = argv[++i];
        }
      else if (a[0] != '-' && !opts.ifname && wireguard)
        opts.ifname = a;
#ifndef HYPHAE_WG_ENTRY
      else if (strcmp (a, "--cleanup") == 0)
        cleanup = true;
      else if (strcmp (a, "--state-dir") == 0 && i + 1 < argc && !state_dir)
        {
          state_dir = argv[++i];
          mesh_opts = true;
        }
      else if (strcmp (a, "--ifname") == 0 && i + 1 < argc && !mesh_ifname)
        {
          mesh_ifname = argv[++i];
          mesh_opts = true;
        }
      else if (strcmp (a, "--uapi-dir") == 0 && i + 1 < argc && !uapi_dir)
        {
          uapi_dir = argv[++i];
          mesh_opts = true;
        }
      else if (strcmp (a, "--port") == 0 && i + 1 < argc && !port)
        {
          if (!parse_port (argv[++i], &port))
            return usage (argv[0], 2);
          mesh_opts = true;
        }
#endif
      else
        return usage (argv[0], 2);
    }
  if (cleanup)
    {
      /* Only the state dir says what to undo. */
      if (wireguard || opts.foreground || mesh_ifname || uapi_dir || port)
        return usage (argv[0], 2);
      return run_cleanup (argv[0], state_dir);
    }
  if (!wireguard)
    {
      if (opts.foreground)
        return usage (argv[0], 2);
      return run_mesh (argv[0], state_dir, mesh_ifname, uapi_dir, port);
    }
  if (!opts.ifname || mesh_opts)
    return usage (argv[0], 2);
  return wg_runner_main (&opts);
}
