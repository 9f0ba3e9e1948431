/* SPDX-License-Identifier: MIT */
/*
 * hyphae-derp: a DERP relay and STUN server that Tailscale clients (and
 * hyphaed) use as their relay. One thread on a GLib main loop; see
 * server/README.md for how to run it and docs/ARCHITECTURE.md for its shape.
 */
#include <glib-unix.h>
#include <locale.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/resource.h>

#include "crypto/keys.h"
#include "hd-key.h"
#include "hd-listener.h"
#include "hd-server.h"
#include "hd-stun.h"
#include "magicsock/stun.h"

static char *opt_listen = NULL;
static char *opt_stun = NULL;
static int opt_stun_port = STUN_PORT;
static char *opt_cert = NULL;
static char *opt_key = NULL;
static char *opt_key_file = NULL;
static gboolean opt_http = FALSE;
static int opt_queue_depth = 32;
static double opt_write_timeout = 2.0;
static gboolean opt_metrics_public = FALSE;
static int opt_region_id = 900;
static gboolean opt_verbose = FALSE;

static const GOptionEntry entries[] = {
  { "listen", 'a', 0, G_OPTION_ARG_STRING, &opt_listen,
    "DERP over HTTPS (or HTTP with --http) on this address (default 0.0.0.0:443)", "IP:PORT" },
  { "http", 0, 0, G_OPTION_ARG_NONE, &opt_http,
    "Plain HTTP, no TLS (clients need TS_DEBUG_USE_DERP_HTTP=1)", NULL },
  { "tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &opt_cert, "TLS certificate chain (PEM)", "FILE" },
  { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &opt_key, "TLS private key (PEM)", "FILE" },
  { "stun", 0, 0, G_OPTION_ARG_STRING, &opt_stun,
    "STUN on this UDP address (default: the --listen IP, port --stun-port)", "IP:PORT" },
  { "stun-port", 0, 0, G_OPTION_ARG_INT, &opt_stun_port,
    "STUN port when --stun is not given (default 3478; -1: no STUN)", "PORT" },
  { "key-file", 'c', 0, G_OPTION_ARG_FILENAME, &opt_key_file,
    "The server key, derper's format, made 0600 if missing (default /var/lib/hyphae-derp/derper.key)",
    "FILE" },
  { "queue-depth", 0, 0, G_OPTION_ARG_INT, &opt_queue_depth,
    "Packets queued per client before new ones are dropped (default 32)", "N" },
  { "write-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &opt_write_timeout,
    "Close a client whose socket takes nothing for this long (default 2)", "SECONDS" },
  { "metrics-public", 0, 0, G_OPTION_ARG_NONE, &opt_metrics_public,
    "Serve /debug/metrics to any address, not only loopback", NULL },
  { "region-id", 0, 0, G_OPTION_ARG_INT, &opt_region_id,
    "RegionID of the DERPNode line printed at start (default 900)", "ID" },
  { "verbose", 'v', 0, G_OPTION_ARG_NONE, &opt_verbose, "Log every connection's end", NULL },
  { NULL },
};

/* "IP:PORT" or "[IPv6]:PORT"; a missing port is default_port. */
static GInetSocketAddress *
parse_address (const char *text,
               int default_port,
               GError **error)
{
  g_autofree char *host = NULL;
  const char *colon = strrchr (text, ':');
  guint64 port = default_port;
  GSocketAddress *address;

  if (text[0] == '[')
    {
      const char *close = strchr (text, ']');

      if (close == NULL || (close[1] != '\0' && close[1] != ':'))
        goto bad;
      host = g_strndup (text + 1, close - text - 1);
      colon = close[1] == ':' ? close + 1 : NULL;
    }
  else if (colon != NULL && strchr (text, ':') != colon)
    {
      host = g_strdup (text); /* a bare IPv6 address */
      colon = NULL;
    }
  else
    host = colon != NULL ? g_strndup (text, colon - text) : g_strdup (text);
  if (host[0] == '\0')
    {
      g_free (host);
      host = g_strdup ("0.0.0.0");
    }
  if (colon != NULL && !g_ascii_string_to_unsigned (colon + 1, 10, 0, 65535, &port, NULL))
    goto bad;
  address = g_inet_socket_address_new_from_string (host, port);
  if (address != NULL)
    return G_INET_SOCKET_ADDRESS (address);
bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "“%s” is not IP:PORT (a numeric address)", text);
  return NULL;
}

static gboolean
on_signal (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_CONTINUE;
}

/* One descriptor per client: take the hard limit, as Go does for derper (os
 * package, Go ≥ 1.19); the soft default of 1024 would cap the clients there. */
