/* SPDX-License-Identifier: MIT */
/* What memlimit changes in the process itself once a limit is in force, once per
 * process: the allocator's arenas capped (glibc's M_ARENA_MAX, jemalloc's thread
 * placement) and, where they defeat trimming, transparent huge pages off. Fork
 * children inherit both (the kernel keeps the THP flag). */
#ifndef ML_ONLIMIT_H
#define ML_ONLIMIT_H

#include <stdbool.h>

#include "config.h"

#pragma GCC visibility push(hidden)

/* The first call with have_limit decides, where the allocator's locks are not held
 * (start-up, a sample that may act, memlimit_set_limit): caps the arenas and applies
 * thp (the MEMLIMIT_THP choice). Without have_limit it does nothing and decides
 * nothing, so a limit that appears later still gets both. Returns the arena cap, 0 if
 * none (and on every call after the deciding one). */
int ml_onlimit_apply(enum ml_thp thp, bool have_limit);

/* The deciding call was made: the slow path's one-load test. */
bool ml_onlimit_applied(void);

#pragma GCC visibility pop

#endif
