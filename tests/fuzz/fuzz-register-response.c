/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for RegisterResponse (daemon/control/hyphae-register.c,
 * through hyphae-json.c and json-scan.c): the input is the 200 answer's
 * body. Checks: no crash, leak or sanitizer report; an accepted body is one
 * strict JSON object and gives UTF-8 strings, never ""; a refused one
 * leaves the output zeroed and is BAD_REPLY (or REFUSED with the server's
 * non-empty Error); json-glib takes whatever the scanner took.
 */
#include <string.h>

#include "fuzz-control.h"
#include "hyphae-register.h"

static void
check_text (const char *s)
{
  CHECK (s == NULL || (s[0] != '\0' && g_utf8_validate (s, -1, NULL)));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t size)
{
  g_autoptr(GError) error = NULL;
  HyphaeRegisterResponse resp;

  fuzz_json_agree (data, size, HYPHAE_REGISTER_RESPONSE_MAX);
  memset (&resp, 0xa5, sizeof resp);
  if (hyphae_register_response_parse ((const char *) data, size, &resp, &error))
    {
      CHECK (error == NULL);
      CHECK (hyphae_json_check_object ((const char *) data, size,
                                       HYPHAE_REGISTER_RESPONSE_MAX, NULL));
      check_text (resp.auth_url);
      check_text (resp.login_name);
      check_text (resp.user_display_name);
      hyphae_register_response_clear (&resp);
    }
  else
    {
      CHECK (error != NULL && error->domain == HYPHAE_REGISTER_ERROR);
      CHECK (error->code == HYPHAE_REGISTER_ERROR_BAD_REPLY ||
             error->code == HYPHAE_REGISTER_ERROR_REFUSED);
      CHECK (error->message[0] != '\0');
      CHECK (resp.auth_url == NULL && resp.login_name == NULL && resp.user_display_name == NULL);
      CHECK (!resp.machine_authorized && !resp.node_key_expired);
    }
  return 0;
}
