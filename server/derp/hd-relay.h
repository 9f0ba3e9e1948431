/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Who is connected, by node key. A key may be connected more than once (a
 * client reconnecting before the server saw the old connection die): the
 * newest connection receives, the older ones stay until they close, and the
 * key is gone only when its last one is. Facts: derp/derpserver/derpserver.go
 * registerClient, unregisterClient, notePeerGoneFromRegionLocked.
 *
 * Watchers: a client that was handed packets from a key learns with a
 * PeerGone(disconnected) when that key leaves (derpserver.go noteSendFromSrc).
 */
typedef struct _HdConn HdConn;
typedef struct _HdRelay HdRelay;
typedef struct _HdPeer HdPeer;

/* Called for each watcher of a key that has just left (the peer is freed next). */
typedef void (*HdPeerGoneFunc) (HdConn *watcher,
                                HdPeer *gone);

HdRelay *hd_relay_new (HdPeerGoneFunc gone_func);
void hd_relay_free (HdRelay *relay);

/* conn becomes the newest connection of key; returns the key's entry. */
HdPeer *hd_relay_add (HdRelay *relay,
                      const guint8 key[32],
                      HdConn *conn);
/* Takes conn off its key; when it was the last one, tells the watchers and frees peer. */
void hd_relay_remove (HdRelay *relay,
                      HdPeer *peer,
                      HdConn *conn);
/* The connection packets to key go to, or NULL. */
HdConn *hd_relay_lookup (HdRelay *relay,
                         const guint8 key[32]);
guint hd_relay_keys (HdRelay *relay);

const guint8 *hd_peer_key (HdPeer *peer);
void hd_peer_watch (HdPeer *peer,
                    HdConn *watcher);
void hd_peer_unwatch (HdPeer *peer,
                      HdConn *watcher);

G_END_DECLS
