/* SPDX-License-Identifier: MIT */
/* The limiter's state and its slow path. preload/ calls in here; nothing in src/
 * knows about interposition. */
#ifndef ML_LIMITER_H
#define ML_LIMITER_H

#include "hardlimit.h"
#include "level.h"
#include "memlimit.h"
#include "trim.h"
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

/* Reads the configuration, discovers the limit, finds the trimmer, prints the
 * start-up line when tracing. Idempotent and thread-safe; a concurrent caller
 * returns at once without waiting. */
void ml_core_init(ml_lookup_fn lookup);

/* A thread ran out of allocation budget while allocating `bytes` (already
 * forwarded). Samples usage when due (at most once per millisecond for the whole
 * process) and updates the level. With may_act, it also trims inline when a
 * watermark is crossed: only pass it where no allocator lock can be held (after a
 * malloc-family call returned), never from mmap, which allocators call with their
 * locks held. p is the block (NULL from mmap) and left the budget the thread had
 * not used, for the heap profile's sampling. Returns the thread's next budget in
 * bytes. Keeps errno. */
size_t ml_core_slow(void *p, size_t bytes, size_t left, bool may_act);

/* The container's memory for sysconf, sysinfo and /proc/meminfo (MEMLIMIT_MEMINFO),
 * given the machine's memory and swap: false where the host's is shown (host, no
 * cgroup limit, not started, the cgroup's usage unreadable). Allocation-free; never
 * waits. */
struct ml_meminfo_view;
bool ml_core_container_memory(uint64_t host_total, uint64_t host_swap, struct ml_meminfo_view *v);
/* The view in force, for the start-up line. */
bool ml_core_meminfo_container(void);

/* What the hard limit asks of the core. */
bool ml_core_ready(void);
uint64_t ml_core_estimate(void); /* the last sample plus every byte handed out since */
/* A CRITICAL round was asked of the memlimit thread since this last said so (taken). */
/* Has the process (or, after fork, the child) run for less than ns? An unaware young
 * process far from the limit arms kernel events only after ML_YOUNG_EVENTS_NS: a PSI
 * trigger and three v1 thresholds cost ~35 ms per process, mostly at its exit (the
 * kernel waits for RCU), which made git's real case, a few hundred short processes,
 * 4.5 times slower. (Delaying the thread too, 100 ms, saved another ~2 ms per process
 * but let forked pool workers fill their buffers unwatched: t_pool_default killed.) */
#define ML_YOUNG_EVENTS_NS (1000ULL * 1000000)
bool ml_core_young(uint64_t now, uint64_t ns);
/* Whether the memlimit thread arms kernel events now (see ML_YOUNG_EVENTS_NS). */
bool ml_core_events_now(uint64_t now);
bool ml_core_critical_asked(void);
/* MEMLIMIT_GIVE_UP: exits (status 75) once usage has been above the soft limit for
 * that long; where blocking is allowed (the memlimit thread, the slow path without it). */
void ml_core_give_up_check(uint64_t now);
/* The estimate with every byte handed out since the sample counted twice: what the
 * allocator made of them may be more (size classes, a realloc that moved, extents
 * split: jemalloc's getline pattern made 1.27 bytes of each). Below it, no look. */
uint64_t ml_core_estimate_high(void);
uint64_t ml_core_usage_now(void); /* a sample no older than 1 ms, never waiting */
/* A sample taken now, or, while another thread takes one, the estimate: for the hard
 * limit's admission, where a millisecond's growth is more than its reserve. */
uint64_t ml_core_usage_exact(void);
/* The level a usage figure implies under the limits in force now (the published level
 * is the last sample's, or raised by an estimate): for lines that print a figure. */
enum memlimit_level ml_core_level_of(uint64_t usage);
/* A CRITICAL round (the thread's, waiting up to wait_ns, or an inline trim) where this
 * thread may act; with wait_ns 0 (mmap) only a wake. True if one ran. */
bool ml_core_critical_round(uint64_t wait_ns);

/* What the memlimit thread's operations (threadops.c) ask of the core. */
/* A fresh sample, unless one is under 1 ms old; wait: for another sampler (the
 * thread), else the figure there is. Sets *lv (if lv) to the level. */
uint64_t ml_core_fresh_usage(bool wait, enum memlimit_level *lv);
uint64_t ml_core_last_usage(void); /* the last sample */
void ml_core_thread_started(void); /* the memlimit thread, at the start of each run */
void ml_core_thread_trim(enum memlimit_level lv, uint64_t freed); /* a trim if due, on the thread */
bool ml_core_stalled(uint64_t now);                  /* a kernel stall report is in force */
void ml_core_kernel_event(uint64_t now, bool stall); /* the next slow path samples */
void ml_core_reread_limits(void);                    /* the limit files again */

/* What the public API (api.c) asks of the core. The level and whether the soft
 * limit is reached are one load each (memlimit_level and memlimit_reached's common
 * case); only the core writes them. */
extern _Atomic int ml_core_level_now;
extern _Atomic bool ml_core_reached_now;
static inline enum memlimit_level ml_core_level(void) {
    return (enum memlimit_level)atomic_load_explicit(&ml_core_level_now, memory_order_relaxed);
}
/* memlimit_reached() while reached: a fresh look (it clears when memory was freed) */
bool ml_core_reached_again(void);
static inline bool ml_core_reached(void) {
    if (__builtin_expect(!atomic_load_explicit(&ml_core_reached_now, memory_order_relaxed), 1))
        return false;
    return ml_core_reached_again();
}
int64_t ml_core_set_soft(int64_t bytes); /* < 0: only asks; returns the previous */
void ml_core_stats(struct memlimit_stats *out);

#pragma GCC visibility pop

#endif
