/* SPDX-License-Identifier: MIT */
/* The container's view of memory for programs that size themselves from the
 * machine's (GNU sort, libuv's uv_get_total_memory, os.sysconf, psutil): the text of
 * /proc/meminfo with MemTotal, MemFree and MemAvailable made the cgroup's, and the
 * figures sysconf and sysinfo report. Pure: no I/O, no allocation, so that sysconf
 * stays async-signal-safe in practice. */
#ifndef ML_MEMINFO_H
#define ML_MEMINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#pragma GCC visibility push(hidden)

/* What the container has: its limit, and the room left under it (the limit less
 * the cgroup's working set, never below 0), both at most the machine's; and, where
 * the cgroup limits swap (swap set), its swap and the swap it has left. */
struct ml_meminfo_view {
    uint64_t total, avail;
    bool swap;
    uint64_t swap_total, swap_free;
};

/* The view from the cgroup's limit and working set, capped at the machine's total. */
struct ml_meminfo_view ml_meminfo_view(uint64_t limit, uint64_t working_set, uint64_t host_total);

/* Adds the cgroup's swap to the view: a limit (ML_NO_LIMIT: none, and the machine's
 * swap lines stay as they are) capped at the machine's swap, less what it uses. */
void ml_meminfo_swap(struct ml_meminfo_view *v, uint64_t limit, uint64_t used, uint64_t host_swap);

/* Rewrites the kernel's /proc/meminfo text `in` (n bytes) into out (cap bytes):
 * MemTotal, MemFree and MemAvailable (and SwapTotal and SwapFree where the view has
 * swap) become the view's (kB, the kernel's format:
 * the name padded to 16 columns, the number right-aligned), every other line as the
 * kernel wrote it. Returns the length written, or 0 if out is too small. */
size_t ml_meminfo_rewrite(const char *in, size_t n, const struct ml_meminfo_view *v, char *out,
                          size_t cap);

/* Is this path the kernel's meminfo file? "/proc/meminfo", and the spellings a
 * program might build ("/proc/self/../meminfo", doubled slashes). Cheap for paths
 * that are not: the first bytes decide. */
bool ml_meminfo_path(const char *path);

#pragma GCC visibility pop

#endif
