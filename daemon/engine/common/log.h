/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/endpoint.h"
#include "common/ip.h"

/*
 * The engine's log hook. The engine never writes a log itself: it hands
 * (level, category, text) to one handler the program installs (hyphaed routes
 * it to GLib's structured log, domain "hyphae-<category>"). Errors and
 * warnings reach the handler whenever one is set; info and debug only for the
 * categories switched on with engine_log_set_debug_mask.
 *
 * engine_log() tests one atomic word before it evaluates its arguments, so a
 * switched-off line costs a relaxed load on any thread. Never log per packet
 * unless behind that test, and never log secrets: private keys, preshared
 * keys, session keys, auth keys. A public key goes in its short form
 * (wg_peer_name).
 */
enum engine_log_level {
    ENGINE_LOG_ERROR,
    ENGINE_LOG_WARNING,
    ENGINE_LOG_INFO,
    ENGINE_LOG_DEBUG,
};

enum engine_log_category {
    ENGINE_LOG_WG,      /* WireGuard handshakes, keypairs, roaming, cookies, timers */
    ENGINE_LOG_PATH,    /* outer UDP sockets, endpoints */
    ENGINE_LOG_CONTROL, /* the control session (the daemon logs it) */
    ENGINE_LOG_MAP,     /* the map stream and netmaps (the daemon logs it) */
    ENGINE_LOG_DERP,    /* reserved: DERP relays */
    ENGINE_LOG_DISCO,   /* reserved: disco path discovery */
    ENGINE_LOG_DNS,     /* reserved: MagicDNS */
    ENGINE_LOG_N_CATEGORIES,
};

#define ENGINE_LOG_ALL_CATEGORIES ((1u << ENGINE_LOG_N_CATEGORIES) - 1)

/* Called on the logging thread, possibly with the device lock held: it must
 * not call back into the device. message is valid only during the call. */
typedef void (*engine_log_fn)(enum engine_log_level level, enum engine_log_category category,
                              const char *message, void *user_data);

/* fn NULL: nothing is logged. Returns once no call to the old handler runs. */
void engine_log_set_handler(engine_log_fn fn, void *user_data);
/* Bit (1u << category): that category's info and debug lines are on. */
void engine_log_set_debug_mask(uint32_t mask);
uint32_t engine_log_get_debug_mask(void);

/* "wg", "path", "control", "map", "derp", "disco", "dns". */
const char *engine_log_category_name(enum engine_log_category category);
/* The category named name, or -1. */
int engine_log_category_from_name(const char *name);

/* addr as "a.b.c.d:port" or "[v6]:port" (netip's form), "none" when unset. */
const char *engine_log_sockaddr(const union wg_sockaddr *addr, char out[static IP_PORT_STRLEN]);
/* The same in a buffer that lives as long as the enclosing statement (for log arguments). */
#define ENGINE_LOG_ADDR(addr) engine_log_sockaddr((addr), (char[IP_PORT_STRLEN]){ 0 })

/* Internal to the macros below: handler bit (31) | debug mask. */
extern _Atomic uint32_t engine_log_state;
#define ENGINE_LOG_HANDLER_BIT (1u << 31)

static inline bool
engine_log_enabled(enum engine_log_category category, enum engine_log_level level)
{
    uint32_t state = atomic_load_explicit(&engine_log_state, memory_order_relaxed);
    uint32_t need = ENGINE_LOG_HANDLER_BIT;

    if (level >= ENGINE_LOG_INFO)
        need |= 1u << category;
    return (state & need) == need;
}

void engine_log_print(enum engine_log_category category, enum engine_log_level level,
                      const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The arguments are evaluated only when the line is on. */
#define engine_log(category, level, ...)                                                           \
    do {                                                                                           \
        if (engine_log_enabled((category), (level)))                                               \
            engine_log_print((category), (level), __VA_ARGS__);                                    \
    } while (0)
#define engine_error(category, ...)   engine_log(category, ENGINE_LOG_ERROR, __VA_ARGS__)
#define engine_warning(category, ...) engine_log(category, ENGINE_LOG_WARNING, __VA_ARGS__)
#define engine_info(category, ...)    engine_log(category, ENGINE_LOG_INFO, __VA_ARGS__)
#define engine_debug(category, ...)   engine_log(category, ENGINE_LOG_DEBUG, __VA_ARGS__)
