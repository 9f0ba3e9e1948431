/* SPDX-License-Identifier: MIT */
/*
 * A bounded pull scanner for JSON (json-scan.h). Every read checks p < end
 * first; containers are tracked by depth with one "has members" bit per
 * level, so nesting is capped at HYPHAE_JSON_MAX_DEPTH (64) without a stack
 * that could grow. Skipping recurses once per nesting level, hence at most
 * 64 frames.
 */
#include "json-scan.h"
#include "hyphae-json.h"

#include <string.h>

G_STATIC_ASSERT (HYPHAE_JSON_MAX_DEPTH <= 64); /* one bit per level in `started` */

void
json_scan_init (JsonScan *s,
                const char *text,
                gsize len)
{
  memset (s, 0, sizeof *s);
  s->text = text;
  s->p = text;
  s->end = text + len;
  s->buf = g_string_sized_new (256);
}

void
json_scan_clear (JsonScan *s)
{
  if (s->buf != NULL)
    g_string_free (s->buf, TRUE);
  s->buf = NULL;
  g_clear_pointer (&s->error, g_free);
}

const char *
json_scan_error (const JsonScan *s)
{
  return s->error;
}

gboolean
json_scan_fail (JsonScan *s,
                const char *format,
                ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  if (s->error != NULL)
    return FALSE;
  va_start (ap, format);
  msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  s->error = g_strdup_printf ("JSON at byte %" G_GSIZE_FORMAT ": %s",
                              (gsize) (s->p - s->text), msg);
  return FALSE;
}

static void
skip_ws (JsonScan *s)
{
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
    s->p++;
}

JsonScanType
json_scan_peek (JsonScan *s)
{
  if (s->error != NULL)
    return JSON_SCAN_ERROR;
  skip_ws (s);
  if (s->p == s->end)
    {
      json_scan_fail (s, "unexpected end");
      return JSON_SCAN_ERROR;
    }
  switch (*s->p)
    {
    /* clang-format off */
    case '{': return JSON_SCAN_OBJECT;
    case '[': return JSON_SCAN_ARRAY;
    case '"': return JSON_SCAN_STRING;
    case 't': case 'f': return JSON_SCAN_BOOL;
    case 'n': return JSON_SCAN_NULL;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
      return JSON_SCAN_NUMBER;
    /* clang-format on */
    default:
      json_scan_fail (s, "unexpected character 0x%02x", (guint8) *s->p);
      return JSON_SCAN_ERROR;
    }
}

static const char *
type_name (JsonScanType t)
{
  static const char *names[] = { "error", "null", "boolean", "number", "string", "array", "object" };

  return names[t];
}

static gboolean
expect (JsonScan *s,
        JsonScanType want)
{
  JsonScanType t = json_scan_peek (s);

  if (t == want)
    return TRUE;
  if (t != JSON_SCAN_ERROR)
    json_scan_fail (s, "expected %s, found %s", type_name (want), type_name (t));
  return FALSE;
}

static gboolean
literal (JsonScan *s,
         const char *word)
{
  gsize n = strlen (word);

  if ((gsize) (s->end - s->p) < n || memcmp (s->p, word, n) != 0)
    return json_scan_fail (s, "bad literal");
  s->p += n;
  return TRUE;
}

gboolean
json_scan_null (JsonScan *s)
{
  return expect (s, JSON_SCAN_NULL) && literal (s, "null");
}

gboolean
json_scan_bool (JsonScan *s,
                gboolean *out)
{
  if (!expect (s, JSON_SCAN_BOOL))
    return FALSE;
  if (*s->p == 't')
    {
      *out = TRUE;
      return literal (s, "true");
    }
  *out = FALSE;
  return literal (s, "false");
}

