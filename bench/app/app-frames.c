/* SPDX-License-Identifier: MIT */
/*
 * bench-app-frames: the app (libhyphae-app, the same code as `hyphae`) under a
 * stopwatch, for bench/app/app-bench.sh. It runs the app on the buses it is
 * given and prints key=value lines:
 *
 *   first_frame_ms   exec (BENCH_T0_NS, CLOCK_MONOTONIC, set by the launcher)
 *                    to the end of the window's first painted frame
 *   peers_shown_ms   exec to the first frame painted once the peer list holds
 *                    BENCH_PEERS peers
 *   filter_*         frames while a search is typed into the peer list's
 *                    search entry, one character per 300 ms (longer than
 *                    GtkSearchEntry's search delay), then cleared
 *   churn_*          frames during BENCH_CHURN_SECONDS from the first peer
 *                    change after the filter phase (the control server's map
 *                    script changes peers then)
 *   rss_mib, hwm_mib, anon_mib
 *                    VmRSS, VmHWM and RssAnon at the end (RssAnon leaves out
 *                    the shared libraries' and font caches' mapped pages)
 *
 * For each phase: frames, the longest frame (before-paint to after-paint:
 * update, layout and paint), how many took over 16 ms, and the longest gap
 * between the starts of two frames (a tick callback asks for a frame every
 * vsync, so a gap over ~17 ms is the main loop stalled outside a frame, e.g.
 * merging a GetPeers reply). Under Xvfb with the cairo renderer there is no
 * vsync: the numbers are CPU time on the main thread, not what a compositor
 * would show.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <adwaita.h>

#include "hyphae-application.h"

typedef struct {
  const char *name;
  guint frames;
  gint64 longest_us;
  guint over_16ms;
  gint64 longest_gap_us;
} Phase;

typedef enum {
  STAGE_FIRST_FRAME,
  STAGE_WAIT_PEERS,
  STAGE_FILTER,
  STAGE_WAIT_CHURN,
  STAGE_CHURN,
  STAGE_DONE,
} Stage;

static struct {
  HyphaeApplication *app;
  GtkWidget *window;
  gint64 t0_us;
  guint want_peers;
  guint churn_seconds;
  Stage stage;
  gint64 frame_start_us;
  gint64 last_frame_start_us;
  Phase filter;
  Phase churn;
  Phase *recording;
  guint peer_changes;
  guint changes_at_filter_end;
  gint64 churn_until_us;
  guint filter_step;
  gboolean failed;
} bench;

/* What is typed, one string per step (each replaces the entry's text). */
static const char * const filter_steps[] = {
  "h",
  "ho",
  "hos",
  "host",
  "host-",
  "host-1",
  "host-12",
  "host-123",
  "host-12",
  "host-1",
  "",
  "9",
  "99",
  "",
};

static double
ms_since_exec (void)
{
  return (g_get_monotonic_time () - bench.t0_us) / 1000.0;
}

static long
status_kib (const char *field)
{
  g_autofree char *text = NULL;
  g_autofree char *key = g_strconcat ("\n", field, ":", NULL);
  const char *p;

  if (!g_file_get_contents ("/proc/self/status", &text, NULL, NULL) || (p = strstr (text, key)) == NULL)
    return -1;
  return strtol (p + strlen (key), NULL, 10);
}

static void
print_phase (const Phase *phase)
{
  printf ("%s_frames=%u\n%s_longest_frame_ms=%.2f\n%s_frames_over_16ms=%u\n%s_longest_gap_ms=%.2f\n",
          phase->name, phase->frames, phase->name, phase->longest_us / 1000.0, phase->name, phase->over_16ms,
          phase->name, phase->longest_gap_us / 1000.0);
}

static void
finish (void)
{
  bench.stage = STAGE_DONE;
  bench.recording = NULL;
  print_phase (&bench.filter);
  print_phase (&bench.churn);
  printf ("churn_peer_changes=%u\n", bench.peer_changes - bench.changes_at_filter_end);
  printf ("rss_mib=%.1f\nhwm_mib=%.1f\nanon_mib=%.1f\n", status_kib ("VmRSS") / 1024.0, status_kib ("VmHWM") / 1024.0,
          status_kib ("RssAnon") / 1024.0);
  fflush (stdout);
  g_application_quit (G_APPLICATION (bench.app));
}

static void
fail (const char *why)
{
  printf ("error=%s\n", why);
  bench.failed = TRUE;
  finish ();
}

