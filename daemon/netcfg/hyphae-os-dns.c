/* SPDX-License-Identifier: MIT */
/* HyphaeOsDns: the mode, the state file that makes every change undoable
 * after a crash, and resolved's restarts. The ways themselves live in
 * hyphae-os-dns-resolved.c, hyphae-os-dns-nm.c and hyphae-os-dns-direct.c. */
#include "hyphae-os-dns-private.h"

#include <errno.h>
#include <net/if.h>
#include <string.h>

#include <glib/gstdio.h>

struct _HyphaeOsDns {
  char *ifname;
  char *state_dir;
  char *resolv_conf;
  char *nsswitch;

  HyphaeOsDnsMode mode;
  const char *mode_reason;

  GDBusConnection *bus;  /* the system bus, once asked for */
  NMClient *nm;          /* NetworkManager mode: NM's DNS state (libnm) */
  GVariant *nm_set;      /* what we set as NM's global DNS last */
  GVariant *nm_previous; /* the global DNS NM had before us */
  guint nm_signal_id;    /* NM's PropertiesChanged while it carries ours */
  guint nm_check_id;
  guint watch_id; /* resolved's name, in resolved mode */
  gboolean resolved_gone;

  HyphaeOsDnsPlan *wanted;  /* the last apply, NULL: none (or reverted) */
  HyphaeOsDnsPlan *applied; /* what the OS has, NULL: nothing of ours */
  char *error;
  char **base_nameservers; /* direct: the original's */

  /* direct: another program rewriting resolv.conf (trample) */
  GFileMonitor *monitor;
  char *written; /* what we wrote last */
  guint trample_check_id;
  guint tramples;
  gint64 trample_window; /* monotonic µs */

  HyphaeOsDnsChangedFunc changed;
  gpointer changed_data;
};

static char *
state_path (const char *state_dir)
{
  return g_build_filename (state_dir, HYPHAE_OS_DNS_STATE_FILE, NULL);
}

static char *
backup_path (const char *state_dir)
{
  return g_build_filename (state_dir, HYPHAE_OS_DNS_BACKUP_FILE, NULL);
}

static const char *
path_from_env (const char *var,
               const char *fallback)
{
  const char *v = g_getenv (var);

  return v != NULL && v[0] != '\0' ? v : fallback;
}

static GDBusConnection *
system_bus (HyphaeOsDns *self)
{
  if (self->bus == NULL)
    {
      g_autoptr(GError) error = NULL;

      self->bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &error);
      if (self->bus == NULL)
        g_message ("OS DNS: no system bus: %s", error->message);
    }
  return self->bus;
}

static void
emit_changed (HyphaeOsDns *self)
{
  if (self->changed != NULL)
    self->changed (self, self->changed_data);
}

static void
set_error (HyphaeOsDns *self,
           const char *message)
{
  if (g_strcmp0 (self->error, message) == 0)
    return;
  g_free (self->error);
  self->error = g_strdup (message);
  if (message != NULL)
    g_warning ("OS DNS (%s): %s", hyphae_os_dns_mode_to_string (self->mode), message);
}

static void unwatch_resolv_conf (HyphaeOsDns *self);
static void unwatch_nm (HyphaeOsDns *self);

HyphaeOsDns *
hyphae_os_dns_new (const char *ifname,
                   const char *state_dir)
{
  HyphaeOsDns *self = g_new0 (HyphaeOsDns, 1);

  self->ifname = g_strdup (ifname);
  self->state_dir = g_strdup (state_dir);
  self->resolv_conf = g_strdup (path_from_env ("HYPHAE_RESOLV_CONF", "/etc/resolv.conf"));
  self->nsswitch = g_strdup (path_from_env ("HYPHAE_NSSWITCH_CONF", "/etc/nsswitch.conf"));
  self->mode_reason = "";
  return self;
}

void
hyphae_os_dns_free (HyphaeOsDns *self)
{
  if (self == NULL)
    return;
  if (self->watch_id != 0)
    g_bus_unwatch_name (self->watch_id);
  unwatch_resolv_conf (self);
  unwatch_nm (self);
  g_clear_object (&self->nm);
  g_clear_object (&self->bus);
  hyphae_os_dns_plan_free (self->wanted);
  hyphae_os_dns_plan_free (self->applied);
  g_strfreev (self->base_nameservers);
  g_free (self->error);
  g_free (self->ifname);
  g_free (self->state_dir);
  g_free (self->resolv_conf);
  g_free (self->nsswitch);
  g_free (self);
}

