/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "hyphae-format"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "hyphae-format.h"

#define MINUTE 60
#define HOUR   (60 * MINUTE)
#define DAY    (24 * HOUR)

char *
hyphae_format_bytes (guint64 bytes)
{
  return g_format_size (bytes);
}

char *
hyphae_format_ago (gint64 when,
                   gint64 now)
{
  gint64 d = now - when;
  g_autoptr (GDateTime) date = NULL;

  if (when <= 0)
    return g_strdup (_ ("Never"));
  /* A clock a little ahead of the daemon's is still "just now". */
  if (d < MINUTE)
    return g_strdup (_ ("Just now"));
  if (d < HOUR)
    return g_strdup_printf (ngettext ("%d minute ago", "%d minutes ago", d / MINUTE), (int) (d / MINUTE));
  if (d < DAY)
    return g_strdup_printf (ngettext ("%d hour ago", "%d hours ago", d / HOUR), (int) (d / HOUR));
  if (d < 30 * DAY)
    return g_strdup_printf (ngettext ("%d day ago", "%d days ago", d / DAY), (int) (d / DAY));
  date = g_date_time_new_from_unix_utc (when);
  /* Translators: a date in strftime format, for something older than a month. */
  return g_date_time_format (date, _ ("%Y-%m-%d"));
}

char *
hyphae_format_last_seen (gint64 last_seen,
                         gboolean online,
                         gint64 now)
{
  if (online)
    return g_strdup (_ ("Online now"));
  return hyphae_format_ago (last_seen, now);
}

char *
hyphae_format_key_expiry (gint64 expiry,
                          gboolean expired,
                          gint64 now)
{
  gint64 d = expiry - now;

  if (expiry == 0 && !expired)
    return g_strdup (_ ("Never expires"));
  if (expired || d <= 0)
    return g_strdup (_ ("Expired"));
  if (d < HOUR)
    return g_strdup_printf (ngettext ("Expires in %d minute", "Expires in %d minutes", (d + MINUTE - 1) / MINUTE),
                            (int) ((d + MINUTE - 1) / MINUTE));
  if (d < DAY)
    return g_strdup_printf (ngettext ("Expires in %d hour", "Expires in %d hours", d / HOUR), (int) (d / HOUR));
  return g_strdup_printf (ngettext ("Expires in %d day", "Expires in %d days", d / DAY), (int) (d / DAY));
}

char *
hyphae_format_path (const char *cur_addr,
                    const char *relay)
{
  if (cur_addr != NULL && *cur_addr != '\0')
    /* Translators: %s is an address and port, "192.0.2.1:41641". */
    return g_strdup_printf (_ ("Direct, %s"), cur_addr);
  if (relay != NULL && *relay != '\0')
    /* Translators: %s is a relay (DERP) region code, "fra". */
    return g_strdup_printf (_ ("Relay “%s”"), relay);
  return g_strdup (_ ("No connection yet"));
}

char *
hyphae_format_magic_dns (const char *dns_name)
{
  size_t n = dns_name != NULL ? strlen (dns_name) : 0;

  if (n > 0 && dns_name[n - 1] == '.')
    n--;
  return g_strndup (dns_name != NULL ? dns_name : "", n);
}

char *
hyphae_format_os (const char *os)
{
  /* Control's names (Tailscale's hostinfo: runtime.GOOS, "macOS", "iOS"). */
  static const struct {
    const char *os;
    const char *name;
  } names[] = {
    { "linux", "Linux" },
    { "windows", "Windows" },
    { "macos", "macOS" },
    { "darwin", "macOS" },
    { "ios", "iOS" },
    { "android", "Android" },
    { "freebsd", "FreeBSD" },
    { "openbsd", "OpenBSD" },
    { "illumos", "illumos" },
  };

  if (os == NULL || *os == '\0')
    return g_strdup (_ ("Unknown OS"));
  for (size_t i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_ascii_strcasecmp (os, names[i].os) == 0)
      return g_strdup (names[i].name);
  return g_strdup (os);
}

char *
hyphae_format_dns_mode (const char *mode)
{
  /* Mesh1 DNS "Mode" (hyphaed's OS DNS modes). */
  if (g_strcmp0 (mode, "systemd-resolved") == 0)
    return g_strdup (_ ("systemd-resolved"));
  if (g_strcmp0 (mode, "direct") == 0)
    return g_strdup (_ ("/etc/resolv.conf, written by Hyphae"));
  if (g_strcmp0 (mode, "NetworkManager") == 0)
    return g_strdup (_ ("NetworkManager"));
  if (mode == NULL || *mode == '\0' || g_str_equal (mode, "none"))
    return g_strdup (_ ("Not set up"));
  return g_strdup (mode);
}

char *
hyphae_format_list (const char * const *items)
{
  if (items == NULL || items[0] == NULL)
    return g_strdup (_ ("None"));
  return g_strjoinv (", ", (char **) items);
}
