/* SPDX-License-Identifier: MIT */
/* Direct mode: /etc/resolv.conf written by us, the original kept byte for
 * byte under the state dir and put back on revert (the approach of Tailscale's
 * net/dns/direct.go: marker line, backup, rename with an in-place fallback for
 * bind-mounted files). */
#include "hyphae-os-dns-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

static gboolean
set_errno (GError **error,
           int e,
           const char *what,
           const char *path)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "%s %s: %s", what, path, g_strerror (e));
  return FALSE;
}

gboolean
hyphae_resolv_conf_is_ours (const char *text)
{
  return text != NULL && g_str_has_prefix (text, HYPHAE_RESOLV_CONF_MARKER);
}

/* The words after keyword on its lines ("nameserver X", "search A B"). */
static char **
parse_words (const char *text,
             const char * const *keywords,
             gboolean skip_ours)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  g_auto(GStrv) lines = NULL;

  if (text == NULL)
    {
      g_ptr_array_add (out, NULL);
      return (char **) g_ptr_array_free (g_steal_pointer (&out), FALSE);
    }
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit_set (g_strstrip (lines[i]), " \t", -1);

      if (fields[0] == NULL || !g_strv_contains (keywords, fields[0]))
        continue;
      for (guint f = 1; fields[f] != NULL; f++)
        {
          if (fields[f][0] == '\0')
            continue;
          if (fields[f][0] == '#' || fields[f][0] == ';')
            break;
          if (skip_ours && (strcmp (fields[f], HYPHAE_DNS_SERVICE_IPV4) == 0 ||
                            strcmp (fields[f], HYPHAE_DNS_SERVICE_IPV6) == 0))
            continue;
          if (!g_ptr_array_find_with_equal_func (out, fields[f], g_str_equal, NULL))
            g_ptr_array_add (out, g_strdup (fields[f]));
        }
    }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&out), FALSE);
}

char **
hyphae_resolv_conf_parse_nameservers (const char *text)
{
  static const char * const kw[] = { "nameserver", NULL };

  return parse_words (text, kw, TRUE);
}

char **
hyphae_resolv_conf_parse_search (const char *text)
{
  static const char * const kw[] = { "search", "domain", NULL };

  return parse_words (text, kw, FALSE);
}

char *
hyphae_resolv_conf_render (const HyphaeOsDnsPlan *plan,
                           char **extra_search)
{
  GString *s = g_string_new (HYPHAE_RESOLV_CONF_MARKER);
  g_autoptr(GPtrArray) search = g_ptr_array_new ();

  g_string_append (s, " the original comes back when hyphaed stops.\n");
  for (guint i = 0; plan->nameservers[i] != NULL; i++)
    g_string_append_printf (s, "nameserver %s\n", plan->nameservers[i]);
  for (guint i = 0; plan->search_domains[i] != NULL; i++)
    g_ptr_array_add (search, plan->search_domains[i]);
  for (guint i = 0; extra_search != NULL && extra_search[i] != NULL; i++)
    if (!g_ptr_array_find_with_equal_func (search, extra_search[i], g_str_equal, NULL))
      g_ptr_array_add (search, extra_search[i]);
  if (search->len > 0)
    {
      g_string_append (s, "search");
      for (guint i = 0; i < search->len; i++)
        g_string_append_printf (s, " %s", (const char *) search->pdata[i]);
      g_string_append_c (s, '\n');
    }
  return g_string_free (s, FALSE);
}

static gboolean
write_all (int fd,
           const char *data,
           gsize len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      data += n;
      len -= (gsize) n;
    }
  return TRUE;
}

/* Where rename(2) cannot replace path (a file bind-mounted over it, as in
 * containers and our tests), rewrite it in place. */
static gboolean
replace_in_place (const char *path,
                  const char *text,
                  guint mode,
                  GError **error)
{
  int fd = open (path, O_WRONLY | O_TRUNC | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode);
  gboolean ok;
  int e;

  if (fd < 0)
    return set_errno (error, errno, "Cannot write", path);
  ok = write_all (fd, text, strlen (text)) && fsync (fd) == 0;
  e = errno;
  close (fd);
  if (!ok)
    return set_errno (error, e, "Cannot write", path);
  return TRUE;
}

gboolean
hyphae_resolv_conf_replace (const char *path,
                            const char *text,
                            guint mode,
                            GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *tmp = g_strdup_printf ("%s/.%s.hyphae-XXXXXX", dir, base);
  int fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, mode);
  int e;

  if (fd < 0)
    return set_errno (error, errno, "Cannot create a file beside", path);
  if (!write_all (fd, text, strlen (text)) || fchmod (fd, mode) != 0 || fsync (fd) != 0)
    {
      e = errno;
      close (fd);
      g_unlink (tmp);
      return set_errno (error, e, "Cannot write", tmp);
    }
  close (fd);
  if (rename (tmp, path) == 0)
    return TRUE;
  e = errno;
  g_unlink (tmp);
  if (e == EBUSY || e == EXDEV || e == EPERM)
    return replace_in_place (path, text, mode, error);
  return set_errno (error, e, "Cannot replace", path);
}