/* ---- the state file ------------------------------------------------------ */

static gboolean
save_state (const char *state_dir,
            GKeyFile *state,
            GError **error)
{
  g_autofree char *path = state_path (state_dir);
  g_autofree char *data = g_key_file_to_data (state, NULL, NULL);

  /* Durable before the OS is touched: after a power cut it must be there. */
  return g_file_set_contents_full (path, data, -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                   0600, error);
}

/* NULL (no error) when there is no state file. */
static GKeyFile *
load_state (const char *state_dir,
            GError **error)
{
  g_autofree char *path = state_path (state_dir);
  g_autoptr(GKeyFile) state = g_key_file_new ();
  g_autoptr(GError) local = NULL;

  if (!g_key_file_load_from_file (state, path, G_KEY_FILE_NONE, &local))
    {
      if (!g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  return g_steal_pointer (&state);
}

static void
remove_state (const char *state_dir)
{
  g_autofree char *path = state_path (state_dir);

  if (g_unlink (path) != 0 && errno != ENOENT)
    g_warning ("Cannot remove %s: %s", path, g_strerror (errno));
}

static GVariant *
state_get_variant (GKeyFile *state,
                   const char *key)
{
  g_autofree char *text = g_key_file_get_string (state, HYPHAE_OS_DNS_GROUP, key, NULL);

  return text != NULL ? g_variant_parse (G_VARIANT_TYPE_VARDICT, text, NULL, NULL, NULL) : NULL;
}

static void
state_set_variant (GKeyFile *state,
                   const char *key,
                   GVariant *value)
{
  g_autofree char *text = g_variant_print (value, TRUE);

  g_key_file_set_string (state, HYPHAE_OS_DNS_GROUP, key, text);
}

/* NetworkManager: its previous global DNS configuration back, unless
 * someone changed it since (then theirs stays). NM keeps a global
 * configuration set over D-Bus across its restarts (its internal config
 * file), so an NM that does not answer is an error: the state file waits for
 * the next try. */
static gboolean
undo_nm (GKeyFile *state,
         GDBusConnection *bus,
         GError **error)
{
  g_autoptr(GDBusConnection) own_bus = NULL;
  g_autoptr(GVariant) ours = state_get_variant (state, "nm-ours");
  g_autoptr(GVariant) previous = state_get_variant (state, "nm-previous");
  g_autoptr(GVariant) current = NULL;

  if (previous == NULL) /* nothing was set yet */
    return TRUE;
  if (bus == NULL)
    {
      own_bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, error);
      if (own_bus == NULL)
        return FALSE;
      bus = own_bus;
    }
  current = hyphae_nm_get_global_dns (bus, error);
  if (current == NULL)
    return FALSE;
  if (ours == NULL || !hyphae_nm_global_dns_same (current, ours))
    {
      g_message ("OS DNS: NetworkManager's global DNS configuration is not ours any more: left alone");
      return TRUE;
    }
  return hyphae_nm_set_global_dns (bus, previous, error);
}

/* Undo what state records. bus may be NULL (then asked for when needed). */
static gboolean
undo_state (const char *state_dir,
            GKeyFile *state,
            GDBusConnection *bus,
            GError **error)
{
  g_autofree char *mode = g_key_file_get_string (state, HYPHAE_OS_DNS_GROUP, "mode", NULL);

  if (g_strcmp0 (mode, "direct") == 0)
    {
      g_autofree char *path = g_key_file_get_string (state, HYPHAE_OS_DNS_GROUP, "resolv-conf", error);
      g_autofree char *backup = backup_path (state_dir);

      return path != NULL && hyphae_resolv_conf_restore (path, backup, state, error);
    }
  if (g_strcmp0 (mode, "systemd-resolved") == 0)
    {
      g_autofree char *ifname = g_key_file_get_string (state, HYPHAE_OS_DNS_GROUP, "ifname", NULL);
      int ifindex = g_key_file_get_integer (state, HYPHAE_OS_DNS_GROUP, "ifindex", NULL);
      g_autoptr(GDBusConnection) own_bus = NULL;

      /* The TUN died with the daemon: resolved dropped the link's settings
       * itself, and its index may belong to another link by now. */
      if (ifname == NULL || ifindex <= 0 || (int) if_nametoindex (ifname) != ifindex)
        return TRUE;
      if (bus == NULL)
        {
          own_bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, error);
          if (own_bus == NULL)
            return FALSE;
          bus = own_bus;
        }
      return hyphae_resolved_revert_link (bus, ifindex, error);
    }
  if (g_strcmp0 (mode, "NetworkManager") == 0)
    return undo_nm (state, bus, error);
  /* Nothing we know how to undo (written by a newer hyphaed?): keep it. */
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "Unknown OS DNS mode in the state file: %s",
               mode ? mode : "(none)");
  return FALSE;
}

