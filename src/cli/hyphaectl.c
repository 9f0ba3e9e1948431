/* SPDX-License-Identifier: MIT */
/*
 * hyphaectl: the command line client of io.github.hyphae.Mesh1 on the system
 * bus (data/io.github.hyphae.Mesh1.xml), with the command names and output habits of the tailscale
 * CLI. DBUS_SYSTEM_BUS_ADDRESS selects another bus (tests). Reaching the
 * daemon, reading its peers and sorting its errors is src/common's
 * hyphae-client.h; this file turns them into words and exit codes.
 */
#include "hyphaectl.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

static const char summary[] =
  "Commands:\n"
  "  up [--login-server URL] [--auth-key KEY] [--hostname H] [--unattended] [--timeout SECONDS]\n"
  "                  connect; waits until Running, printing the login URL if one is needed\n"
  "  down            disconnect (keys and login are kept)\n"
  "  status [--json] this node and its peers, with each active peer's path (direct ADDR or\n"
  "                  relay \"DERP region\"; --json: the fields of `tailscale status --json`)\n"
  "  ip [-4|-6] [PEER]\n"
  "                  this node's (or PEER's) tailnet addresses\n"
  "  set [--exit-node PEER] [--exit-node-allow-lan-access[=BOOL]] [--accept-dns[=BOOL]]\n"
  "      [--accept-routes[=BOOL]] [--shields-up[=BOOL]]\n"
  "      [--advertise-routes=CIDR,…] [--advertise-exit-node[=BOOL]]\n"
  "                  change settings; PEER is a host name, MagicDNS name, IP or stable id,\n"
  "                  \"\" clears the exit node; --advertise-routes= (empty) advertises none\n"
  "  ping [-c N] [--until-direct[=BOOL]] [--timeout SECONDS] PEER\n"
  "                  disco ping PEER, showing the path each pong took (direct ip:port or\n"
  "                  DERP(region)); stops at the first direct pong unless --until-direct=false\n"
  "  logout          log out and forget this node's key\n"
  "  netmap --json   the current network map as JSON\n"
  "  dns status      what the OS resolver was told: mode (systemd-resolved or a written\n"
  "                  /etc/resolv.conf), nameservers, search and routing domains\n"
  "  debug [CATEGORY…|all|off]\n"
  "                  switch hyphaed's debug log on for exactly these categories (wg, path,\n"
  "                  control, map); without one, show which are on\n"
  "  debug filter    the inbound packet filter in force and its counters per rule\n"
  "\n"
  "Exit status:\n"
  "  0  success\n"
  "  1  failure\n"
  "  2  bad command line or invalid argument\n"
  "  3  hyphaed is not running and cannot be started (io.github.hyphae.Mesh1 has no owner)\n"
  "  4  not authorized (polkit refused the action)\n"
  "  5  the control server cannot be reached\n"
  "  6  the control server refused the auth key\n"
  "  7  a browser login is needed (the URL is printed)\n"
  "  8  the node cannot reach Running: the WireGuard engine or the network setup\n"
  "     failed (UDP port or UAPI socket taken, no TUN, routes refused)\n"
  "  9  too many of this user's requests wait for authorization; retry later";

/* ------------------------------------------------------------------ errors */

