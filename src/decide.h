/* SPDX-License-Identifier: MIT */
/* What the configuration and a discovery decide: the soft and hard limits and how
 * to describe them. Pure, so the library and `memlimit-run --show` agree. */
#ifndef ML_DECIDE_H
#define ML_DECIDE_H

#include "cgroup.h"
#include "config.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

/* The soft limit in bytes; 0 when there is none (MEMLIMIT=off, or no limit found
 * and no MEMLIMIT in bytes: then the library only watches). From the discovered
 * limits (struct ml_cgroup's limit and cgroup_limit, ML_NO_LIMIT for none). */
uint64_t ml_decide_soft(const struct ml_config *cfg, uint64_t limit, uint64_t cgroup_limit);

/* The hard limit in bytes (MEMLIMIT_HARD); 0: none. Percentages follow the detected
 * limit, so both are re-derived when it changes. */
uint64_t ml_decide_hard(const struct ml_config *cfg, uint64_t limit);

/* A hard limit at or below the soft limit (both in force) makes allocations fail
 * before the soft limit's trims and callbacks can act: true, with the line that says
 * so in out. Pure. */
bool ml_decide_hard_warning(uint64_t soft, uint64_t hard, char *out, size_t cap);

/* "soft 172.8MiB (90% of cgroup v1 memory.limit_in_bytes 192.0MiB at /sys/...)" */
void ml_describe_soft(char *out, size_t cap, const struct ml_config *cfg,
                      const struct ml_cgroup *cg, uint64_t soft);

/* What usage is compared with the limits. The cgroup's working set (its charge less
 * inactive file cache, what the OOM killer weighs) with scope cgroup, and with scope
 * auto whenever a cgroup limit is the one in force and the soft limit derives from
 * it; otherwise (scope process, no cgroup limit, MEMLIMIT or memlimit_set_limit in
 * bytes: a per-process budget) this process's resident anonymous memory. */
bool ml_decide_by_cgroup(enum ml_scope scope, const struct ml_cgroup *cg, bool soft_explicit);

/* "auto (cgroup)", "process", ...: the scope and, for auto, what it measures */
const char *ml_scope_name(enum ml_scope scope, bool by_cgroup);

/* A callback's share of what a round wants freed when usage is the cgroup's: the
 * excess in proportion to this process's own resident memory, so N processes do not
 * each free the whole excess. At least 1 MiB (unless the excess is smaller): a
 * process whose own figure is small may still hold a cache. */
uint64_t ml_decide_share(uint64_t want, uint64_t own, uint64_t usage);

/* How long an allocating thread waits for the memlimit thread's pass when it has
 * fallen behind (allocators pay when they outrun the watch): 0 below the soft limit,
 * then in proportion to how far usage is into the headroom between the soft limit and
 * `limit` (the cgroup's or the hard limit), most_ns at it; at least 1 ms. */
uint64_t ml_decide_assist_ns(uint64_t usage, uint64_t soft, uint64_t limit, uint64_t most_ns);

/* A round's target, lowered by the growth at `rate` bytes/s over `reaction_ns` (what
 * arrives before the round's memory comes back), never below `floor`. */
uint64_t ml_decide_paced_target(uint64_t target, uint64_t floor, uint64_t rate,
                                uint64_t reaction_ns);

/* How long the memlimit thread may sleep before it samples again: base (0.5 s idle,
 * 5 ms at MODERATE and above), shortened to a quarter of the time usage needs at its
 * recent growth rate (bytes per second) to reach the next mark (the soft limit, then
 * the limit beyond it), and to the time it needs at `assumed` bytes per second
 * (growth not seen yet); at least 1 ms. Kernel thresholds do this on cgroup v1; v2
 * has none. */
uint64_t ml_decide_wait_ns(uint64_t usage, uint64_t next_mark, uint64_t rate, uint64_t assumed,
                           uint64_t base);

/* Whether to turn transparent huge pages off for this process once a cgroup limit
 * is in force (prctl PR_SET_THP_DISABLE). auto: only where the kernel's mode is
 * "always" (/sys/kernel/mm/transparent_hugepage/enabled, thp_enabled: its text) and
 * the allocator is jemalloc, whose purges free parts of huge pages that stay
 * charged to the cgroup until the kernel splits them (on cgroup v2, the
 * fragmentation workload was killed in 7 of 8 runs under "always", none under
 * "madvise"); never: wherever a limit is in force; keep: never. */
bool ml_decide_thp_off(enum ml_thp thp, const char *thp_enabled, bool jemalloc, bool limit);

/* How many allocator arenas to allow when a limit is set: one per CPU this process
 * may run on, at least 2. */
unsigned ml_decide_arenas(void);

#pragma GCC visibility pop

#endif
