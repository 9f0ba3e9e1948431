/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * One client's bytes waiting for its socket: a list of fixed chunks drawn from
 * a shared pool, so an idle client holds no buffer and a relayed packet is
 * copied once (from the sender's read buffer to here; the socket reads it in
 * place). Frames may span chunks. Data packets are counted until their last
 * byte is written, which is what the per-client bound is on.
 */
#define HD_CHUNK_SIZE       (16 * 1024)
#define HD_OUTQ_IOV         16
#define HD_OUTQ_MAX_PACKETS 1024

typedef struct _HdChunk HdChunk;

typedef struct {
  HdChunk *free;
  guint free_count;
  guint free_max; /* chunks kept for reuse; the rest go back to malloc */
} HdChunkPool;

typedef struct {
  HdChunkPool *pool;
  HdChunk *first, *last;
  gsize bytes;      /* queued, not yet written */
  guint64 appended; /* bytes ever queued */
  guint64 written;  /* bytes ever written */
  /* End offsets (in `appended` terms) of the data packets still queued. */
  guint64 ends[HD_OUTQ_MAX_PACKETS];
  guint ends_head, ends_count;
} HdOutq;

void hd_chunk_pool_init (HdChunkPool *pool,
                         guint free_max);
void hd_chunk_pool_clear (HdChunkPool *pool);

void hd_outq_init (HdOutq *q,
                   HdChunkPool *pool);
/* Drops everything queued; returns the data packets dropped. */
guint hd_outq_clear (HdOutq *q);

void hd_outq_append (HdOutq *q,
                     const void *data,
                     gsize len);
/* Marks the bytes appended so far as the end of one data packet. */
void hd_outq_end_packet (HdOutq *q);
static inline guint
hd_outq_packets (const HdOutq *q)
{
  return q->ends_count;
}

/* Up to max vectors over the queued bytes, oldest first; returns how many. */
guint hd_outq_peek (const HdOutq *q,
                    GOutputVector *v,
                    guint max);
/* n bytes from the front were written. */
void hd_outq_consume (HdOutq *q,
                      gsize n);

G_END_DECLS
