/* SPDX-License-Identifier: MIT */
#include "fixture-threads.h"

/* The number of GLib pool threads (named "pool…") in this process. */
static guint
count_pool_threads (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  const char *tid;
  guint n = 0;

  while (dir != NULL && (tid = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename ("/proc/self/task", tid, "comm", NULL);
      g_autofree char *comm = NULL;

      if (g_file_get_contents (path, &comm, NULL, NULL) && g_str_has_prefix (comm, "pool"))
        n++;
    }
  return n;
}

void
fixture_stop_pool_threads (void)
{
  gint64 end = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  g_thread_pool_set_max_unused_threads (0);
  g_thread_pool_stop_unused_threads ();
  while (count_pool_threads () > 0)
    {
      if (g_get_monotonic_time () > end)
        g_error ("GLib's pool threads did not end within 30 s");
      g_usleep (10000);
    }
}