gboolean
hyphae_resolv_conf_backup (const char *path,
                           const char *backup_path,
                           GKeyFile *state,
                           char **original,
                           GError **error)
{
  g_autofree char *text = NULL;
  g_autofree char *target = NULL;
  struct stat st;
  gsize len = 0;

  *original = NULL;
  if (lstat (path, &st) != 0)
    {
      if (errno != ENOENT)
        return set_errno (error, errno, "Cannot stat", path);
      g_key_file_set_string (state, HYPHAE_OS_DNS_GROUP, "original", "missing");
      g_unlink (backup_path);
      return TRUE;
    }
  /* Through a symlink we read what the resolver reads. */
  if (!g_file_get_contents (path, &text, &len, NULL))
    text = NULL;
  if (hyphae_resolv_conf_is_ours (text))
    {
      /* Ours from before (a plan change): the backup we made stays. */
      (void) g_file_get_contents (backup_path, original, NULL, NULL);
      return TRUE;
    }
  if (S_ISLNK (st.st_mode))
    {
      target = g_file_read_link (path, error);
      if (target == NULL)
        return FALSE;
      g_key_file_set_string (state, HYPHAE_OS_DNS_GROUP, "original", "symlink");
      g_key_file_set_string (state, HYPHAE_OS_DNS_GROUP, "symlink", target);
    }
  else if (S_ISREG (st.st_mode))
    {
      g_key_file_set_string (state, HYPHAE_OS_DNS_GROUP, "original", "file");
      g_key_file_set_integer (state, HYPHAE_OS_DNS_GROUP, "file-mode", (int) (st.st_mode & 07777));
    }
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE, "%s is not a regular file", path);
      return FALSE;
    }
  if (text == NULL && S_ISREG (st.st_mode))
    return set_errno (error, EACCES, "Cannot read", path);
  /* The backup is the byte-for-byte copy restore writes back (a dangling
   * symlink has none: the link itself is what comes back). */
  if (!g_file_set_contents_full (backup_path, text ? text : "", text ? (gssize) len : 0,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0600, error))
    return FALSE;
  *original = g_steal_pointer (&text);
  return TRUE;
}

gboolean
hyphae_resolv_conf_restore (const char *path,
                            const char *backup_path,
                            GKeyFile *state,
                            GError **error)
{
  g_autofree char *kind = g_key_file_get_string (state, HYPHAE_OS_DNS_GROUP, "original", NULL);
  g_autofree char *current = NULL;
  g_autofree char *saved = NULL;
  gsize saved_len = 0;

  if (!g_file_get_contents (path, &current, NULL, NULL) || !hyphae_resolv_conf_is_ours (current))
    {
      /* Someone else wrote it since: theirs is newer than our backup. */
      g_unlink (backup_path);
      return TRUE;
    }
  if (g_strcmp0 (kind, "missing") == 0)
    {
      if (g_unlink (path) != 0 && errno != ENOENT)
        return set_errno (error, errno, "Cannot remove", path);
    }
  else if (g_strcmp0 (kind, "symlink") == 0)
    {
      g_autofree char *target = g_key_file_get_string (state, HYPHAE_OS_DNS_GROUP, "symlink", error);
      g_autofree char *tmp = NULL;

      if (target == NULL)
        return FALSE;
      tmp = g_strdup_printf ("%s.hyphae-restore", path);
      g_unlink (tmp);
      if (symlink (target, tmp) != 0)
        return set_errno (error, errno, "Cannot create the symlink", tmp);
      if (rename (tmp, path) != 0)
        {
          int e = errno;

          g_unlink (tmp);
          return set_errno (error, e, "Cannot restore", path);
        }
    }
  else if (g_strcmp0 (kind, "file") == 0)
    {
      int mode = g_key_file_get_integer (state, HYPHAE_OS_DNS_GROUP, "file-mode", NULL);

      if (!g_file_get_contents (backup_path, &saved, &saved_len, error))
        return FALSE;
      /* A NUL inside would cut the text short: the backup is what we read
       * as text, so it has none. */
      if (strlen (saved) != saved_len)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s holds a NUL byte", backup_path);
          return FALSE;
        }
      if (!hyphae_resolv_conf_replace (path, saved, mode > 0 ? (guint) mode : 0644, error))
        return FALSE;
    }
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "The OS DNS state does not say what %s was", path);
      return FALSE;
    }
  g_unlink (backup_path);
  return TRUE;
}
