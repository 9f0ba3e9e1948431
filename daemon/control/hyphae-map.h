/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "hyphae-h2.h"
#include "netmap.h"
#include "crypto/keys.h"

G_BEGIN_DECLS

/*
 * The map long-poll and lite updates (tailscale
 * control/controlclient/direct.go sendMapRequest): POST /machine/map with a
 * MapRequest in Go's field names, then a stream of u32 LE length-prefixed
 * (zstd) MapResponse messages (mapframe), each parsed (netmap.c) and applied
 * to the stream's current netmap. One HyphaeMapStream is one such request; a
 * new stream starts from nothing (its first message must be a full map), so
 * a broken stream never touches the netmap a previous one handed out.
 */
#define HYPHAE_MAP_ERROR (hyphae_map_error_quark ())
GQuark hyphae_map_error_quark (void);

typedef enum {
  HYPHAE_MAP_ERROR_HTTP,    /* the server answered a status other than 200 */
  HYPHAE_MAP_ERROR_FRAMING, /* length over the cap, corrupt or truncated zstd */
  HYPHAE_MAP_ERROR_TIMEOUT, /* the watchdog: no bytes for too long */
  HYPHAE_MAP_ERROR_ENDED,   /* the server ended the long-poll */
} HyphaeMapError;

/* 120 s without a byte (keep-alives included) ends a stream (direct.go watchdogTimeout). */
#define HYPHAE_MAP_WATCHDOG_MS (120 * 1000)

/* tailcfg.EndpointType */
typedef enum {
  HYPHAE_ENDPOINT_UNKNOWN = 0,
  HYPHAE_ENDPOINT_LOCAL = 1,
  HYPHAE_ENDPOINT_STUN = 2,
  HYPHAE_ENDPOINT_PORTMAP = 3,
  HYPHAE_ENDPOINT_STUN4LOCALPORT = 4,
  HYPHAE_ENDPOINT_EXPLICIT_CONF = 5,
} HyphaeEndpointType;

/* opt.Bool (types/opt): absent, false or true. */
typedef enum {
  HYPHAE_OPT_BOOL_UNSET = 0,
  HYPHAE_OPT_BOOL_FALSE,
  HYPHAE_OPT_BOOL_TRUE,
} HyphaeOptBool;

#define HYPHAE_NET_INFO_MAX_LATENCY 128

/* One DERPLatency entry: "<region id>-v4" or "-v6" → seconds. */
typedef struct {
  int region_id;
  gboolean ipv6;
  double seconds;
} HyphaeDerpLatency;

/*
 * Hostinfo.NetInfo (tailcfg.NetInfo, the fields we measure; JSON names as
 * tailcfg's, omitted when unset). A plain value: copy it with =.
 */
typedef struct {
  int preferred_derp; /* PreferredDERP, 0 = none */
  HyphaeOptBool working_udp;
  HyphaeOptBool working_ipv6;
  HyphaeOptBool mapping_varies_by_dest_ip;
  guint n_derp_latency;
  HyphaeDerpLatency derp_latency[HYPHAE_NET_INFO_MAX_LATENCY];
} HyphaeMapNetInfo;

/* tailcfg.NetInfo.BasicallyEqual: everything but DERPLatency, which moves
 * with every report and is sent along with the next change only. */
gboolean hyphae_map_net_info_basically_equal (const HyphaeMapNetInfo *a,
                                              const HyphaeMapNetInfo *b);

typedef struct {
  guint16 capver;                /* Version */
  guint8 node_key[KEY_LEN];      /* NodeKey (public) */
  guint8 disco_key[KEY_LEN];     /* DiscoKey (public); all zero = omitted */
  const char * const *endpoints; /* Endpoints "ip:port" (NULL = none) */
  const guint *endpoint_types;   /* EndpointTypes, parallel; NULL = all LOCAL */
  gboolean stream;               /* Stream */
  gboolean omit_peers;           /* OmitPeers */
  gboolean keep_alive;           /* KeepAlive */
  gboolean compress;             /* Compress: "zstd" */
  /* Hostinfo */
  const char *hostname;
  const char *os;                   /* NULL = "linux" */
  const char *os_version;           /* NULL = omitted */
  const char *ipn_version;          /* NULL = omitted */
  const char *exit_node_id;         /* ExitNodeID; NULL or "" = omitted */
  const char * const *routable_ips; /* RoutableIPs (NULL = omitted) */
  const HyphaeMapNetInfo *net_info; /* NetInfo; NULL = PreferredDERP 0 only */
} HyphaeMapRequest;

/* The JSON body (exposed for tests). Transfer full. */
char *hyphae_map_request_to_json (const HyphaeMapRequest *req);

/*
 * Lite update (Stream:false, OmitPeers:true are forced): only the status
 * matters; a status other than 200 is HYPHAE_MAP_ERROR_HTTP.
 */
void hyphae_map_lite_update_async (HyphaeH2Client *client,
                                   const HyphaeMapRequest *req,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
gboolean hyphae_map_lite_update_finish (GAsyncResult *result,
                                        GError **error);

typedef struct _HyphaeMapStream HyphaeMapStream;

/*
 * Called on the main context of _start, never re-entrantly:
 *   netmap:   a new snapshot (transfer none: ref it to keep it); keep-alives
 *             make none.
 *   activity: bytes arrived (optional; the watchdog was reset).
 *   end:      exactly once, with why the stream ended (never NULL: even a
 *             clean end of a long-poll is HYPHAE_MAP_ERROR_ENDED). The
 *             stream may be freed inside any callback.
 *   ping:     (optional, added) the message carried a PingRequest (keep-alives
 *             too); runs before the message's netmap is applied, as direct.go
 *             does. Must not block: answer asynchronously.
 * Errors are HYPHAE_MAP_ERROR, HYPHAE_H2_ERROR or HYPHAE_NETMAP_ERROR.
 */
typedef struct {
  void (*netmap) (HyphaeMapStream *stream, HyphaeNetmap *nm, gpointer user_data);
  void (*activity) (HyphaeMapStream *stream, gpointer user_data);
  void (*end) (HyphaeMapStream *stream, const GError *error, gpointer user_data);
  void (*ping) (HyphaeMapStream *stream, const HyphaeMapPingRequest *ping, gpointer user_data);
} HyphaeMapStreamCallbacks;

/*
 * Start a long-poll (req->stream should be TRUE; a Stream:false request with
 * OmitPeers:false gets one map and then ENDED). watchdog_ms 0 = the default.
 */
HyphaeMapStream *hyphae_map_stream_start (HyphaeH2Client *client,
                                          const HyphaeMapRequest *req,
                                          guint watchdog_ms,
                                          const HyphaeMapStreamCallbacks *callbacks,
                                          gpointer user_data);
/* Cancel (no callback after this) and free; NULL is fine. */
void hyphae_map_stream_free (HyphaeMapStream *stream);
/* The stream's current netmap, or NULL before the first full map. Transfer none. */
HyphaeNetmap *hyphae_map_stream_get_netmap (HyphaeMapStream *stream);
/* Messages handled so far, keep-alives included (for tests and logs). */
guint hyphae_map_stream_get_n_messages (HyphaeMapStream *stream);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HyphaeMapStream, hyphae_map_stream_free)

G_END_DECLS
