/* SPDX-License-Identifier: MIT */
#pragma once

#include "hd-http-request.h"
#include "hd-server.h"

G_BEGIN_DECLS

typedef enum {
  HD_HTTP_RESPOND, /* out holds a whole response; close after it */
  HD_HTTP_UPGRADE, /* out holds the 101 (empty with Derp-Fast-Start); DERP follows */
} HdHttpAction;

/*
 * What the listener answers to one request. Facts: derp/derpserver/handler.go
 * (Handler, ProbeHandler, ServeNoContent), cmd/derper/derper.go (the mux).
 */
HdHttpAction hd_http_route (HdServer *srv,
                            const HdHttpRequest *req,
                            gboolean loopback,
                            GString *out);
/* The 400 for a request that does not parse. */
void hd_http_bad_request (GString *out);

G_END_DECLS