static gboolean
is_digit (JsonScan *s)
{
  return s->p < s->end && *s->p >= '0' && *s->p <= '9';
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?; *integer: no fraction or exponent. */
static gboolean
scan_number (JsonScan *s,
             gboolean *integer)
{
  *integer = TRUE;
  if (s->p < s->end && *s->p == '-')
    s->p++;
  if (!is_digit (s))
    return json_scan_fail (s, "bad number");
  if (*s->p == '0')
    {
      s->p++;
      if (is_digit (s))
        return json_scan_fail (s, "number with a leading zero");
    }
  else
    while (is_digit (s))
      s->p++;
  if (s->p < s->end && *s->p == '.')
    {
      *integer = FALSE;
      s->p++;
      if (!is_digit (s))
        return json_scan_fail (s, "bad fraction");
      while (is_digit (s))
        s->p++;
    }
  if (s->p < s->end && (*s->p == 'e' || *s->p == 'E'))
    {
      *integer = FALSE;
      s->p++;
      if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
        s->p++;
      if (!is_digit (s))
        return json_scan_fail (s, "bad exponent");
      while (is_digit (s))
        s->p++;
    }
  return TRUE;
}

gboolean
json_scan_int64 (JsonScan *s,
                 gint64 *out)
{
  const char *start;
  gboolean integer, neg;
  guint64 v = 0, limit;

  if (!expect (s, JSON_SCAN_NUMBER))
    return FALSE;
  start = s->p;
  if (!scan_number (s, &integer))
    return FALSE;
  if (!integer)
    return json_scan_fail (s, "expected an integer");
  neg = *start == '-';
  limit = neg ? (guint64) G_MAXINT64 + 1 : (guint64) G_MAXINT64;
  for (const char *q = start + neg; q < s->p; q++)
    {
      guint d = *q - '0';

      if (v > (limit - d) / 10)
        return json_scan_fail (s, "integer out of range");
      v = v * 10 + d;
    }
  *out = neg ? (gint64) (0 - v) : (gint64) v;
  return TRUE;
}

static gboolean
scan_hex4 (JsonScan *s,
           guint *out)
{
  guint v = 0;

  if (s->end - s->p < 4)
    return json_scan_fail (s, "short \\u escape");
  for (int i = 0; i < 4; i++)
    {
      int h = g_ascii_xdigit_value (s->p[i]);
      if (h < 0)
        return json_scan_fail (s, "bad \\u escape");
      v = v << 4 | (guint) h;
    }
  s->p += 4;
  *out = v;
  return TRUE;
}

/* Length of the valid UTF-8 sequence at p (lead byte ≥ 0x80), or 0. Strict:
 * no overlongs, no surrogates, nothing above U+10FFFF. */
static gsize
utf8_seq (const guint8 *p,
          const guint8 *end)
{
  guint8 c = p[0];
  gsize n;
  guint8 lo = 0x80, hi = 0xBF;

  if (c >= 0xC2 && c <= 0xDF)
    n = 2;
  else if (c >= 0xE0 && c <= 0xEF)
    {
      n = 3;
      if (c == 0xE0)
        lo = 0xA0;
      else if (c == 0xED)
        hi = 0x9F;
    }
  else if (c >= 0xF0 && c <= 0xF4)
    {
      n = 4;
      if (c == 0xF0)
        lo = 0x90;
      else if (c == 0xF4)
        hi = 0x8F;
    }
  else
    return 0;
  if ((gsize) (end - p) < n || p[1] < lo || p[1] > hi)
    return 0;
  for (gsize i = 2; i < n; i++)
    if (p[i] < 0x80 || p[i] > 0xBF)
      return 0;
  return n;
}

/* Appends n decoded bytes, within JSON_SCAN_STRING_MAX. */
static gboolean
put (JsonScan *s,
     const char *data,
     gsize n)
{
  if (s->buf->len + n > JSON_SCAN_STRING_MAX)
    return json_scan_fail (s, "string longer than %u bytes", (guint) JSON_SCAN_STRING_MAX);
  g_string_append_len (s->buf, data, (gssize) n);
  return TRUE;
}

static gboolean
put_c (JsonScan *s,
       char c)
{
  return put (s, &c, 1);
}

static gboolean
put_utf8 (JsonScan *s,
          guint cp)
{
  char out[6];

  return put (s, out, (gsize) g_unichar_to_utf8 (cp, out));
}

/* The string at s->p (a '"'); decoded into s->buf when decode is set. */
static gboolean
scan_string (JsonScan *s,
             gboolean decode)
{
  if (decode)
    g_string_truncate (s->buf, 0);
  s->p++; /* the opening quote */
  for (;;)
    {
      const char *run = s->p;
      guint8 c;

      /* The plain ASCII run up to a quote, backslash, control or non-ASCII byte. */
      while (s->p < s->end)
        {
          c = (guint8) *s->p;
          if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80)
            break;
          s->p++;
        }
      if (decode && !put (s, run, (gsize) (s->p - run)))
        return FALSE;
      if (s->p == s->end)
        return json_scan_fail (s, "unterminated string");
      c = (guint8) *s->p;
      if (c == '"')
        {
          s->p++;
          return TRUE;
        }
      if (c < 0x20)
        return json_scan_fail (s, "control character in a string");
      if (c >= 0x80)
        {
          gsize n = utf8_seq ((const guint8 *) s->p, (const guint8 *) s->end);

          if (n == 0)
            return json_scan_fail (s, "invalid UTF-8 in a string");
          if (decode && !put (s, s->p, n))
            return FALSE;
          s->p += n;
          continue;
        }

      /* A backslash escape. */
      s->p++;
      if (s->p == s->end)
        return json_scan_fail (s, "unterminated escape");
      c = (guint8) *s->p++;
      switch (c)
        {
        /* clang-format off */
        case '"': case '\\': case '/':
          if (decode && !put_c (s, (char) c))
            return FALSE;
          break;
        case 'b': if (decode && !put_c (s, '\b')) return FALSE; break;
        case 'f': if (decode && !put_c (s, '\f')) return FALSE; break;
        case 'n': if (decode && !put_c (s, '\n')) return FALSE; break;
        case 'r': if (decode && !put_c (s, '\r')) return FALSE; break;
        case 't': if (decode && !put_c (s, '\t')) return FALSE; break;
        /* clang-format on */
        case 'u':
          {
            guint cp, lo;

            if (!scan_hex4 (s, &cp))
              return FALSE;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
              return json_scan_fail (s, "lone low surrogate");
            if (cp >= 0xD800 && cp <= 0xDBFF)
              {
                if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
                  return json_scan_fail (s, "lone high surrogate");
                s->p += 2;
                if (!scan_hex4 (s, &lo))
                  return FALSE;
                if (lo < 0xDC00 || lo > 0xDFFF)
                  return json_scan_fail (s, "bad surrogate pair");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
              }
            if (decode && cp == 0)
              return json_scan_fail (s, "\\u0000 in a string");
            if (decode && !put_utf8 (s, cp))
              return FALSE;
            break;
          }
        default:
          return json_scan_fail (s, "bad escape \\%c", g_ascii_isprint (c) ? c : '?');
        }
    }
}

