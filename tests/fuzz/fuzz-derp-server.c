/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for hyphae-derp's frame handling (server/derp/hd-conn.c
 * hd_conn_feed, the relay table, the send queues): the input is what a client
 * sends after the upgrade. Byte 0 picks the client's state: logged in (then
 * frames relay to a second client, known by the key of 32 bytes 0x42) or still
 * owing its ClientInfo. The rest is fed in two reads split at byte 1's
 * fraction, the start of a cut-off frame carried over as a read would.
 * Checks: no crash or sanitizer report; feed consumes no more than it was
 * given; queues stay within their bounds; closing both clients frees all.
 */
#include <string.h>

#include "crypto/keys.h"
#include "crypto/secmem.h"
#include "fuzz-harness.h"
#include "hd-conn.h"
#include "magicsock/derp-frame.h"

static void
feed_all (HdConn *c,
          const uint8_t *data,
          size_t size,
          size_t split)
{
  g_autofree guint8 *buf = g_malloc (size + 1);
  gsize used = hd_conn_feed (c, data, split), rest;

  CHECK (used <= split);
  if (c->state == HD_CONN_CLOSED)
    return;
  rest = split - used;
  memcpy (buf, data + used, rest);
  memcpy (buf + rest, data + split, size - split);
  used = hd_conn_feed (c, buf, rest + size - split);
  CHECK (used <= rest + size - split);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t size)
{
  static HdServer *srv;
  static const guint8 key_a[32] = { 0x41 }, key_b[32] = { [0 ... 31] = 0x42 };
  HdConn *a, *b;
  size_t split;

  if (srv == NULL)
    {
      HdServerConfig config = { .queue_depth = 4 };
      guint8 *priv = secmem_alloc (KEY_LEN);

      key_generate_private (priv);
      srv = hd_server_new (&config, priv, NULL);
    }
  if (size < 2)
    return 0;

  b = hd_conn_new_detached (srv, HD_CONN_ACTIVE);
  b->peer = hd_relay_add (srv->relay, key_b, b);
  srv->metrics.clients_current++;
  a = hd_conn_new_detached (srv, data[0] & 1 ? HD_CONN_ACTIVE : HD_CONN_LOGIN);
  if (a->state == HD_CONN_ACTIVE)
    {
      a->peer = hd_relay_add (srv->relay, key_a, a);
      srv->metrics.clients_current++;
    }
  split = (size - 2) * data[1] / 255;
  feed_all (a, data + 2, size - 2, split);

  CHECK (hd_outq_packets (&b->outq) <= HD_OUTQ_MAX_PACKETS);
  CHECK (b->outq.bytes <= srv->config.queue_depth * (37u + DERP_MAX_PACKET) + 64 * 1024);
  hd_conn_close (a, NULL);
  hd_conn_close (b, NULL);
  CHECK (hd_relay_keys (srv->relay) == 0);
  g_ptr_array_set_size (srv->graveyard, 0);
  return 0;
}
