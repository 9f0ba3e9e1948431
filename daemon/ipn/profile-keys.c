/* SPDX-License-Identifier: MIT */
#include "profile-keys.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/keys.h"
#include "crypto/secmem.h"

enum {
  KEYS_MAX_FILE = 4096
};

HyphaeProfileKeys *
hyphae_profile_keys_new (void)
{
  HyphaeProfileKeys *keys = secmem_alloc (sizeof *keys);

  g_assert (keys != NULL);
  return keys;
}

void
hyphae_profile_keys_free (HyphaeProfileKeys *keys)
{
  if (keys != NULL)
    secmem_free (keys, sizeof *keys);
}

char *
hyphae_profile_keys_path (const char *state_dir,
                          const char *profile)
{
  return g_build_filename (state_dir, "profiles", profile, "keys", NULL);
}

static gboolean
parse_line (HyphaeProfileKeys *keys,
            const char *line,
            gsize len)
{
  const char *eq = memchr (line, '=', len);
  gsize name_len, value_len;
  guint8 *dst;
  gboolean *has;

  if (eq == NULL)
    return FALSE;
  name_len = eq - line;
  value_len = len - name_len - 1;
  if (name_len == 7 && memcmp (line, "machine", 7) == 0)
    dst = keys->machine, has = &keys->has_machine;
  else if (name_len == 4 && memcmp (line, "node", 4) == 0)
    dst = keys->node, has = &keys->has_node;
  else
    return TRUE; /* a kind a newer version added */
  if (key_from_text (dst, KEY_PREFIX_PRIVATE, eq + 1, value_len) < 0 || key_is_zero (dst))
    return FALSE;
  *has = TRUE;
  return TRUE;
}

/* The keys file, read only if it is a regular file of ours that no one else
 * may read: a file planted by another user would give us their keys, one
 * left group/world readable may have been read already. Never follows a
 * symlink. The refusal is G_IO_ERROR_PERMISSION_DENIED, saying what to fix. */
static gboolean
read_keys_file (const char *path,
                char **data,
                gsize *len,
                GError **error)
{
  struct stat st;
  int fd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  char *buf;
  gsize got = 0;

  if (fd < 0)
    {
      int e = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e),
                   "Cannot open %s: %s", path, g_strerror (e));
      return FALSE;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "Refusing the keys file %s: not a regular file", path);
      return FALSE;
    }
  if (st.st_uid != geteuid () || (st.st_mode & 077) != 0)
    {
      close (fd);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "Refusing the keys file %s: owned by uid %u with mode %04o; it must be "
                   "owned by uid %u (hyphaed) and not readable by group or others "
                   "(chown/chmod 600 it if it is yours, or remove it)",
                   path, (unsigned) st.st_uid, (unsigned) (st.st_mode & 07777),
                   (unsigned) geteuid ());
      return FALSE;
    }
  /* One byte more than allowed tells a file that is too long. */
  buf = g_malloc (KEYS_MAX_FILE + 1);
  while (got < KEYS_MAX_FILE + 1)
    {
      ssize_t r = read (fd, buf + got, KEYS_MAX_FILE + 1 - got);

      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        {
          int e = errno;

          close (fd);
          sodium_memzero (buf, KEYS_MAX_FILE + 1);
          g_free (buf);
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e),
                       "Cannot read %s: %s", path, g_strerror (e));
          return FALSE;
        }
      if (r == 0)
        break;
      got += (gsize) r;
    }
  close (fd);
  *data = buf;
  *len = got;
  return TRUE;
}

gboolean
hyphae_profile_keys_load (HyphaeProfileKeys *keys,
                          const char *state_dir,
                          const char *profile,
                          GError **error)
{
  g_autofree char *path = hyphae_profile_keys_path (state_dir, profile);
  char *data = NULL;
  gsize len = 0, pos = 0;
  gboolean ok = TRUE;

  sodium_memzero (keys, sizeof *keys);
  if (!read_keys_file (path, &data, &len, error))
    return FALSE;
  if (len > KEYS_MAX_FILE)
    ok = FALSE;
  while (ok && pos < len)
    {
      const char *nl = memchr (data + pos, '\n', len - pos);
      gsize line_len = nl ? (gsize) (nl - (data + pos)) : len - pos;

      if (line_len > 0)
        ok = parse_line (keys, data + pos, line_len);
      pos += line_len + 1;
    }
  sodium_memzero (data, KEYS_MAX_FILE + 1);
  g_free (data);
  if (!ok)
    {
      sodium_memzero (keys, sizeof *keys);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s does not parse", path);
      return FALSE;
    }
  keys->persist = TRUE;
  return TRUE;
}

static gboolean
mkdir_0700 (const char *dir, GError **error)
{
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int e = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e),
                   "Cannot create %s: %s", dir, g_strerror (e));
      return FALSE;
    }
  return TRUE;
}

gboolean
hyphae_profile_keys_save (const HyphaeProfileKeys *keys,
                          const char *state_dir,
                          const char *profile,
                          GError **error)
{
  g_autofree char *path = hyphae_profile_keys_path (state_dir, profile);
  g_autofree char *dir = g_path_get_dirname (path);
  /* Two lines of "node=" + "privkey:" + 64 hex + "\n" at most. */
  enum {
    LINE = 8 + 8 + KEY_HEX_LEN + 2,
    BUF = 2 * LINE + 1
  };
  char *buf = secmem_alloc (BUF);
  char text[sizeof KEY_PREFIX_PRIVATE + KEY_HEX_LEN];
  gsize len = 0;
  gboolean ok;

  g_assert (buf != NULL);
  if (!mkdir_0700 (dir, error))
    {
      secmem_free (buf, BUF);
      return FALSE;
    }
  if (keys->has_machine)
    {
      key_to_text (text, sizeof text, KEY_PREFIX_PRIVATE, keys->machine);
      len += g_snprintf (buf + len, BUF - len, "machine=%s\n", text);
    }
  if (keys->has_node)
    {
      key_to_text (text, sizeof text, KEY_PREFIX_PRIVATE, keys->node);
      len += g_snprintf (buf + len, BUF - len, "node=%s\n", text);
    }
  sodium_memzero (text, sizeof text);
  ok = g_file_set_contents_full (path, buf, (gssize) len,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0600, error);
  secmem_free (buf, BUF);
  return ok;
}

gboolean
hyphae_profile_keys_fill (HyphaeProfileKeys *keys)
{
  gboolean made = FALSE;

  if (!keys->has_machine)
    {
      key_generate_private (keys->machine);
      keys->has_machine = made = TRUE;
    }
  if (!keys->has_node)
    {
      key_generate_private (keys->node);
      keys->has_node = made = TRUE;
    }
  return made;
}
