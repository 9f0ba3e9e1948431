/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-peer-watch"

#include "config.h"

#include "hyphae-peer-watch.h"

gboolean
hyphae_peer_watch_only (HyphaePeer **watched,
                        HyphaePeer *peer,
                        const char * const *properties,
                        HyphaePeerChangedFunc changed,
                        gpointer data)
{
  if (*watched == peer)
    return FALSE;
  if (*watched != NULL)
    g_signal_handlers_disconnect_by_func (*watched, changed, data);
  g_set_object (watched, peer);
  if (peer == NULL)
    return TRUE;
  /* Swapped: changed (data, pspec, peer) ignores the other two. */
  if (properties == NULL)
    g_signal_connect_swapped (peer, "notify", G_CALLBACK (changed), data);
  for (; properties != NULL && *properties != NULL; properties++)
    {
      g_autofree char *signal = g_strconcat ("notify::", *properties, NULL);

      g_signal_connect_swapped (peer, signal, G_CALLBACK (changed), data);
    }
  changed (data);
  return TRUE;
}

gboolean
hyphae_peer_watch (HyphaePeer **watched,
                   HyphaePeer *peer,
                   HyphaePeerChangedFunc changed,
                   gpointer data)
{
  return hyphae_peer_watch_only (watched, peer, NULL, changed, data);
}
