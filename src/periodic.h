/* SPDX-License-Identifier: MIT */
/* Output at intervals, from whoever samples: the sample line (MEMLIMIT_TRACE=2, for
 * memlimit-plot) and the Prometheus metrics file (MEMLIMIT_METRICS). */
#ifndef ML_PERIODIC_H
#define ML_PERIODIC_H

#include "config.h"
#include "memlimit.h"

#include <stdbool.h>
#include <stdint.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

/* cfg must outlive the process (the core's configuration). */
void ml_periodic_init(const struct ml_config *cfg);
/* After a sample: writes what is due. st is filled only when the metrics file is due
 * (stats(st) is called then). One caller at a time (the sampler): its buffers are
 * static, as the caller's stack may be small. Allocation-free. */
void ml_periodic(uint64_t now, enum memlimit_level lv, bool reached,
                 void (*stats)(struct memlimit_stats *st));
/* A fork child writes its own files at once. */
void ml_periodic_forked(void);
/* At exit, by the sampler before its last sample: true when that sample is to write
 * the metrics file a last time (so it holds the process's peak), whatever the
 * interval. Not in a fork child whose path has no %p: the file is its parent's. */
bool ml_periodic_arm_exit(void);

#pragma GCC visibility pop

#endif
