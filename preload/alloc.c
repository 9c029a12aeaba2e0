/* SPDX-License-Identifier: MIT */
/* The malloc family. Each entry point: an overflow check where the C library
 * makes one, the budget (ml_take), and a tail call to the next allocator. Anything
 * unusual (first call of a thread, budget spent, huge or invalid sizes, blocks from
 * the bootstrap arena) goes to a noinline slow path. */
#include "../src/limiter.h"
#include "../src/profile.h"
#include "budget.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define SLOW   __attribute__((noinline, cold))
/* who called the entry point: the hard limit's reserve depends on it (the dynamic
 * loader and the C runtime must still get memory after the application ate its
 * share); evaluated only on the way to a slow path */
#define CALLER __builtin_return_address(0)

__thread size_t ml_tl_budget TLS_IE;
__thread size_t ml_tl_left TLS_IE = SIZE_MAX;
static __thread bool tl_in_core TLS_IE;
uintptr_t ml_special_base = (uintptr_t)ml_boot_arena, ml_special_size = ML_BOOT_SIZE;

void ml_alloc_check_every_block(void) {
    /* a sampled block can be anywhere: every free and realloc looks (a counter test) */
    ml_special_base = 0;
    ml_special_size = UINTPTR_MAX;
}

/* left: what the thread had unused, unless a take that failed saved its own figure
 * (an allocator mapping memory inside a malloc whose budget ran out) */
static void after(void *p, size_t n, size_t left, bool may_act) {
    if (tl_in_core) {
        /* the core's own calls (dlsym, atfork, libunwind): budget stays 0, and what
         * their take saved is not the thread's (a later mmap would read it) */
        ml_tl_left = SIZE_MAX;
        return;
    }
    tl_in_core = true;
    if (ml_tl_left != SIZE_MAX) left = ml_tl_left;
    ml_tl_left = SIZE_MAX;
    ml_tl_budget = ml_core_slow(p, n, left, may_act);
    tl_in_core = false;
}

void ml_after_alloc(void *p, size_t n, bool may_act) {
    after(p, n, ml_tl_budget, may_act);
}

void ml_after_map(void *p, size_t n, size_t left) {
    after(p, n, left, false);
}

/* free and realloc of a block the heap profile may have sampled (allocation-free) */
static inline void forget(void *p) {
    ml_prof_forget(p);
}

static size_t page_size(void) {
    static size_t page;
    if (unlikely(!page)) page = (size_t)sysconf(_SC_PAGESIZE);
    return page;
}

/* glibc rejects sizes above PTRDIFF_MAX; some allocators fail without errno */
static inline bool too_big(size_t n) {
    return n > (size_t)PTRDIFF_MAX;
}

static void *enomem(void) {
    errno = ENOMEM;
    return NULL;
}

/* ---- malloc ---- */

static SLOW void *malloc_slow(size_t n, const void *caller) {
    if (unlikely(!ml_resolve())) return ml_boot_alloc(n, 16);
    if (too_big(n) || !ml_hard_admit(n, true, caller)) return enomem();
    void *p = ml_next.malloc(n);
    if (unlikely(!p)) return enomem();
    ml_after_alloc(p, n, true);
    return p;
}

EXPORT void *malloc(size_t n) {
    if (ml_take(n)) return ml_next.malloc(n);
    return malloc_slow(n, CALLER);
}

static void free_special(void *p) {
    if (unlikely(ml_is_boot(p))) return; /* static bootstrap memory is never returned */
    forget(p);
    ml_next.free(p);
}

EXPORT void free(void *p) {
    if (unlikely(ml_is_special(p))) return free_special(p);
    ml_next.free(p);
}

/* ---- calloc ---- */

static SLOW void *calloc_slow(size_t a, size_t b, size_t n, const void *caller) {
    if (unlikely(!ml_resolve())) return ml_boot_alloc(n, 16); /* static: already zero */
    if (too_big(n) || !ml_hard_admit(n, true, caller)) return enomem();
    void *p = ml_next.calloc(a, b);
    if (unlikely(!p)) return enomem();
    ml_after_alloc(p, n, true);
    return p;
}

EXPORT void *calloc(size_t a, size_t b) {
    size_t n;
    if (unlikely(__builtin_mul_overflow(a, b, &n))) return enomem();
    if (ml_take(n)) return ml_next.calloc(a, b);
    return calloc_slow(a, b, n, CALLER);
}

/* ---- realloc: only growth counts ---- */

static SLOW void *realloc_slow(void *p, size_t n, size_t grow, const void *caller) {
    if (unlikely(!ml_resolve())) {
        void *q = ml_boot_alloc(n, 16);
        if (q && p) memcpy(q, p, ml_boot_size(p) < n ? ml_boot_size(p) : n);
        return q;
    }
    if (too_big(n) || !ml_hard_admit(grow, true, caller)) return enomem();
    if (ml_is_boot(p)) { /* moving a bootstrap block into the real allocator */
        void *q = ml_next.malloc(n ? n : 1);
        if (!q) return enomem();
        size_t old = ml_boot_size(p);
        memcpy(q, p, old < n ? old : n);
        ml_after_alloc(q, n, true);
        return q;
    }
    void *q = ml_next.realloc(p, n);
    if (unlikely(!q && n)) return enomem();
    if (grow) ml_after_alloc(q, grow, true);
    return q;
}

