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
 * locks held. p is the block (NULL from mmap) and left the budget the thread had
 * not used, for the heap profile's sampling. Returns the thread's next budget in
 * bytes. Keeps errno. */
size_t ml_core_slow(void *p, size_t bytes, size_t left, bool may_act);

/* The hard limit (MEMLIMIT_HARD): may an allocation of n bytes proceed? Near the
 * limit it takes a fresh sample; at it, with may_wait, it first lets a CRITICAL
 * round run (waiting up to MEMLIMIT_HARD_WAIT for the thread, or trimming inline).
 * Small allocations (64 KiB or less) may use a reserve past the limit so a program
 * can unwind. Call before forwarding; may_wait only where no allocator lock can be
 * held. Keeps errno. */
bool ml_core_admit(size_t n, bool may_wait);

/* The same for a malloc-family call made from code address `caller` (its return
 * address): past the hard limit the language runtime gets a larger reserve than the
 * application, and the dynamic loader is never refused. */
bool ml_core_admit_from(size_t n, bool may_wait, const void *caller);

/* Cheap: could n more bytes reach the hard limit? (Before asking something costly
 * about an allocation, such as what kind of mapping an mremap grows.) */
bool ml_core_hard_near(size_t n);

/* The budget a thread starts with before the core is ready. */
#define ML_CHUNK_MAX ((size_t)1 << 20)
#define ML_CHUNK_MIN ((size_t)64 << 10)

#pragma GCC visibility pop

#endif
