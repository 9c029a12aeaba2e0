/* SPDX-License-Identifier: MIT */
/* C++ operator new and delete. When the next allocator exports them (jemalloc,
 * tcmalloc, mimalloc), C++ code would call them directly and bypass malloc, so we
 * interpose, account and forward. Otherwise we forward new to the C++ runtime's
 * own operator new (which calls malloc, accounted there: never twice) and delete
 * to free. Exceptions (std::bad_alloc) pass through: compiled with -fexceptions. */
#include "../src/limiter.h"
#include "budget.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

/* The function to call for a new variant; *own says whether we account it. */
static __attribute__((noinline, cold)) void *new_target(int v, size_t n, bool *own) {
    ml_resolve();
    void *f = ml_next.new_fn[v];
    if (f && n <= (size_t)PTRDIFF_MAX) {
        *own = true;
        return f;
    }
    *own = false;
    return ml_cxx_runtime_new(v);
}

/* The slow path before an allocator-owned new; false when the hard limit refuses. */
static __attribute__((noinline, cold)) bool account(size_t n) {
    if (!ml_hard_admit(n, true, NULL)) return false;
    ml_after_alloc(NULL, n, true); /* the block comes later: not sampled */
    return true;
}

/* Refused at the hard limit: the C++ runtime's operator new calls our malloc, is
 * refused too, runs the new-handler loop and throws std::bad_alloc. */
static __attribute__((noinline, cold)) void *refused(int v) {
    return ml_cxx_runtime_new(v);
}

static __attribute__((noreturn, cold)) void no_runtime(void) {
    static const char msg[] = "memlimit: no C++ runtime operator new found; aborting\n";
    ssize_t r = write(2, msg, sizeof msg - 1);
    (void)r;
    abort();
}

typedef void *(*new_plain)(size_t);
typedef void *(*new_nt)(size_t, const void *);
typedef void *(*new_al)(size_t, size_t);
typedef void *(*new_al_nt)(size_t, size_t, const void *);

/* A size no allocator can serve goes to the C++ runtime's operator new, which calls
 * our malloc, gets ENOMEM and throws std::bad_alloc: some allocators' own operator
 * new abort() instead (Debian's mimalloc). */
#define PICK(V, n)                                                                                 \
    void *f = ml_next.new_fn[V];                                                                   \
    bool own = true;                                                                               \
    if (unlikely(!f || n > (size_t)PTRDIFF_MAX)) f = new_target(V, n, &own);                       \
    if (own && !ml_take(n) && !account(n)) {                                                       \
        if (NOTHROW) return NULL;                                                                  \
        f = refused(V);                                                                            \
    }

#define NEW_PLAIN(name, sym, V)                                                                    \
    EXPORT void *name(size_t n) __asm__(sym);                                                      \
    void *name(size_t n) {                                                                         \
        enum { NOTHROW = 0 };                                                                      \
        PICK(V, n)                                                                                 \
        if (unlikely(!f)) no_runtime();                                                            \
        return ((new_plain)f)(n);                                                                  \
    }
#define NEW_NT(name, sym, V)                                                                       \
    EXPORT void *name(size_t n, const void *nt) __asm__(sym);                                      \
    void *name(size_t n, const void *nt) {                                                         \
        enum { NOTHROW = 1 };                                                                      \
        PICK(V, n)                                                                                 \
        if (unlikely(!f)) return malloc(n);                                                        \
        return ((new_nt)f)(n, nt);                                                                 \
    }
#define NEW_AL(name, sym, V)                                                                       \
    EXPORT void *name(size_t n, size_t al) __asm__(sym);                                           \
    void *name(size_t n, size_t al) {                                                              \
        enum { NOTHROW = 0 };                                                                      \
        PICK(V, n)                                                                                 \
        if (unlikely(!f)) no_runtime();                                                            \
        return ((new_al)f)(n, al);                                                                 \
    }
#define NEW_AL_NT(name, sym, V)                                                                    \
    EXPORT void *name(size_t n, size_t al, const void *nt) __asm__(sym);                           \
    void *name(size_t n, size_t al, const void *nt) {                                              \
        enum { NOTHROW = 1 };                                                                      \
        PICK(V, n)                                                                                 \
        if (unlikely(!f)) return aligned_alloc(al, n);                                             \
        return ((new_al_nt)f)(n, al, nt);                                                          \
    }

#define DEFINE_NEW(V, sym, name, kind) NEW_##kind(name, sym, V)
ML_CXX_NEW(DEFINE_NEW)

/* delete: the allocator's own when it has that variant, else free (what the C++
 * runtime's delete does, and free reaches the same allocator). */
#define DEL(name, sym, V, params, args)                                                            \
    EXPORT void name params __asm__(sym);                                                          \
    void name params {                                                                             \
        void *f = ml_next.delete_fn[V];                                                            \
        if (likely(f)) {                                                                           \
            ((void(*) params)f) args;                                                              \
            return;                                                                                \
        }                                                                                          \
        free(p);                                                                                   \
    }

#define DEFINE_DELETE(V, sym, name, params, args) DEL(name, sym, V, params, args)
ML_CXX_DELETE(DEFINE_DELETE)
