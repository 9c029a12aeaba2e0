/* SPDX-License-Identifier: MIT */
/* The stats in Prometheus text exposition format (version 0.0.4), for node_exporter's
 * textfile collector or a sidecar. Allocation-free: callable from the sampler. */
#ifndef ML_METRICS_H
#define ML_METRICS_H

#include "memlimit.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

/* What usage measured: the figures that depend on it (usage, peak, level, reached)
 * say so in their HELP text and a label scope="process" or scope="cgroup", as the
 * processes of one container may all export the same cgroup-wide figure. */
enum ml_metrics_scope {
    ML_METRICS_SCOPE_IN_FORCE, /* the limiter's now (ml_limits_by_cgroup): the default */
    ML_METRICS_SCOPE_PROCESS,
    ML_METRICS_SCOPE_CGROUP,
};

/* What the metrics hold beyond the public stats (whose struct is the API's, fixed). */
struct ml_metrics_extra {
    uint64_t trim_cpu_ns; /* memlimit_trim_cpu_seconds_total */
    enum ml_metrics_scope scope;
};

/* Formats *st and *x (NULL: zeros, the scope in force) into buf (NUL-terminated);
 * returns the length, or 0 if cap is too small. Every sample carries the label
 * pid="<pid>"; those that depend on the scope, scope="..." after it. */
size_t ml_metrics_format(char *buf, size_t cap, const struct memlimit_stats *st,
                         const struct ml_metrics_extra *x, bool reached, int pid);

/* Writes the text to path atomically: a temporary file beside it, then rename(2),
 * so a reader never sees half a file. "%p" in path becomes the pid (one file per
 * process; ml_path_expand). Returns 0, or an errno value: ENAMETOOLONG for a path
 * of PATH_MAX bytes or more once expanded (refused, never cut short), EBUSY while
 * another call is writing. One writer at a time: the limiter's sampler. */
int ml_metrics_write(const char *path, const char *text, size_t len, int pid);

#pragma GCC visibility pop

#endif
