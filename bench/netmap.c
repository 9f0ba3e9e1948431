/* SPDX-License-Identifier: MIT */
/*
 * bench-netmap: the cost of a big tailnet's netmap (issue 3).
 *
 * 1. A 10 000-peer MapResponse (nodes shaped like the tailscale.com capture
 *    in tests/data, ~7.4 MB of JSON): time to parse + apply it, the peak
 *    memory added meanwhile (VmHWM after resetting it through
 *    /proc/self/clear_refs), the memory the snapshot keeps, and whether it
 *    all goes back after unref + malloc_trim.
 * 2. 100 deltas per second (PeersChangedPatch of Endpoints / Online for a
 *    few peers each) for N seconds (default 10), paced on CLOCK_MONOTONIC:
 *    CPU time used / wall time = share of one core.
 *
 * Usage: bench-netmap [seconds] [peers]
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "netmap.h"

#define NOW G_GINT64_CONSTANT (1759276800)

static double
now_s (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
cpu_s (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
         ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* A /proc/self/status field in KiB ("VmRSS", "VmHWM"). */
static long
status_kib (const char *field)
{
  g_autofree char *text = NULL;
  const char *p;
  g_autofree char *key = g_strconcat ("\n", field, ":", NULL);

  if (!g_file_get_contents ("/proc/self/status", &text, NULL, NULL))
    return -1;
  p = strstr (text, key);
  return p != NULL ? strtol (p + strlen (key), NULL, 10) : -1;
}

/* Resets VmHWM to the current RSS (Linux ≥ 4.0). */
static gboolean
reset_peak (void)
{
  FILE *f = fopen ("/proc/self/clear_refs", "w");
  gboolean ok;

  if (f == NULL)
    return FALSE;
  ok = fputs ("5", f) >= 0;
  return fclose (f) == 0 && ok;
}

static size_t
heap_in_use (void)
{
  struct mallinfo2 mi = mallinfo2 ();

  return mi.uordblks + mi.hblkhd;
}

static void
append_hex (GString *s,
            GRand *r,
            int n)
{
  for (int i = 0; i < n; i++)
    g_string_append_c (s, "0123456789abcdef"[g_rand_int_range (r, 0, 16)]);
}

/* One peer shaped like the capture's "relay" node. */
static void
append_peer (GString *s,
             GRand *r,
             guint i)
{
  g_string_append_printf (s,
                          "{\"ID\":%" G_GINT64_FORMAT ",\"StableID\":\"n%08uCNTRL\",\"Name\":\"host-%u.tail252fff.ts.net.\","
                          "\"User\":7326703659639870,\"Key\":\"nodekey:",
                          G_GINT64_CONSTANT (1000000000000000) + (gint64) i * 7919, i, i);
  append_hex (s, r, 64);
  g_string_append (s, "\",\"KeyExpiry\":\"2026-01-25T18:31:27Z\",\"DiscoKey\":\"discokey:");
  append_hex (s, r, 64);
  g_string_append_printf (s,
                          "\",\"Addresses\":[\"100.%u.%u.%u/32\",\"fd7a:115c:a1e0::%x:%x/128\"],\"AllowedIPs\":null,"
                          "\"HomeDERP\":%u,\"Endpoints\":[\"198.51.%u.%u:41641\",\"10.%u.%u.%u:41641\"],"
                          "\"DERP\":\"127.3.3.40:%u\",\"Hostinfo\":{\"OS\":\"linux\",\"Hostname\":\"host-%u\","
                          "\"Services\":[{\"Proto\":\"peerapi4\",\"Port\":%u},{\"Proto\":\"peerapi6\",\"Port\":%u}],"
                          "\"sshHostKeys\":null},\"Created\":\"2025-07-29T18:31:27.550535802Z\",\"Cap\":127,"
                          "\"Tags\":null,\"Online\":true}",
                          64 + i / 65536 % 64, i / 256 % 256, i % 256, i / 65536, i % 65536,
                          1 + i % 20, i / 256 % 256, i % 256, i / 65536 % 256, i / 256 % 256, i % 256,
                          1 + i % 20, i, 30000 + i % 30000, 30000 + (i * 7) % 30000);
}

