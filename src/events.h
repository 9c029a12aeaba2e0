/* Kernel memory events that wake the memlimit thread when nothing allocates: growth
 * of other processes in the cgroup, page cache, raw mmap. cgroup v1 usage thresholds
 * (cgroup.event_control with an eventfd) are implemented; v2 PSI triggers and
 * memory.events are not yet. */
#ifndef ML_EVENTS_H
#define ML_EVENTS_H

#include <stddef.h>
#include <stdint.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

/* An eventfd (non-blocking, close-on-exec) for thresholds to signal, or -1 with errno. */
int ml_events_eventfd(void);

/* Registers a v1 usage threshold on cgroup directory dir: efd is signalled whenever
 * memory.usage_in_bytes crosses `bytes`, either way. The kernel keeps the
 * registration until efd is closed, so thresholds are only ever added. Returns 0,
 * or an errno value. Descriptors it opens are closed before it returns. */
int ml_events_v1_threshold(const char *dir, int efd, uint64_t bytes);

#pragma GCC visibility pop

#endif