int
ctl_error_exit (const GError *error)
{
  g_autofree char *message = hyphae_client_error_message (error);

  switch (hyphae_client_error_failure (error))
    {
    case HYPHAE_CLIENT_FAILURE_NOT_AUTHORIZED:
      if (g_error_matches (error, HYPHAE_MESH_ERROR, HYPHAE_MESH_ERROR_NOT_AUTHORIZED))
        g_printerr ("hyphaectl: not authorized: %s\n"
                    "Run it as root, or from the active local session.\n",
                    message);
      else
        g_printerr ("hyphaectl: not authorized: %s\n", message);
      return CTL_EXIT_NOT_AUTHORIZED;
    case HYPHAE_CLIENT_FAILURE_NEEDS_LOGIN:
      g_printerr ("hyphaectl: not logged in: %s\nRun `hyphaectl up` to log in.\n", message);
      return CTL_EXIT_NEEDS_LOGIN;
    case HYPHAE_CLIENT_FAILURE_UNREACHABLE:
      g_printerr ("hyphaectl: cannot reach the control server: %s\n", message);
      return CTL_EXIT_UNREACHABLE;
    case HYPHAE_CLIENT_FAILURE_BAD_AUTH_KEY:
      g_printerr ("hyphaectl: the control server refused the auth key: %s\n", message);
      return CTL_EXIT_BAD_AUTH_KEY;
    case HYPHAE_CLIENT_FAILURE_ENGINE:
      g_printerr ("hyphaectl: the node cannot start: %s\n", message);
      return CTL_EXIT_ENGINE;
    case HYPHAE_CLIENT_FAILURE_TOO_MANY_REQUESTS:
      g_printerr ("hyphaectl: too many requests: %s\n", message);
      return CTL_EXIT_TOO_MANY;
    case HYPHAE_CLIENT_FAILURE_INVALID_ARGUMENT:
      g_printerr ("hyphaectl: invalid argument: %s\n", message);
      return CTL_EXIT_USAGE;
    case HYPHAE_CLIENT_FAILURE_NO_DAEMON:
      /* hyphae_mesh_connect_sync's message says it all already. */
      if (error->domain == HYPHAE_CLIENT_ERROR)
        g_printerr ("hyphaectl: %s\n", message);
      else
        g_printerr ("hyphaectl: hyphaed is not running or stopped answering: %s\n", message);
      return CTL_EXIT_NO_DAEMON;
    case HYPHAE_CLIENT_FAILURE_OTHER:
    default:
      g_printerr ("hyphaectl: %s\n", message);
      return CTL_EXIT_FAILED;
    }
}

int
ctl_usage_error (const char *fmt,
                 ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_printerr ("%s: %s\nTry “%s --help”.\n", g_get_prgname (), msg, g_get_prgname ());
  return CTL_EXIT_USAGE;
}

/* --------------------------------------------------------------- the daemon */

/* The proxy, or NULL with *exit_code set. Creating it activates hyphaed. */
HyphaeMesh1 *
ctl_connect_daemon (int *exit_code)
{
  g_autoptr(GError) error = NULL;
  HyphaeMesh1 *proxy = hyphae_mesh_connect_sync (NULL, &error);

  if (proxy == NULL)
    *exit_code = ctl_error_exit (error);
  return proxy;
}

