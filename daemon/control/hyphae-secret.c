/* SPDX-License-Identifier: MIT */
#include "hyphae-secret.h"

#include <string.h>

#include <sodium.h>

#include "crypto/secmem.h"

static void
wipe_free (gpointer data,
           gsize len)
{
  sodium_memzero (data, len);
  g_free (data);
}

typedef struct
{
  char *data;
  gsize len;
} TakenBuffer;

static void
taken_buffer_free (gpointer user_data)
{
  TakenBuffer *t = user_data;

  wipe_free (t->data, t->len);
  g_free (t);
}

GBytes *
hyphae_secret_bytes_new_take (char *data,
                              gsize len)
{
  TakenBuffer *t = g_new (TakenBuffer, 1);

  t->data = data;
  t->len = len;
  return g_bytes_new_with_free_func (data, len, taken_buffer_free, t);
}

/* The variant's storage: a header with the size secmem_free needs. */
typedef struct
{
  gsize size;
  char text[];
} SecretText;

static void
secret_text_free (gpointer user_data)
{
  SecretText *s = user_data;

  secmem_free (s, s->size); /* wipes */
}

GVariant *
hyphae_secret_variant_new_string (const char *text)
{
  gsize len = strlen (text);
  /* sodium_malloc puts the block against a guard page, so its alignment
   * follows the size: round up for the header's gsize. */
  gsize size = (sizeof (SecretText) + len + 1 + 15) & ~(gsize) 15;
  SecretText *s;

  g_return_val_if_fail (g_utf8_validate (text, len, NULL), NULL);
  s = secmem_alloc (size);
  if (s == NULL)
    g_error ("secmem_alloc: out of locked memory");
  s->size = size;
  memcpy (s->text, text, len + 1);
  /* Trusted: NUL-terminated valid UTF-8 with no NUL inside, as checked. */
  return g_variant_new_from_data (G_VARIANT_TYPE_STRING, s->text, len + 1, TRUE,
                                  secret_text_free, s);
}

void
hyphae_secret_free (char *text)
{
  if (text != NULL)
    wipe_free (text, strlen (text));
}