gboolean
json_scan_string (JsonScan *s,
                  const char **out,
                  gsize *len)
{
  if (!expect (s, JSON_SCAN_STRING) || !scan_string (s, TRUE))
    return FALSE;
  *out = s->buf->str;
  if (len != NULL)
    *len = s->buf->len;
  return TRUE;
}

static gboolean
container_begin (JsonScan *s)
{
  if (s->depth >= HYPHAE_JSON_MAX_DEPTH)
    return json_scan_fail (s, "nested deeper than %d", HYPHAE_JSON_MAX_DEPTH);
  s->p++;
  s->depth++;
  s->started &= ~(G_GUINT64_CONSTANT (1) << (s->depth - 1));
  return TRUE;
}

/* Before the next member/element: 1 one follows, 0 the container closed. */
static int
container_next (JsonScan *s,
                char close)
{
  guint64 bit = G_GUINT64_CONSTANT (1) << (s->depth - 1);

  if (s->error != NULL)
    return -1;
  skip_ws (s);
  if (s->p == s->end)
    return json_scan_fail (s, "unexpected end"), -1;
  if (*s->p == close)
    {
      s->p++;
      s->depth--;
      return 0;
    }
  if (s->started & bit)
    {
      if (*s->p != ',')
        return json_scan_fail (s, "expected ',' or '%c'", close), -1;
      s->p++;
      skip_ws (s);
      if (s->p < s->end && *s->p == close)
        return json_scan_fail (s, "trailing comma"), -1;
    }
  s->started |= bit;
  return 1;
}

gboolean
json_scan_object_begin (JsonScan *s)
{
  return expect (s, JSON_SCAN_OBJECT) && container_begin (s);
}