/* Lets queued PropertiesChanged signals update the proxy's cache. */
static void
drain_events (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* --------------------------------------------------------------------- up */

typedef struct {
  HyphaeMesh1 *proxy;
  GMainLoop *loop;
  char *printed_url;
  gboolean timed_out;
  gboolean said_machine_auth;
  gboolean stopped;
} UpWait;

static void
print_auth_url (UpWait *w,
                const char *url)
{
  if (url == NULL || *url == '\0' || g_strcmp0 (url, w->printed_url) == 0)
    return;
  g_free (w->printed_url);
  w->printed_url = g_strdup (url);
  /* As `tailscale up` prints it. */
  g_printerr ("\nTo authenticate, visit:\n\n\t%s\n\n", url);
}

static void
up_check (UpWait *w)
{
  const char *state = hyphae_mesh1_get_state (w->proxy);

  if (g_strcmp0 (state, "Running") == 0)
    {
      g_main_loop_quit (w->loop);
      return;
    }
  /* The session stopped by itself: the engine or the network setup failed. */
  if (g_strcmp0 (state, "Stopped") == 0)
    {
      w->stopped = TRUE;
      g_main_loop_quit (w->loop);
      return;
    }
  if (g_strcmp0 (state, "NeedsMachineAuth") == 0 && !w->said_machine_auth)
    {
      w->said_machine_auth = TRUE;
      g_printerr ("Machine is not yet approved by tailnet admin; waiting.\n");
    }
}

/* AuthURLReady: unicast to us, the caller of Up. */
static void
on_auth_url_ready (UpWait *w,
                   const char *url)
{
  print_auth_url (w, url);
}

static gboolean
up_timeout (gpointer user_data)
{
  UpWait *w = user_data;

  w->timed_out = TRUE;
  g_main_loop_quit (w->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
up_name_owner (gpointer user_data)
{
  UpWait *w = user_data;
  g_autofree char *owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (w->proxy));

  if (owner == NULL)
    g_main_loop_quit (w->loop);
  return G_SOURCE_REMOVE;
}

static void
on_owner_changed (UpWait *w)
{
  g_idle_add (up_name_owner, w);
}

static int
cmd_up (int argc,
        char **argv)
{
  g_autofree char *login_server = NULL, *auth_key = NULL, *hostname = NULL;
  gboolean unattended = FALSE;
  int timeout_s = 0, code = CTL_EXIT_OK;
  GOptionEntry entries[] = {
    { "login-server", 0, 0, G_OPTION_ARG_STRING, &login_server, "Control server URL", "URL" },
    { "auth-key", 0, 0, G_OPTION_ARG_STRING, &auth_key, "Pre-authentication key", "KEY" },
    { "hostname", 0, 0, G_OPTION_ARG_STRING, &hostname, "Host name to use instead of the machine's", "NAME" },
    { "unattended", 0, 0, G_OPTION_ARG_NONE, &unattended,
      "Keys are owned by hyphaed (always the case for hyphaectl)", NULL },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout_s, "Give up after SECONDS (0: wait forever)", "SECONDS" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- connect to the tailnet");
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeMesh1) proxy = NULL;
  GVariantBuilder options;
  UpWait w = { 0 };
  guint timeout_id = 0;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return ctl_usage_error ("%s", error->message);
  if (argc > 1)
    return ctl_usage_error ("up: unexpected argument “%s”", argv[1]);
  if (timeout_s < 0)
    return ctl_usage_error ("up: --timeout must be >= 0");
  if ((proxy = ctl_connect_daemon (&code)) == NULL)
    return code;

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  if (login_server != NULL)
    g_variant_builder_add (&options, "{sv}", "ControlURL", g_variant_new_string (login_server));
  if (auth_key != NULL)
    g_variant_builder_add (&options, "{sv}", "AuthKey", g_variant_new_string (auth_key));
  if (hostname != NULL)
    g_variant_builder_add (&options, "{sv}", "Hostname", g_variant_new_string (hostname));
  /* hyphaectl always makes a daemon-owned profile (docs/ARCHITECTURE.md "Key owners"). */
  g_variant_builder_add (&options, "{sv}", "Unattended", g_variant_new_boolean (TRUE));

  w.proxy = proxy;
  w.loop = g_main_loop_new (NULL, FALSE);
  /* Before the call: the daemon sends the URL just before Up's reply. */
  g_signal_connect_swapped (proxy, "auth-url-ready", G_CALLBACK (on_auth_url_ready), &w);
  if (!hyphae_mesh1_call_up_sync (proxy, g_variant_builder_end (&options), HYPHAE_CLIENT_MUTATE_FLAGS,
                                  timeout_s > 0 ? timeout_s * 1000 : HYPHAE_CLIENT_MUTATE_TIMEOUT, NULL, &error))
    {
      g_signal_handlers_disconnect_by_data (proxy, &w);
      g_main_loop_unref (w.loop);
      g_free (w.printed_url);
      return ctl_error_exit (error);
    }
  drain_events ();
  /* Had the signal been lost, the caller of Up may still ask for the URL. */
  if (w.printed_url == NULL && g_strcmp0 (hyphae_mesh1_get_state (proxy), "NeedsLogin") == 0)
    {
      g_autofree char *url = hyphae_mesh_get_auth_url (proxy);

      print_auth_url (&w, url);
    }

  g_signal_connect_swapped (proxy, "notify::state", G_CALLBACK (up_check), &w);
  g_signal_connect_swapped (proxy, "notify::g-name-owner", G_CALLBACK (on_owner_changed), &w);
  if (timeout_s > 0)
    timeout_id = g_timeout_add_seconds (timeout_s, up_timeout, &w);
  up_check (&w);
  if (g_strcmp0 (hyphae_mesh1_get_state (proxy), "Running") != 0 && !w.stopped)
    g_main_loop_run (w.loop);
  g_signal_handlers_disconnect_by_data (proxy, &w);
  if (timeout_id != 0 && !w.timed_out)
    g_source_remove (timeout_id);

  if (g_strcmp0 (hyphae_mesh1_get_state (proxy), "Running") == 0)
    code = CTL_EXIT_OK;
  else if (w.stopped)
    {
      const char * const *health = hyphae_mesh1_get_health (proxy);

      g_printerr ("hyphaectl: the node cannot start: %s\n",
                  health != NULL && health[0] != NULL ? health[0] : "it stopped");
      code = CTL_EXIT_ENGINE;
    }
  else if (!w.timed_out)
    {
      g_printerr ("hyphaectl: hyphaed went away while connecting\n");
      code = CTL_EXIT_NO_DAEMON;
    }
  else if (w.printed_url != NULL)
    {
      g_printerr ("hyphaectl: timed out waiting for the login at %s\n", w.printed_url);
      code = CTL_EXIT_NEEDS_LOGIN;
    }
  else
    {
      g_printerr ("hyphaectl: timed out after %d s; state: %s\n", timeout_s,
                  hyphae_mesh1_get_state (proxy));
      code = CTL_EXIT_FAILED;
    }
  g_free (w.printed_url);
  g_main_loop_unref (w.loop);
  return code;
}

/* ------------------------------------------------------- down, logout, … */

static int
no_arg_command (int argc,
                char **argv,
                const char *what,
                gboolean (*call) (HyphaeMesh1 *, GDBusCallFlags, gint, GCancellable *, GError **))
{
  g_autoptr(GOptionContext) context = g_option_context_new (what);
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeMesh1) proxy = NULL;
  int code = CTL_EXIT_OK;

  if (!g_option_context_parse (context, &argc, &argv, &error))
    return ctl_usage_error ("%s", error->message);
  if (argc > 1)
    return ctl_usage_error ("%s: unexpected argument “%s”", argv[0], argv[1]);
  if ((proxy = ctl_connect_daemon (&code)) == NULL)
    return code;
  if (!call (proxy, HYPHAE_CLIENT_MUTATE_FLAGS, HYPHAE_CLIENT_MUTATE_TIMEOUT, NULL, &error))
    return ctl_error_exit (error);
  return CTL_EXIT_OK;
}

static int
cmd_down (int argc, char **argv)
{
  return no_arg_command (argc, argv, "- disconnect from the tailnet", hyphae_mesh1_call_down_sync);
}

static int
cmd_logout (int argc, char **argv)
{
  return no_arg_command (argc, argv, "- log out and forget this node's key", hyphae_mesh1_call_logout_sync);
}

/* ----------------------------------------------------------------- status */

static int
cmd_status (int argc,
            char **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Output JSON (the fields of `tailscale status --json`)", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- show this node and its peers");
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeMesh1) proxy = NULL;
  g_autoptr(GPtrArray) peers = NULL;
  int code = CTL_EXIT_OK;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return ctl_usage_error ("%s", error->message);
  if (argc > 1)
    return ctl_usage_error ("status: unexpected argument “%s”", argv[1]);
  if ((proxy = ctl_connect_daemon (&code)) == NULL)
    return code;
  if ((peers = hyphae_mesh_get_peers_sync (proxy, NULL, &error)) == NULL)
    return ctl_error_exit (error);
  drain_events ();
  return json ? ctl_print_status_json (proxy, peers) : ctl_print_status (proxy, peers);
}

