/* SPDX-License-Identifier: MIT */
/* The server's key file and certificate pin (hd-key.h). */
#include "hd-key.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include "crypto/keys.h"
#include "crypto/secmem.h"
#include "hyphae-json.h"

enum {
  KEY_FILE_MAX = 4096,
};

static guint8 *
load (const char *path,
      const char *text,
      gsize len,
      GError **error)
{
  g_autoptr(JsonObject) object = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *value;
  guint8 *priv;

  object = hyphae_json_parse_object (text, len, KEY_FILE_MAX, &local_error);
  if (object == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: %s", path,
                   local_error->message);
      return NULL;
    }
  value = json_object_get_string_member_with_default (object, "PrivateKey", "");
  priv = secmem_alloc (KEY_LEN);
  if (key_from_text (priv, KEY_PREFIX_PRIVATE, value, strlen (value)) != 0 || key_is_zero (priv))
    {
      secmem_free (priv, KEY_LEN);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: no PrivateKey \"privkey:<64 hex>\"", path);
      return NULL;
    }
  return priv;
}

static guint8 *
create (const char *path,
        GError **error)
{
  guint8 *priv = secmem_alloc (KEY_LEN);
  char text[sizeof "{\"PrivateKey\":\"" KEY_PREFIX_PRIVATE "\"}\n" + KEY_HEX_LEN];
  char key_text[sizeof KEY_PREFIX_PRIVATE + KEY_HEX_LEN];
  int fd, len;
  gboolean ok;

  key_generate_private (priv);
  key_to_text (key_text, sizeof key_text, KEY_PREFIX_PRIVATE, priv);
  len = g_snprintf (text, sizeof text, "{\"PrivateKey\":\"%s\"}\n", key_text);
  sodium_memzero (key_text, sizeof key_text);

  fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  ok = fd >= 0 && write (fd, text, len) == len;
  sodium_memzero (text, sizeof text);
  if (!ok || (fd >= 0 && fsync (fd) != 0))
    {
      int saved = errno;

      if (fd >= 0)
        {
          close (fd);
          unlink (path);
        }
      secmem_free (priv, KEY_LEN);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s", path,
                   g_strerror (saved));
      return NULL;
    }
  close (fd);
  return priv;
}

guint8 *
hd_key_load_or_create (const char *path,
                       GError **error)
{
  g_autofree char *text = NULL;
  g_autoptr(GError) local_error = NULL;
  gsize len = 0;
  guint8 *priv;

  if (!g_file_get_contents (path, &text, &len, &local_error))
    {
      if (!g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      return create (path, error);
    }
  priv = load (path, text, len, error);
  sodium_memzero (text, len);
  return priv;
}

char *
hd_cert_name (GTlsCertificate *cert)
{
  g_autoptr(GByteArray) der = NULL;
  g_autofree char *hex = NULL;

  g_object_get (cert, "certificate", &der, NULL);
  hex = g_compute_checksum_for_data (G_CHECKSUM_SHA256, der->data, der->len);
  return g_strconcat ("sha256-raw:", hex, NULL);
}
