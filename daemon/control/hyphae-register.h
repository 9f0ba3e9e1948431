/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "hyphae-h2.h"
#include "crypto/keys.h"

G_BEGIN_DECLS

/*
 * Registration (tailcfg.RegisterRequest/RegisterResponse):
 * POST /machine/register over the Noise HTTP/2 connection with a JSON
 * RegisterRequest using Go's exact field names. Errors that the server
 * reports in a 200 response's "Error" field come back as
 * HYPHAE_REGISTER_ERROR_REFUSED with that text.
 */
#define HYPHAE_REGISTER_ERROR (hyphae_register_error_quark ())
GQuark hyphae_register_error_quark (void);

typedef enum {
  HYPHAE_REGISTER_ERROR_HTTP,      /* status other than 200 */
  HYPHAE_REGISTER_ERROR_BAD_REPLY, /* not JSON, wrong types, nested too deep */
  HYPHAE_REGISTER_ERROR_REFUSED,   /* RegisterResponse.Error set */
} HyphaeRegisterError;

typedef struct {
  guint16 capver;           /* RegisterRequest.Version */
  guint8 node_key[KEY_LEN]; /* NodeKey (public) */
  gboolean has_old_node_key;
  guint8 old_node_key[KEY_LEN]; /* OldNodeKey when rotating */
  const char *auth_key;         /* Auth.AuthKey; NULL for interactive */
  const char *hostname;         /* Hostinfo.Hostname */
  gint64 expiry_unix;           /* 0: none; in the past: logout */
  const char *followup;         /* Followup URL (interactive); NULL otherwise */
} HyphaeRegisterRequest;

typedef struct {
  gboolean machine_authorized; /* MachineAuthorized */
  gboolean node_key_expired;   /* NodeKeyExpired */
  char *auth_url;              /* AuthURL ("" → NULL) */
  char *login_name;            /* Login.LoginName, if any */
  char *user_display_name;     /* User.DisplayName, if any */
} HyphaeRegisterResponse;

void hyphae_register_response_clear (HyphaeRegisterResponse *resp);

/* A longer RegisterResponse is refused. Real ones are < 2 KiB; Tailscale
 * reads at most 1 MiB (control/controlclient/direct.go, decode), but
 * json-glib's tree is ~40 times the text, so we keep a quarter of that. */
enum {
  HYPHAE_REGISTER_RESPONSE_MAX = 256 << 10
};

/* The JSON body (exposed for tests). Transfer full. */
char *hyphae_register_request_to_json (const HyphaeRegisterRequest *req);
/* Parse a RegisterResponse body: one strict JSON object (hyphae-json.h). */
gboolean hyphae_register_response_parse (const char *json,
                                         gsize len,
                                         HyphaeRegisterResponse *out,
                                         GError **error);

void hyphae_register_async (HyphaeH2Client *client,
                            const HyphaeRegisterRequest *req,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data);
gboolean hyphae_register_finish (GAsyncResult *result,
                                 HyphaeRegisterResponse *out,
                                 GError **error);

G_END_DECLS
