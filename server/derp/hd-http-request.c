/* SPDX-License-Identifier: MIT */
/*
 * The request reader of hyphae-derp's listener (hd-http-request.h). It reads
 * only what the server routes on; everything else in a header is checked for
 * shape and skipped. RFC 9112 §3 (request line) and §5 (field lines), strictly:
 * CRLF line ends, no folded lines, token header names.
 */
#include "hd-http-request.h"

#include <string.h>

enum {
  MAX_METHOD = 16,
  MAX_HEADERS = 64,
};

/* RFC 9110 §5.6.2 tchar. */
static gboolean
is_tchar (guchar c)
{
  return g_ascii_isalnum (c) || (c != 0 && strchr ("!#$%&'*+-.^_`|~", c) != NULL);
}

gboolean
hd_slice_equal (HdSlice s,
                const char *word)
{
  gsize n = strlen (word);

  return s.p != NULL && s.len == n && g_ascii_strncasecmp (s.p, word, n) == 0;
}

/* The request line: METHOD SP target SP HTTP/1.x. */
static gboolean
parse_request_line (const char *p,
                    gsize len,
                    HdHttpRequest *req)
{
  gsize i = 0, start;

  while (i < len && i < MAX_METHOD && g_ascii_isupper (p[i]))
    i++;
  if (i == 0 || i >= len || p[i] != ' ')
    return FALSE;
  req->method = (HdSlice) { p, i };

  start = ++i;
  if (i >= len || p[i] != '/')
    return FALSE;
  while (i < len && p[i] != ' ')
    {
      if ((guchar) p[i] <= 0x20 || (guchar) p[i] >= 0x7f)
        return FALSE;
      i++;
    }
  if (i >= len)
    return FALSE;
  req->path.p = p + start;
  req->path.len = i - start;
  for (gsize q = 0; q < req->path.len; q++)
    if (req->path.p[q] == '?')
      {
        req->path.len = q;
        break;
      }

  i++;
  return len - i == 8 && memcmp (p + i, "HTTP/1.", 7) == 0 && g_ascii_isdigit (p[i + 7]);
}

/* One field line "Name: value" (without its CRLF). */
static gboolean
parse_header (const char *p,
              gsize len,
              HdHttpRequest *req)
{
  gsize i = 0, vstart, vend;
  HdSlice name, value;

  while (i < len && is_tchar (p[i]))
    i++;
  if (i == 0 || i >= len || p[i] != ':')
    return FALSE;
  name = (HdSlice) { p, i };

  vstart = i + 1;
  while (vstart < len && (p[vstart] == ' ' || p[vstart] == '\t'))
    vstart++;
  vend = len;
  while (vend > vstart && (p[vend - 1] == ' ' || p[vend - 1] == '\t'))
    vend--;
  for (gsize q = vstart; q < vend; q++)
    if (((guchar) p[q] < 0x20 && p[q] != '\t') || p[q] == 0x7f)
      return FALSE;
  value = (HdSlice) { p + vstart, vend - vstart };

  if (hd_slice_equal (name, "Upgrade"))
    req->upgrade = value;
  else if (hd_slice_equal (name, "Derp-Fast-Start"))
    req->fast_start = value;
  else if (hd_slice_equal (name, "X-Tailscale-Challenge"))
    req->challenge = value;
  return TRUE;
}

gssize
hd_http_request_parse (const char *buf,
                       gsize len,
                       HdHttpRequest *req)
{
  gsize scan = MIN (len, (gsize) HD_HTTP_REQUEST_MAX);
  gsize end = 0, line = 0;
  gboolean first = TRUE;

  memset (req, 0, sizeof *req);
  for (gsize i = 3; i < scan; i++)
    if (buf[i - 3] == '\r' && buf[i - 2] == '\n' && buf[i - 1] == '\r' && buf[i] == '\n')
      {
        end = i + 1;
        break;
      }
  if (end == 0)
    return len >= HD_HTTP_REQUEST_MAX ? -1 : 0;

  /* Every line up to the blank one ends in CRLF; a bare CR or LF is refused. */
  while (line < end - 2)
    {
      gsize eol = line;

      while (buf[eol] != '\r' && buf[eol] != '\n')
        eol++;
      if (buf[eol] != '\r' || buf[eol + 1] != '\n')
        return -1;
      if (first)
        {
          if (!parse_request_line (buf + line, eol - line, req))
            return -1;
          first = FALSE;
        }
      else
        {
          if (++req->header_count > MAX_HEADERS || !parse_header (buf + line, eol - line, req))
            return -1;
        }
      line = eol + 2;
    }
  return first ? -1 : (gssize) end;
}