gboolean
hyphae_os_dns_cleanup (const char *state_dir,
                       GError **error)
{
  g_autoptr(GKeyFile) state = NULL;
  g_autoptr(GError) local = NULL;

  state = load_state (state_dir, &local);
  if (state == NULL)
    {
      if (local == NULL)
        return TRUE;
      g_propagate_prefixed_error (error, g_steal_pointer (&local), "OS DNS state: ");
      return FALSE;
    }
  if (!undo_state (state_dir, state, NULL, error))
    return FALSE;
  remove_state (state_dir);
  g_message ("OS DNS: restored what a previous hyphaed had changed");
  return TRUE;
}

/* ---- detection ----------------------------------------------------------- */

static void
detect (HyphaeOsDns *self)
{
  g_autofree char *resolv_conf = NULL;
  g_autofree char *nsswitch = NULL;
  GDBusConnection *bus = system_bus (self);
  gboolean resolved_up = bus != NULL && hyphae_resolved_ping (bus);
  g_autoptr(GError) error = NULL;

  if (!g_file_get_contents (self->resolv_conf, &resolv_conf, NULL, NULL))
    resolv_conf = NULL;
  if (!g_file_get_contents (self->nsswitch, &nsswitch, NULL, NULL))
    nsswitch = NULL;
  /* libnm on the same system bus; an NM that is not running is no error. */
  if (bus != NULL && self->nm == NULL)
    {
      self->nm = nm_client_new (NULL, &error);
      if (self->nm == NULL)
        g_message ("OS DNS: cannot ask NetworkManager: %s", error->message);
    }
  self->mode = hyphae_os_dns_detect_mode (resolv_conf, nsswitch, resolved_up, hyphae_nm_manages_dns (self->nm),
                                          &self->mode_reason);
  if (self->mode != HYPHAE_OS_DNS_MODE_NM)
    g_clear_object (&self->nm); /* its cache follows every NM object */
  /* resolved mode needs the bus to tell it anything. */
  if (self->mode == HYPHAE_OS_DNS_MODE_RESOLVED && bus == NULL)
    {
      self->mode = HYPHAE_OS_DNS_MODE_DIRECT;
      self->mode_reason = "systemd-resolved manages resolv.conf but there is no system bus: written directly";
    }
  g_message ("OS DNS: %s mode (%s)", hyphae_os_dns_mode_to_string (self->mode), self->mode_reason);
}

HyphaeOsDnsMode
hyphae_os_dns_get_mode (HyphaeOsDns *self)
{
  return self->mode;
}

/* ---- resolved ------------------------------------------------------------ */

static gboolean apply_resolved (HyphaeOsDns *self, const HyphaeOsDnsPlan *plan, GError **error);

static void
on_resolved_appeared (GDBusConnection *connection,
                      const char *name,
                      const char *owner,
                      gpointer user_data)
{
  HyphaeOsDns *self = user_data;
  g_autoptr(GError) error = NULL;
  gboolean was_gone = self->resolved_gone;

  self->resolved_gone = FALSE;
  if (!was_gone || self->wanted == NULL || self->mode != HYPHAE_OS_DNS_MODE_RESOLVED)
    return;
  /* A restarted resolved forgot our link (Tailscale re-pushes the same way). */
  g_message ("OS DNS: systemd-resolved (re)started, pushing the link's DNS again");
  if (!apply_resolved (self, self->wanted, &error))
    set_error (self, error->message);
  else
    set_error (self, NULL);
  emit_changed (self);
}

