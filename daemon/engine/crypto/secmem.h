/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/*
 * Memory for structures that hold key material: sodium_malloc (guard pages,
 * mlock, wiped on free). Under AddressSanitizer the region is registered as a
 * LeakSanitizer root, because LSan does not scan sodium's mmap'd pages and
 * would otherwise report whatever they point to as leaked.
 */
void *secmem_alloc(size_t size); /* zeroed; NULL on failure */
void secmem_free(void *p, size_t size);