/* The first GtkSearchEntry showing in the window: the peer list's. */
static GtkWidget *
find_search_entry (GtkWidget *widget)
{
  if (!gtk_widget_get_mapped (widget))
    return NULL;
  if (GTK_IS_SEARCH_ENTRY (widget))
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_search_entry (child);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static gboolean
filter_next (gpointer user_data)
{
  GtkWidget *entry;

  if (bench.stage != STAGE_FILTER)
    return G_SOURCE_REMOVE;
  if (bench.filter_step == G_N_ELEMENTS (filter_steps))
    {
      bench.recording = NULL;
      bench.changes_at_filter_end = bench.peer_changes;
      bench.stage = STAGE_WAIT_CHURN;
      return G_SOURCE_REMOVE;
    }
  entry = find_search_entry (bench.window);
  if (entry == NULL)
    {
      fail ("no-search-entry");
      return G_SOURCE_REMOVE;
    }
  gtk_editable_set_text (GTK_EDITABLE (entry), filter_steps[bench.filter_step++]);
  return G_SOURCE_CONTINUE;
}

static void
on_items_changed (GListModel *peers,
                  guint position,
                  guint removed,
                  guint added,
                  gpointer user_data)
{
  bench.peer_changes++;
  if (bench.stage == STAGE_WAIT_CHURN)
    {
      bench.stage = STAGE_CHURN;
      bench.recording = &bench.churn;
      bench.churn_until_us = g_get_monotonic_time () + (gint64) bench.churn_seconds * G_USEC_PER_SEC;
    }
}

static void
on_before_paint (GdkFrameClock *clock,
                 gpointer user_data)
{
  gint64 now = g_get_monotonic_time ();

  if (bench.recording != NULL && bench.last_frame_start_us != 0)
    bench.recording->longest_gap_us = MAX (bench.recording->longest_gap_us, now - bench.last_frame_start_us);
  bench.frame_start_us = now;
  bench.last_frame_start_us = now;
}

static void
on_after_paint (GdkFrameClock *clock,
                gpointer user_data)
{
  gint64 now = g_get_monotonic_time ();
  gint64 took = now - bench.frame_start_us;
  GListModel *peers;

  if (bench.recording != NULL)
    {
      bench.recording->frames++;
      bench.recording->longest_us = MAX (bench.recording->longest_us, took);
      if (took > 16000)
        bench.recording->over_16ms++;
    }
  switch (bench.stage)
    {
    case STAGE_FIRST_FRAME:
      printf ("first_frame_ms=%.1f\n", ms_since_exec ());
      bench.stage = STAGE_WAIT_PEERS;
      break;
    case STAGE_WAIT_PEERS:
      peers = G_LIST_MODEL (hyphae_client_get_peers (hyphae_application_get_client (bench.app)));
      if (g_list_model_get_n_items (peers) >= bench.want_peers && find_search_entry (bench.window) != NULL)
        {
          printf ("peers_shown_ms=%.1f\n", ms_since_exec ());
          bench.stage = STAGE_FILTER;
          bench.recording = &bench.filter;
          bench.last_frame_start_us = 0;
          g_timeout_add (300, filter_next, NULL);
        }
      break;
    case STAGE_CHURN:
      if (now >= bench.churn_until_us)
        finish ();
      break;
    case STAGE_FILTER:
    case STAGE_WAIT_CHURN:
    case STAGE_DONE:
    default:
      break;
    }
  fflush (stdout);
}

/* Asks for a frame every vsync: a stall then shows as a long gap. */
static gboolean
tick (GtkWidget *widget,
      GdkFrameClock *clock,
      gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

static void
on_window_realize (GtkWidget *window,
                   gpointer user_data)
{
  GdkFrameClock *clock = gtk_widget_get_frame_clock (window);

  g_signal_connect (clock, "before-paint", G_CALLBACK (on_before_paint), NULL);
  g_signal_connect_after (clock, "after-paint", G_CALLBACK (on_after_paint), NULL);
  gtk_widget_add_tick_callback (window, tick, NULL, NULL);
}

static void
on_window_added (GtkApplication *app,
                 GtkWindow *window,
                 gpointer user_data)
{
  if (bench.window != NULL)
    return;
  bench.window = GTK_WIDGET (window);
  g_signal_connect (window, "realize", G_CALLBACK (on_window_realize), NULL);
}

static gboolean
give_up (gpointer user_data)
{
  if (bench.stage != STAGE_DONE)
    fail (bench.stage == STAGE_WAIT_PEERS ? "peers-never-shown" : "timeout");
  return G_SOURCE_REMOVE;
}

static void
on_startup (GApplication *app,
            gpointer user_data)
{
  HyphaeClient *client = hyphae_application_get_client (HYPHAE_APPLICATION (app));

  g_signal_connect (hyphae_client_get_peers (client), "items-changed", G_CALLBACK (on_items_changed), NULL);
}

int
main (int argc,
      char **argv)
{
  const char *t0 = g_getenv ("BENCH_T0_NS");
  char *app_argv[] = { argv[0], NULL };

  bench.t0_us = t0 != NULL ? g_ascii_strtoll (t0, NULL, 10) / 1000 : g_get_monotonic_time ();
  bench.want_peers = (guint) g_ascii_strtoull (g_getenv ("BENCH_PEERS") ? g_getenv ("BENCH_PEERS") : "10000", NULL, 10);
  bench.churn_seconds =
    (guint) g_ascii_strtoull (g_getenv ("BENCH_CHURN_SECONDS") ? g_getenv ("BENCH_CHURN_SECONDS") : "10", NULL, 10);
  bench.filter.name = "filter";
  bench.churn.name = "churn";

  bench.app = hyphae_application_new ();
  g_signal_connect_after (bench.app, "startup", G_CALLBACK (on_startup), NULL);
  g_signal_connect (bench.app, "window-added", G_CALLBACK (on_window_added), NULL);
  g_timeout_add_seconds (120, give_up, NULL);
  g_application_run (G_APPLICATION (bench.app), 1, app_argv);
  g_object_unref (bench.app);
  return bench.failed ? 1 : 0;
}
