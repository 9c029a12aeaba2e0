/* SPDX-License-Identifier: MIT */
/* What the kernel cannot reclaim on its own: the number compared with the limits. */
#ifndef ML_USAGE_H
#define ML_USAGE_H

#include "cgroup.h"
#include <stdint.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

/* scope process: resident anonymous memory, /proc/self/statm resident minus shared
 * (= RssAnon). 0 if unreadable, the cause in *err (if err). One open-read-close,
 * about 2 us. */
uint64_t ml_usage_process(int *err);

/* scope cgroup: the working set, v1 usage_in_bytes - total_inactive_file,
 * v2 memory.current - inactive_file. 0 if unreadable, the cause in *err (if err). */
uint64_t ml_usage_cgroup(const struct ml_cgroup *cg, int *err);

/* Parsers, exposed for tests: statm text and a page size; memory.stat text. */
uint64_t ml_parse_statm(const char *text, uint64_t page);
uint64_t ml_working_set(uint64_t usage, const char *stat_text, int version);

#pragma GCC visibility pop

#endif
