/* The per-thread allocation budget: the whole fast path. A thread may hand out
 * tl_budget more bytes before it must report to the core (ml_core_slow). The
 * comparison is strict so that a zero budget (a new thread, or before the
 * allocator is resolved) always takes the slow path. */
#ifndef ML_BUDGET_H
#define ML_BUDGET_H

#include "next.h"

extern __thread size_t ml_tl_budget TLS_IE;

static inline bool ml_take(size_t n) {
    if (likely(n < ml_tl_budget)) {
        ml_tl_budget -= n;
        return true;
    }
    return false;
}

/* Slow path after a forwarded call that may have grown usage by n bytes. may_act
 * is false from mmap/mremap: allocators call those holding their own locks, so the
 * core must not call back into the allocator (trim, mallctl) from there. */
void ml_after_alloc(size_t n, bool may_act);

#endif
