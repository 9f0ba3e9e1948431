/* SPDX-License-Identifier: MIT */
#include "common/log.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/compiler.h"

enum { ENGINE_LOG_LINE_MAX = 512 }; /* longer lines are cut */

_Atomic uint32_t engine_log_state;

/* Held while the handler runs, so that replacing it waits for calls in flight. */
static pthread_mutex_t handler_lock = PTHREAD_MUTEX_INITIALIZER;
static engine_log_fn handler;
static void *handler_data;

static const char *const category_names[ENGINE_LOG_N_CATEGORIES] = {
    [ENGINE_LOG_WG] = "wg",   [ENGINE_LOG_PATH] = "path", [ENGINE_LOG_CONTROL] = "control",
    [ENGINE_LOG_MAP] = "map", [ENGINE_LOG_DERP] = "derp", [ENGINE_LOG_DISCO] = "disco",
    [ENGINE_LOG_DNS] = "dns",
};

void
engine_log_set_handler(engine_log_fn fn, void *user_data)
{
    pthread_mutex_lock(&handler_lock);
    handler = fn;
    handler_data = user_data;
    if (fn)
        atomic_fetch_or_explicit(&engine_log_state, ENGINE_LOG_HANDLER_BIT, memory_order_relaxed);
    else
        atomic_fetch_and_explicit(&engine_log_state, ~ENGINE_LOG_HANDLER_BIT, memory_order_relaxed);
    pthread_mutex_unlock(&handler_lock);
}

void
engine_log_set_debug_mask(uint32_t mask)
{
    uint32_t old = atomic_load_explicit(&engine_log_state, memory_order_relaxed);

    mask &= ENGINE_LOG_ALL_CATEGORIES;
    while (!atomic_compare_exchange_weak_explicit(&engine_log_state, &old,
                                                  (old & ENGINE_LOG_HANDLER_BIT) | mask,
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

uint32_t
engine_log_get_debug_mask(void)
{
    uint32_t state = atomic_load_explicit(&engine_log_state, memory_order_relaxed);

    return state & ENGINE_LOG_ALL_CATEGORIES;
}

const char *
engine_log_category_name(enum engine_log_category category)
{
    if ((unsigned int)category >= ENGINE_LOG_N_CATEGORIES)
        return "unknown";
    return category_names[category];
}

int
engine_log_category_from_name(const char *name)
{
    for (unsigned int i = 0; i < ARRAY_SIZE(category_names); i++)
        if (strcmp(name, category_names[i]) == 0)
            return (int)i;
    return -1;
}

const char *
engine_log_sockaddr(const union wg_sockaddr *addr, char out[static IP_PORT_STRLEN])
{
    struct ip_port p = { 0 };

    if (addr->sa.sa_family == AF_INET) {
        p.addr.family = AF_INET;
        memcpy(p.addr.bytes, &addr->in4.sin_addr, 4);
        p.port = ntohs(addr->in4.sin_port);
    } else if (addr->sa.sa_family == AF_INET6) {
        p.addr.family = AF_INET6;
        memcpy(p.addr.bytes, &addr->in6.sin6_addr, 16);
        p.port = ntohs(addr->in6.sin6_port);
    } else {
        snprintf(out, IP_PORT_STRLEN, "none");
        return out;
    }
    ip_port_format(&p, out);
    return out;
}

void
engine_log_print(enum engine_log_category category, enum engine_log_level level, const char *fmt,
                 ...)
{
    char line[ENGINE_LOG_LINE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);

    pthread_mutex_lock(&handler_lock);
    if (handler)
        handler(level, category, line, handler_data);
    pthread_mutex_unlock(&handler_lock);
}
