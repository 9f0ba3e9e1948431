/* SPDX-License-Identifier: MIT */
/* Read-ahead under TLS (hd-buffered-stream.h). */
#include "hd-buffered-stream.h"

#include <string.h>

enum {
  READ_AHEAD = 16 * 1024,
};

#define HD_TYPE_BUFFERED_INPUT (hd_buffered_input_get_type ())
G_DECLARE_FINAL_TYPE (HdBufferedInput, hd_buffered_input, HD, BUFFERED_INPUT, GInputStream)

struct _HdBufferedInput {
  GInputStream parent;
  GPollableInputStream *base;
  guint8 *buf; /* NULL when drained */
  gsize start, end;
};

static void hd_buffered_input_pollable_init (GPollableInputStreamInterface *iface);

G_DEFINE_TYPE_WITH_CODE (HdBufferedInput, hd_buffered_input, G_TYPE_INPUT_STREAM, G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM, hd_buffered_input_pollable_init))

/* From the buffer first; a read the buffer cannot serve fills it (or, for a
 * large one, goes straight to the caller). */
static gssize
buffered_read (HdBufferedInput *self,
               void *out,
               gsize count,
               gboolean blocking,
               GCancellable *cancellable,
               GError **error)
{
  gssize n;

  if (self->buf != NULL)
    {
      gsize take = MIN (count, self->end - self->start);

      memcpy (out, self->buf + self->start, take);
      self->start += take;
      if (self->start == self->end)
        g_clear_pointer (&self->buf, g_free);
      return take;
    }
  if (count >= READ_AHEAD)
    return g_pollable_stream_read (G_INPUT_STREAM (self->base), out, count, blocking, cancellable,
                                   error);

  self->buf = g_malloc (READ_AHEAD);
  n = g_pollable_stream_read (G_INPUT_STREAM (self->base), self->buf, READ_AHEAD, blocking,
                              cancellable, error);
  if (n <= 0)
    {
      g_clear_pointer (&self->buf, g_free);
      return n;
    }
  self->start = 0;
  self->end = n;
  return buffered_read (self, out, count, blocking, cancellable, error);
}

static gssize
hd_buffered_input_read (GInputStream *stream,
                        void *buffer,
                        gsize count,
                        GCancellable *cancellable,
                        GError **error)
{
  return buffered_read (HD_BUFFERED_INPUT (stream), buffer, count, TRUE, cancellable, error);
}

static gboolean
hd_buffered_input_close (GInputStream *stream,
                         GCancellable *cancellable,
                         GError **error)
{
  HdBufferedInput *self = HD_BUFFERED_INPUT (stream);

  g_clear_pointer (&self->buf, g_free);
  return g_input_stream_close (G_INPUT_STREAM (self->base), cancellable, error);
}

static gssize
hd_buffered_input_read_nonblocking (GPollableInputStream *stream,
                                    void *buffer,
                                    gsize count,
                                    GError **error)
{
  return buffered_read (HD_BUFFERED_INPUT (stream), buffer, count, FALSE, NULL, error);
}

static gboolean
hd_buffered_input_is_readable (GPollableInputStream *stream)
{
  HdBufferedInput *self = HD_BUFFERED_INPUT (stream);

  return self->buf != NULL || g_pollable_input_stream_is_readable (self->base);
}

/* Ready while bytes are buffered, else when the socket is: GTlsConnection
 * keeps one such source for as long as it waits, so readiness must follow the
 * buffer (a fixed ready time would spin, a socket source alone would stall). */
typedef struct {
  GSource source;
  HdBufferedInput *stream;
} BufferedSource;

static gboolean
buffered_source_prepare (GSource *source,
                         gint *timeout)
{
  *timeout = -1;
  return ((BufferedSource *) source)->stream->buf != NULL;
}

static gboolean
buffered_source_check (GSource *source)
{
  return ((BufferedSource *) source)->stream->buf != NULL;
}

static gboolean
buffered_source_dispatch (GSource *source,
                          GSourceFunc callback,
                          gpointer user_data)
{
  GPollableSourceFunc func = (GPollableSourceFunc) (void (*) (void)) callback;

  return func (G_OBJECT (((BufferedSource *) source)->stream), user_data);
}

static void
buffered_source_finalize (GSource *source)
{
  g_clear_object (&((BufferedSource *) source)->stream);
}

