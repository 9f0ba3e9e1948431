/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-tray-menu"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "hyphae-tray-dbusmenu.h"
#include "hyphae-tray-layout.h"
#include "hyphae-tray-menu.h"
#include "hyphae-tray-status.h"

/* Item ids (hyphae-tray-menu.h). Per-peer items: base + n. */
enum {
  ID_STATUS = 1,
  ID_SEP_STATUS = 2,
  ID_CONNECT = 3,
  ID_SEP_CONNECT = 4,
  ID_DEVICE = 10,
  ID_DEVICE_DNS = 11,
  ID_DEVICE_IPV4 = 12,
  ID_DEVICE_IPV6 = 13,
  ID_EXIT = 20,
  ID_EXIT_NONE = 21,
  ID_SEP_EXIT_NODES = 22,
  ID_SEP_EXIT_LAN = 23,
  ID_EXIT_LAN = 24,
  ID_EXIT_NO_CANDIDATES = 25,
  ID_EXIT_KILL_SWITCH = 26,
  ID_SEP_EXIT_RUN = 27,
  ID_EXIT_RUN = 28,
  ID_PEERS = 30,
  ID_PEERS_NONE = 38,
  ID_PEERS_ALL = 39,
  ID_SEP_APP = 40,
  ID_OPEN = 41,
  ID_QUIT = 42,
  ID_EXIT_NODE_BASE = 1000000,
  ID_PEER_BASE = 2000000,
};

/* Peers listed in the Peers submenu; the window has them all. */
#define MAX_PEERS 25

typedef enum {
  ITEM_INSENSITIVE = 1 << 0,
  ITEM_SUBMENU = 1 << 1,
  ITEM_RADIO = 1 << 2,
  ITEM_CHECK = 1 << 3,
  ITEM_TOGGLED = 1 << 4,
} ItemFlags;

struct _HyphaeTrayMenu {
  GObject parent_instance;

  HyphaeClient *client;
  HyphaeTrayDbusmenu *dbusmenu;
  HyphaePeer *self_peer;    /* watched for name and address changes */
  GHashTable *peer_numbers; /* stable id → n (GINT_TO_POINTER), never reused */
  int next_number;
  guint rebuild_id;
  gboolean exported;
  gboolean live;  /* a host shows the menu: send changes as they come */
  gboolean dirty; /* the client changed since the last build */
};

G_DEFINE_FINAL_TYPE (HyphaeTrayMenu, hyphae_tray_menu, G_TYPE_OBJECT)