static void
on_resolved_vanished (GDBusConnection *connection,
                      const char *name,
                      gpointer user_data)
{
  HyphaeOsDns *self = user_data;

  self->resolved_gone = TRUE;
}

static gboolean
apply_resolved (HyphaeOsDns *self,
                const HyphaeOsDnsPlan *plan,
                GError **error)
{
  g_autoptr(GKeyFile) state = g_key_file_new ();
  int ifindex = (int) if_nametoindex (self->ifname);

  if (self->watch_id == 0)
    self->watch_id = g_bus_watch_name_on_connection (self->bus, HYPHAE_RESOLVED_NAME,
                                                     G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                     on_resolved_appeared, on_resolved_vanished,
                                                     self, NULL);
  if (ifindex <= 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "No interface %s", self->ifname);
      return FALSE;
    }
  g_key_file_set_string (state, HYPHAE_OS_DNS_GROUP, "mode", "systemd-resolved");
  g_key_file_set_string (state, HYPHAE_OS_DNS_GROUP, "ifname", self->ifname);
  g_key_file_set_integer (state, HYPHAE_OS_DNS_GROUP, "ifindex", ifindex);
  if (!save_state (self->state_dir, state, error))
    return FALSE;
  if (!hyphae_resolved_set_link (self->bus, ifindex, plan, error))
    return FALSE;
  hyphae_os_dns_plan_free (self->applied);
  self->applied = hyphae_os_dns_plan_copy (plan);
  return TRUE;
}

/* ---- direct -------------------------------------------------------------- */

static gboolean apply_direct (HyphaeOsDns *self, const HyphaeOsDnsPlan *plan, GError **error);

/* As Tailscale (net/dns/direct.go checkForFileTrample + the manager's
 * TrampleDNS handling): at most this many rewrites per window, then we leave
 * the file to the other program and say so. */
#define TRAMPLE_MAX       10
#define TRAMPLE_WINDOW_US (5 * G_USEC_PER_SEC)
/* Events come in bursts (create, change, done): one check after them. */
#define TRAMPLE_SETTLE_MS 100

static gboolean
trample_check (gpointer user_data)
{
  HyphaeOsDns *self = user_data;
  g_autoptr(HyphaeOsDnsPlan) plan = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *current = NULL;
  gint64 now = g_get_monotonic_time ();

  self->trample_check_id = 0;
  if (self->applied == NULL || self->written == NULL)
    return G_SOURCE_REMOVE;
  if (g_file_get_contents (self->resolv_conf, &current, NULL, NULL) && strcmp (current, self->written) == 0)
    return G_SOURCE_REMOVE;
  if (now - self->trample_window > TRAMPLE_WINDOW_US)
    {
      self->trample_window = now;
      self->tramples = 0;
    }
  if (++self->tramples > TRAMPLE_MAX)
    {
      if (self->tramples == TRAMPLE_MAX + 1)
        {
          set_error (self, "resolv.conf keeps being rewritten by another program (NetworkManager, a DHCP "
                           "client?): left to it, MagicDNS names may not resolve");
          emit_changed (self);
        }
      return G_SOURCE_REMOVE;
    }
  /* NetworkManager or a DHCP client wrote its own: that is the newer
   * original (backed up now, restored on revert); ours goes back on top. */
  g_message ("OS DNS: %s was rewritten by another program; writing ours again", self->resolv_conf);
  plan = hyphae_os_dns_plan_copy (self->applied);
  set_error (self, apply_direct (self, plan, &error) ? NULL : error->message);
  emit_changed (self);
  return G_SOURCE_REMOVE;
}

static void
on_resolv_conf_changed (GFileMonitor *monitor,
                        GFile *file,
                        GFile *other,
                        GFileMonitorEvent event,
                        gpointer user_data)
{
  HyphaeOsDns *self = user_data;

  if (self->trample_check_id == 0)
    self->trample_check_id = g_timeout_add (TRAMPLE_SETTLE_MS, trample_check, self);
}

static void
watch_resolv_conf (HyphaeOsDns *self)
{
  g_autoptr(GFile) file = NULL;
  g_autoptr(GError) error = NULL;

  if (self->monitor != NULL)
    return;
  file = g_file_new_for_path (self->resolv_conf);
  /* HARD_LINKS: the inode too, so in-place writes to a bind-mounted file count. */
  self->monitor = g_file_monitor_file (file, G_FILE_MONITOR_WATCH_HARD_LINKS, NULL, &error);
  if (self->monitor == NULL)
    {
      g_message ("OS DNS: cannot watch %s: %s", self->resolv_conf, error->message);
      return;
    }
  g_signal_connect (self->monitor, "changed", G_CALLBACK (on_resolv_conf_changed), self);
}

