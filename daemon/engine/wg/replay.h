/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * Anti-replay window (RFC 6479 bitmap): 8192-bit ring, 8128 counters of
 * effective window (kernel messages.h COUNTER_WINDOW_SIZE; wireguard-go
 * replay/replay.go). Only called after the AEAD tag verified.
 */
enum {
    REPLAY_BITS_TOTAL = 8192,
    REPLAY_BLOCK_BITS = 64,
    REPLAY_WINDOW = REPLAY_BITS_TOTAL - REPLAY_BLOCK_BITS, /* 8128 */
};

struct replay_window {
    uint64_t greatest; /* highest counter seen + 1 (0: none yet) */
    uint64_t bitmap[REPLAY_BITS_TOTAL / REPLAY_BLOCK_BITS];
};

void replay_init(struct replay_window *w);
/* true if counter is new and < limit; marks it seen. */
bool replay_check(struct replay_window *w, uint64_t counter, uint64_t limit);
