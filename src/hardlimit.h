/* SPDX-License-Identifier: MIT */
/* The hard limit (MEMLIMIT_HARD): whether an allocation may proceed, the reserves
 * past the limit, and the refusal line. Asks the core for usage and for a CRITICAL
 * round; holds nothing of its own while it does. */
#ifndef ML_HARDLIMIT_H
#define ML_HARDLIMIT_H

#include "caller.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

/* The limit in force (0: none), set by the core whenever limits are derived, and
 * how long an allocation may wait for a CRITICAL round (MEMLIMIT_HARD_WAIT). */
void ml_hard_set(uint64_t bytes);
void ml_hard_set_wait(uint32_t ms);
uint64_t ml_hard_get(void);
/* Allocations refused so far. */
uint64_t ml_hard_refused(void);

/* May n bytes be allocated by code at `caller` (its return address; NULL: the
 * application)? Near the limit it takes a fresh sample; at it, with may_wait, it
 * first lets a CRITICAL round run. Small allocations (64 KiB or less) may use a
 * reserve past the limit so a program can unwind, the language runtime a larger one,
 * and the dynamic loader is never refused. may_wait only where no allocator lock can
 * be held. Keeps errno. */
bool ml_hard_admit(size_t n, bool may_wait, const void *caller);

/* The decision past the limit (usage + n >= h), pure: may n bytes still go, from the
 * reserve of `who`? The application's reserve is 1/32 of the limit (1 to 32 MiB) for
 * requests of at most 64 KiB, the runtime's twice that, the loader's unbounded. */
bool ml_hard_past(uint64_t h, uint64_t usage, size_t n, enum ml_caller who);

/* Cheap: could n more bytes reach the hard limit? (Before asking something costly
 * about an allocation, such as what kind of mapping an mremap grows.) */
bool ml_hard_near(size_t n);

#pragma GCC visibility pop

#endif