static void
unwatch_resolv_conf (HyphaeOsDns *self)
{
  g_clear_handle_id (&self->trample_check_id, g_source_remove);
  if (self->monitor != NULL)
    g_signal_handlers_disconnect_by_data (self->monitor, self);
  g_clear_object (&self->monitor);
  g_clear_pointer (&self->written, g_free);
}

static gboolean
apply_direct (HyphaeOsDns *self,
              const HyphaeOsDnsPlan *plan,
              GError **error)
{
  g_autoptr(GKeyFile) state = NULL;
  g_autoptr(GError) local = NULL;
  g_autofree char *backup = backup_path (self->state_dir);
  g_autofree char *original = NULL;
  g_autofree char *text = NULL;
  g_auto(GStrv) search = NULL;

  /* A plan change keeps the facts about the original recorded the first time. */
  state = load_state (self->state_dir, &local);
  if (state == NULL)
    state = g_key_file_new ();
  g_key_file_set_string (state, HYPHAE_OS_DNS_GROUP, "mode", "direct");
  g_key_file_set_string (state, HYPHAE_OS_DNS_GROUP, "resolv-conf", self->resolv_conf);
  if (!hyphae_resolv_conf_backup (self->resolv_conf, backup, state, &original, error))
    return FALSE;
  if (!save_state (self->state_dir, state, error))
    return FALSE;
  search = hyphae_resolv_conf_parse_search (original);
  text = hyphae_resolv_conf_render (plan, search);
  if (!hyphae_resolv_conf_replace (self->resolv_conf, text, 0644, error))
    return FALSE;
  g_free (self->written);
  self->written = g_steal_pointer (&text);
  watch_resolv_conf (self);
  g_strfreev (self->base_nameservers);
  self->base_nameservers = hyphae_resolv_conf_parse_nameservers (original);
  hyphae_os_dns_plan_free (self->applied);
  self->applied = hyphae_os_dns_plan_copy (plan);
  return TRUE;
}

/* ---- NetworkManager ------------------------------------------------------ */

static gboolean apply_nm (HyphaeOsDns *self, const HyphaeOsDnsPlan *plan, GError **error);

/* NM's own nameservers and search domains: those of the global configuration
 * we replaced, if there was one (NM wrote only those), else its devices'. */
static void
nm_base (HyphaeOsDns *self,
         GVariant *previous,
         char ***servers,
         char ***search)
{
  g_auto(GStrv) prev_servers = previous != NULL ? hyphae_nm_global_dns_servers (previous) : NULL;

  if (prev_servers != NULL && prev_servers[0] != NULL)
    {
      *servers = g_steal_pointer (&prev_servers);
      *search = hyphae_nm_global_dns_searches (previous);
      return;
    }
  hyphae_nm_own_dns (self->nm, servers, search);
}

/* NM's devices changed their DNS (DHCP, another network): our global
 * configuration keeps their search domains and MagicDNS their servers. */
static gboolean
nm_recheck (gpointer user_data)
{
  HyphaeOsDns *self = user_data;
  g_autoptr(HyphaeOsDnsPlan) plan = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) servers = NULL;
  g_auto(GStrv) search = NULL;
  g_autoptr(GVariant) config = NULL;

  self->nm_check_id = 0;
  if (self->applied == NULL || self->mode != HYPHAE_OS_DNS_MODE_NM)
    return G_SOURCE_REMOVE;
  nm_base (self, self->nm_previous, &servers, &search);
  config = g_variant_ref_sink (hyphae_nm_global_dns_new (self->applied, servers, search));
  if (self->base_nameservers != NULL &&
      g_strv_equal ((const char * const *) servers, (const char * const *) self->base_nameservers) &&
      self->nm_set != NULL && hyphae_nm_global_dns_same (config, self->nm_set))
    return G_SOURCE_REMOVE; /* our own change coming back, or nothing that matters */
  g_message ("OS DNS: NetworkManager's own DNS changed; updating ours");
  plan = hyphae_os_dns_plan_copy (self->applied);
  set_error (self, apply_nm (self, plan, &error) ? NULL : error->message);
  emit_changed (self);
  return G_SOURCE_REMOVE;
}

