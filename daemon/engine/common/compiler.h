/* SPDX-License-Identifier: MIT */
#pragma once

#define likely(x)     __builtin_expect(!!(x), 1)
#define unlikely(x)   __builtin_expect(!!(x), 0)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)     ((a) < (b) ? (a) : (b))
#define MAX(a, b)     ((a) > (b) ? (a) : (b))

/* Scope-bound cleanup for engine setup code only (docs/ARCHITECTURE.md "Two dialects"). */
#define _cleanup_(f) __attribute__((__cleanup__(f)))

enum {
    NSEC_PER_MSEC = 1000000ULL,
    NSEC_PER_SEC = 1000000000ULL,
};

#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

/*
 * Give the pages inside [p, p + len) back to the kernel (their contents are
 * lost; they come back zeroed on the next touch). For scratch buffers after a
 * burst of traffic, so that memory falls back when the tunnel goes idle.
 */
static inline void
mem_release(void *p, size_t len)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = ((uintptr_t)p + page - 1) & ~(page - 1);
    uintptr_t end = ((uintptr_t)p + len) & ~(page - 1);

    if (end > start)
        (void)madvise((void *)start, end - start, MADV_DONTNEED);
}
