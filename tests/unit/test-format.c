/* SPDX-License-Identifier: MIT */
/*
 * hyphae-format.c without a display: the main view's texts for sizes, past
 * moments, key expiry, paths, MagicDNS names, OS names and the OS DNS status,
 * each at its boundaries (the time "now" is an argument, so nothing here waits).
 */
#include <locale.h>

#include <glib.h>

#include "hyphae-format.h"

#define NOW ((gint64) 1796601600) /* 2026-12-07 00:00:00 UTC */

static void
expect (char *got,
        const char *want)
{
  g_assert_cmpstr (got, ==, want);
  g_free (got);
}

static void
test_bytes (void)
{
  expect (hyphae_format_bytes (0), "0 bytes");
  expect (hyphae_format_bytes (1), "1 byte");
  /* GLib puts a no-break space between number and unit. */
  expect (hyphae_format_bytes (1500), "1.5\u00a0kB");
  expect (hyphae_format_bytes (3200000), "3.2\u00a0MB");
}

static void
test_ago (void)
{
  expect (hyphae_format_ago (0, NOW), "Never");
  expect (hyphae_format_ago (NOW, NOW), "Just now");
  expect (hyphae_format_ago (NOW + 5, NOW), "Just now"); /* a clock ahead */
  expect (hyphae_format_ago (NOW - 59, NOW), "Just now");
  expect (hyphae_format_ago (NOW - 60, NOW), "1 minute ago");
  expect (hyphae_format_ago (NOW - 5 * 60 - 30, NOW), "5 minutes ago");
  expect (hyphae_format_ago (NOW - 3600, NOW), "1 hour ago");
  expect (hyphae_format_ago (NOW - 3 * 3600, NOW), "3 hours ago");
  expect (hyphae_format_ago (NOW - 2 * 86400, NOW), "2 days ago");
  expect (hyphae_format_ago (NOW - 29 * 86400, NOW), "29 days ago");
  expect (hyphae_format_ago (NOW - 30 * 86400, NOW), "2026-11-07");
}

static void
test_last_seen (void)
{
  expect (hyphae_format_last_seen (0, TRUE, NOW), "Online now");
  expect (hyphae_format_last_seen (NOW - 600, TRUE, NOW), "Online now");
  expect (hyphae_format_last_seen (NOW - 600, FALSE, NOW), "10 minutes ago");
  expect (hyphae_format_last_seen (0, FALSE, NOW), "Never");
}

static void
test_key_expiry (void)
{
  expect (hyphae_format_key_expiry (0, FALSE, NOW), "Never expires");
  expect (hyphae_format_key_expiry (0, TRUE, NOW), "Expired");
  expect (hyphae_format_key_expiry (NOW, FALSE, NOW), "Expired");
  expect (hyphae_format_key_expiry (NOW - 1, FALSE, NOW), "Expired");
  expect (hyphae_format_key_expiry (NOW + 1, FALSE, NOW), "Expires in 1 minute");
  expect (hyphae_format_key_expiry (NOW + 90, FALSE, NOW), "Expires in 2 minutes");
  expect (hyphae_format_key_expiry (NOW + 3600, FALSE, NOW), "Expires in 1 hour");
  expect (hyphae_format_key_expiry (NOW + 86399, FALSE, NOW), "Expires in 23 hours");
  expect (hyphae_format_key_expiry (NOW + 86400, FALSE, NOW), "Expires in 1 day");
  expect (hyphae_format_key_expiry (NOW + 180 * 86400, FALSE, NOW), "Expires in 180 days");
  expect (hyphae_format_key_expiry (NOW + 180 * 86400, TRUE, NOW), "Expired");
}

static void
test_path (void)
{
  expect (hyphae_format_path ("192.0.2.1:41641", "fra"), "Direct, 192.0.2.1:41641");
  expect (hyphae_format_path ("", "fra"), "Relay “fra”");
  expect (hyphae_format_path (NULL, NULL), "No connection yet");
  expect (hyphae_format_path ("", ""), "No connection yet");
}

static void
test_magic_dns (void)
{
  expect (hyphae_format_magic_dns ("node-b.hyphae.test."), "node-b.hyphae.test");
  expect (hyphae_format_magic_dns ("node-b.hyphae.test"), "node-b.hyphae.test");
  expect (hyphae_format_magic_dns ("."), "");
  expect (hyphae_format_magic_dns (""), "");
  expect (hyphae_format_magic_dns (NULL), "");
}

static void
test_os (void)
{
  expect (hyphae_format_os ("linux"), "Linux");
  expect (hyphae_format_os ("windows"), "Windows");
  expect (hyphae_format_os ("macOS"), "macOS");
  expect (hyphae_format_os ("iOS"), "iOS");
  expect (hyphae_format_os ("plan9"), "plan9");
  expect (hyphae_format_os (""), "Unknown OS");
  expect (hyphae_format_os (NULL), "Unknown OS");
}

static void
test_dns (void)
{
  const char *two[] = { "100.100.100.100", "fd7a:115c:a1e0::53", NULL };
  const char *none[] = { NULL };

  expect (hyphae_format_dns_mode ("systemd-resolved"), "systemd-resolved");
  expect (hyphae_format_dns_mode ("direct"), "/etc/resolv.conf, written by Hyphae");
  expect (hyphae_format_dns_mode ("NetworkManager"), "NetworkManager");
  expect (hyphae_format_dns_mode ("none"), "Not set up");
  expect (hyphae_format_dns_mode (""), "Not set up");
  expect (hyphae_format_dns_mode (NULL), "Not set up");
  expect (hyphae_format_dns_mode ("network-manager"), "network-manager");
  expect (hyphae_format_list (two), "100.100.100.100, fd7a:115c:a1e0::53");
  expect (hyphae_format_list (none), "None");
  expect (hyphae_format_list (NULL), "None");
}

int
main (int argc,
      char *argv[])
{
  /* The untranslated texts, whatever the environment says. */
  g_setenv ("LANGUAGE", "C", TRUE);
  setlocale (LC_ALL, "C.UTF-8");
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/format/bytes", test_bytes);
  g_test_add_func ("/format/ago", test_ago);
  g_test_add_func ("/format/last-seen", test_last_seen);
  g_test_add_func ("/format/key-expiry", test_key_expiry);
  g_test_add_func ("/format/path", test_path);
  g_test_add_func ("/format/magic-dns", test_magic_dns);
  g_test_add_func ("/format/os", test_os);
  g_test_add_func ("/format/dns", test_dns);
  return g_test_run ();
}