/* ------------------------------------------------------------- peer lookup */

/* A peer by stable id, host name, MagicDNS name (full or first label) or
 * address; NULL if none or ambiguous (message printed). */
HyphaePeerInfo *
ctl_find_peer (GPtrArray *peers,
               const char *what)
{
  g_autoptr(HyphaePeerList) list = hyphae_peer_list_new ();
  HyphaePeer *peer;
  guint matches;

  hyphae_peer_list_update (list, peers);
  peer = hyphae_peer_list_find (list, what, &matches);
  if (matches > 1)
    g_printerr ("hyphaectl: “%s” matches %u peers; use its IP or stable id\n", what, matches);
  else if (matches == 0)
    g_printerr ("hyphaectl: no peer “%s” in the tailnet\n", what);
  return peer != NULL ? hyphae_peer_info_ref (hyphae_peer_get_info (peer)) : NULL;
}

/* --------------------------------------------------------------------- ip */

static int
cmd_ip (int argc,
        char **argv)
{
  gboolean v4 = FALSE, v6 = FALSE;
  GOptionEntry entries[] = {
    { "4", '4', 0, G_OPTION_ARG_NONE, &v4, "Only the IPv4 address", NULL },
    { "6", '6', 0, G_OPTION_ARG_NONE, &v6, "Only the IPv6 address", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("[PEER] - show tailnet addresses");
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeMesh1) proxy = NULL;
  int code = CTL_EXIT_OK;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return ctl_usage_error ("%s", error->message);
  if (v4 && v6)
    return ctl_usage_error ("ip: -4 and -6 are mutually exclusive");
  if (argc > 2)
    return ctl_usage_error ("ip: too many arguments");
  if ((proxy = ctl_connect_daemon (&code)) == NULL)
    return code;
  if (argc == 2)
    {
      g_autoptr(GPtrArray) peers = NULL;
      g_autoptr(HyphaePeerInfo) peer = NULL;

      if ((peers = hyphae_mesh_get_peers_sync (proxy, NULL, &error)) == NULL)
        return ctl_error_exit (error);
      if ((peer = ctl_find_peer (peers, argv[1])) == NULL)
        return CTL_EXIT_FAILED;
      /* clang-format off */
      return ctl_print_ips (proxy, peer->addresses, v4 ? 4 : v6 ? 6 : 0);
      /* clang-format on */
    }
  {
    g_autoptr(HyphaePeerInfo) self_node = hyphae_mesh_dup_self (proxy);

    /* clang-format off */
    return ctl_print_ips (proxy, self_node ? self_node->addresses : NULL, v4 ? 4 : v6 ? 6 : 0);
    /* clang-format on */
  }
}

/* -------------------------------------------------------------------- set */

/* --flag or --flag=BOOL (Go's flag package syntax for booleans). */
typedef struct {
  const char *pref;
  gboolean given;
  gboolean value;
} BoolFlag;

/* clang-format off */
static BoolFlag set_flags[] = {
  { "ExitNodeAllowLANAccess", FALSE, FALSE },
  { "ExitNodeKillSwitch",     FALSE, FALSE },
  { "CorpDNS",                FALSE, FALSE },
  { "RouteAll",               FALSE, FALSE },
  { "ShieldsUp",              FALSE, FALSE },
};
/* clang-format on */
static const char * const set_flag_names[] = {
  "--exit-node-allow-lan-access",
  "--exit-node-kill-switch",
  "--accept-dns",
  "--accept-routes",
  "--shields-up",
};

/* A flag's optional boolean value (NULL: true). */
static gboolean
parse_bool_value (const char *option_name,
                  const char *value,
                  gboolean *out,
                  GError **error)
{
  if (value == NULL || g_ascii_strcasecmp (value, "true") == 0 || strcmp (value, "1") == 0 ||
      g_ascii_strcasecmp (value, "t") == 0)
    *out = TRUE;
  else if (g_ascii_strcasecmp (value, "false") == 0 || strcmp (value, "0") == 0 ||
           g_ascii_strcasecmp (value, "f") == 0)
    *out = FALSE;
  else
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "%s: “%s” is not a boolean (true or false)", option_name, value);
      return FALSE;
    }
  return TRUE;
}

