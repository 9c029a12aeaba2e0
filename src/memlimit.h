/* SPDX-License-Identifier: MIT */
/* memlimit: a soft memory limit for native programs, like Go's GOMEMLIMIT.
 *
 * The same library serves LD_PRELOAD (no code changes) and linking with
 * -lmemlimit (pkg-config memlimit). Define MEMLIMIT_OPTIONAL before including
 * this header to declare every function weak: the program then runs with or
 * without the library and asks memlimit_available() which it is. */
#ifndef MEMLIMIT_H
#define MEMLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifdef MEMLIMIT_OPTIONAL
#define MEMLIMIT_API __attribute__((weak))
#else
#define MEMLIMIT_API
#endif

/* How close usage is to the limits. */
enum memlimit_level {
    MEMLIMIT_LEVEL_NONE,     /* usage below 90% of the soft limit */
    MEMLIMIT_LEVEL_MODERATE, /* at 90% of the soft limit: the allocator is trimmed */
    MEMLIMIT_LEVEL_SOFT,     /* at the soft limit, until usage falls below 95% of it */
    MEMLIMIT_LEVEL_CRITICAL  /* at the hard limit or 97% of the cgroup limit */
};

/* Where the detected limit came from. */
enum memlimit_source {
    MEMLIMIT_SOURCE_NONE,      /* no limit found: the library only watches */
    MEMLIMIT_SOURCE_CGROUP_V1, /* memory.limit_in_bytes or hierarchical_memory_limit */
    MEMLIMIT_SOURCE_CGROUP_V2, /* memory.max or memory.high */
    MEMLIMIT_SOURCE_MEMTOTAL   /* physical memory was the smallest */
};

struct memlimit_stats {
    int64_t soft_limit;     /* bytes; 0 when no soft limit is in force */
    int64_t hard_limit;     /* bytes; 0 when none */
    int64_t detected_limit; /* the cgroup limit capped by physical memory; 0 if none */
    enum memlimit_source source;
    char source_path[256]; /* the file that gave detected_limit */
    int64_t usage;         /* at the last sample, bytes: the cgroup's working set where the scope
                              is the cgroup, else this process's RssAnon + RssShmem */
    int64_t peak_usage;    /* highest sampled usage */
    enum memlimit_level level;
    uint64_t samples;         /* usage samples taken */
    uint64_t trims;           /* allocator trims */
    uint64_t trimmed_bytes;   /* usage released by trims */
    uint64_t callback_rounds; /* reclaim rounds run by the memlimit thread */
    uint64_t callback_calls;  /* reclaim callbacks called */
    uint64_t callback_bytes;  /* bytes callbacks said they freed */
    uint64_t failed_allocs;   /* allocations refused at the hard limit */
};

/* A reclaim callback. `level` says how close the limit is; at SOFT and CRITICAL,
 * `want` is how many bytes usage is above the target (95% of the soft limit); at
 * MODERATE it is 0 (drop what is cheap to rebuild). Return how many bytes you
 * believe you freed. Callbacks run on the library's own thread ("memlimit"), never
 * inside your allocation calls; they may allocate, free, take your locks, register
 * and unregister (themselves included). */
typedef size_t (*memlimit_reclaim_fn)(enum memlimit_level level, size_t want, void *arg);

/* Registers fn; callbacks with a lower priority run first (cheapest to rebuild
 * first), equal priorities in registration order. Returns a handle > 0, or -1 with
 * errno EINVAL (fn is NULL) or ENOSPC (128 callbacks already). The first
 * registration starts the memlimit thread. */
MEMLIMIT_API int memlimit_register(memlimit_reclaim_fn fn, void *arg, int priority);

/* Once it returns 0, fn is not running and will never run again (safe before
 * dlclose). Called from inside a callback it does not wait for that call. Returns
 * -1 with errno EINVAL for an unknown handle. */
MEMLIMIT_API int memlimit_unregister(int handle);

/* True from the moment usage reaches the soft limit until it falls below 95% of
 * it, like go-rtml's IsMemLimitReached(). One atomic load: call it per request. */
MEMLIMIT_API bool memlimit_reached(void);

/* The current level (one atomic load). */
MEMLIMIT_API enum memlimit_level memlimit_level(void);

/* Sets the soft limit in bytes, like Go's debug.SetMemoryLimit; 0 turns it off.
 * A negative argument only queries. Returns the previous soft limit (0 if none). */
MEMLIMIT_API int64_t memlimit_set_limit(int64_t bytes);

/* Fills *out; returns 0, or -1 with errno EINVAL when out is NULL. */
MEMLIMIT_API int memlimit_stats(struct memlimit_stats *out);

/* Writes the sampled heap profile (MEMLIMIT_PROFILE must be set) to path, in the
 * format pprof reads (gperftools heap profile, with the mappings), and its top
 * allocation sites to the log. Returns 0, or -1 with errno: ENOTSUP when profiling
 * is off, EINVAL for a NULL path, or what open/write/rename said. */
MEMLIMIT_API int memlimit_profile_dump(const char *path);

/* The library's release, "MAJOR.MINOR.PATCH" (0.1.0 and on): a static string. */
MEMLIMIT_API const char *memlimit_version(void);

#ifdef MEMLIMIT_OPTIONAL
/* True when the library is loaded (preloaded or linked). */
static inline bool memlimit_available(void) {
    return memlimit_level != NULL;
}
#endif

#ifdef __cplusplus
}
#endif
#endif
