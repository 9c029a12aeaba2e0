/* SPDX-License-Identifier: MIT */
/* Heap-dump policy: when and where heap profiles are written (MEMLIMIT_PROFILE).
 * Files are PATH (with %p as the pid) + ".soft" when the soft limit is first reached,
 * ".critical" at CRITICAL, ".signal" on MEMLIMIT_PROFILE_SIGNAL, ".exit" at exit; a
 * fork child without %p writes PATH.PID.reason. The sampling and the file format are
 * profile.c's. */
#ifndef ML_DUMP_H
#define ML_DUMP_H

#include "config.h"
#include "memlimit.h"

#include <stdbool.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

/* Starts the profiler as cfg says (rate, signal); one line if it cannot. cfg must
 * outlive the process (the core's configuration). */
void ml_dump_init(const struct ml_config *cfg);
/* The level was computed: marks the .soft / .critical files due, once each. */
void ml_dump_level(enum memlimit_level lv);
/* Writes what is due; only where no allocator lock can be held (the slow path after
 * the forwarded call, the memlimit thread). */
void ml_dump_run_due(void);
/* memlimit_profile_dump(path): 0 or an errno value. */
int ml_dump_to(const char *path);
/* The .critical profile now, on this thread (no allocator lock may be held), once a
 * process: before an allocation that takes usage past the cgroup limit is made (the
 * kernel may kill the process next). The level's own .critical is then not written
 * over it. */
void ml_dump_critical_now(void);
/* In a fork child: its own files, its own reasons. */
void ml_dump_forked(void);

#pragma GCC visibility pop

#endif
