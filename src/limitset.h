/* SPDX-License-Identifier: MIT */
/* The limits in force: discovery's result, published for readers (stats, the
 * memlimit thread); the soft and hard limits derived from it and derived again when
 * it changes (an in-place pod resize, a move to another cgroup); and an explicit
 * soft limit (MEMLIMIT in bytes, memlimit_set_limit) that derivation never
 * overwrites. Discovery and re-reading run for the sampler only (one at a time),
 * with their buffers in static space. */
#ifndef ML_LIMITSET_H
#define ML_LIMITSET_H

#include "config.h"
#include "memlimit.h"
#include "watch.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

/* At start-up. now: discovers, derives, and says what discovery warned about;
 * otherwise the first sample does (ml_limits_refresh_if_due), and until then the
 * limits are those without a cgroup limit. cfg must outlive the process (the
 * core's configuration). */
void ml_limits_init(const struct ml_config *cfg, bool now);
/* The first discovery has run: stats, the watch and the start-up line need it. */
bool ml_limits_ready(void);

uint64_t ml_limits_soft(void);   /* 0: none */
uint64_t ml_limits_cgroup(void); /* the cgroup files' limit; ML_NO_LIMIT if none */
/* memlimit_set_limit: < 0 only asks. Returns the previous soft limit. */
int64_t ml_limits_set_soft(int64_t bytes);

/* Sampler only. Full re-discovery when due (every MEMLIMIT_REFRESH, or at once after
 * ml_limits_refresh_soon); the limit files read again (the thread's half-second
 * look). */
void ml_limits_refresh_if_due(uint64_t now);
void ml_limits_refresh_soon(void);
void ml_limits_reread(void);
/* Usage is the cgroup's working set, not this process's (ml_decide_by_cgroup). */
bool ml_limits_by_cgroup(void);
/* Sampler only: the working set of the cgroup whose limit is in force, 0 and *err if
 * the charge is unreadable; memory.stat is read at most every 100 ms. */
uint64_t ml_limits_cgroup_usage(uint64_t now, int *err);
/* Sampler only: that cgroup's swap limit (ML_NO_LIMIT: none) and use; false where
 * unreadable (ml_usage_cgroup_swap). */
bool ml_limits_cgroup_swap(uint64_t *limit, uint64_t *used);

/* The cgroup for the kernel-event watch, with the usage thresholds wanted on v1;
 * dir and v2dir (ML_PATH_MAX each) receive the paths. Any thread. */
void ml_limits_watch_view(struct ml_watch_view *v, char *dir, char *v2dir);
/* detected_limit, source and source_path of memlimit_stats. Any thread. */
void ml_limits_stats(struct memlimit_stats *out);
/* The start-up line's account of the soft limit ("soft 460.8MiB (90% of ...)"). */
void ml_limits_describe(char *out, size_t cap);
/* In a fork child: a lock held by a thread that is not there. */
void ml_limits_forked(void);

#pragma GCC visibility pop

#endif