static inline void *realloc_heap(void *p, size_t n, const void *caller) {
    size_t old = ml_next.malloc_usable_size(p);
    size_t grow = n > old ? n - old : 0;
    if (likely(grow == 0 || ml_take(grow))) return ml_next.realloc(p, n);
    return realloc_slow(p, n, grow, caller);
}

/* profiling: a sampled block stays sampled, resized (apart, so that realloc's own
 * path keeps no frame) */
static SLOW void *realloc_profiled(void *p, size_t n, const void *caller) {
    struct ml_prof_held h;
    bool had = ml_prof_realloc_begin(p, &h);
    void *q = realloc_heap(p, n, caller);
    ml_prof_realloc_end(p, q, n, had ? &h : NULL);
    return q;
}

EXPORT void *realloc(void *p, size_t n) {
    if (likely(p && !ml_is_special(p))) return realloc_heap(p, n, CALLER);
    if (p && !ml_is_boot(p)) return realloc_profiled(p, n, CALLER);
    if (!p && ml_take(n)) return ml_next.realloc(NULL, n);
    return realloc_slow(p, n, n, CALLER);
}

EXPORT void *reallocarray(void *p, size_t a, size_t b) {
    size_t n;
    if (unlikely(__builtin_mul_overflow(a, b, &n))) return enomem();
    return realloc(p, n);
}

/* ---- aligned allocation ---- */

/* glibc's rules: a bad alignment for memalign/aligned_alloc is rounded up to a
 * power of two (EINVAL only above SIZE_MAX/2+1); below 16 any allocator's minimum
 * alignment serves. */
static bool fix_alignment(size_t *al) {
    size_t a = *al;
    if (a > SIZE_MAX / 2 + 1) return false;
    if (a < 16) a = 16;
    if (a & (a - 1)) a = (size_t)1 << (64 - __builtin_clzl(a));
    *al = a;
    return true;
}

enum aligned_kind { K_MEMALIGN, K_ALIGNED_ALLOC, K_VALLOC, K_PVALLOC };

static SLOW void *aligned_slow(enum aligned_kind k, size_t al, size_t n, const void *caller) {
    if (unlikely(!ml_resolve())) return ml_boot_alloc(n, al);
    if (too_big(n) || !ml_hard_admit(n, true, caller)) return enomem();
    void *p;
    switch (k) {
    case K_ALIGNED_ALLOC:
        p = ml_next.aligned_alloc(al, n);
        break;
    case K_VALLOC:
        p = ml_next.valloc ? ml_next.valloc(n) : ml_next.memalign(al, n);
        break;
    case K_PVALLOC:
        p = ml_next.pvalloc ? ml_next.pvalloc(n) : ml_next.memalign(al, n);
        break;
    default:
        p = ml_next.memalign(al, n);
    }
    if (unlikely(!p)) return enomem();
    ml_after_alloc(p, n, true);
    return p;
}

EXPORT void *memalign(size_t al, size_t n) {
    if (unlikely(!fix_alignment(&al))) {
        errno = EINVAL;
        return NULL;
    }
    if (ml_take(n)) return ml_next.memalign(al, n);
    return aligned_slow(K_MEMALIGN, al, n, CALLER);
}

EXPORT void *aligned_alloc(size_t al, size_t n) {
    if (unlikely(!fix_alignment(&al))) {
        errno = EINVAL;
        return NULL;
    }
    if (ml_take(n)) return ml_next.aligned_alloc(al, n);
    return aligned_slow(K_ALIGNED_ALLOC, al, n, CALLER);
}

EXPORT int posix_memalign(void **out, size_t al, size_t n) {
    if (unlikely(al < sizeof(void *) || (al & (al - 1)) || al % sizeof(void *)))
        return EINVAL; /* errno untouched, as POSIX and glibc */
    if (likely(ml_take(n))) return ml_next.posix_memalign(out, al, n);
    if (unlikely(!ml_resolve())) {
        void *p = ml_boot_alloc(n, al);
        if (!p) return ENOMEM;
        *out = p;
        return 0;
    }
    if (too_big(n) || !ml_hard_admit(n, true, CALLER)) {
        errno = ENOMEM;
        return ENOMEM;
    }
    int saved = errno;
    int e = ml_next.posix_memalign(out, al, n);
    if (e) {
        errno = e; /* glibc sets errno too; mimalloc does not */
        return e;
    }
    errno = saved;
    ml_after_alloc(*out, n, true);
    return 0;
}

EXPORT void *valloc(size_t n) {
    /* without the allocator's own valloc, the slow path builds it and counts it once */
    if (ml_next.valloc && ml_take(n)) return ml_next.valloc(n);
    return aligned_slow(K_VALLOC, page_size(), n, CALLER);
}

EXPORT void *pvalloc(size_t n) {
    size_t page = page_size(), r;
    /* the rounding is checked here (tcmalloc's wraps around) */
    if (unlikely(__builtin_add_overflow(n, page - 1, &r))) return enomem();
    r &= ~(page - 1);
    if (ml_next.pvalloc && ml_take(r)) return ml_next.pvalloc(r);
    return aligned_slow(K_PVALLOC, page, r, CALLER);
}

EXPORT size_t malloc_usable_size(void *p) {
    if (unlikely(ml_is_boot(p))) return ml_boot_size(p);
    if (!p) return 0;
    return ml_next.malloc_usable_size(p);
}
