/* SPDX-License-Identifier: MIT */
/* What the kernel cannot reclaim on its own: the number compared with the limits. */
#ifndef ML_USAGE_H
#define ML_USAGE_H

#include "cgroup.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

/* scope process: resident anonymous memory, /proc/self/statm resident minus shared
 * (= RssAnon). 0 if unreadable, the cause in *err (if err). One open-read-close,
 * about 2 us. */
uint64_t ml_usage_process(int *err);

/* The cgroup's working set is its charge less its inactive file cache, read from
 * dir (the cgroup whose limit is in force): the charge, v1 memory.usage_in_bytes or
 * v2 memory.current, one small read (0 if unreadable, the cause in *err); and the
 * inactive file cache, from memory.stat (v1 total_inactive_file, v2 inactive_file),
 * a larger file the caller reads less often. */
uint64_t ml_usage_cgroup_charge(const char *dir, int version, int *err);
uint64_t ml_usage_cgroup_inactive(const char *dir, int version);
/* The cgroup's swap, read from dir: its limit (*limit, ML_NO_LIMIT where none is
 * set) and what it uses (*used), in bytes. v1 limits memory and swap together, so
 * its swap is memory.memsw.limit_in_bytes less memory.limit_in_bytes, and its use
 * memsw.usage_in_bytes less usage_in_bytes; v2 has memory.swap.max and
 * memory.swap.current. False where the files cannot be read (no swap accounting). */
bool ml_usage_cgroup_swap(const char *dir, int version, uint64_t *limit, uint64_t *used);
/* The directory whose charge the OOM killer compares with the limit in force: the
 * cgroup whose file gave it (an ancestor's memory.max), else our own. */
void ml_usage_dir(const struct ml_cgroup *cg, char *out, size_t cap);

/* Parsers, exposed for tests: statm text and a page size; memory.stat text. */
uint64_t ml_parse_statm(const char *text, uint64_t page);
uint64_t ml_working_set(uint64_t usage, const char *stat_text, int version);

#pragma GCC visibility pop

#endif