static gint64
peer_id (guint i)
{
  return G_GINT64_CONSTANT (1000000000000000) + (gint64) i * 7919;
}

static char *
full_map (guint n_peers)
{
  g_autoptr(GRand) r = g_rand_new_with_seed (42);
  GString *s = g_string_sized_new ((gsize) n_peers * 800 + 65536);

  g_string_append (s,
                   "{\"Node\":{\"ID\":6523515364831089,\"StableID\":\"nLzY4qgWws11CNTRL\","
                   "\"Name\":\"tailscale-rs1.tail252fff.ts.net.\",\"User\":7326703659639870,"
                   "\"Key\":\"nodekey:7d56c29e77fdd9b76ddcaa1e17e1866a6d4afb1daae3a639fbee46b6b61dcd6d\","
                   "\"KeyExpiry\":\"2026-03-24T05:41:06Z\",\"DiscoKey\":\"discokey:0000000000000000000000000000000000000000000000000000000000000000\","
                   "\"Addresses\":[\"100.93.205.110/32\",\"fd7a:115c:a1e0::b601:cd6e/128\"],"
                   "\"AllowedIPs\":[\"100.93.205.110/32\",\"fd7a:115c:a1e0::b601:cd6e/128\"],"
                   "\"Hostinfo\":{\"Hostname\":\"tailscale-rs1\"},\"MachineAuthorized\":true},"
                   "\"DERPMap\":{\"Regions\":{");
  for (int reg = 1; reg <= 20; reg++)
    g_string_append_printf (s, "%s\"%d\":{\"RegionID\":%d,\"RegionCode\":\"r%d\",\"Nodes\":"
                               "[{\"Name\":\"%da\",\"RegionID\":%d,\"HostName\":\"derp%d.example.invalid\"}]}",
                            reg > 1 ? "," : "", reg, reg, reg, reg, reg, reg);
  g_string_append (s, "}},\"Peers\":[");
  for (guint i = 0; i < n_peers; i++)
    {
      if (i > 0)
        g_string_append_c (s, ',');
      append_peer (s, r, i);
    }
  g_string_append (s, "],\"DNSConfig\":{\"Domains\":[\"tail252fff.ts.net\"],\"Proxied\":true},"
                      "\"Domain\":\"bogus-test-tailscale.github\","
                      "\"PacketFilter\":[{\"SrcIPs\":[\"*\"],\"DstPorts\":[{\"IP\":\"*\","
                      "\"Ports\":{\"First\":0,\"Last\":65535}}]}],"
                      "\"UserProfiles\":[{\"ID\":7326703659639870,\"LoginName\":\"bogus-test-tailscale@github\","
                      "\"DisplayName\":\"Bogus Test\",\"ProfilePicURL\":\"\"}],"
                      "\"ControlTime\":\"2025-09-30T00:32:16.013505287Z\"}");
  return g_string_free (s, FALSE);
}

/* A delta: 3 peers' endpoints and online state change. */
static char *
delta (guint k,
       guint n_peers)
{
  GString *s = g_string_new ("{\"PeersChangedPatch\":[");

  for (guint j = 0; j < 3; j++)
    {
      guint i = (k * 3 + j) * 2654435761u % n_peers;
      g_string_append_printf (s, "%s{\"NodeID\":%" G_GINT64_FORMAT ",\"Endpoints\":"
                                 "[\"203.0.113.%u:%u\",\"10.9.%u.%u:41641\"],\"Online\":%s}",
                              j > 0 ? "," : "", peer_id (i), k % 256, 1024 + k % 60000,
                              j, k % 256, k % 2 ? "true" : "false");
    }
  g_string_append (s, "]}");
  return g_string_free (s, FALSE);
}

static HyphaeNetmap *
apply_json (HyphaeNetmap *prev,
            const char *json,
            gsize len)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HyphaeMapUpdate) u = hyphae_map_update_parse (json, len, &error);
  HyphaeNetmap *nm;

  if (u == NULL)
    g_error ("parse: %s", error->message);
  nm = hyphae_netmap_apply (prev, u, NOW, &error);
  if (nm == NULL)
    g_error ("apply: %s", error->message);
  return nm;
}

