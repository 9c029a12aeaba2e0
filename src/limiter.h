/* The limiter's state and its slow path. preload/ calls in here; nothing in src/
 * knows about interposition. */
#ifndef ML_LIMITER_H
#define ML_LIMITER_H

#include "trim.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

/* Reads the configuration, discovers the limit, finds the trimmer, prints the
 * start-up line when tracing. Idempotent and thread-safe; a concurrent caller
 * returns at once without waiting. */
void ml_core_init(ml_lookup_fn lookup);

/* A thread ran out of allocation budget while allocating `bytes` (already
 * forwarded). Samples usage when due (at most once per millisecond for the whole
 * process) and updates the level. With may_act, it also trims inline when a
 * watermark is crossed: only pass it where no allocator lock can be held (after a
 * malloc-family call returned), never from mmap, which allocators call with their
 * locks held. Returns the thread's next budget in bytes. Keeps errno. */
size_t ml_core_slow(size_t bytes, bool may_act);

/* The budget a thread starts with before the core is ready. */
#define ML_CHUNK_MAX ((size_t)1 << 20)
#define ML_CHUNK_MIN ((size_t)64 << 10)

#pragma GCC visibility pop

#endif
