/* SPDX-License-Identifier: MIT */
/* The sampled heap profile (MEMLIMIT_PROFILE). Allocations are sampled by bytes with
 * a Poisson process (the gap to the next sampled byte is exponential with mean
 * `rate`), so an allocation of n bytes is sampled with probability 1-exp(-n/rate);
 * a sampled allocation's stack is captured with libunwind and deduplicated into a
 * table in memory mapped directly, and its pointer kept until it is freed. Private
 * anonymous mmap regions are sampled the same way, from the same stream of bytes,
 * and kept as address ranges until munmap (or mremap) takes them. Nothing here calls
 * malloc. Output: the gperftools heap profile text ("heap_v2"), which
 * pprof reads, with the process's mappings so it symbolises offline. */
#ifndef ML_PROFILE_H
#define ML_PROFILE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile_regions.h"

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

/* What the profile takes from the layer that interposes the allocator, so that src/
 * never calls one of its entry points: free, for the names that __cxa_demangle
 * allocates with the program's malloc (without it, top sites stay mangled). */
struct ml_prof_deps {
    void (*free)(void *);
};
/* Copies *d; called before ml_prof_init (by the preload layer's constructor, before
 * ml_core_init). */
void ml_prof_set_deps(const struct ml_prof_deps *d);

/* Maps the tables and loads libunwind. Returns 0, or an errno value (nothing is
 * sampled then). */
int ml_prof_init(uint64_t rate);
/* This thread's sampling sequence from a fixed seed (tests: the estimates of a run
 * are then the same in every run; the library seeds from the clock). */
void ml_prof_seed(uint64_t seed);
bool ml_prof_enabled(void); /* true after a successful ml_prof_init */

/* The allocation slow path of a thread: its budget ran out while allocating n bytes
 * at p (NULL: not a heap block, e.g. mmap), with `left` bytes of the budget unused.
 * Samples p when the next sample point falls inside it. Returns the largest budget
 * the thread may have before the next sample point. */
size_t ml_prof_account(void *p, size_t n, size_t left);
/* The budget actually issued (at most what ml_prof_account returned). */
void ml_prof_issued(size_t budget);

/* ml_prof_account's p for an mmap region at page-aligned p (its n bytes are rounded up
 * to pages): the low bit, never set in a heap block, tells the two apart, so the slow
 * path between (ml_core_slow) carries it unchanged. */
#define ML_PROF_REGION(p) ((void *)((uintptr_t)(p) | 1))

/* Live sampled regions; munmap's test without the lock: 0 means none to forget. */
extern _Atomic uint32_t ml_prof_nregions;
static inline bool ml_prof_regions_live(void) {
    /* relaxed: a "yes" is followed by the profile's lock, which orders the rest */
    return atomic_load_explicit(&ml_prof_nregions, memory_order_relaxed) != 0;
}
/* munmap (or a MAP_FIXED mapping over it) of [a, a+len), before the call (after it,
 * another thread could map and sample the same addresses): a sampled region there is
 * forgotten, or shrinks to what stays mapped (a hole splits it in two). */
void ml_prof_unmap(const void *a, size_t len);

/* mremap of a sampled region: begin takes the regions in [old, old+len) out before
 * the call, end puts them back at the new address with the new length (or, after a
 * failed call, at old with len). The part that reached the old end follows the size. */
#define ML_PROF_MOVE_MAX 4 /* regions moved by one mremap; more are forgotten */
struct ml_prof_move {
    uint32_t n;
    uintptr_t old_lo, old_hi;
    struct ml_prof_region r[ML_PROF_MOVE_MAX];
};
void ml_prof_move_begin(struct ml_prof_move *m, const void *old, size_t len);
void ml_prof_move_end(struct ml_prof_move *m, const void *to, size_t len);

/* A block is freed or moved by realloc: if it was sampled, it is no longer live. */
void ml_prof_forget(void *p);
/* realloc of a block that may be sampled: begin takes its record out (false if it has
 * none) before the allocator frees or moves it; end puts it back at the new address
 * with the new size n (a sampled block stays sampled through realloc, with its
 * stack), or at the old address if realloc failed (q NULL, n > 0), and sets the
 * size of a block sampled during the realloc (its growth) to the whole n. */
struct ml_prof_held {
    uint32_t stack;
    size_t size;
};
bool ml_prof_realloc_begin(void *p, struct ml_prof_held *h);
void ml_prof_realloc_end(void *old, void *q, size_t n, const struct ml_prof_held *h);
/* free's lock-free test: false means p is certainly not a live sampled block. */
bool ml_prof_maybe_sampled(const void *p);

/* Writes the profile to path: into a temporary beside it with a random name, created
 * O_EXCL|O_NOFOLLOW, 0600, then renamed over path. Writes may run at once, each with
 * its own buffer (mapped, not malloc'd). Async-signal-safe when try_only: gives up
 * with EBUSY instead of waiting for the table. Returns 0 or an errno value. */
int ml_prof_write(const char *path, bool try_only);

/* Calls line() with up to n lines naming the allocation sites that hold the most
 * live bytes (estimated), symbolised in the process. Not for signal handlers. */
void ml_prof_top(int n, void (*line)(const char *text));

/* Totals, estimated (scaled up from the samples). */
struct ml_prof_totals {
    uint64_t live_bytes, live_objects, alloc_bytes, alloc_objects, samples, dropped;
};
void ml_prof_totals(struct ml_prof_totals *out);

/* For the writers (profile_out.c): a recorded stack, its raw sample counts and sizes. */
#define ML_PROF_NSTACKS 8192
struct ml_prof_stack {
    uint64_t live_n, live_b, alloc_n, alloc_b;
    uint32_t depth;
    const uintptr_t *pc; /* stacks are never removed: stays valid */
};
/* Under the table's lock (try_only: EBUSY at once if held, for the signal handler):
 * begin with the totals, then fn for every recorded stack. Neither may allocate. */
int ml_prof_each(bool try_only, void (*begin)(const struct ml_prof_stack *total, void *arg),
                 void (*fn)(const struct ml_prof_stack *s, void *arg), void *arg);
uint64_t ml_prof_rate(void);
/* pprof's estimate for n samples of b bytes in all: objects and bytes they stand for */
void ml_prof_scale(uint64_t n, uint64_t b, double *on, double *ob);

/* Fork: the table is locked across fork, so the child inherits it consistent. */
void ml_prof_atfork_prepare(void);
void ml_prof_atfork_release(void);

#pragma GCC visibility pop

#endif