static gboolean
parse_bool_flag (const char *option_name,
                 const char *value,
                 gpointer data,
                 GError **error)
{
  for (gsize i = 0; i < G_N_ELEMENTS (set_flags); i++)
    {
      if (strcmp (option_name, set_flag_names[i]) != 0)
        continue;
      set_flags[i].given = TRUE;
      return parse_bool_value (option_name, value, &set_flags[i].value, error);
    }
  return FALSE;
}

/* serve: --advertise-exit-node[=BOOL] */
static gboolean advertise_exit_given, advertise_exit_value;

static gboolean
parse_advertise_exit_node (const char *option_name,
                           const char *value,
                           gpointer data,
                           GError **error)
{
  advertise_exit_given = TRUE;
  return parse_bool_value (option_name, value, &advertise_exit_value, error);
}

/* serve: the AdvertiseRoutes to set, as `tailscale set` computes them
 * (cmd/tailscale/cli/set.go calcAdvertiseRoutesForSet): --advertise-routes
 * replaces the subnets and keeps the exit node unless
 * --advertise-exit-node says otherwise; --advertise-exit-node alone adds or
 * removes 0.0.0.0/0 + ::/0 and keeps the subnets. hyphaed validates. */
static GVariant *
advertise_routes_value (HyphaeMesh1 *proxy,
                        const char *routes_arg)
{
  g_autoptr(GVariant) prefs = hyphae_mesh1_dup_prefs (proxy);
  g_autofree const char **current = NULL;
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  gboolean exit_now = FALSE, exit_wanted;

  if (prefs != NULL)
    g_variant_lookup (prefs, "AdvertiseRoutes", "^a&s", &current);
  for (const char **r = current; r != NULL && *r != NULL; r++)
    exit_now |= g_str_equal (*r, "0.0.0.0/0") || g_str_equal (*r, "::/0");
  exit_wanted = advertise_exit_given ? advertise_exit_value : exit_now;
  if (routes_arg != NULL)
    {
      g_auto(GStrv) parts = g_strsplit (routes_arg, ",", -1);

      for (char **p = parts; *p != NULL; p++)
        if (**p != '\0')
          g_ptr_array_add (out, g_strdup (*p));
    }
  else
    for (const char **r = current; r != NULL && *r != NULL; r++)
      if (!g_str_equal (*r, "0.0.0.0/0") && !g_str_equal (*r, "::/0"))
        g_ptr_array_add (out, g_strdup (*r));
  if (exit_wanted)
    {
      g_ptr_array_add (out, g_strdup ("0.0.0.0/0"));
      g_ptr_array_add (out, g_strdup ("::/0"));
    }
  return g_variant_new_strv ((const char * const *) out->pdata, out->len);
}

