/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-tray-status"

#include "config.h"

#include <glib/gi18n.h>

#include "hyphae-tray-status.h"

/* Why the user has to act while the service runs, or NULL. */
static const char *
attention_reason (HyphaeClient *client)
{
  HyphaeState state = hyphae_client_get_state (client);
  HyphaePeer *self_peer = hyphae_client_get_self (client);
  HyphaePeer *exit_node = hyphae_client_get_exit_node (client);
  g_autofree char *exit_node_id = NULL;
  g_auto (GStrv) health = NULL;

  if (state == HYPHAE_STATE_NEEDS_MACHINE_AUTH)
    return _ ("Waiting for approval");
  if (state != HYPHAE_STATE_RUNNING && state != HYPHAE_STATE_STARTING)
    return NULL;
  if (self_peer != NULL && hyphae_peer_get_info (self_peer)->expired)
    return _ ("Key expired: sign in again");
  g_object_get (client, "exit-node-id", &exit_node_id, "health", &health, NULL);
  if (exit_node_id != NULL && *exit_node_id != '\0' && (exit_node == NULL || !hyphae_peer_get_online (exit_node)))
    return _ ("Exit node offline");
  if (health != NULL && health[0] != NULL)
    return _ ("Connection problem");
  return NULL;
}

HyphaeTrayIcon
hyphae_tray_status_icon (HyphaeClient *client)
{
  g_autofree char *exit_node_id = NULL;

  switch (hyphae_client_get_daemon_state (client))
    {
    case HYPHAE_DAEMON_STATE_RUNNING: break;
    case HYPHAE_DAEMON_STATE_STARTING: return HYPHAE_TRAY_ICON_CONNECTING;
    case HYPHAE_DAEMON_STATE_FAILED: return HYPHAE_TRAY_ICON_ATTENTION;
    case HYPHAE_DAEMON_STATE_UNKNOWN:
    case HYPHAE_DAEMON_STATE_NOT_INSTALLED:
    default: return HYPHAE_TRAY_ICON_OFF;
    }
  if (attention_reason (client) != NULL)
    return HYPHAE_TRAY_ICON_ATTENTION;
  switch (hyphae_client_get_state (client))
    {
    case HYPHAE_STATE_STARTING: return HYPHAE_TRAY_ICON_CONNECTING;
    case HYPHAE_STATE_RUNNING:
      g_object_get (client, "exit-node-id", &exit_node_id, NULL);
      return exit_node_id != NULL && *exit_node_id != '\0' ? HYPHAE_TRAY_ICON_EXIT_NODE : HYPHAE_TRAY_ICON_CONNECTED;
    case HYPHAE_STATE_NO_STATE:
    case HYPHAE_STATE_NEEDS_LOGIN:
    case HYPHAE_STATE_NEEDS_MACHINE_AUTH:
    case HYPHAE_STATE_STOPPED:
    default: return HYPHAE_TRAY_ICON_OFF;
    }
}

const char *
hyphae_tray_icon_name (HyphaeTrayIcon icon)
{
  switch (icon)
    {
    case HYPHAE_TRAY_ICON_CONNECTING: return APPLICATION_ID "-connecting-symbolic";
    case HYPHAE_TRAY_ICON_CONNECTED: return APPLICATION_ID "-connected-symbolic";
    case HYPHAE_TRAY_ICON_EXIT_NODE: return APPLICATION_ID "-exit-node-symbolic";
    case HYPHAE_TRAY_ICON_ATTENTION: return APPLICATION_ID "-attention-symbolic";
    case HYPHAE_TRAY_ICON_OFF:
    default: return APPLICATION_ID "-off-symbolic";
    }
}

char *
hyphae_tray_status_text (HyphaeClient *client)
{
  g_autofree char *tailnet = NULL;
  const char *reason;
  HyphaePeer *exit_node;

  switch (hyphae_client_get_daemon_state (client))
    {
    case HYPHAE_DAEMON_STATE_RUNNING: break;
    case HYPHAE_DAEMON_STATE_STARTING: return g_strdup (_ ("Starting the Hyphae service…"));
    case HYPHAE_DAEMON_STATE_NOT_INSTALLED: return g_strdup (_ ("Hyphae service not installed"));
    case HYPHAE_DAEMON_STATE_FAILED: return g_strdup (_ ("Hyphae service failed to start"));
    case HYPHAE_DAEMON_STATE_UNKNOWN:
    default: return g_strdup (_ ("Looking for the Hyphae service…"));
    }
  if ((reason = attention_reason (client)) != NULL)
    return g_strdup (reason);
  switch (hyphae_client_get_state (client))
    {
    case HYPHAE_STATE_NO_STATE:
    case HYPHAE_STATE_NEEDS_LOGIN: return g_strdup (_ ("Signed out"));
    case HYPHAE_STATE_STOPPED: return g_strdup (_ ("Disconnected"));
    case HYPHAE_STATE_STARTING: return g_strdup (_ ("Connecting…"));
    case HYPHAE_STATE_RUNNING:
    case HYPHAE_STATE_NEEDS_MACHINE_AUTH:
    default: break;
    }
  if ((exit_node = hyphae_client_get_exit_node (client)) != NULL)
    /* Translators: %s is the exit node's name. */
    return g_strdup_printf (_ ("Connected through %s"), hyphae_peer_get_display_name (exit_node));
  g_object_get (client, "tailnet-name", &tailnet, NULL);
  if (tailnet == NULL || *tailnet == '\0')
    return g_strdup (_ ("Connected"));
  /* Translators: %s is the tailnet's name (an e-mail domain or account). */
  return g_strdup_printf (_ ("Connected · %s"), tailnet);
}