static GSourceFuncs buffered_source_funcs = {
  .prepare = buffered_source_prepare,
  .check = buffered_source_check,
  .dispatch = buffered_source_dispatch,
  .finalize = buffered_source_finalize,
};

static gboolean
dummy_callback (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static GSource *
hd_buffered_input_create_source (GPollableInputStream *stream,
                                 GCancellable *cancellable)
{
  HdBufferedInput *self = HD_BUFFERED_INPUT (stream);
  GSource *source = g_source_new (&buffered_source_funcs, sizeof (BufferedSource));
  g_autoptr(GSource) child = g_pollable_input_stream_create_source (self->base, cancellable);

  ((BufferedSource *) source)->stream = g_object_ref (self);
  g_source_set_callback (child, dummy_callback, NULL, NULL);
  g_source_add_child_source (source, child);
  return source;
}

static gboolean
hd_buffered_input_can_poll (GPollableInputStream *stream)
{
  return TRUE;
}

static void
hd_buffered_input_finalize (GObject *object)
{
  HdBufferedInput *self = HD_BUFFERED_INPUT (object);

  g_free (self->buf);
  g_clear_object (&self->base);
  G_OBJECT_CLASS (hd_buffered_input_parent_class)->finalize (object);
}

static void
hd_buffered_input_class_init (HdBufferedInputClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = hd_buffered_input_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = hd_buffered_input_read;
  G_INPUT_STREAM_CLASS (klass)->close_fn = hd_buffered_input_close;
}

static void
hd_buffered_input_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = hd_buffered_input_can_poll;
  iface->is_readable = hd_buffered_input_is_readable;
  iface->create_source = hd_buffered_input_create_source;
  iface->read_nonblocking = hd_buffered_input_read_nonblocking;
}

static void
hd_buffered_input_init (HdBufferedInput *self)
{
}

/* ---- the stream pair ---------------------------------------------------------- */

struct _HdBufferedIOStream {
  GIOStream parent;
  GIOStream *base;
  GInputStream *input;
};

G_DEFINE_TYPE (HdBufferedIOStream, hd_buffered_io_stream, G_TYPE_IO_STREAM)

static GInputStream *
hd_buffered_io_stream_get_input_stream (GIOStream *stream)
{
  return HD_BUFFERED_IO_STREAM (stream)->input;
}

static GOutputStream *
hd_buffered_io_stream_get_output_stream (GIOStream *stream)
{
  return g_io_stream_get_output_stream (HD_BUFFERED_IO_STREAM (stream)->base);
}

static gboolean
hd_buffered_io_stream_close (GIOStream *stream,
                             GCancellable *cancellable,
                             GError **error)
{
  return g_io_stream_close (HD_BUFFERED_IO_STREAM (stream)->base, cancellable, error);
}

static void
hd_buffered_io_stream_finalize (GObject *object)
{
  HdBufferedIOStream *self = HD_BUFFERED_IO_STREAM (object);

  g_clear_object (&self->input);
  g_clear_object (&self->base);
  G_OBJECT_CLASS (hd_buffered_io_stream_parent_class)->finalize (object);
}

static void
hd_buffered_io_stream_class_init (HdBufferedIOStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = hd_buffered_io_stream_finalize;
  G_IO_STREAM_CLASS (klass)->get_input_stream = hd_buffered_io_stream_get_input_stream;
  G_IO_STREAM_CLASS (klass)->get_output_stream = hd_buffered_io_stream_get_output_stream;
  G_IO_STREAM_CLASS (klass)->close_fn = hd_buffered_io_stream_close;
}

static void
hd_buffered_io_stream_init (HdBufferedIOStream *self)
{
}

GIOStream *
hd_buffered_io_stream_new (GIOStream *base)
{
  HdBufferedIOStream *self = g_object_new (HD_TYPE_BUFFERED_IO_STREAM, NULL);
  HdBufferedInput *input = g_object_new (HD_TYPE_BUFFERED_INPUT, NULL);

  input->base = G_POLLABLE_INPUT_STREAM (g_object_ref (g_io_stream_get_input_stream (base)));
  self->base = g_object_ref (base);
  self->input = G_INPUT_STREAM (input);
  return G_IO_STREAM (self);
}
