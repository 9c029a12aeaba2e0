/* SPDX-License-Identifier: MIT */
/* The kernel's memory events, as one set of sources the memlimit thread polls: an
 * eventfd (our own wakes, and cgroup v1 usage thresholds), PSI triggers on the
 * cgroup's memory.pressure or systemd's $MEMORY_PRESSURE_WATCH, and cgroup v2
 * memory.events. Which sources, opening them, re-creating them in a fork child,
 * checking a descriptor is still ours before each use, and reading what fired.
 * What the level does with it is the core's. Thread-side only (one thread). */
#ifndef ML_WATCH_H
#define ML_WATCH_H

#include "cgroup.h"
#include "config.h"

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

/* Which sources the watch would open: a pure function of the cgroup, the root of the
 * filesystem ("" for the real one) and systemd's watch. memlimit-run --show prints it. */
enum ml_watch_psi { ML_WATCH_PSI_OURS, ML_WATCH_PSI_SYSTEMD, ML_WATCH_PSI_NONE };
struct ml_watch_plan {
    enum ml_watch_psi psi;
    char psi_path[ML_PATH_MAX + 32]; /* ours: the memory.pressure file; systemd: its watch */
    bool psi_exists;                 /* ours: that file exists */
    bool memory_events;              /* cgroup v2: memory.events */
    bool v1_thresholds;              /* cgroup v1: usage thresholds */
};
void ml_watch_plan(int version, const char *v2dir, const char *root, const char *watch,
                   struct ml_watch_plan *out);

/* Once, before the thread runs: the configuration's events mode, tracing, and
 * systemd's protocol ($MEMORY_PRESSURE_WATCH and the base64 $MEMORY_PRESSURE_WRITE). */
void ml_watch_init(const struct ml_config *cfg);

/* What the core tells the watch each pass: the cgroup, and the usage thresholds it
 * wants on v1 (0: none). */
struct ml_watch_view {
    int version;
    const char *dir, *v2dir;
    uint64_t marks[3];
};

/* Opens what is missing (once per process; a fork child makes its own) and fills
 * fds: fds[0] is the eventfd the slow path's wakes go to, the others the kernel's
 * sources with their events; *ino is fds[0]'s inode, taken when it was created (the
 * application may close it and reuse the number at any time after). Returns how
 * many, 0 when events are off or failed (the thread then sleeps on its futex).
 * lost: fds[0] was found closed behind our back. */
int ml_watch_arm(const struct ml_watch_view *v, struct pollfd *fds, int cap, bool lost,
                 uint64_t *ino);

/* cgroup v1 usage thresholds are registered at every mark in this process: the
 * kernel wakes the thread when usage crosses one, so it need not look for growth it
 * has not seen yet. */
bool ml_watch_thresholds_armed(void);

/* After poll, with fds[1..n) as armed and their revents: ML_WATCH_ANY when a source
 * reported pressure, ML_WATCH_STALL when it was a stall (PSI "full", memory.events
 * max or oom). Drops sources that were closed, went away or cannot be read. */
enum { ML_WATCH_ANY = 1, ML_WATCH_STALL = 2 };
unsigned ml_watch_fired(const struct pollfd *fds, int n);

#pragma GCC visibility pop

#endif