enum {
  SIGNAL_ACTIVATE_ACTION,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

/* dbusmenu labels take "_" as a mnemonic mark: names keep theirs. */
static char *
escape_label (const char *text)
{
  g_auto (GStrv) parts = g_strsplit (text, "_", -1);

  return g_strjoinv ("__", parts);
}

static GVariant *
item_props (const char *label,
            ItemFlags flags)
{
  GVariantBuilder props;

  g_variant_builder_init (&props, G_VARIANT_TYPE_VARDICT);
  if (label == NULL)
    g_variant_builder_add (&props, "{sv}", "type", g_variant_new_string ("separator"));
  else
    g_variant_builder_add (&props, "{sv}", "label", g_variant_new_take_string (escape_label (label)));
  if (flags & ITEM_INSENSITIVE)
    g_variant_builder_add (&props, "{sv}", "enabled", g_variant_new_boolean (FALSE));
  if (flags & ITEM_SUBMENU)
    g_variant_builder_add (&props, "{sv}", "children-display", g_variant_new_string ("submenu"));
  if (flags & (ITEM_RADIO | ITEM_CHECK))
    {
      g_variant_builder_add (&props, "{sv}", "toggle-type",
                             g_variant_new_string (flags & ITEM_RADIO ? "radio" : "checkmark"));
      g_variant_builder_add (&props, "{sv}", "toggle-state", g_variant_new_int32 (flags & ITEM_TOGGLED ? 1 : 0));
    }
  return g_variant_builder_end (&props);
}

static void
add_separator (HyphaeTrayLayout *layout,
               int parent,
               int id)
{
  hyphae_tray_layout_add (layout, parent, id, item_props (NULL, 0), NULL, NULL);
}

static int
peer_number (HyphaeTrayMenu *self,
             HyphaePeer *peer)
{
  const char *id = hyphae_peer_get_id (peer);
  gpointer n;

  if (!g_hash_table_lookup_extended (self->peer_numbers, id, NULL, &n))
    {
      n = GINT_TO_POINTER (self->next_number++);
      g_hash_table_insert (self->peer_numbers, g_strdup (id), n);
    }
  return GPOINTER_TO_INT (n);
}

static char *
peer_label (HyphaePeer *peer)
{
  if (hyphae_peer_get_online (peer))
    return g_strdup (hyphae_peer_get_display_name (peer));
  /* Translators: a peer's name in the tray menu while it is offline. */
  return g_strdup_printf (_ ("%s (offline)"), hyphae_peer_get_display_name (peer));
}

/* Online first, then by name (as the window's list). */
static int
compare_peers (gconstpointer a,
               gconstpointer b)
{
  HyphaePeer *pa = *(HyphaePeer **) a, *pb = *(HyphaePeer **) b;

  if (hyphae_peer_get_online (pa) != hyphae_peer_get_online (pb))
    return hyphae_peer_get_online (pa) ? -1 : 1;
  /* Display names are DNS labels (ASCII): strcmp is enough, and cheap with
   * 10,000 of them. */
  return strcmp (hyphae_peer_get_display_name (pa), hyphae_peer_get_display_name (pb));
}

/* The client's peers that pass keep (NULL: all), sorted. Transfer container. */
static GPtrArray *
sorted_peers (HyphaeClient *client,
              gboolean (*keep) (HyphaePeer *peer, const char *exit_node_id),
              const char *exit_node_id)
{
  GListModel *list = G_LIST_MODEL (hyphae_client_get_peers (client));
  GPtrArray *peers = g_ptr_array_new_with_free_func (g_object_unref);
  guint n = g_list_model_get_n_items (list);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (HyphaePeer) peer = g_list_model_get_item (list, i);

      if (keep == NULL || keep (peer, exit_node_id))
        g_ptr_array_add (peers, g_steal_pointer (&peer));
    }
  g_ptr_array_sort (peers, compare_peers);
  return peers;
}

static void
add_copy_item (HyphaeTrayLayout *layout,
               int parent,
               int id,
               const char *text)
{
  g_autofree char *label = NULL;

  if (text == NULL || *text == '\0')
    return;
  /* Translators: a menu item that copies a name or an address. */
  label = g_strdup_printf (_ ("Copy %s"), text);
  hyphae_tray_layout_add (layout, parent, id, item_props (label, 0), "app.copy", g_variant_new_string (text));
}

static void
add_this_device (HyphaeTrayMenu *self,
                 HyphaeTrayLayout *layout)
{
  HyphaePeer *me = hyphae_client_get_self (self->client);
  g_autofree char *label = NULL;

  if (me == NULL)
    return;
  /* Translators: %s is this computer's name in the tailnet. */
  label = g_strdup_printf (_ ("This Device: %s"), hyphae_peer_get_display_name (me));
  hyphae_tray_layout_add (layout, 0, ID_DEVICE, item_props (label, ITEM_SUBMENU), NULL, NULL);
  add_copy_item (layout, ID_DEVICE, ID_DEVICE_DNS, hyphae_peer_get_magic_dns_name (me));
  add_copy_item (layout, ID_DEVICE, ID_DEVICE_IPV4, hyphae_peer_get_ipv4 (me));
  add_copy_item (layout, ID_DEVICE, ID_DEVICE_IPV6, hyphae_peer_get_ipv6 (me));
  if (hyphae_tray_layout_lookup (layout, ID_DEVICE)->children->len == 0)
    hyphae_tray_layout_add (layout, ID_DEVICE, ID_DEVICE_DNS, item_props (_ ("No addresses yet"), ITEM_INSENSITIVE),
                            NULL, NULL);
}

