/* SPDX-License-Identifier: MIT */
#pragma once

#include <gio/gio.h>

#include "hyphae-client.h"

G_BEGIN_DECLS

/*
 * What needs the user's attention while connected: the window's banner and
 * the notifier (and any other view) show the same conditions, decided here.
 * The kinds in order of importance: an offline exit node blocks the
 * internet now (or, without the kill switch, lets it out unprotected), an expiring key disconnects later, Health says what hyphaed
 * noticed.
 */
typedef enum {
  HYPHAE_ATTENTION_NONE = 0,
  HYPHAE_ATTENTION_EXIT_NODE_OFFLINE = 1 << 0, /* chosen exit node offline or not in the netmap */
  HYPHAE_ATTENTION_KEY_EXPIRY = 1 << 1,        /* this device's key expires within the warning days */
  HYPHAE_ATTENTION_HEALTH = 1 << 2,            /* the daemon's Health messages */
} HyphaeAttentionKind;

/* The facts the choice depends on, read from the client and the settings. */
typedef struct {
  HyphaeState state;
  gint64 now;         /* Unix seconds */
  gint64 key_expiry;  /* this device's, Unix seconds; 0 = never */
  guint warning_days; /* GSettings key-expiry-warning-days */
  const char *exit_node_id;
  const char *exit_node_name; /* NULL when the chosen node is not in the netmap */
  gboolean exit_node_online;
  gboolean exit_node_kill_switch; /* Prefs ExitNodeKillSwitch: offline blocks, else the LAN takes it */
  const char * const *health;
} HyphaeAttentionFacts;

/* Pure: every kind that applies (a mask), the most important one of a mask,
 * its sentence (a new string; "" for NONE), and the next time (Unix s) at
 * which the answer or the sentence changes by the clock alone (0: never). */
HyphaeAttentionKind hyphae_attention_evaluate (const HyphaeAttentionFacts *facts);
HyphaeAttentionKind hyphae_attention_first (HyphaeAttentionKind mask);
char *hyphae_attention_describe (const HyphaeAttentionFacts *facts,
                                 HyphaeAttentionKind kind);
gint64 hyphae_attention_next_change (const HyphaeAttentionFacts *facts);

/* HyphaeAttention: the facts of a client and settings, kept current (their
 * notifies, the exit node's online flag, a timer for the clock), with signal
 * "changed" whenever the mask or a sentence may have changed. */
#define HYPHAE_TYPE_ATTENTION (hyphae_attention_get_type ())
G_DECLARE_FINAL_TYPE (HyphaeAttention, hyphae_attention, HYPHAE, ATTENTION, GObject)

HyphaeAttention *hyphae_attention_new (HyphaeClient *client,
                                       GSettings *settings);
HyphaeAttentionKind hyphae_attention_get_mask (HyphaeAttention *self);
char *hyphae_attention_dup_text (HyphaeAttention *self,
                                 HyphaeAttentionKind kind);

G_END_DECLS