static int
cmd_set (int argc,
         char **argv)
{
  g_autofree char *exit_node = NULL;
  g_autofree char *advertise_routes = NULL; /* serve */
  GOptionEntry entries[] = {
    { "exit-node", 0, 0, G_OPTION_ARG_STRING, &exit_node,
      "Route internet traffic through PEER (host name, MagicDNS name, IP or stable id; \"\" clears)", "PEER" },
    { "exit-node-allow-lan-access", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, parse_bool_flag,
      "Keep the local network reachable while using an exit node", "BOOL" },
    { "exit-node-kill-switch", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, parse_bool_flag,
      "Drop internet traffic while the exit node is offline instead of using the local network", "BOOL" },
    { "accept-dns", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, parse_bool_flag,
      "Use the tailnet's DNS settings", "BOOL" },
    { "accept-routes", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, parse_bool_flag,
      "Accept subnet routes advertised by peers", "BOOL" },
    { "shields-up", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, parse_bool_flag,
      "Refuse all incoming connections", "BOOL" },
    { "advertise-routes", 0, 0, G_OPTION_ARG_STRING, &advertise_routes,
      "Offer these subnets to the tailnet (comma-separated CIDR prefixes; empty: none)", "CIDR,…" },
    { "advertise-exit-node", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, parse_advertise_exit_node,
      "Offer to be an exit node for internet traffic", "BOOL" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- change settings");
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeMesh1) proxy = NULL;
  GVariantBuilder changes;
  gboolean any = FALSE;
  int code = CTL_EXIT_OK;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return ctl_usage_error ("%s", error->message);
  if (argc > 1)
    return ctl_usage_error ("set: unexpected argument “%s”", argv[1]);
  g_variant_builder_init (&changes, G_VARIANT_TYPE_VARDICT);
  for (gsize i = 0; i < G_N_ELEMENTS (set_flags); i++)
    if (set_flags[i].given)
      {
        g_variant_builder_add (&changes, "{sv}", set_flags[i].pref, g_variant_new_boolean (set_flags[i].value));
        any = TRUE;
      }
  if (!any && exit_node == NULL && advertise_routes == NULL && !advertise_exit_given)
    {
      g_variant_builder_clear (&changes);
      return ctl_usage_error ("set: nothing to change (see hyphaectl set --help)");
    }
  if ((proxy = ctl_connect_daemon (&code)) == NULL)
    {
      g_variant_builder_clear (&changes);
      return code;
    }
  if (advertise_routes != NULL || advertise_exit_given) /* serve */
    {
      g_variant_builder_add (&changes, "{sv}", "AdvertiseRoutes", advertise_routes_value (proxy, advertise_routes));
      any = TRUE;
    }
  if (exit_node != NULL)
    {
      g_autoptr(GPtrArray) peers = NULL;
      g_autoptr(HyphaePeerInfo) peer = NULL;
      const char *id = "";

      if (*exit_node != '\0')
        {
          if ((peers = hyphae_mesh_get_peers_sync (proxy, NULL, &error)) == NULL)
            {
              g_variant_builder_clear (&changes);
              return ctl_error_exit (error);
            }
          if ((peer = ctl_find_peer (peers, exit_node)) == NULL)
            {
              g_variant_builder_clear (&changes);
              return CTL_EXIT_USAGE;
            }
          id = peer->stable_id;
        }
      if (!hyphae_mesh1_call_set_exit_node_sync (proxy, id, HYPHAE_CLIENT_MUTATE_FLAGS,
                                                 HYPHAE_CLIENT_MUTATE_TIMEOUT, NULL, &error))
        {
          g_variant_builder_clear (&changes);
          return ctl_error_exit (error);
        }
    }
  if (any)
    {
      if (!hyphae_mesh1_call_set_prefs_sync (proxy, g_variant_builder_end (&changes), HYPHAE_CLIENT_MUTATE_FLAGS,
                                             HYPHAE_CLIENT_MUTATE_TIMEOUT, NULL, &error))
        return ctl_error_exit (error);
    }
  else
    g_variant_builder_clear (&changes);
  return CTL_EXIT_OK;
}

/* ------------------------------------------------------------------ netmap */

static int
cmd_netmap (int argc,
            char **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Output JSON (the only format)", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("--json - show the network map");
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeMesh1) proxy = NULL;
  g_autofree char *netmap = NULL;
  int code = CTL_EXIT_OK;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return ctl_usage_error ("%s", error->message);
  if (!json || argc > 1)
    return ctl_usage_error ("usage: hyphaectl netmap --json");
  if ((proxy = ctl_connect_daemon (&code)) == NULL)
    return code;
  if (!hyphae_mesh1_call_get_netmap_json_sync (proxy, G_DBUS_CALL_FLAGS_NONE, -1, &netmap, NULL, &error))
    return ctl_error_exit (error);
  drain_events ();
  if (*netmap == '\0')
    {
      g_printerr ("hyphaectl: no network map yet; state: %s\n", hyphae_mesh1_get_state (proxy));
      return CTL_EXIT_FAILED;
    }
  printf ("%s\n", netmap);
  return CTL_EXIT_OK;
}

