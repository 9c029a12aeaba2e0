/* SPDX-License-Identifier: MIT */
/* The allocation API's contract, checked under whatever allocator is loaded:
 * glibc's answers for invalid calls under every allocator, errno untouched by
 * successful calls, and every block owned by the allocator that serves malloc
 * (never glibc's pvalloc under jemalloc). Prints each failure; exit 1 if any. */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* the invalid calls below are the point: compile them, make them at run time */
#pragma GCC diagnostic ignored "-Walloc-size-larger-than="
#pragma GCC diagnostic ignored "-Wuse-after-free"
#pragma GCC diagnostic ignored "-Wtype-limits"
static volatile size_t V_SIZE_MAX = SIZE_MAX, V_PTRDIFF_MAX = PTRDIFF_MAX;
#undef SIZE_MAX
#define SIZE_MAX V_SIZE_MAX
#undef PTRDIFF_MAX
#define PTRDIFF_MAX V_PTRDIFF_MAX

#include "check.h"

/* Which allocator owns p, asked of the allocator itself. */
static int (*je_mallctl)(const char *, void *, size_t *, void *, size_t);
static int (*tc_owner)(const void *);
static int (*mi_owned)(const void *);
static const char *allocator = "glibc";

static void find_allocator(void) {
    je_mallctl =
        (int (*)(const char *, void *, size_t *, void *, size_t))dlsym(RTLD_DEFAULT, "mallctl");
    tc_owner = (int (*)(const void *))dlsym(RTLD_DEFAULT, "MallocExtension_GetOwnership");
    mi_owned = (int (*)(const void *))dlsym(RTLD_DEFAULT, "mi_is_in_heap_region");
    if (je_mallctl)
        allocator = "jemalloc";
    else if (tc_owner)
        allocator = "tcmalloc";
    else if (mi_owned)
        allocator = "mimalloc";
}

static int owned(void *p) {
    if (je_mallctl) {
        unsigned arena;
        size_t sz = sizeof arena;
        return je_mallctl("arenas.lookup", &arena, &sz, &p, sizeof p) == 0;
    }
    if (tc_owner) return tc_owner(p) == 1; /* kOwned */
    if (mi_owned) return mi_owned(p);
    return 1; /* glibc is the only allocator */
}

#define SENTINEL 4321
#define OK_BLOCK(p, size, align, what)                                                             \
    do {                                                                                           \
        CHECK((p) != NULL, "%s returned NULL", what);                                              \
        if (p) {                                                                                   \
            CHECK(errno == SENTINEL, "%s changed errno to %d", what, errno);                       \
            CHECK(((uintptr_t)(p) & ((align)-1)) == 0, "%s: %p not aligned to %zu", what, (p),     \
                  (size_t)(align));                                                                \
            CHECK(malloc_usable_size(p) >= (size), "%s: usable %zu < %zu", what,                   \
                  malloc_usable_size(p), (size_t)(size));                                          \
            CHECK(owned(p), "%s: block %p not owned by %s", what, (p), allocator);                 \
            memset((p), 0xab, (size));                                                             \
        }                                                                                          \
    } while (0)

#define FAILS(expr, err, what)                                                                     \
    do {                                                                                           \
        errno = 0;                                                                                 \
        void *r_ = (expr);                                                                         \
        CHECK(r_ == NULL && errno == (err), "%s: got %p errno %d, want NULL errno %d", what, r_,   \
              errno, err);                                                                         \
    } while (0)

