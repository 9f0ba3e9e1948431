/* SPDX-License-Identifier: MIT */
/* The relay table: node key → connections and watchers (hd-relay.h). */
#include "hd-relay.h"

#include <string.h>

struct _HdPeer {
  guint8 key[32];
  GQueue conns;         /* HdConn*, newest first */
  GHashTable *watchers; /* HdConn* set, NULL until the first one */
};

struct _HdRelay {
  GHashTable *peers; /* HdPeer.key → HdPeer (owned) */
  HdPeerGoneFunc gone_func;
};

/* Node keys are Curve25519 points: their first bytes are as good as any hash. */
static guint
key_hash (gconstpointer k)
{
  guint h;

  memcpy (&h, k, sizeof h);
  return h;
}

static gboolean
key_equal (gconstpointer a,
           gconstpointer b)
{
  return memcmp (a, b, 32) == 0;
}

static void
peer_free (HdPeer *peer)
{
  g_queue_clear (&peer->conns);
  g_clear_pointer (&peer->watchers, g_hash_table_unref);
  g_free (peer);
}

HdRelay *
hd_relay_new (HdPeerGoneFunc gone_func)
{
  HdRelay *relay = g_new0 (HdRelay, 1);

  relay->peers = g_hash_table_new_full (key_hash, key_equal, NULL, (GDestroyNotify) peer_free);
  relay->gone_func = gone_func;
  return relay;
}

void
hd_relay_free (HdRelay *relay)
{
  g_hash_table_unref (relay->peers);
  g_free (relay);
}

HdPeer *
hd_relay_add (HdRelay *relay,
              const guint8 key[32],
              HdConn *conn)
{
  HdPeer *peer = g_hash_table_lookup (relay->peers, key);

  if (peer == NULL)
    {
      peer = g_new0 (HdPeer, 1);
      memcpy (peer->key, key, 32);
      g_queue_init (&peer->conns);
      g_hash_table_insert (relay->peers, peer->key, peer);
    }
  g_queue_push_head (&peer->conns, conn);
  return peer;
}

void
hd_relay_remove (HdRelay *relay,
                 HdPeer *peer,
                 HdConn *conn)
{
  GHashTableIter iter;
  gpointer watcher;

  g_queue_remove (&peer->conns, conn);
  if (peer->conns.length > 0)
    return;

  if (peer->watchers != NULL)
    {
      g_hash_table_iter_init (&iter, peer->watchers);
      while (g_hash_table_iter_next (&iter, &watcher, NULL))
        relay->gone_func (watcher, peer);
    }
  g_hash_table_remove (relay->peers, peer->key);
}

HdConn *
hd_relay_lookup (HdRelay *relay,
                 const guint8 key[32])
{
  HdPeer *peer = g_hash_table_lookup (relay->peers, key);

  return peer != NULL ? g_queue_peek_head (&peer->conns) : NULL;
}

guint
hd_relay_keys (HdRelay *relay)
{
  return g_hash_table_size (relay->peers);
}

const guint8 *
hd_peer_key (HdPeer *peer)
{
  return peer->key;
}

void
hd_peer_watch (HdPeer *peer,
               HdConn *watcher)
{
  if (peer->watchers == NULL)
    peer->watchers = g_hash_table_new (NULL, NULL);
  g_hash_table_add (peer->watchers, watcher);
}

void
hd_peer_unwatch (HdPeer *peer,
                 HdConn *watcher)
{
  if (peer->watchers != NULL)
    g_hash_table_remove (peer->watchers, watcher);
}