/* Any of NM's properties changed: libnm's cache follows the same signals;
 * one look after a burst (and after libnm has seen them). */
#define NM_SETTLE_MS 200

static void
on_nm_properties_changed (GDBusConnection *bus,
                          const char *sender,
                          const char *path,
                          const char *iface,
                          const char *signal,
                          GVariant *params,
                          gpointer user_data)
{
  HyphaeOsDns *self = user_data;
  const char *changed = NULL;

  /* Only what can carry DNS: not a Wi-Fi scan's access points. */
  if (g_variant_is_of_type (params, G_VARIANT_TYPE ("(sa{sv}as)")))
    g_variant_get_child (params, 0, "&s", &changed);
  if (g_strcmp0 (changed, NM_DBUS_INTERFACE_IP4_CONFIG) != 0 &&
      g_strcmp0 (changed, NM_DBUS_INTERFACE_IP6_CONFIG) != 0 && g_strcmp0 (changed, NM_DBUS_INTERFACE_DEVICE) != 0)
    return;
  if (self->nm_check_id == 0)
    self->nm_check_id = g_timeout_add (NM_SETTLE_MS, nm_recheck, self);
}

static void
unwatch_nm (HyphaeOsDns *self)
{
  if (self->nm_signal_id != 0)
    g_dbus_connection_signal_unsubscribe (self->bus, self->nm_signal_id);
  self->nm_signal_id = 0;
  g_clear_handle_id (&self->nm_check_id, g_source_remove);
  g_clear_pointer (&self->nm_set, g_variant_unref);
  g_clear_pointer (&self->nm_previous, g_variant_unref);
}