int
json_scan_object_next (JsonScan *s,
                       const char **key,
                       gsize *key_len)
{
  int r;

  g_return_val_if_fail (s->depth > 0, -1);
  r = container_next (s, '}');
  if (r <= 0)
    return r;
  if (!json_scan_string (s, key, key_len))
    return -1;
  skip_ws (s);
  if (s->p == s->end || *s->p != ':')
    return json_scan_fail (s, "expected ':'"), -1;
  s->p++;
  return 1;
}

gboolean
json_scan_array_begin (JsonScan *s)
{
  return expect (s, JSON_SCAN_ARRAY) && container_begin (s);
}

int
json_scan_array_next (JsonScan *s)
{
  g_return_val_if_fail (s->depth > 0, -1);
  return container_next (s, ']');
}

gboolean
json_scan_skip (JsonScan *s)
{
  gboolean integer;
  int r;

  switch (json_scan_peek (s))
    {
    case JSON_SCAN_OBJECT:
      if (!container_begin (s))
        return FALSE;
      while ((r = container_next (s, '}')) > 0)
        {
          /* key ':' value */
          if (!expect (s, JSON_SCAN_STRING) || !scan_string (s, FALSE))
            return FALSE;
          skip_ws (s);
          if (s->p == s->end || *s->p != ':')
            return json_scan_fail (s, "expected ':'");
          s->p++;
          if (!json_scan_skip (s))
            return FALSE;
        }
      return r == 0;
    case JSON_SCAN_ARRAY:
      if (!container_begin (s))
        return FALSE;
      while ((r = container_next (s, ']')) > 0)
        if (!json_scan_skip (s))
          return FALSE;
      return r == 0;
    case JSON_SCAN_STRING:
      return scan_string (s, FALSE);
    case JSON_SCAN_NUMBER:
      return scan_number (s, &integer);
    case JSON_SCAN_BOOL:
      return literal (s, *s->p == 't' ? "true" : "false");
    case JSON_SCAN_NULL:
      return literal (s, "null");
    case JSON_SCAN_ERROR:
    default:
      return FALSE;
    }
}

gboolean
json_scan_raw (JsonScan *s,
               const char **start,
               gsize *len)
{
  const char *from;

  if (json_scan_peek (s) == JSON_SCAN_ERROR)
    return FALSE;
  from = s->p;
  if (!json_scan_skip (s))
    return FALSE;
  *start = from;
  *len = s->p - from;
  return TRUE;
}

gboolean
json_scan_end (JsonScan *s)
{
  if (s->error != NULL)
    return FALSE;
  if (s->depth != 0)
    return json_scan_fail (s, "unclosed container");
  skip_ws (s);
  if (s->p != s->end)
    return json_scan_fail (s, "trailing data");
  return TRUE;
}

/* ---- optional members ------------------------------------------------------- */

gboolean
json_scan_take_null (JsonScan *s)
{
  return json_scan_peek (s) == JSON_SCAN_NULL && json_scan_null (s);
}

gboolean
json_scan_opt_bool (JsonScan *s,
                    gboolean *out)
{
  return json_scan_take_null (s) || json_scan_bool (s, out);
}

gboolean
json_scan_opt_int (JsonScan *s,
                   gint64 min,
                   gint64 max,
                   int *out)
{
  gint64 v;

  g_return_val_if_fail (min >= G_MININT && max <= G_MAXINT, FALSE);
  if (json_scan_take_null (s))
    return TRUE;
  if (!json_scan_int64 (s, &v))
    return FALSE;
  if (v < min || v > max)
    return json_scan_fail (s, "%" G_GINT64_FORMAT " is out of range", v);
  *out = (int) v;
  return TRUE;
}

gboolean
json_scan_opt_dup (JsonScan *s,
                   gsize max_len,
                   char **out)
{
  const char *v;
  gsize len;

  if (json_scan_take_null (s))
    return TRUE;
  if (!json_scan_string (s, &v, &len))
    return FALSE;
  if (len > max_len)
    return json_scan_fail (s, "string longer than %" G_GSIZE_FORMAT " bytes", max_len);
  g_free (*out);
  *out = g_strndup (v, len);
  return TRUE;
}
