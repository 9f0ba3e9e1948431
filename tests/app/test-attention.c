/* SPDX-License-Identifier: MIT */
/* What the banner and the notifier show (hyphae-attention.c), without a
 * display: which conditions apply, which one comes first, the sentences,
 * and when the clock alone changes the answer. */
#include "config.h"

#include <string.h>

#include "hyphae-attention.h"

#define DAY (24 * 60 * 60)
#define NOW ((gint64) 1800000000)

static const char * const no_health[] = { NULL };
static const char * const some_health[] = { "DNS is not working", "second", NULL };

/* Running, nothing wrong: a key valid for a year, no exit node. */
static HyphaeAttentionFacts
healthy (void)
{
  return (HyphaeAttentionFacts) {
    .state = HYPHAE_STATE_RUNNING,
    .now = NOW,
    .key_expiry = NOW + 365 * DAY,
    .warning_days = 7,
    .exit_node_id = "",
    .health = no_health,
  };
}

static void
test_nothing (void)
{
  HyphaeAttentionFacts f = healthy ();
  g_autofree char *text = hyphae_attention_describe (&f, HYPHAE_ATTENTION_NONE);

  g_assert_cmpint (hyphae_attention_evaluate (&f), ==, HYPHAE_ATTENTION_NONE);
  g_assert_cmpint (hyphae_attention_first (HYPHAE_ATTENTION_NONE), ==, HYPHAE_ATTENTION_NONE);
  g_assert_cmpstr (text, ==, "");
  /* A key that never expires, no exit node, a NULL health list. */
  f.key_expiry = 0;
  f.health = NULL;
  g_assert_cmpint (hyphae_attention_evaluate (&f), ==, HYPHAE_ATTENTION_NONE);
  g_assert_cmpint (hyphae_attention_next_change (&f), ==, 0);
}

static void
test_exit_node (void)
{
  HyphaeAttentionFacts f = healthy ();
  g_autofree char *offline = NULL;
  g_autofree char *missing = NULL;
  g_autofree char *offline_blocked = NULL;
  g_autofree char *missing_blocked = NULL;

  f.exit_node_id = "nSTABLE";
  f.exit_node_name = "exit-1";
  f.exit_node_online = TRUE;
  g_assert_cmpint (hyphae_attention_evaluate (&f), ==, HYPHAE_ATTENTION_NONE);
  f.exit_node_online = FALSE;
  g_assert_cmpint (hyphae_attention_evaluate (&f), ==, HYPHAE_ATTENTION_EXIT_NODE_OFFLINE);
  offline = hyphae_attention_describe (&f, HYPHAE_ATTENTION_EXIT_NODE_OFFLINE);
  g_assert_nonnull (strstr (offline, "“exit-1” is offline"));
  /* Without the kill switch hyphaed lets it out through the LAN; with it, drops it. */
  g_assert_nonnull (strstr (offline, "uses your local network"));
  f.exit_node_kill_switch = TRUE;
  offline_blocked = hyphae_attention_describe (&f, HYPHAE_ATTENTION_EXIT_NODE_OFFLINE);
  g_assert_nonnull (strstr (offline_blocked, "“exit-1” is offline: internet traffic is blocked"));
  missing_blocked = hyphae_attention_describe (&(HyphaeAttentionFacts) { .exit_node_kill_switch = TRUE },
                                               HYPHAE_ATTENTION_EXIT_NODE_OFFLINE);
  g_assert_nonnull (strstr (missing_blocked, "not available: internet traffic is blocked"));
  f.exit_node_kill_switch = FALSE;
  /* Chosen but not in the network map at all. */
  f.exit_node_name = NULL;
  g_assert_cmpint (hyphae_attention_evaluate (&f), ==, HYPHAE_ATTENTION_EXIT_NODE_OFFLINE);
  missing = hyphae_attention_describe (&f, HYPHAE_ATTENTION_EXIT_NODE_OFFLINE);
  g_assert_nonnull (strstr (missing, "not available: internet traffic uses your local network"));
  /* No exit node chosen: an absent peer means nothing. */
  f.exit_node_id = "";
  g_assert_cmpint (hyphae_attention_evaluate (&f), ==, HYPHAE_ATTENTION_NONE);
  f.exit_node_id = NULL;
  g_assert_cmpint (hyphae_attention_evaluate (&f), ==, HYPHAE_ATTENTION_NONE);
}

