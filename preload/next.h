/* SPDX-License-Identifier: MIT */
/* The allocator underneath: the object that the program's malloc binds to after us in
 * the lookup order (glibc, libc_malloc_debug, or jemalloc/tcmalloc/mimalloc preloaded
 * after us), or the one that serves malloc before us when we are not first. Every
 * entry point comes from that one object; what it lacks is built from its own
 * memalign, so a block is always freed by the allocator that made it. */
#ifndef ML_NEXT_H
#define ML_NEXT_H

#include "cxx_names.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

#define TLS_IE      __attribute__((tls_model("initial-exec")))
#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* C++ operator new and delete variants, in the order of cxx_names.h */
#define ML_CXX_VARIANT(V, ...) V,
enum { ML_CXX_NEW(ML_CXX_VARIANT) NEW_COUNT };
enum { ML_CXX_DELETE(ML_CXX_VARIANT) DEL_COUNT };
#undef ML_CXX_VARIANT

struct ml_next {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);  /* NULL: built from memalign */
    void *(*pvalloc)(size_t); /* NULL: built from memalign */
    size_t (*malloc_usable_size)(void *);
    void *(*mmap)(void *, size_t, int, int, int, off_t);
    int (*munmap)(void *, size_t);
    void *(*mremap)(void *, size_t, size_t, int, ...);
    /* set only when the allocator itself exports them (jemalloc, tcmalloc, mimalloc):
     * then C++ allocations are accounted here; otherwise libstdc++'s operator new
     * calls malloc, which is accounted there, never twice. */
    void *new_fn[NEW_COUNT];
    void *delete_fn[DEL_COUNT];
};

extern struct ml_next ml_next;

/* Resolves ml_next once; safe to call from any entry point. Returns false while
 * this thread is inside the resolution itself (dlsym allocating): use the
 * bootstrap arena then. */
bool ml_resolve(void);

/* name as the objects after us define it (the C library's unshare), or NULL; may
 * allocate: never for the allocation path. */
void *ml_next_sym(const char *name);

/* A symbol of the next allocator's own object, or NULL (for the trimmer). */
void *ml_next_lookup(const char *name, bool glibc);

/* True when the object that serves the program's malloc comes before us in its lookup
 * order (then our malloc is never called: allocations are not accounted): *malloc_by
 * names it, *mmap_by the object that serves mmap if that is not us either (else NULL);
 * "" is the program itself.
 * False as well when we were loaded with dlopen RTLD_LOCAL. Calls dlopen: for our
 * constructor, not for the allocation path. */
bool ml_next_served_before(const char **malloc_by, const char **mmap_by);

/* The span of the allocator's own object (jemalloc, tcmalloc, mimalloc after us): an
 * mmap called from there maps its heap, whose blocks the profile samples through
 * malloc. False (and 0, 0) for the C library, whose malloc maps memory without our
 * mmap, and when our malloc is not called (the allocator comes before us). For our
 * constructor. */
bool ml_next_allocator_span(uintptr_t *lo, uintptr_t *hi);

/* The C++ runtime's own operator new variant (libstdc++'s: malloc, the new-handler
 * loop, std::bad_alloc), never the allocator's; found even when that runtime was
 * loaded RTLD_LOCAL. NULL if no C++ runtime is loaded. */
void *ml_cxx_runtime_new(int variant);

/* For a fork child (pthread_atfork): what another thread held at the fork is free. */
void ml_next_forked(void);

/* While profiling: C++ new and delete through the C++ runtime and our malloc/free,
 * so allocator-owned C++ blocks are sampled and matched too. */
void ml_next_cxx_through_runtime(void);

/* The static bootstrap arena that serves allocations made during resolution. */
extern char ml_boot_arena[];
#define ML_BOOT_SIZE (64u << 10)
static inline bool ml_is_boot(const void *p) {
    return (uintptr_t)p - (uintptr_t)ml_boot_arena < ML_BOOT_SIZE;
}
/* free and realloc send blocks in [ml_special_base, +ml_special_size) to their slow
 * path: the bootstrap arena, and with the heap profile on every block (a sampled one
 * must be forgotten when freed). Variables rather than constants, at the same
 * instruction count, so the fast path costs the same with profiling off. */
extern uintptr_t ml_special_base, ml_special_size;
static inline bool ml_is_special(const void *p) {
    return (uintptr_t)p - ml_special_base < ml_special_size;
}
void *ml_boot_alloc(size_t size, size_t align);
size_t ml_boot_size(const void *p);

#pragma GCC visibility pop

#endif