typedef struct {
  double peak_mib;        /* VmHWM − RSS before */
  double heap_peak_mib;   /* heap in use after parse / after apply, the larger */
  double kept_mib;        /* heap the snapshot keeps (update freed) */
  double heap_end_mib;    /* heap after unref + malloc_trim, vs before */
  double rss_end_mib;     /* RSS after unref + malloc_trim, vs before */
  double heap_second_mib; /* heap after a second cycle, vs after the first */
  double jg_ms;           /* json-glib: tree load time */
  double jg_peak_mib;     /* json-glib: VmHWM − RSS before */
  double jg_heap_mib;     /* json-glib: heap of the tree */
} Memory;

/* Runs in a fresh child so that no earlier run's freed memory hides the peak. */
static void
measure_memory (const char *json,
                gsize len,
                Memory *m)
{
  size_t heap0;
  long rss0;

  malloc_trim (0);
  heap0 = heap_in_use ();
  rss0 = status_kib ("VmRSS");
  if (!reset_peak ())
    g_error ("cannot reset VmHWM through /proc/self/clear_refs");
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(HyphaeMapUpdate) u = hyphae_map_update_parse (json, len, &error);
    HyphaeNetmap *nm;
    size_t peak;

    g_assert_no_error (error);
    peak = heap_in_use () - heap0;
    nm = hyphae_netmap_apply (NULL, u, NOW, &error);
    g_assert_no_error (error);
    peak = MAX (peak, heap_in_use () - heap0);
    m->heap_peak_mib = peak / 1048576.0;
    m->peak_mib = (status_kib ("VmHWM") - rss0) / 1024.0;
    g_clear_pointer (&u, hyphae_map_update_free);
    m->kept_mib = (heap_in_use () - heap0) / 1048576.0;
    hyphae_netmap_unref (nm);
  }
  malloc_trim (0);
  m->heap_end_mib = ((double) heap_in_use () - (double) heap0) / 1048576.0;
  m->rss_end_mib = (status_kib ("VmRSS") - rss0) / 1024.0;

  /* A second cycle: what stayed after the first must be one-time state. */
  {
    size_t heap1 = heap_in_use ();
    HyphaeNetmap *nm = apply_json (NULL, json, len);

    hyphae_netmap_unref (nm);
    malloc_trim (0);
    m->heap_second_mib = ((double) heap_in_use () - (double) heap1) / 1048576.0;
  }

  /* For comparison: json-glib's tree of the same text, alone. */
  heap0 = heap_in_use ();
  rss0 = status_kib ("VmRSS");
  reset_peak ();
  {
    g_autoptr(JsonParser) parser = json_parser_new_immutable ();
    double t0 = now_s ();

    if (!json_parser_load_from_data (parser, json, len, NULL))
      g_error ("json-glib cannot parse the generated map");
    m->jg_ms = (now_s () - t0) * 1e3;
    m->jg_heap_mib = (heap_in_use () - heap0) / 1048576.0;
    m->jg_peak_mib = (status_kib ("VmHWM") - rss0) / 1024.0;
  }
}

static void
measure_memory_in_child (const char *json,
                         gsize len,
                         Memory *m)
{
  int fds[2];
  pid_t pid;
  int status;

  if (pipe (fds) != 0)
    g_error ("pipe: %s", g_strerror (errno));
  pid = fork ();
  if (pid < 0)
    g_error ("fork: %s", g_strerror (errno));
  if (pid == 0)
    {
      Memory r = { 0 };

      close (fds[0]);
      measure_memory (json, len, &r);
      _exit (write (fds[1], &r, sizeof r) == sizeof r ? 0 : 1);
    }
  close (fds[1]);
  if (read (fds[0], m, sizeof *m) != sizeof *m)
    g_error ("memory child failed");
  close (fds[0]);
  waitpid (pid, &status, 0);
}

