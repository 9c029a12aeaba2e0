/* SPDX-License-Identifier: MIT */
/* The mmap family: private anonymous mappings and growing mremaps count against
 * the same budget as malloc. PROT_NONE and MAP_NORESERVE reservations (node, JVMs,
 * Go) do not: they are address space, touched a page at a time, not memory the
 * mapping's length says. Shared anonymous mappings (postgres's shared buffers) and
 * hugetlb do not either: their pages are shmem or hugetlb, never the process's
 * anonymous memory, and a fork child shares them. mremap grows any kind of mapping,
 * so near the hard limit it asks what the mapping is (src/vma.h). */
#include "../src/limiter.h"
#include "../src/vma.h"
#include "budget.h"

#include <errno.h>

#include <stdarg.h>
#include <sys/mman.h>

#define EXPORT __attribute__((visibility("default")))

#ifdef mmap64 /* musl's <sys/mman.h> makes it a name for mmap; we still export both */
#undef mmap64
#endif

static __attribute__((noinline, cold)) void *mmap_slow(void *a, size_t l, int prot, int fl, int fd,
                                                       off_t o) {
    /* at the hard limit: refuse, never wait (allocators call mmap holding locks) */
    if (!ml_hard_admit(l, false, NULL)) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    void *p = ml_next.mmap(a, l, prot, fl, fd, o);
    if (p != MAP_FAILED) ml_after_alloc(NULL, l, false);
    return p;
}

EXPORT void *mmap(void *a, size_t l, int prot, int fl, int fd, off_t o) {
    if ((fl & (MAP_ANONYMOUS | MAP_SHARED | MAP_HUGETLB | MAP_NORESERVE)) != MAP_ANONYMOUS ||
        prot == PROT_NONE || ml_take_nosave(l))
        return ml_next.mmap(a, l, prot, fl, fd, o);
    return mmap_slow(a, l, prot, fl, fd, o);
}

EXPORT void *mmap64(void *a, size_t l, int prot, int fl, int fd, off_t o)
    __attribute__((alias("mmap")));

EXPORT int munmap(void *a, size_t l) {
    return ml_next.munmap(a, l);
}

EXPORT void *mremap(void *old, size_t ol, size_t nl, int fl, ...) {
    void *na = NULL;
    if (fl & (MREMAP_FIXED | MREMAP_DONTUNMAP)) {
        va_list ap;
        va_start(ap, fl);
        na = va_arg(ap, void *);
        va_end(ap);
    }
    size_t grow = nl > ol ? nl - ol : 0;
    bool slow = grow && !ml_take_nosave(grow);
    /* only growth of what mmap would count may be refused */
    if (slow && ml_hard_near(grow) && ml_vma_counts(old) && !ml_hard_admit(grow, false, NULL)) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    void *p = ml_next.mremap(old, ol, nl, fl, na);
    if (slow && p != MAP_FAILED) ml_after_alloc(NULL, grow, false);
    return p;
}
