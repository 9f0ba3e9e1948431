/* SPDX-License-Identifier: MIT */
/*
 * `hyphaectl ping PEER`: disco pings through Mesh1.Ping, printed as
 * `tailscale ping` prints them (cmd/tailscale/cli/ping.go): one line per
 * pong, "pong from NAME (IP) via ADDR in 1ms" or "via DERP(code) in 5ms",
 * `ping "IP" timed out` for a ping without answer; -c N pings at most (0:
 * no limit), one a second; --until-direct (on by default) stops at the
 * first direct pong and fails with "direct connection not established"
 * when none came.
 */
#include "hyphaectl.h"

#include <stdio.h>
#include <string.h>

static gboolean until_direct = TRUE;

static gboolean
parse_until_direct (const char *option_name,
                    const char *value,
                    gpointer data,
                    GError **error)
{
  if (value == NULL || g_ascii_strcasecmp (value, "true") == 0 || strcmp (value, "1") == 0)
    until_direct = TRUE;
  else if (g_ascii_strcasecmp (value, "false") == 0 || strcmp (value, "0") == 0)
    until_direct = FALSE;
  else
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "%s: “%s” is not a boolean (true or false)", option_name, value);
      return FALSE;
    }
  return TRUE;
}

/* Go's time.Duration rounded to the millisecond: "0s", "5ms", "1.234s". */
static char *
format_latency (double ms)
{
  gint64 rounded = (gint64) (ms + 0.5);

  if (rounded <= 0)
    return g_strdup ("0s");
  if (rounded < 1000)
    return g_strdup_printf ("%" G_GINT64_FORMAT "ms", rounded);
  return g_strdup_printf ("%g"
                          "s",
                          (double) rounded / 1000);
}

static void
print_pong (GVariant *result,
            gboolean *direct)
{
  const char *path = "", *endpoint = "", *code = "", *name = "", *ip = "";
  g_autofree char *via = NULL, *latency = NULL;
  double ms = 0;

  g_variant_lookup (result, "Path", "&s", &path);
  g_variant_lookup (result, "Endpoint", "&s", &endpoint);
  g_variant_lookup (result, "DERPRegionCode", "&s", &code);
  g_variant_lookup (result, "NodeName", "&s", &name);
  g_variant_lookup (result, "NodeIP", "&s", &ip);
  g_variant_lookup (result, "LatencyMs", "d", &ms);
  *direct = strcmp (path, "direct") == 0 && *endpoint != '\0';
  via = *direct ? g_strdup (endpoint) : g_strdup_printf ("DERP(%s)", code);
  latency = format_latency (ms);
  printf ("pong from %s (%s) via %s in %s\n", name, ip, via, latency);
  fflush (stdout);
}

static gboolean
wake (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

int
ctl_cmd_ping (int argc,
              char **argv)
{
  int count = 10, timeout_s = 5;
  GOptionEntry entries[] = {
    { "c", 'c', 0, G_OPTION_ARG_INT, &count, "Send at most N pings (0: no limit; default 10)", "N" },
    { "until-direct", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, parse_until_direct,
      "Stop at the first direct pong (default true)", "BOOL" },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout_s, "Seconds to wait for each pong (default 5)", "SECONDS" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("PEER - disco ping a peer, showing the path");
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeMesh1) proxy = NULL;
  g_autoptr(GPtrArray) peers = NULL;
  g_autoptr(HyphaePeerInfo) peer = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  gboolean any_pong = FALSE;
  int code = CTL_EXIT_OK;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return ctl_usage_error ("%s", error->message);
  if (argc != 2 || *argv[1] == '\0')
    return ctl_usage_error ("usage: hyphaectl ping [-c N] [--until-direct[=BOOL]] PEER");
  if (count < 0 || timeout_s <= 0 || timeout_s > 60)
    return ctl_usage_error ("ping: -c must be ≥ 0 and --timeout 1 to 60");
  if ((proxy = ctl_connect_daemon (&code)) == NULL)
    return code;
  if ((peers = hyphae_mesh_get_peers_sync (proxy, NULL, &error)) == NULL)
    return ctl_error_exit (error);
  if ((peer = ctl_find_peer (peers, argv[1])) == NULL)
    return CTL_EXIT_FAILED;

  for (int n = 1;; n++)
    {
      g_autoptr(GVariant) result = NULL;
      const char *ip = peer->addresses && peer->addresses[0] ? peer->addresses[0] : argv[1];
      GVariantBuilder options;
      gboolean direct = FALSE;

      g_clear_error (&error);
      g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&options, "{sv}", "Timeout", g_variant_new_uint32 ((guint32) timeout_s * 1000));
      if (!hyphae_mesh1_call_ping_sync (proxy, peer->public_key, g_variant_builder_end (&options),
                                        G_DBUS_CALL_FLAGS_NONE, (timeout_s + 5) * 1000, &result, NULL, &error))
        {
          if (!g_error_matches (error, HYPHAE_MESH_ERROR, HYPHAE_MESH_ERROR_TIMED_OUT))
            return ctl_error_exit (error);
          printf ("ping \"%s\" timed out\n", ip);
          fflush (stdout);
          if (n == count)
            break;
          continue;
        }
      any_pong = TRUE;
      print_pong (result, &direct);
      if (direct && until_direct)
        return CTL_EXIT_OK;
      if (n == count)
        break;
      g_timeout_add_seconds (1, wake, loop);
      g_main_loop_run (loop);
    }
  if (!any_pong)
    {
      g_printerr ("hyphaectl: no reply\n");
      return CTL_EXIT_FAILED;
    }
  if (until_direct)
    {
      g_printerr ("hyphaectl: direct connection not established\n");
      return CTL_EXIT_FAILED;
    }
  return CTL_EXIT_OK;
}