/* ------------------------------------------------------------------- debug */

static int
cmd_debug (int argc,
           char **argv)
{
  g_autoptr(GOptionContext) context =
               g_option_context_new ("[CATEGORY…|all|off] - switch debug log categories on (wg, path, control, map)");
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeMesh1) proxy = NULL;
  int code = CTL_EXIT_OK;

  if (argc >= 2 && strcmp (argv[1], "filter") == 0)
    return ctl_cmd_debug_filter (argc - 1, argv + 1);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return ctl_usage_error ("%s", error->message);
  if ((proxy = ctl_connect_daemon (&code)) == NULL)
    return code;
  if (argc == 1)
    {
      const char * const *on = hyphae_mesh1_get_debug_categories (proxy);
      g_autofree char *text = on ? g_strjoinv (" ", (char **) on) : NULL;

      printf ("%s\n", text && *text ? text : "off");
      return CTL_EXIT_OK;
    }
  if (argc == 2 && strcmp (argv[1], "off") == 0)
    argc = 1; /* no category: all off */
  argv[argc] = NULL;
  if (!hyphae_mesh1_call_set_debug_sync (proxy, (const char * const *) argv + 1, HYPHAE_CLIENT_MUTATE_FLAGS,
                                         HYPHAE_CLIENT_MUTATE_TIMEOUT, NULL, &error))
    return ctl_error_exit (error);
  return CTL_EXIT_OK;
}

