/* SPDX-License-Identifier: MIT */
#pragma once

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Scope-bound cleanup for engine setup code only (STYLE.md §3.4). */
#define _cleanup_(f) __attribute__((__cleanup__(f)))

enum {
    NSEC_PER_MSEC = 1000000ULL,
    NSEC_PER_SEC  = 1000000000ULL,
};
