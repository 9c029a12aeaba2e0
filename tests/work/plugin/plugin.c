/* SPDX-License-Identifier: MIT */
/* A plugin that registers a reclaim callback in its constructor and unregisters it
 * in its destructor: after dlclose its code is gone, so memlimit_unregister must
 * not return while the callback runs. Built by tests/integration/t_stress.sh. */
#define MEMLIMIT_OPTIONAL
#include "memlimit.h"

#include <stdlib.h>
#include <string.h>

static int handle;
static char *cache;

static size_t drop(enum memlimit_level level, size_t want, void *arg) {
    (void)level, (void)want, (void)arg;
    size_t n = strlen(cache);
    memset(cache, 'x', n); /* touches plugin data: must never run after dlclose */
    return n;
}

__attribute__((constructor)) static void load(void) {
    cache = malloc(4096);
    memset(cache, 'a', 4095);
    cache[4095] = '\0';
    if (memlimit_available()) handle = memlimit_register(drop, NULL, 1);
}

__attribute__((destructor)) static void unload(void) {
    if (handle > 0) memlimit_unregister(handle);
    free(cache);
    cache = NULL;
}