static gboolean
is_exit_candidate (HyphaePeer *peer,
                   const char *exit_node_id)
{
  return hyphae_peer_get_exit_node_option (peer) || g_strcmp0 (hyphae_peer_get_id (peer), exit_node_id) == 0;
}

static void
add_exit_nodes (HyphaeTrayMenu *self,
                HyphaeTrayLayout *layout)
{
  g_autofree char *current = NULL;
  g_autoptr (GPtrArray) candidates = NULL;
  gboolean lan = FALSE, kill_switch = FALSE, run = FALSE;

  g_object_get (self->client, "exit-node-id", &current, "exit-node-allow-lan-access", &lan, "exit-node-kill-switch",
                &kill_switch, "advertise-exit-node", &run, NULL);
  if (current == NULL)
    current = g_strdup ("");
  candidates = sorted_peers (self->client, is_exit_candidate, current);
  hyphae_tray_layout_add (layout, 0, ID_EXIT, item_props (_ ("Exit Node"), ITEM_SUBMENU), NULL, NULL);
  hyphae_tray_layout_add (layout, ID_EXIT, ID_EXIT_NONE,
                          item_props (_ ("None"), ITEM_RADIO | (*current == '\0' ? ITEM_TOGGLED : 0)),
                          "app.set-exit-node", g_variant_new_string (""));
  add_separator (layout, ID_EXIT, ID_SEP_EXIT_NODES);
  for (guint i = 0; i < candidates->len; i++)
    {
      HyphaePeer *peer = candidates->pdata[i];
      gboolean chosen = g_str_equal (hyphae_peer_get_id (peer), current);
      g_autofree char *label = peer_label (peer);
      ItemFlags flags = ITEM_RADIO;

      if (chosen)
        flags |= ITEM_TOGGLED;
      else if (!hyphae_peer_get_online (peer))
        flags |= ITEM_INSENSITIVE;
      hyphae_tray_layout_add (layout, ID_EXIT, ID_EXIT_NODE_BASE + peer_number (self, peer), item_props (label, flags),
                              "app.set-exit-node", g_variant_new_string (hyphae_peer_get_id (peer)));
    }
  if (candidates->len == 0)
    hyphae_tray_layout_add (layout, ID_EXIT, ID_EXIT_NO_CANDIDATES,
                            item_props (_ ("No exit nodes in this tailnet"), ITEM_INSENSITIVE), NULL, NULL);
  add_separator (layout, ID_EXIT, ID_SEP_EXIT_LAN);
  hyphae_tray_layout_add (layout, ID_EXIT, ID_EXIT_LAN,
                          item_props (_ ("Allow LAN Access"), ITEM_CHECK | (lan ? ITEM_TOGGLED : 0)),
                          "app.set-allow-lan-access", g_variant_new_boolean (!lan));
  hyphae_tray_layout_add (layout, ID_EXIT, ID_EXIT_KILL_SWITCH,
                          item_props (_ ("Block Traffic While Offline"), ITEM_CHECK | (kill_switch ? ITEM_TOGGLED : 0)),
                          "app.set-exit-node-kill-switch", g_variant_new_boolean (!kill_switch));
  /* Offering one, as Tailscale's menus put it among the exit nodes. */
  add_separator (layout, ID_EXIT, ID_SEP_EXIT_RUN);
  hyphae_tray_layout_add (layout, ID_EXIT, ID_EXIT_RUN,
                          item_props (_ ("Run as Exit Node"), ITEM_CHECK | (run ? ITEM_TOGGLED : 0)),
                          "app.toggle-advertise-exit-node", NULL);
}

