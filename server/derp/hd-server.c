/* SPDX-License-Identifier: MIT */
/* hyphae-derp's shared state, the tick and the batched flush (hd-server.h). */
#include "hd-server.h"

#include "crypto/keys.h"
#include "crypto/secmem.h"
#include "hd-conn.h"
#include "magicsock/derp-frame.h"

enum {
  POOL_FREE_CHUNKS = 32, /* 512 KiB of send chunks kept for reuse */
};

static gboolean
on_tick (gpointer user_data)
{
  HdServer *srv = user_data;
  gint64 now = g_get_monotonic_time ();
  GList *l = srv->conns.head;

  while (l != NULL)
    {
      GList *next = l->next; /* a tick may close (unlink) this one, never another */

      hd_conn_tick (l->data, now);
      l = next;
    }
  hd_server_flush_dirty (srv);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_reap (gpointer user_data)
{
  HdServer *srv = user_data;

  srv->reap_id = 0;
  g_ptr_array_set_size (srv->graveyard, 0);
  return G_SOURCE_REMOVE;
}

void
hd_server_bury (HdServer *srv,
                HdConn *c)
{
  g_ptr_array_add (srv->graveyard, c);
  if (srv->reap_id == 0)
    srv->reap_id = g_idle_add_full (G_PRIORITY_HIGH, on_reap, srv, NULL);
}

HdServer *
hd_server_new (const HdServerConfig *config,
               guint8 *priv,
               GTlsCertificate *cert)
{
  HdServer *srv = g_new0 (HdServer, 1);

  srv->config = *config;
  srv->config.queue_depth = CLAMP (srv->config.queue_depth, 1, HD_OUTQ_MAX_PACKETS / 2);
  srv->priv = priv;
  key_public_from_private (srv->pub, priv);
  key_to_hex (srv->pub_hex, srv->pub);
  srv->cert = cert != NULL ? g_object_ref (cert) : NULL;
  srv->relay = hd_relay_new (hd_conn_peer_gone);
  hd_chunk_pool_init (&srv->pool, POOL_FREE_CHUNKS);
  g_queue_init (&srv->conns);
  g_queue_init (&srv->dirty);
  srv->graveyard = g_ptr_array_new_with_free_func ((GDestroyNotify) hd_conn_unref);
  /* The largest frame a client's pend can hold, plus room to read after it. */
  srv->scratch_size = DERP_HEADER_LEN + DERP_MAX_CLIENT_INFO + 64 * 1024;
  srv->scratch = g_malloc (srv->scratch_size);
  srv->tick_id = g_timeout_add_seconds (1, on_tick, srv);
  return srv;
}

void
hd_server_free (HdServer *srv)
{
  while (srv->conns.head != NULL)
    hd_conn_close (srv->conns.head->data, NULL);
  /* Cancelled handshakes end in GIO's threads: wait for them, so that none
   * still runs at exit (and the finish callbacks find srv). */
  while (srv->handshakes > 0)
    g_main_context_iteration (NULL, TRUE);
  g_clear_handle_id (&srv->reap_id, g_source_remove);
  g_clear_handle_id (&srv->tick_id, g_source_remove);
  g_ptr_array_unref (srv->graveyard);
  hd_relay_free (srv->relay);
  hd_chunk_pool_clear (&srv->pool);
  g_clear_object (&srv->cert);
  secmem_free (srv->priv, KEY_LEN);
  g_free (srv->scratch);
  g_free (srv);
}

void
hd_server_accept (HdServer *srv,
                  GSocketConnection *connection)
{
  hd_conn_new (srv, connection);
  hd_server_flush_dirty (srv);
}

void
hd_server_flush_dirty (HdServer *srv)
{
  GList *l;

  while ((l = g_queue_pop_head_link (&srv->dirty)) != NULL)
    {
      HdConn *c = l->data;

      c->is_dirty = FALSE;
      hd_conn_flush (c);
    }
}
