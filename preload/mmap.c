/* SPDX-License-Identifier: MIT */
/* The mmap family: private anonymous mappings and growing mremaps count against
 * the same budget as malloc. PROT_NONE and MAP_NORESERVE reservations (node, JVMs,
 * Go) do not: they are address space, touched a page at a time, not memory the
 * mapping's length says. Shared anonymous mappings (postgres's shared buffers) and
 * hugetlb do not either: their pages are shmem or hugetlb, never the process's
 * anonymous memory, and a fork child shares them. mremap grows any kind of mapping,
 * so near the hard limit it asks what the mapping is (src/vma.h).
 *
 * With the heap profile on, the mappings that count are sampled as regions from the
 * same stream of bytes as malloc's blocks (the mapping that holds the next sample
 * point takes the slow path), except the allocator's own, whose blocks are sampled
 * through malloc; munmap forgets them (before the call: after it, another thread
 * could be handed the same addresses), mremap moves them. */
#include "../src/limiter.h"
#include "../src/profile.h"
#include "../src/vma.h"
#include "budget.h"

#include <errno.h>

#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>

#define EXPORT __attribute__((visibility("default")))
#define COLD   __attribute__((noinline, cold))

#ifdef mmap64 /* musl's <sys/mman.h> makes it a name for mmap; we still export both */
#undef mmap64
#endif

static bool prof_regions;              /* sampling mappings as regions */
static uintptr_t alloc_lo, alloc_span; /* the allocator's object: its mmaps map its heap */

void ml_mmap_profile_start(void) {
    uintptr_t lo, hi;
    if (ml_next_allocator_span(&lo, &hi)) alloc_lo = lo, alloc_span = hi - lo;
    prof_regions = ml_prof_enabled();
}

/* the mapping is a region of the program's, not the allocator's heap */
static bool region_of(const void *caller) {
    return prof_regions && (uintptr_t)caller - alloc_lo >= alloc_span;
}

/* MAP_FIXED replaces what was mapped there (one cold call that also forwards, so that
 * mmap's own path keeps no frame) */
static COLD void *mmap_fixed(void *a, size_t l, int prot, int fl, int fd, off_t o) {
    ml_prof_unmap(a, l);
    return ml_next.mmap(a, l, prot, fl, fd, o);
}

static COLD void *mmap_slow(void *a, size_t l, int prot, int fl, int fd, off_t o, size_t left,
                            const void *caller) {
    /* at the hard limit: refuse, never wait (allocators call mmap holding locks) */
    if (!ml_hard_admit(l, false, NULL)) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    if ((fl & MAP_FIXED) && ml_prof_regions_live()) ml_prof_unmap(a, l);
    void *p = ml_next.mmap(a, l, prot, fl, fd, o);
    if (p != MAP_FAILED) ml_after_map(region_of(caller) ? ML_PROF_REGION(p) : NULL, l, left);
    return p;
}

EXPORT void *mmap(void *a, size_t l, int prot, int fl, int fd, off_t o) {
    size_t left;
    if ((fl & (MAP_ANONYMOUS | MAP_SHARED | MAP_HUGETLB | MAP_NORESERVE)) != MAP_ANONYMOUS ||
        prot == PROT_NONE || ml_take_local(l, &left)) {
        if (unlikely(fl & MAP_FIXED) && ml_prof_regions_live())
            return mmap_fixed(a, l, prot, fl, fd, o);
        return ml_next.mmap(a, l, prot, fl, fd, o);
    }
    return mmap_slow(a, l, prot, fl, fd, o, left, __builtin_return_address(0));
}

EXPORT void *mmap64(void *a, size_t l, int prot, int fl, int fd, off_t o)
    __attribute__((alias("mmap")));

static COLD int munmap_regions(void *a, size_t l) {
    ml_prof_unmap(a, l);
    return ml_next.munmap(a, l);
}

EXPORT int munmap(void *a, size_t l) {
    if (unlikely(ml_prof_regions_live())) return munmap_regions(a, l);
    return ml_next.munmap(a, l);
}

/* A sampled region moves with its mapping and follows its new size; the target of
 * MREMAP_FIXED is replaced like a MAP_FIXED mapping's. */
static COLD void *mremap_regions(void *old, size_t ol, size_t nl, int fl, void *na) {
    struct ml_prof_move m;
    if (fl & MREMAP_FIXED) ml_prof_unmap(na, nl);
    ml_prof_move_begin(&m, old, ol);
    void *p = ml_next.mremap(old, ol, nl, fl, na);
    int saved = errno;
    if (p == MAP_FAILED)
        ml_prof_move_end(&m, old, ol);
    else
        ml_prof_move_end(&m, p, nl);
    errno = saved;
    return p;
}

EXPORT void *mremap(void *old, size_t ol, size_t nl, int fl, ...) {
    void *na = NULL;
    if (fl & (MREMAP_FIXED | MREMAP_DONTUNMAP)) {
        va_list ap;
        va_start(ap, fl);
        na = va_arg(ap, void *);
        va_end(ap);
    }
    size_t grow = nl > ol ? nl - ol : 0, left = 0;
    bool slow = grow && !ml_take_local(grow, &left);
    /* only growth of what mmap would count may be refused */
    if (slow && ml_hard_near(grow) && ml_vma_counts(old) && !ml_hard_admit(grow, false, NULL)) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    void *p = unlikely(ml_prof_regions_live()) ? mremap_regions(old, ol, nl, fl, na)
                                               : ml_next.mremap(old, ol, nl, fl, na);
    /* growth is not sampled: a sampled region grows with its mapping, and whether an
     * unsampled one is anonymous is not known here */
    if (slow && p != MAP_FAILED) ml_after_map(NULL, grow, left);
    return p;
}