int
main (int argc, char **argv)
{
  double seconds = argc > 1 ? g_ascii_strtod (argv[1], NULL) : 10.0;
  guint n_peers = argc > 2 ? (guint) g_ascii_strtoull (argv[2], NULL, 10) : 10000;
  g_autofree char *json = full_map (n_peers);
  gsize len = strlen (json);
  double best = 1e9, t0, t1, c0, c1, tight_us;
  HyphaeNetmap *nm = NULL;
  GPtrArray *deltas;
  guint n_deltas = 0;
  struct timespec next;
  Memory m;

  measure_memory_in_child (json, len, &m);

  /* The best of five for the time. */
  for (int run = 0; run < 5; run++)
    {
      t0 = now_s ();
      nm = apply_json (NULL, json, len);
      t1 = now_s ();
      best = MIN (best, t1 - t0);
      if (hyphae_netmap_get_n_peers (nm) != n_peers)
        g_error ("expected %u peers, got %u", n_peers, hyphae_netmap_get_n_peers (nm));
      if (run < 4)
        hyphae_netmap_unref (nm);
    }

  deltas = g_ptr_array_new_with_free_func (g_free);
  for (guint k = 0; k < 1000; k++)
    g_ptr_array_add (deltas, delta (k, n_peers));

  /* Deltas back to back: the cost of one with warm caches. */
  {
    double c_start = cpu_s ();
    for (guint k = 0; k < 2000; k++)
      {
        const char *d = deltas->pdata[k % deltas->len];
        HyphaeNetmap *next_nm = apply_json (nm, d, strlen (d));

        hyphae_netmap_unref (nm);
        nm = next_nm;
      }
    tight_us = (cpu_s () - c_start) / 2000 * 1e6;
  }

  /* Deltas at 100/s. */
  clock_gettime (CLOCK_MONOTONIC, &next);
  t0 = now_s ();
  c0 = cpu_s ();
  while (now_s () - t0 < seconds)
    {
      const char *d = deltas->pdata[n_deltas % deltas->len];
      HyphaeNetmap *next_nm = apply_json (nm, d, strlen (d));

      hyphae_netmap_unref (nm);
      nm = next_nm;
      n_deltas++;
      next.tv_nsec += 10 * 1000 * 1000;
      if (next.tv_nsec >= 1000000000)
        {
          next.tv_sec++;
          next.tv_nsec -= 1000000000;
        }
      clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
  c1 = cpu_s ();
  t1 = now_s ();
  hyphae_netmap_unref (nm);
  g_ptr_array_unref (deltas);

  printf ("bench-netmap: %u peers, %.2f MB MapResponse JSON\n", n_peers, len / 1e6);
  printf ("| metric                                     | value       | target   |\n");
  printf ("|--------------------------------------------|-------------|----------|\n");
  printf ("| full map parse+apply (best of 5)           | %7.1f ms  | ≤ 200 ms |\n", best * 1e3);
  printf ("| peak RSS added (VmHWM, fresh process)      | %7.1f MiB | ≤ 60 MiB |\n", m.peak_mib);
  printf ("| peak heap in use (after parse / apply)     | %7.1f MiB |          |\n", m.heap_peak_mib);
  printf ("| heap kept by the snapshot                  | %7.1f MiB |          |\n", m.kept_mib);
  printf ("| heap after unref + malloc_trim, vs before  | %+7.2f MiB |  0       |\n", m.heap_end_mib);
  printf ("| RSS after unref + malloc_trim, vs before   | %+7.1f MiB |  ≈ 0     |\n", m.rss_end_mib);
  printf ("| heap after a 2nd cycle, vs after the 1st   | %+7.2f MiB |  0       |\n", m.heap_second_mib);
  printf ("| json-glib tree alone: load time            | %7.1f ms  |          |\n", m.jg_ms);
  printf ("| json-glib tree alone: peak RSS added       | %7.1f MiB |          |\n", m.jg_peak_mib);
  printf ("| json-glib tree alone: heap                 | %7.1f MiB |          |\n", m.jg_heap_mib);
  printf ("| deltas applied at 100/s                    | %7u     |          |\n", n_deltas);
  printf ("| delta CPU, share of one core               | %7.2f %%   | < 5 %%    |\n",
          100.0 * (c1 - c0) / (t1 - t0));
  printf ("| CPU per paced delta (incl. wake-up)        | %7.1f µs  |          |\n",
          1e6 * (c1 - c0) / MAX (n_deltas, 1));
  printf ("| CPU per delta, back to back                | %7.1f µs  |          |\n", tight_us);
  return 0;
}
