/* SPDX-License-Identifier: MIT */
#include "hyphae-daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "hyphae-harden.h"
#include "hyphae-ipn.h"
#include "hyphae-log.h"
#include "hyphae-mesh-error.h"
#include "hyphae-nat.h"
#include "hyphae-os-dns.h"
#include "hyphae-service.h"

typedef struct {
  GMainLoop *loop;
  HyphaeService *service;
  GDBusConnection *connection;
  gboolean name_acquired;
  int status;
} Daemon;

static gboolean
on_signal (gpointer user_data)
{
  Daemon *d = user_data;

  g_message ("Signal received, shutting down");
  g_main_loop_quit (d->loop);
  return G_SOURCE_CONTINUE;
}

static void
on_bus_acquired (GDBusConnection *connection,
                 const char *name,
                 gpointer user_data)
{
  Daemon *d = user_data;
  g_autoptr(GError) error = NULL;

  /* A closed bus ends the main loop through name-lost, not with a raise(SIGTERM)
   * behind our back, so shutdown stays orderly. */
  g_dbus_connection_set_exit_on_close (connection, FALSE);
  g_set_object (&d->connection, connection);
  /* Export before the name is ours, so queued activation calls find the object. */
  if (!hyphae_service_export (d->service, connection, &error))
    {
      g_warning ("Cannot export %s: %s", HYPHAE_MESH_OBJECT_PATH, error->message);
      d->status = 1;
      g_main_loop_quit (d->loop);
    }
}

static void
on_name_acquired (GDBusConnection *connection,
                  const char *name,
                  gpointer user_data)
{
  Daemon *d = user_data;

  d->name_acquired = TRUE;
  g_message ("Serving %s on the system bus", name);
}

static void
on_name_lost (GDBusConnection *connection,
              const char *name,
              gpointer user_data)
{
  Daemon *d = user_data;

  if (d->name_acquired)
    g_message ("Lost %s (the bus went away or another owner took it), shutting down", name);
  else if (connection == NULL)
    g_warning ("Cannot connect to the system bus");
  else
    g_warning ("Cannot own %s (another hyphaed runs on this bus?)", name);
  /* Losing the name after having served it is an orderly end (systemd counts
   * it as the service dying, systemd.service(5) Type=dbus); never having had it is an error. */
  if (!d->name_acquired)
    d->status = 1;
  g_main_loop_quit (d->loop);
}

#define DEFAULT_STATE_DIR "/var/lib/hyphae"

/* Recovery after a crash, kill -9 or power cut: nothing of the dead daemon's
 * OS changes may outlive it (ExecStopPost runs this; so does every start). */
static gboolean
cleanup_leftovers (const char *state_dir)
{
  g_autoptr(GError) error = NULL;
  gboolean ok = TRUE;

  if (!hyphae_os_dns_cleanup (state_dir, &error))
    {
      g_warning ("Cannot restore the OS DNS settings: %s", error->message);
      g_clear_error (&error);
      ok = FALSE;
    }
  /* serve: an exit node's forwarding sysctls and masquerade table */
  if (!hyphae_nat_cleanup (state_dir, &error))
    {
      g_warning ("Cannot undo the forwarding for the advertised routes: %s", error->message);
      ok = FALSE;
    }
  return ok;
}

/* One hyphaed per state dir: the daemon holds an flock on STATE/hyphaed.lock
 * for its lifetime, so neither a second hyphaed started by hand (it will not
 * get the bus name) nor a --cleanup undoes a live daemon's OS changes.
 * The fd (kept open), or -1 when another process holds it (EWOULDBLOCK), or
 * -1 with errno set otherwise. */
static int
lock_state_dir (const char *state_dir)
{
  g_autofree char *path = g_build_filename (state_dir, "hyphaed.lock", NULL);
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  int e;

  if (fd < 0)
    return -1;
  if (flock (fd, LOCK_EX | LOCK_NB) == 0)
    return fd;
  e = errno;
  close (fd);
  errno = e;
  return -1;
}