static void
add_peers (HyphaeTrayMenu *self,
           HyphaeTrayLayout *layout)
{
  g_autoptr (GPtrArray) peers = sorted_peers (self->client, NULL, NULL);

  hyphae_tray_layout_add (layout, 0, ID_PEERS, item_props (_ ("Peers"), ITEM_SUBMENU), NULL, NULL);
  for (guint i = 0; i < peers->len && i < MAX_PEERS; i++)
    {
      HyphaePeer *peer = peers->pdata[i];
      const char *name = hyphae_peer_get_magic_dns_name (peer);
      g_autofree char *label = peer_label (peer);

      if (name == NULL || *name == '\0')
        name = hyphae_peer_get_ipv4 (peer);
      hyphae_tray_layout_add (layout, ID_PEERS, ID_PEER_BASE + peer_number (self, peer), item_props (label, 0),
                              "app.copy", g_variant_new_string (name));
    }
  if (peers->len == 0)
    hyphae_tray_layout_add (layout, ID_PEERS, ID_PEERS_NONE, item_props (_ ("No other devices"), ITEM_INSENSITIVE),
                            NULL, NULL);
  else if (peers->len > MAX_PEERS)
    hyphae_tray_layout_add (layout, ID_PEERS, ID_PEERS_ALL, item_props (_ ("All Peers…"), 0), "app.show-window",
                            NULL);
}

static HyphaeTrayLayout *
build (HyphaeTrayMenu *self)
{
  HyphaeTrayLayout *layout = hyphae_tray_layout_new ();
  g_autofree char *status = hyphae_tray_status_text (self->client);
  gboolean daemon = hyphae_client_get_daemon_state (self->client) == HYPHAE_DAEMON_STATE_RUNNING;
  HyphaeState state = hyphae_client_get_state (self->client);
  gboolean signed_in = daemon && state >= HYPHAE_STATE_NEEDS_MACHINE_AUTH;

  hyphae_tray_layout_add (layout, 0, ID_STATUS, item_props (status, ITEM_INSENSITIVE), NULL, NULL);
  add_separator (layout, 0, ID_SEP_STATUS);
  if (daemon && !signed_in)
    hyphae_tray_layout_add (layout, 0, ID_CONNECT, item_props (_ ("Sign In…"), 0), "app.show-window", NULL);
  else if (signed_in && state == HYPHAE_STATE_STOPPED)
    hyphae_tray_layout_add (layout, 0, ID_CONNECT, item_props (_ ("Connect"), 0), "app.connect", NULL);
  else if (signed_in)
    hyphae_tray_layout_add (layout, 0, ID_CONNECT, item_props (_ ("Disconnect"), 0), "app.disconnect", NULL);
  if (signed_in)
    {
      add_separator (layout, 0, ID_SEP_CONNECT);
      add_this_device (self, layout);
      add_exit_nodes (self, layout);
      add_peers (self, layout);
    }
  add_separator (layout, 0, ID_SEP_APP);
  hyphae_tray_layout_add (layout, 0, ID_OPEN, item_props (_ ("Open Hyphae"), 0), "app.show-window", NULL);
  hyphae_tray_layout_add (layout, 0, ID_QUIT, item_props (_ ("Quit"), 0), "app.quit", NULL);
  return layout;
}

static void schedule_rebuild (HyphaeTrayMenu *self);

static void
watch_self_peer (HyphaeTrayMenu *self)
{
  HyphaePeer *me = hyphae_client_get_self (self->client);

  if (me == self->self_peer)
    return;
  if (self->self_peer != NULL)
    g_signal_handlers_disconnect_by_data (self->self_peer, self);
  g_set_object (&self->self_peer, me);
  if (me != NULL)
    g_signal_connect_swapped (me, "notify", G_CALLBACK (schedule_rebuild), self);
}

static void
rebuild (HyphaeTrayMenu *self)
{
  self->dirty = FALSE;
  g_clear_handle_id (&self->rebuild_id, g_source_remove);
  watch_self_peer (self);
  hyphae_tray_dbusmenu_set_layout (self->dbusmenu, build (self));
}

static gboolean
rebuild_idle (gpointer user_data)
{
  HyphaeTrayMenu *self = user_data;

  self->rebuild_id = 0;
  rebuild (self);
  return G_SOURCE_REMOVE;
}