static void
raise_fd_limit (void)
{
  struct rlimit lim;

  if (getrlimit (RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max)
    {
      lim.rlim_cur = lim.rlim_max;
      setrlimit (RLIMIT_NOFILE, &lim);
    }
}

/* GLib's pool threads still alive ("pool-<prgname>"; not the spawner). */
static guint
pool_threads (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  const char *tid;
  guint n = 0;

  while (dir != NULL && (tid = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_strdup_printf ("/proc/self/task/%s/comm", tid);
      g_autofree char *comm = NULL;

      if (g_file_get_contents (path, &comm, NULL, NULL) && g_str_has_prefix (comm, "pool-") &&
          !g_str_has_prefix (comm, "pool-spawner"))
        n++;
    }
  return n;
}

/*
 * GIO ran the TLS handshakes in GLib's pool threads, and they used GnuTLS,
 * whose thread-local storage is dynamic (the GIO module loads it with
 * dlopen). LeakSanitizer's exit check (the tests' builds) crashes on such a
 * thread (GCC 12's libsanitizer with glibc 2.36), so let them all end first:
 * idle pool threads exit within half a second once none may stay unused.
 */
static void
join_pool_threads (void)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  g_thread_pool_set_max_unused_threads (0);
  while (pool_threads () > 0 && g_get_monotonic_time () < deadline)
    {
      g_thread_pool_stop_unused_threads ();
      g_usleep (10 * 1000);
    }
}

static char *
address_ip (GInetSocketAddress *a)
{
  return g_inet_address_to_string (g_inet_socket_address_get_address (a));
}

int
main (int argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("— DERP relay and STUN server");
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetSocketAddress) listen_addr = NULL;
  g_autoptr(GInetSocketAddress) stun_addr = NULL;
  g_autoptr(GTlsCertificate) cert = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autofree char *cert_name = NULL;
  g_autofree char *ip = NULL;
  g_autofree char *key_dir = NULL;
  HdServerConfig config = { 0 };
  HdListener *listener;
  HdServer *srv;
  HdStun *stun = NULL;
  guint8 *priv;
  char pub_text[sizeof KEY_PREFIX_NODE + KEY_HEX_LEN];
  guint port;

  setlocale (LC_ALL, "");
  raise_fd_limit ();
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("hyphae-derp: %s\n", error->message);
      return 2;
    }
  if (opt_verbose)
    g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
  if (sodium_init () < 0)
    {
      g_printerr ("hyphae-derp: libsodium failed to start\n");
      return 1;
    }
  if (!opt_http && (opt_cert == NULL || opt_key == NULL))
    {
      g_printerr ("hyphae-derp: TLS needs --tls-cert and --tls-key (or --http for plain HTTP)\n");
      return 2;
    }

  listen_addr = parse_address (opt_listen != NULL ? opt_listen : "0.0.0.0:443", 443, &error);
  if (listen_addr == NULL)
    goto fail;
  ip = address_ip (listen_addr);
  if (opt_stun != NULL)
    stun_addr = parse_address (opt_stun, STUN_PORT, &error);
  else if (opt_stun_port >= 0 && opt_stun_port <= 65535)
    stun_addr = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new_from_string (ip, opt_stun_port));
  if (opt_stun != NULL && stun_addr == NULL)
    goto fail;

  if (!opt_http && (cert = hd_listener_load_cert (opt_cert, opt_key, &error)) == NULL)
    goto fail;

  if (opt_key_file == NULL)
    {
      opt_key_file = g_strdup ("/var/lib/hyphae-derp/derper.key");
      key_dir = g_path_get_dirname (opt_key_file);
      g_mkdir_with_parents (key_dir, 0700);
    }
  priv = hd_key_load_or_create (opt_key_file, &error);
  if (priv == NULL)
    goto fail;

  config.queue_depth = opt_queue_depth;
  config.write_timeout_us = (gint64) (opt_write_timeout * G_USEC_PER_SEC);
  config.login_timeout_us = 10 * G_USEC_PER_SEC;
  config.metrics_public = opt_metrics_public;
  srv = hd_server_new (&config, priv, cert);

  listener = hd_listener_new (srv, listen_addr, &error);
  if (listener == NULL)
    {
      hd_server_free (srv);
      goto fail;
    }
  port = g_inet_socket_address_get_port (hd_listener_get_address (listener));
  if (stun_addr != NULL && (stun = hd_stun_new (stun_addr, &srv->metrics, &error)) == NULL)
    {
      hd_listener_free (listener);
      hd_server_free (srv);
      goto fail;
    }

  /* What a DERP map needs, on stdout, for people and test scripts. */
  key_to_text (pub_text, sizeof pub_text, KEY_PREFIX_NODE, srv->pub);
  g_print ("hyphae-derp: public key %s\n", pub_text);
  if (cert != NULL)
    {
      cert_name = hd_cert_name (cert);
      g_print ("hyphae-derp: CertName %s\n", cert_name);
    }
  g_print ("hyphae-derp: DERP on %s://%s%s%s:%u/derp\n", cert != NULL ? "https" : "http",
           strchr (ip, ':') ? "[" : "", ip, strchr (ip, ':') ? "]" : "", port);
  if (stun != NULL)
    {
      g_autoptr(GSocketAddress) bound = hd_stun_get_address (stun);
      g_autofree char *stun_ip = address_ip (G_INET_SOCKET_ADDRESS (bound));

      g_print ("hyphae-derp: STUN on %s port %u\n", stun_ip,
               g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
    }
  {
    g_autoptr(GSocketAddress) bound = stun != NULL ? hd_stun_get_address (stun) : NULL;
    int stun_port = bound != NULL ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)) : -1;

    g_print ("hyphae-derp: DERPNode {\"Name\":\"%da\",\"RegionID\":%d,\"HostName\":\"%s\","
             "\"%s\":\"%s\",\"DERPPort\":%u,\"STUNPort\":%d%s%s%s}\n",
             opt_region_id, opt_region_id, ip, strchr (ip, ':') ? "IPv6" : "IPv4", ip, port,
             stun_port, cert_name != NULL ? ",\"CertName\":\"" : "",
             cert_name != NULL ? cert_name : "", cert_name != NULL ? "\"" : "");
  }
  fflush (stdout);

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGTERM, on_signal, loop);
  g_unix_signal_add (SIGINT, on_signal, loop);
  g_main_loop_run (loop);

  g_message ("stopping");
  if (stun != NULL)
    hd_stun_free (stun);
  hd_listener_free (listener);
  hd_server_free (srv);
  join_pool_threads ();
  g_free (opt_listen);
  g_free (opt_stun);
  g_free (opt_cert);
  g_free (opt_key);
  g_free (opt_key_file);
  return 0;

fail:
  g_printerr ("hyphae-derp: %s\n", error->message);
  return 1;
}