static gboolean
apply_nm (HyphaeOsDns *self,
          const HyphaeOsDnsPlan *plan,
          GError **error)
{
  g_autoptr(GKeyFile) state = NULL;
  g_autoptr(GVariant) previous = NULL;
  g_autoptr(GVariant) config = NULL;
  g_auto(GStrv) servers = NULL;
  g_auto(GStrv) search = NULL;

  /* A plan change keeps the configuration found the first time. */
  state = load_state (self->state_dir, NULL);
  if (state != NULL)
    {
      g_autofree char *mode = g_key_file_get_string (state, HYPHAE_OS_DNS_GROUP, "mode", NULL);

      if (g_strcmp0 (mode, "NetworkManager") == 0)
        previous = state_get_variant (state, "nm-previous");
    }
  if (previous == NULL)
    {
      previous = hyphae_nm_get_global_dns (self->bus, error);
      if (previous == NULL)
        return FALSE;
      /* Ours, left by a hyphaed whose state file is gone: NM had none. */
      if (hyphae_nm_global_dns_has_magic (previous))
        {
          g_variant_unref (previous);
          previous = g_variant_ref_sink (g_variant_new ("a{sv}", NULL));
        }
      g_clear_pointer (&state, g_key_file_free);
      state = g_key_file_new ();
      g_key_file_set_string (state, HYPHAE_OS_DNS_GROUP, "mode", "NetworkManager");
      state_set_variant (state, "nm-previous", previous);
    }
  nm_base (self, previous, &servers, &search);
  config = g_variant_ref_sink (hyphae_nm_global_dns_new (plan, servers, search));
  state_set_variant (state, "nm-ours", config);
  if (!save_state (self->state_dir, state, error))
    return FALSE;
  if (!hyphae_nm_set_global_dns (self->bus, config, error))
    return FALSE;
  if (self->nm != NULL && self->nm_signal_id == 0)
    self->nm_signal_id = g_dbus_connection_signal_subscribe (self->bus, NM_DBUS_SERVICE,
                                                             "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                                             NULL, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                             on_nm_properties_changed, self, NULL);
  g_clear_pointer (&self->nm_set, g_variant_unref);
  self->nm_set = g_steal_pointer (&config);
  g_clear_pointer (&self->nm_previous, g_variant_unref);
  self->nm_previous = g_steal_pointer (&previous);
  g_strfreev (self->base_nameservers);
  self->base_nameservers = g_steal_pointer (&servers);
  hyphae_os_dns_plan_free (self->applied);
  self->applied = hyphae_os_dns_plan_copy (plan);
  return TRUE;
}

/* ---- apply / revert ------------------------------------------------------ */

gboolean
hyphae_os_dns_apply (HyphaeOsDns *self,
                     const HyphaeOsDnsPlan *plan,
                     GError **error)
{
  g_autoptr(GError) local = NULL;
  gboolean ok;

  if (hyphae_os_dns_plan_is_empty (plan))
    return hyphae_os_dns_revert (self, error);
  if (self->error == NULL && self->applied != NULL && hyphae_os_dns_plan_equal (plan, self->applied))
    return TRUE;
  if (self->mode == HYPHAE_OS_DNS_MODE_NONE)
    detect (self);
  hyphae_os_dns_plan_free (self->wanted);
  self->wanted = hyphae_os_dns_plan_copy (plan);
  if (self->mode == HYPHAE_OS_DNS_MODE_RESOLVED)
    ok = apply_resolved (self, plan, &local);
  else if (self->mode == HYPHAE_OS_DNS_MODE_NM)
    ok = apply_nm (self, plan, &local);
  else
    ok = apply_direct (self, plan, &local);
  set_error (self, ok ? NULL : local->message);
  emit_changed (self);
  if (!ok)
    g_propagate_error (error, g_steal_pointer (&local));
  return ok;
}

gboolean
hyphae_os_dns_revert (HyphaeOsDns *self,
                      GError **error)
{
  g_autoptr(GKeyFile) state = NULL;
  g_autoptr(GError) local = NULL;
  gboolean had = self->applied != NULL || self->wanted != NULL || self->error != NULL;

  /* Only what this object did: a state file it did not write is a dead
   * daemon's (hyphae_os_dns_cleanup's job) or a live one's (hands off). */
  if (!had)
    return TRUE;
  g_clear_pointer (&self->wanted, hyphae_os_dns_plan_free);
  unwatch_resolv_conf (self);
  unwatch_nm (self);
  state = load_state (self->state_dir, &local);
  if (state != NULL && !undo_state (self->state_dir, state, self->bus, &local))
    {
      set_error (self, local->message);
      emit_changed (self);
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (state != NULL)
    remove_state (self->state_dir);
  g_clear_pointer (&self->applied, hyphae_os_dns_plan_free);
  g_clear_pointer (&self->base_nameservers, g_strfreev);
  set_error (self, local ? local->message : NULL);
  emit_changed (self);
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  return TRUE;
}

/* ---- status -------------------------------------------------------------- */

static GVariant *
strv_or_empty (char **v)
{
  const char * const none[] = { NULL };

  return g_variant_new_strv (v ? (const char * const *) v : none, -1);
}

GVariant *
hyphae_os_dns_get_status (HyphaeOsDns *self)
{
  const HyphaeOsDnsPlan *p = self->applied;
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "Mode", g_variant_new_string (hyphae_os_dns_mode_to_string (self->mode)));
  g_variant_builder_add (&b, "{sv}", "ModeReason", g_variant_new_string (self->mode_reason));
  g_variant_builder_add (&b, "{sv}", "Nameservers", strv_or_empty (p ? p->nameservers : NULL));
  g_variant_builder_add (&b, "{sv}", "SearchDomains", strv_or_empty (p ? p->search_domains : NULL));
  g_variant_builder_add (&b, "{sv}", "MatchDomains", strv_or_empty (p ? p->match_domains : NULL));
  g_variant_builder_add (&b, "{sv}", "DefaultRoute", g_variant_new_boolean (p ? p->default_route : FALSE));
  g_variant_builder_add (&b, "{sv}", "Error", g_variant_new_string (self->error ? self->error : ""));
  return g_variant_builder_end (&b);
}

char **
hyphae_os_dns_dup_base_nameservers (HyphaeOsDns *self)
{
  if (self->applied == NULL || (self->mode != HYPHAE_OS_DNS_MODE_DIRECT && self->mode != HYPHAE_OS_DNS_MODE_NM))
    return NULL;
  return g_strdupv (self->base_nameservers);
}

void
hyphae_os_dns_set_changed_func (HyphaeOsDns *self,
                                HyphaeOsDnsChangedFunc func,
                                gpointer user_data)
{
  self->changed = func;
  self->changed_data = user_data;
}
