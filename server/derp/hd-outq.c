/* SPDX-License-Identifier: MIT */
/* A client's send queue as pooled chunks (hd-outq.h). */
#include "hd-outq.h"

#include <string.h>

struct _HdChunk {
  HdChunk *next;
  guint head, tail; /* written up to head, filled up to tail */
  guint8 data[HD_CHUNK_SIZE];
};

void
hd_chunk_pool_init (HdChunkPool *pool,
                    guint free_max)
{
  pool->free = NULL;
  pool->free_count = 0;
  pool->free_max = free_max;
}

void
hd_chunk_pool_clear (HdChunkPool *pool)
{
  while (pool->free != NULL)
    {
      HdChunk *c = pool->free;

      pool->free = c->next;
      g_free (c);
    }
  pool->free_count = 0;
}

static HdChunk *
chunk_get (HdChunkPool *pool)
{
  HdChunk *c = pool->free;

  if (c != NULL)
    {
      pool->free = c->next;
      pool->free_count--;
    }
  else
    c = g_malloc (sizeof *c);
  c->next = NULL;
  c->head = c->tail = 0;
  return c;
}

static void
chunk_put (HdChunkPool *pool,
           HdChunk *c)
{
  if (pool->free_count >= pool->free_max)
    {
      g_free (c);
      return;
    }
  c->next = pool->free;
  pool->free = c;
  pool->free_count++;
}

void
hd_outq_init (HdOutq *q,
              HdChunkPool *pool)
{
  memset (q, 0, sizeof *q);
  q->pool = pool;
}

guint
hd_outq_clear (HdOutq *q)
{
  guint dropped = q->ends_count;

  while (q->first != NULL)
    {
      HdChunk *c = q->first;

      q->first = c->next;
      chunk_put (q->pool, c);
    }
  q->last = NULL;
  q->written += q->bytes;
  q->bytes = 0;
  q->ends_head = q->ends_count = 0;
  return dropped;
}

void
hd_outq_append (HdOutq *q,
                const void *data,
                gsize len)
{
  const guint8 *p = data;

  while (len > 0)
    {
      HdChunk *c = q->last;
      gsize room, n;

      if (c == NULL || c->tail == HD_CHUNK_SIZE)
        {
          c = chunk_get (q->pool);
          if (q->last != NULL)
            q->last->next = c;
          else
            q->first = c;
          q->last = c;
        }
      room = HD_CHUNK_SIZE - c->tail;
      n = MIN (room, len);
      memcpy (c->data + c->tail, p, n);
      c->tail += n;
      p += n;
      len -= n;
      q->bytes += n;
      q->appended += n;
    }
}

void
hd_outq_end_packet (HdOutq *q)
{
  /* The callers bound the count well below the ring's size. */
  g_return_if_fail (q->ends_count < HD_OUTQ_MAX_PACKETS);
  q->ends[(q->ends_head + q->ends_count) % HD_OUTQ_MAX_PACKETS] = q->appended;
  q->ends_count++;
}

guint
hd_outq_peek (const HdOutq *q,
              GOutputVector *v,
              guint max)
{
  guint n = 0;

  for (HdChunk *c = q->first; c != NULL && n < max; c = c->next)
    {
      if (c->tail == c->head)
        continue;
      v[n].buffer = c->data + c->head;
      v[n].size = c->tail - c->head;
      n++;
    }
  return n;
}

void
hd_outq_consume (HdOutq *q,
                 gsize n)
{
  g_return_if_fail (n <= q->bytes);
  q->bytes -= n;
  q->written += n;
  while (n > 0)
    {
      HdChunk *c = q->first;
      gsize have = c->tail - c->head;
      gsize take = MIN (have, n);

      c->head += take;
      n -= take;
      if (c->head == c->tail)
        {
          q->first = c->next;
          if (q->first == NULL)
            q->last = NULL;
          chunk_put (q->pool, c);
        }
    }
  while (q->ends_count > 0 && q->ends[q->ends_head] <= q->written)
    {
      q->ends_head = (q->ends_head + 1) % HD_OUTQ_MAX_PACKETS;
      q->ends_count--;
    }
}
