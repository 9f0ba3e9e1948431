/* SPDX-License-Identifier: MIT */
/*
 * Anti-replay window, RFC 6479: a ring of REPLAY_BITS_TOTAL bits in 64-bit
 * blocks. The block ahead of the window is cleared as the window slides, so
 * only REPLAY_WINDOW (8128) counters behind the greatest one are tracked;
 * anything older is rejected. Behaves as the kernel's counter_validate() and
 * wireguard-go's replay.Filter.ValidateCounter().
 *
 * `greatest` holds the highest accepted counter plus one, so 0 means "nothing
 * seen yet" and bit positions are those of counter + 1.
 */
#include "wg/replay.h"

#include <string.h>

#include "common/compiler.h"

enum {
    REPLAY_BLOCKS = REPLAY_BITS_TOTAL / REPLAY_BLOCK_BITS,
    REPLAY_BLOCK_SHIFT = 6,
};

_Static_assert(REPLAY_BLOCK_BITS == 1 << REPLAY_BLOCK_SHIFT, "block size");
_Static_assert((REPLAY_BLOCKS & (REPLAY_BLOCKS - 1)) == 0, "ring size must be a power of two");

void
replay_init(struct replay_window *w)
{
    memset(w, 0, sizeof(*w));
}

bool
replay_check(struct replay_window *w, uint64_t counter, uint64_t limit)
{
    uint64_t c, index, current, top, i, bit;

    if (unlikely(counter >= limit))
        return false;
    c = counter + 1; /* cannot wrap: counter < limit <= UINT64_MAX */

    /* Too old: more than the window behind the greatest one (no overflow). */
    if (unlikely(w->greatest > c && w->greatest - c > REPLAY_WINDOW))
        return false;

    index = c >> REPLAY_BLOCK_SHIFT;
    if (likely(c > w->greatest)) {
        /* Slide forward, clearing the blocks passed over (at most the ring). */
        current = w->greatest >> REPLAY_BLOCK_SHIFT;
        top = MIN(index - current, (uint64_t)REPLAY_BLOCKS);
        for (i = 1; i <= top; ++i)
            w->bitmap[(current + i) & (REPLAY_BLOCKS - 1)] = 0;
        w->greatest = c;
    }

    bit = 1ULL << (c & (REPLAY_BLOCK_BITS - 1));
    index &= REPLAY_BLOCKS - 1;
    if (w->bitmap[index] & bit)
        return false;
    w->bitmap[index] |= bit;
    return true;
}
