/* SPDX-License-Identifier: MIT */
#include "crypto/secmem.h"

#include <sodium.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_LSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define HAVE_LSAN 1
#endif
#ifdef HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

void *
secmem_alloc(size_t size)
{
    void *p;

    /* sodium_malloc needs the library initialised (idempotent, thread-safe). */
    if (sodium_init() < 0)
        return NULL;
    p = sodium_malloc(size);
    if (!p)
        return NULL;
    memset(p, 0, size);
#ifdef HAVE_LSAN
    __lsan_register_root_region(p, size);
#endif
    return p;
}

void
secmem_free(void *p, size_t size)
{
    if (!p)
        return;
#ifdef HAVE_LSAN
    __lsan_unregister_root_region(p, size);
#endif
    sodium_free(p);
}