/* Many changes come together (a network map): one rebuild after them, and
 * only while a host shows the menu (with 10,000 peers a rebuild is work);
 * otherwise the next call from a host rebuilds first. Peers' own notifies
 * other than the online and name changes (which the list announces) are not
 * watched: the rest of what the menu shows of them does not change in place. */
static void
schedule_rebuild (HyphaeTrayMenu *self)
{
  self->dirty = TRUE;
  if (self->exported && self->live && self->rebuild_id == 0)
    self->rebuild_id = g_idle_add (rebuild_idle, self);
}

static void
on_refresh (HyphaeTrayMenu *self)
{
  if (self->dirty)
    rebuild (self);
}

void
hyphae_tray_menu_set_live (HyphaeTrayMenu *self,
                           gboolean live)
{
  self->live = live;
  if (live && self->exported && self->dirty)
    rebuild (self);
}

static void
on_clicked (HyphaeTrayMenu *self,
            const char *action,
            GVariant *target)
{
  g_signal_emit (self, signals[SIGNAL_ACTIVATE_ACTION], 0, action, target);
}

gboolean
hyphae_tray_menu_export (HyphaeTrayMenu *self,
                         GDBusConnection *connection,
                         const char *object_path,
                         GError **error)
{
  if (!hyphae_tray_dbusmenu_export (self->dbusmenu, connection, object_path, error))
    return FALSE;
  self->exported = TRUE;
  rebuild (self);
  return TRUE;
}

void
hyphae_tray_menu_unexport (HyphaeTrayMenu *self)
{
  self->exported = FALSE;
  g_clear_handle_id (&self->rebuild_id, g_source_remove);
  hyphae_tray_dbusmenu_unexport (self->dbusmenu);
}

static void
hyphae_tray_menu_dispose (GObject *object)
{
  HyphaeTrayMenu *self = HYPHAE_TRAY_MENU (object);

  hyphae_tray_menu_unexport (self);
  if (self->self_peer != NULL)
    g_signal_handlers_disconnect_by_data (self->self_peer, self);
  g_clear_object (&self->self_peer);
  if (self->client != NULL)
    {
      g_signal_handlers_disconnect_by_data (hyphae_client_get_peers (self->client), self);
      g_signal_handlers_disconnect_by_data (self->client, self);
    }
  g_clear_object (&self->client);
  g_clear_object (&self->dbusmenu);
  G_OBJECT_CLASS (hyphae_tray_menu_parent_class)->dispose (object);
}

static void
hyphae_tray_menu_finalize (GObject *object)
{
  g_hash_table_unref (HYPHAE_TRAY_MENU (object)->peer_numbers);
  G_OBJECT_CLASS (hyphae_tray_menu_parent_class)->finalize (object);
}

static void
hyphae_tray_menu_class_init (HyphaeTrayMenuClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = hyphae_tray_menu_dispose;
  object_class->finalize = hyphae_tray_menu_finalize;

  signals[SIGNAL_ACTIVATE_ACTION] = g_signal_new ("activate-action", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_VARIANT);
}

static void
hyphae_tray_menu_init (HyphaeTrayMenu *self)
{
  self->peer_numbers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->dbusmenu = hyphae_tray_dbusmenu_new ();
  g_signal_connect_swapped (self->dbusmenu, "refresh", G_CALLBACK (on_refresh), self);
  g_signal_connect_swapped (self->dbusmenu, "clicked", G_CALLBACK (on_clicked), self);
}

HyphaeTrayMenu *
hyphae_tray_menu_new (HyphaeClient *client)
{
  HyphaeTrayMenu *self = g_object_new (HYPHAE_TYPE_TRAY_MENU, NULL);

  self->client = g_object_ref (client);
  g_signal_connect_swapped (client, "notify", G_CALLBACK (schedule_rebuild), self);
  g_signal_connect_swapped (hyphae_client_get_peers (client), "items-changed", G_CALLBACK (schedule_rebuild), self);
  return self;
}
