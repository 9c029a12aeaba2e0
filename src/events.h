/* SPDX-License-Identifier: MIT */
/* Kernel memory events that wake the memlimit thread when nothing allocates: growth
 * of other processes in the cgroup, page cache, raw mmap. cgroup v1 usage thresholds
 * (cgroup.event_control with an eventfd), PSI triggers, cgroup v2 memory.events and
 * systemd's memory-pressure watch. Opening and reading only; what to do with them is
 * the limiter's. Allocation-free. */
#ifndef ML_EVENTS_H
#define ML_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "pressure.h"

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

/* An eventfd (non-blocking, close-on-exec) for thresholds to signal, or -1 with errno. */
int ml_events_eventfd(void);

/* Registers a v1 usage threshold on cgroup directory dir: efd is signalled whenever
 * memory.usage_in_bytes crosses `bytes`, either way. The kernel keeps the
 * registration until efd is closed, so thresholds are only ever added. Returns 0,
 * or an errno value. Descriptors it opens are closed before it returns. */
int ml_events_v1_threshold(const char *dir, int efd, uint64_t bytes);

/* A PSI trigger on path ("some 100000 2000000"): the descriptor to poll for POLLPRI,
 * or -errno. The kernel keeps the trigger while the descriptor is open. */
int ml_events_psi_open(const char *path, const void *trigger, size_t len);

/* Where our own PSI triggers go: the cgroup2 group's memory.pressure (v2dir, which
 * hybrid systems have too), else root + /proc/pressure/memory, the whole machine's. */
void ml_events_psi_path(char *out, size_t cap, const char *v2dir, const char *root);

/* systemd's $MEMORY_PRESSURE_WATCH: a regular (PSI) file gets the trigger w written
 * and is polled for POLLPRI; a FIFO is polled for POLLIN; an AF_UNIX socket is
 * connected, sent w and polled for POLLIN. *events says which. -errno on failure. */
int ml_events_watch_open(const char *path, const void *w, size_t wlen, short *events);

/* cgroup v2 memory.events in dir: a descriptor to poll for POLLPRI (the kernel
 * signals every change of a counter) and its counters now, or -errno. */
int ml_events_memevents_open(const char *dir, struct ml_memory_events *now);
/* Reads the counters again (and so re-arms POLLPRI). 0 or an errno value. */
int ml_events_memevents_read(int fd, struct ml_memory_events *out);

#pragma GCC visibility pop

#endif