static void
test_key_expiry (void)
{
  HyphaeAttentionFacts f = healthy ();
  struct {
    gint64 remaining;
    const char *text; /* NULL: does not apply */
  } cases[] = {
    { 8 * DAY, NULL },
    { 7 * DAY, NULL }, /* "within 7 days" starts below 7 days */
    { 7 * DAY - 1, "expires in 6 days" },
    { 2 * DAY, "expires in 2 days" },
    { DAY + 5, "expires in 1 day" },
    { DAY - 1, "expires in less than a day" },
    { 1, "expires in less than a day" },
    { 0, "has expired" },
    { -DAY, "has expired" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = NULL;

      f.key_expiry = NOW + cases[i].remaining;
      if (cases[i].text == NULL)
        {
          g_assert_cmpint (hyphae_attention_evaluate (&f), ==, HYPHAE_ATTENTION_NONE);
          continue;
        }
      g_assert_cmpint (hyphae_attention_evaluate (&f), ==, HYPHAE_ATTENTION_KEY_EXPIRY);
      text = hyphae_attention_describe (&f, HYPHAE_ATTENTION_KEY_EXPIRY);
      g_assert_nonnull (strstr (text, cases[i].text));
    }
  /* The warning follows the setting: 30 days warns about 8. */
  f.key_expiry = NOW + 8 * DAY;
  f.warning_days = 30;
  g_assert_cmpint (hyphae_attention_evaluate (&f), ==, HYPHAE_ATTENTION_KEY_EXPIRY);
  /* 0 days: only an expired key. */
  f.warning_days = 0;
  g_assert_cmpint (hyphae_attention_evaluate (&f), ==, HYPHAE_ATTENTION_NONE);
  f.key_expiry = NOW;
  g_assert_cmpint (hyphae_attention_evaluate (&f), ==, HYPHAE_ATTENTION_KEY_EXPIRY);
}

static void
test_health (void)
{
  HyphaeAttentionFacts f = healthy ();
  g_autofree char *text = NULL;
  static const char * const empty[] = { "", NULL };

  f.health = some_health;
  g_assert_cmpint (hyphae_attention_evaluate (&f), ==, HYPHAE_ATTENTION_HEALTH);
  text = hyphae_attention_describe (&f, HYPHAE_ATTENTION_HEALTH);
  g_assert_cmpstr (text, ==, "DNS is not working");
  f.health = empty;
  g_assert_cmpint (hyphae_attention_evaluate (&f), ==, HYPHAE_ATTENTION_NONE);
}

/* All three at once: the mask has them all, the offline exit node comes
 * first, then the key, then Health; describe() of a mask describes its first. */
static void
test_order (void)
{
  HyphaeAttentionFacts f = healthy ();
  HyphaeAttentionKind mask;
  g_autofree char *text = NULL;

  f.exit_node_id = "nSTABLE";
  f.key_expiry = NOW + DAY + 5;
  f.health = some_health;
  mask = hyphae_attention_evaluate (&f);
  g_assert_cmpint (mask, ==,
                   HYPHAE_ATTENTION_EXIT_NODE_OFFLINE | HYPHAE_ATTENTION_KEY_EXPIRY | HYPHAE_ATTENTION_HEALTH);
  g_assert_cmpint (hyphae_attention_first (mask), ==, HYPHAE_ATTENTION_EXIT_NODE_OFFLINE);
  g_assert_cmpint (hyphae_attention_first (mask & ~HYPHAE_ATTENTION_EXIT_NODE_OFFLINE), ==,
                   HYPHAE_ATTENTION_KEY_EXPIRY);
  g_assert_cmpint (hyphae_attention_first (HYPHAE_ATTENTION_HEALTH), ==, HYPHAE_ATTENTION_HEALTH);
  text = hyphae_attention_describe (&f, mask);
  g_assert_nonnull (strstr (text, "not available"));
}

/* Only while Running: the window's pages tell the other states. */
static void
test_not_running (void)
{
  HyphaeAttentionFacts f = healthy ();
  HyphaeState states[] = { HYPHAE_STATE_NO_STATE, HYPHAE_STATE_NEEDS_LOGIN, HYPHAE_STATE_NEEDS_MACHINE_AUTH,
                           HYPHAE_STATE_STOPPED, HYPHAE_STATE_STARTING };

  f.exit_node_id = "nSTABLE";
  f.key_expiry = NOW + DAY;
  f.health = some_health;
  for (guint i = 0; i < G_N_ELEMENTS (states); i++)
    {
      f.state = states[i];
      g_assert_cmpint (hyphae_attention_evaluate (&f), ==, HYPHAE_ATTENTION_NONE);
    }
}

/* next_change is the first second at which evaluate or describe differ;
 * checked against both, one second before and at it. */
static void
test_next_change (void)
{
  HyphaeAttentionFacts f = healthy ();
  gint64 starts[] = { NOW - 10 * DAY, NOW - 7 * DAY, NOW - 7 * DAY + 1, NOW - 3 * DAY - 7, NOW - DAY, NOW - 1 };
  gint64 expiry = NOW;

  f.key_expiry = expiry;
  for (guint i = 0; i < G_N_ELEMENTS (starts); i++)
    {
      gint64 next;
      g_autofree char *before = NULL;
      g_autofree char *just_before = NULL;
      g_autofree char *at = NULL;
      HyphaeAttentionKind mask_before, mask_just_before, mask_at;

      f.now = starts[i];
      next = hyphae_attention_next_change (&f);
      g_assert_cmpint (next, >, f.now);
      mask_before = hyphae_attention_evaluate (&f);
      before = hyphae_attention_describe (&f, mask_before);
      f.now = next - 1;
      mask_just_before = hyphae_attention_evaluate (&f);
      just_before = hyphae_attention_describe (&f, mask_just_before);
      f.now = next;
      mask_at = hyphae_attention_evaluate (&f);
      at = hyphae_attention_describe (&f, mask_at);
      g_assert_cmpint (mask_before, ==, mask_just_before);
      g_assert_cmpstr (before, ==, just_before);
      g_assert_true (mask_at != mask_just_before || g_strcmp0 (at, just_before) != 0);
    }
  /* Expired: nothing changes by the clock any more. */
  f.now = expiry;
  g_assert_cmpint (hyphae_attention_next_change (&f), ==, 0);
  /* No warning days: the expiry itself is the one change. */
  f.warning_days = 0;
  f.now = expiry - 3 * DAY;
  g_assert_cmpint (hyphae_attention_next_change (&f), ==, expiry);
  g_assert_cmpint (hyphae_attention_evaluate (&f), ==, HYPHAE_ATTENTION_NONE);
  f.now = expiry;
  g_assert_cmpint (hyphae_attention_evaluate (&f), ==, HYPHAE_ATTENTION_KEY_EXPIRY);
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/attention/nothing", test_nothing);
  g_test_add_func ("/attention/exit-node", test_exit_node);
  g_test_add_func ("/attention/key-expiry", test_key_expiry);
  g_test_add_func ("/attention/health", test_health);
  g_test_add_func ("/attention/order", test_order);
  g_test_add_func ("/attention/not-running", test_not_running);
  g_test_add_func ("/attention/next-change", test_next_change);
  return g_test_run ();
}
