/* SPDX-License-Identifier: MIT */
/* What the configuration and a discovery decide: the soft and hard limits and how
 * to describe them. Pure, so the library and `memlimit-run --show` agree. */
#ifndef ML_DECIDE_H
#define ML_DECIDE_H

#include "cgroup.h"
#include "config.h"
#include <stddef.h>
#include <stdint.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

/* The soft limit in bytes; 0 when there is none (MEMLIMIT=off, or no limit found
 * and no MEMLIMIT in bytes: then the library only watches). */
uint64_t ml_decide_soft(const struct ml_config *cfg, const struct ml_cgroup *cg);

/* The hard limit in bytes (MEMLIMIT_HARD); 0: none. Percentages follow the detected
 * limit, so both are re-derived when it changes. */
uint64_t ml_decide_hard(const struct ml_config *cfg, const struct ml_cgroup *cg);

/* "soft 172.8MiB (90% of cgroup v1 memory.limit_in_bytes 192.0MiB at /sys/...)" */
void ml_describe_soft(char *out, size_t cap, const struct ml_config *cfg,
                      const struct ml_cgroup *cg, uint64_t soft);

/* How many allocator arenas to allow when a limit is set: one per CPU this process
 * may run on, at least 2. */
unsigned ml_decide_arenas(void);

#pragma GCC visibility pop

#endif