int main(void) {
    find_allocator();
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *p;

    /* valid calls: the allocator's blocks, errno untouched */
    for (int round = 0; round < 3; round++) { /* several rounds: cross the sampling path */
        size_t sizes[] = {0, 1, 24, 100, 4096, 100000, 5 << 20};
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            size_t n = sizes[i];
            errno = SENTINEL;
            p = malloc(n);
            size_t fund = n >= 16 ? 16 : 8; /* C: objects under 16 bytes need less */
            OK_BLOCK(p, n, fund, "malloc");
            free(p);
            errno = SENTINEL;
            p = calloc(n ? n : 1, 1);
            OK_BLOCK(p, n, fund, "calloc");
            free(p);
            errno = SENTINEL;
            p = memalign(64, n);
            OK_BLOCK(p, n, 64, "memalign");
            free(p);
            errno = SENTINEL;
            p = aligned_alloc(256, n);
            OK_BLOCK(p, n, 256, "aligned_alloc");
            free(p);
            errno = SENTINEL;
            p = NULL;
            CHECK(posix_memalign(&p, 128, n) == 0, "posix_memalign(128, %zu)", n);
            OK_BLOCK(p, n, 128, "posix_memalign");
            free(p);
            errno = SENTINEL;
            p = valloc(n);
            OK_BLOCK(p, n, page, "valloc");
            free(p);
            errno = SENTINEL;
            p = pvalloc(n);
            OK_BLOCK(p, (n + page - 1) & ~(page - 1), page, "pvalloc");
            free(p);
        }
        /* realloc keeps contents while growing and shrinking */
        errno = SENTINEL;
        char *s = malloc(10);
        memcpy(s, "memlimit!", 10);
        for (size_t n = 16; n <= (8u << 20); n *= 4) {
            s = realloc(s, n);
            OK_BLOCK(s, 0, 16, "realloc grow");
            CHECK(s && memcmp(s, "memlimit!", 10) == 0, "realloc lost contents at %zu", n);
            if (s) memcpy(s, "memlimit!", 10);
        }
        s = reallocarray(s, 3, 7);
        OK_BLOCK(s, 0, 16, "reallocarray shrink");
        CHECK(s && memcmp(s, "memlimit!", 10) == 0, "reallocarray lost contents");
        free(s);
        char *z = calloc(1000, 1000);
        size_t nonzero = 0;
        for (size_t i = 0; z && i < 1000000; i++)
            nonzero += z[i] != 0;
        CHECK(z && nonzero == 0, "calloc not zeroed");
        free(z);
    }
    CHECK(malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL)");

    /* invalid calls: glibc's answers, under every allocator */
    FAILS(malloc((size_t)PTRDIFF_MAX + 1), ENOMEM, "malloc(PTRDIFF_MAX+1)");
    FAILS(malloc(SIZE_MAX), ENOMEM, "malloc(SIZE_MAX)");
    FAILS(calloc(SIZE_MAX / 2, 3), ENOMEM, "calloc overflow");
    FAILS(calloc((size_t)1 << 32, (size_t)1 << 32), ENOMEM, "calloc 2^64");
    FAILS(reallocarray(NULL, SIZE_MAX / 2, 3), ENOMEM, "reallocarray overflow");
    FAILS(realloc(NULL, SIZE_MAX - 10), ENOMEM, "realloc(NULL, huge)");
    p = malloc(10);
    FAILS(realloc(p, (size_t)PTRDIFF_MAX + 2), ENOMEM, "realloc(p, huge)");
    free(p); /* p is still valid after a failed realloc */
    FAILS(pvalloc(SIZE_MAX - 100), ENOMEM, "pvalloc rounding overflow");
    FAILS(valloc(SIZE_MAX - 100), ENOMEM, "valloc(huge)");
    FAILS(memalign(SIZE_MAX / 2 + 2, 100), EINVAL, "memalign(bad huge alignment)");
    FAILS(aligned_alloc(SIZE_MAX / 2 + 2, 100), EINVAL, "aligned_alloc(bad huge alignment)");
    FAILS(memalign(64, SIZE_MAX - 10), ENOMEM, "memalign(64, huge)");

    /* glibc rounds a non-power-of-two memalign alignment up */
    errno = SENTINEL;
    p = memalign(24, 100);
    OK_BLOCK(p, 100, 32, "memalign(24) rounds to 32");
    free(p);
    errno = SENTINEL;
    p = aligned_alloc(0, 100);
    OK_BLOCK(p, 100, 16, "aligned_alloc(0)");
    free(p);

    /* posix_memalign: EINVAL returned, errno left alone */
    errno = SENTINEL;
    p = (void *)0x1;
    CHECK(posix_memalign(&p, 24, 100) == EINVAL && errno == SENTINEL && p == (void *)0x1,
          "posix_memalign(24): want EINVAL, errno and *p untouched");
    CHECK(posix_memalign(&p, 0, 100) == EINVAL && errno == SENTINEL, "posix_memalign(0)");
    CHECK(posix_memalign(&p, 4, 100) == EINVAL && errno == SENTINEL, "posix_memalign(4)");
    errno = 0;
    CHECK(posix_memalign(&p, 4096, SIZE_MAX - 100) == ENOMEM && errno == ENOMEM,
          "posix_memalign(huge): want ENOMEM (errno %d)", errno);

    printf("semantics under %s: %d checks, %d failed\n", allocator, checks, failures);
    return failures ? 1 : 0;
}
