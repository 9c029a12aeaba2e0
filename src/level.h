/* SPDX-License-Identifier: MIT */
/* Levels from usage and limits: a pure function, so the rules are unit-tested. */
#ifndef ML_LEVEL_H
#define ML_LEVEL_H

#include "memlimit.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

struct ml_limits {
    uint64_t soft;   /* 0: no soft limit */
    uint64_t hard;   /* 0: none */
    uint64_t cgroup; /* the detected cgroup limit, ML_NO_LIMIT or 0 if none */
    bool stalled;    /* the kernel just reported a "full" memory stall (PSI) or hit
                        memory.max / OOM (memory.events) */
};

/* Watermarks, in per mille of the soft limit. */
#define ML_MODERATE_PERMILLE 900 /* MODERATE at 90% of soft */
#define ML_RELEASE_PERMILLE  950 /* reached until usage falls below 95% of soft */
#define ML_CRITICAL_PERMILLE 970 /* CRITICAL at 97% of the cgroup limit */

static inline uint64_t ml_permille(uint64_t v, unsigned pm) {
    return (uint64_t)((unsigned __int128)v * pm / 1000);
}

/* "none", "moderate", "soft", "critical": as trace lines and metrics spell them. */
const char *ml_level_name(enum memlimit_level lv);

/* *reached carries the hysteresis: set at soft, cleared below 95% of soft. */
enum memlimit_level ml_level_compute(uint64_t usage, const struct ml_limits *l, bool *reached);

/* A thread's allocation budget (bytes it may hand out before it reports): 1 MiB far
 * from the limits, down to 64 KiB near them, a sixteenth of the headroom to the
 * moderate watermark (or the hard limit), so the bytes nobody has looked at stay small
 * against it. est: the last sample plus what was handed out since. */
#define ML_CHUNK_MAX ((size_t)1 << 20)
#define ML_CHUNK_MIN ((size_t)64 << 10)
size_t ml_budget(uint64_t est, uint64_t soft, uint64_t hard);

#pragma GCC visibility pop

#endif