/* -------------------------------------------------------------------- main */

static const struct {
  const char *name;
  int (*run) (int argc, char **argv);
} commands[] = {
  { "up", cmd_up },
  { "down", cmd_down },
  { "status", cmd_status },
  { "ip", cmd_ip },
  { "set", cmd_set },
  { "logout", cmd_logout },
  { "ping", ctl_cmd_ping },
  { "netmap", cmd_netmap },
  { "dns", ctl_cmd_dns },
  { "debug", cmd_debug },
};

static void
print_help (FILE *out)
{
  fprintf (out, "Usage: hyphaectl COMMAND [OPTIONS]\n\n"
                "Controls hyphaed, the Hyphae mesh daemon, over the system bus.\n\n%s\n\n"
                "`hyphaectl COMMAND --help` shows a command's options.\n",
           summary);
}

int
main (int argc,
      char **argv)
{
  setlocale (LC_ALL, "");

  if (argc < 2)
    {
      print_help (stderr);
      return CTL_EXIT_USAGE;
    }
  if (strcmp (argv[1], "-h") == 0 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "help") == 0)
    {
      print_help (stdout);
      return CTL_EXIT_OK;
    }
  if (strcmp (argv[1], "--version") == 0 || strcmp (argv[1], "version") == 0)
    {
      printf ("hyphaectl %s\n", HYPHAE_VERSION);
      return CTL_EXIT_OK;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      {
        g_autofree char *prgname = g_strdup_printf ("hyphaectl %s", commands[i].name);

        g_set_prgname (prgname);
        return commands[i].run (argc - 1, argv + 1);
      }
  g_printerr ("hyphaectl: unknown command “%s”\n\n", argv[1]);
  print_help (stderr);
  return CTL_EXIT_USAGE;
}