int
hyphae_daemon_cleanup (const struct hyphae_daemon_options *options)
{
  const char *state_dir = options->state_dir ? options->state_dir : DEFAULT_STATE_DIR;
  gboolean ok;
  int fd;

  hyphae_log_init ();
  if (!g_file_test (state_dir, G_FILE_TEST_IS_DIR))
    return 0; /* never ran: nothing to undo */
  fd = lock_state_dir (state_dir);
  if (fd < 0 && errno == EWOULDBLOCK)
    {
      g_message ("A running hyphaed uses %s: nothing to clean up", state_dir);
      return 0;
    }
  if (fd < 0)
    g_warning ("Cannot lock %s: %s", state_dir, g_strerror (errno));
  ok = cleanup_leftovers (state_dir);
  if (fd >= 0)
    close (fd);
  return ok ? 0 : 1;
}

int
hyphae_daemon_main (const struct hyphae_daemon_options *options)
{
  HyphaeIpnOptions ipn_options = {
    .state_dir = options->state_dir ? options->state_dir : DEFAULT_STATE_DIR,
    .ifname = options->ifname,
    .listen_port = (guint16) options->port,
    .uapi_dir = options->uapi_dir,
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeIpn) ipn = NULL;
  Daemon d = { 0 };
  guint owner_id, sigterm_id, sigint_id;
  int lock_fd = -1;

  /* Before the first log line: G_MESSAGES_DEBUG picks the categories. */
  hyphae_log_init ();
  /* Before any secret is in memory: no core file, no /proc/PID/mem. */
  if (!hyphae_harden_not_dumpable (&error))
    {
      g_printerr ("hyphaed: %s\n", error->message);
      return 1;
    }
  /* A previous hyphaed killed before it could clean up (its state says so),
   * unless a live one still owns this state dir. */
  if (g_mkdir_with_parents (ipn_options.state_dir, 0700) == 0)
    lock_fd = lock_state_dir (ipn_options.state_dir);
  if (lock_fd >= 0)
    (void) cleanup_leftovers (ipn_options.state_dir);
  else if (errno == EWOULDBLOCK)
    g_warning ("Another hyphaed uses %s", ipn_options.state_dir);
  ipn = hyphae_ipn_new (&ipn_options, &error);
  if (ipn == NULL)
    {
      g_printerr ("hyphaed: %s\n", error->message);
      return 1;
    }
  /* The state dir is made (and tightened): from here on CAP_NET_ADMIN is all
   * it takes (TUN, routes, SO_MARK; files it owns). */
  if (!hyphae_harden_drop_capabilities (&error))
    {
      g_printerr ("hyphaed: cannot drop capabilities: %s\n", error->message);
      return 1;
    }
  d.loop = g_main_loop_new (NULL, FALSE);
  d.service = hyphae_service_new (ipn);

  sigterm_id = g_unix_signal_add (SIGTERM, on_signal, &d);
  sigint_id = g_unix_signal_add (SIGINT, on_signal, &d);
  /* GDBus honours DBUS_SYSTEM_BUS_ADDRESS (tests run a private bus). */
  owner_id = g_bus_own_name (G_BUS_TYPE_SYSTEM, HYPHAE_MESH_BUS_NAME,
                             G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
                             on_bus_acquired, on_name_acquired, on_name_lost,
                             &d, NULL);

  g_main_loop_run (d.loop);

  /* Orderly shutdown: stop answering, release the name, then take the ipn
   * down (the tunnel, its routes and addresses go with it). */
  hyphae_service_unexport (d.service);
  g_bus_unown_name (owner_id);
  g_source_remove (sigterm_id);
  g_source_remove (sigint_id);
  /* A call still in flight (an Up waiting for the server) holds references:
   * dispose runs now all the same, so the tunnel and its routes go. */
  g_object_run_dispose (G_OBJECT (d.service));
  g_object_run_dispose (G_OBJECT (ipn));
  /* Let callbacks that dispose triggered run: calls cut short get their
   * error reply ("hyphaed is shutting down"), sent before we exit. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  if (d.connection != NULL && !g_dbus_connection_is_closed (d.connection))
    g_dbus_connection_flush_sync (d.connection, NULL, NULL);
  g_clear_object (&d.connection);
  g_clear_object (&d.service);
  g_clear_object (&ipn);
  g_main_loop_unref (d.loop);
  g_message ("Stopped");
  if (lock_fd >= 0)
    close (lock_fd); /* after the ipn reverted the OS changes */
  return d.status;
}
