/* SPDX-License-Identifier: MIT */
/* The per-thread allocation budget: the whole fast path. A thread may hand out
 * ml_tl_budget more bytes before it must report to the core (ml_core_slow). A new
 * thread starts at 0, so its first allocation takes the slow path. */
#ifndef ML_BUDGET_H
#define ML_BUDGET_H

#include "next.h"

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

extern __thread size_t ml_tl_budget TLS_IE;
/* What was left of the budget when a take failed (for the heap profile's sampling);
 * SIZE_MAX once the slow path has used it. */
extern __thread size_t ml_tl_left TLS_IE;

/* One subtraction into thread-local memory and a carry check. On a borrow the
 * budget is reset in the cold branch (the caller goes to its slow path, which sets
 * a new one), so a wrapped value never survives. */
static inline bool ml_take(size_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
    /* GCC will not fuse load, sub and store into one memory-destination sub:
     * "sub %n, %fs:budget; jb" is 2 instructions where C gives 4 */
    __asm__ goto("movq ml_tl_budget@gottpoff(%%rip), %%rax\n\t"
                 "subq %0, %%fs:(%%rax)\n\t"
                 "jb %l[borrow]"
                 :
                 : "r"(n)
                 : "rax", "cc", "memory"
                 : borrow);
    return true;
borrow:
#else
    if (likely(!__builtin_sub_overflow(ml_tl_budget, n, &ml_tl_budget))) return true;
#endif
    ml_tl_left = ml_tl_budget + n; /* the budget holds the wrapped difference */
    ml_tl_budget = 0;
    return false;
}

/* For mmap and mremap, which keep what was left in a local: the thread's
 * ml_tl_left may hold what a malloc calling them left (allocators map memory from
 * inside malloc), which must not be overwritten. */
static inline bool ml_take_local(size_t n, size_t *left) {
    if (likely(!__builtin_sub_overflow(ml_tl_budget, n, &ml_tl_budget))) return true;
    *left = ml_tl_budget + n;
    ml_tl_budget = 0;
    return false;
}

/* Slow path after a forwarded call that may have grown usage by n bytes (p: the heap
 * block, NULL for mmap). may_act
 * is false from mmap/mremap: allocators call those holding their own locks, so the
 * core must not call back into the allocator (trim, mallctl) from there. */
void ml_after_alloc(void *p, size_t n, bool may_act);
/* The same after mmap or mremap (never acts: allocators call those holding their
 * locks): left is what ml_take_local saved; p is NULL or ML_PROF_REGION(mapping). */
void ml_after_map(void *p, size_t n, size_t left);

/* With the heap profile on: mmap samples the private anonymous mappings it counts as
 * regions, except the allocator's own (its heap, sampled block by block). */
void ml_mmap_profile_start(void);

/* With the heap profile on: free and realloc send every block to their slow path,
 * where a sampled one is forgotten. */
void ml_alloc_check_every_block(void);

#pragma GCC visibility pop

#endif
