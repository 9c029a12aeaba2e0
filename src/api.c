/* SPDX-License-Identifier: MIT */
/* The public API (memlimit.h), exported: argument checks and errno over the core,
 * the callback registry and the heap dump. */
#include "dump.h"
#include "limiter.h"
#include "memlimit.h"
#include "profile.h"
#include "reclaim.h"
#include "version.h"

#include <errno.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT bool memlimit_reached(void) {
    return ml_core_reached();
}

EXPORT enum memlimit_level memlimit_level(void) {
    return ml_core_level();
}

EXPORT int64_t memlimit_set_limit(int64_t bytes) {
    return ml_core_set_soft(bytes);
}

EXPORT int memlimit_stats(struct memlimit_stats *out) {
    if (!out) {
        errno = EINVAL;
        return -1;
    }
    ml_core_stats(out);
    return 0;
}

EXPORT int memlimit_register(memlimit_reclaim_fn fn, void *arg, int priority) {
    return ml_reclaim_register(fn, arg, priority);
}

EXPORT int memlimit_unregister(int handle) {
    return ml_reclaim_unregister(handle);
}

EXPORT int memlimit_profile_dump(const char *path) {
    if (!ml_prof_enabled()) {
        errno = ENOTSUP;
        return -1;
    }
    if (!path) {
        errno = EINVAL;
        return -1;
    }
    int err = ml_dump_to(path);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

EXPORT const char *memlimit_version(void) {
    return ML_VERSION;
}
