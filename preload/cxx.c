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
    if (!ml_core_admit(n, true)) return false;
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

NEW_PLAIN(ml_new, "_Znwm", NEW_N)
NEW_PLAIN(ml_new_arr, "_Znam", NEW_A)
NEW_NT(ml_new_nt, "_ZnwmRKSt9nothrow_t", NEW_N_NOTHROW)
NEW_NT(ml_new_arr_nt, "_ZnamRKSt9nothrow_t", NEW_A_NOTHROW)
NEW_AL(ml_new_al, "_ZnwmSt11align_val_t", NEW_N_AL)
NEW_AL(ml_new_arr_al, "_ZnamSt11align_val_t", NEW_A_AL)
NEW_AL_NT(ml_new_al_nt, "_ZnwmSt11align_val_tRKSt9nothrow_t", NEW_N_AL_NOTHROW)
NEW_AL_NT(ml_new_arr_al_nt, "_ZnamSt11align_val_tRKSt9nothrow_t", NEW_A_AL_NOTHROW)

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

DEL(ml_del, "_ZdlPv", DEL_L, (void *p), (p))
DEL(ml_del_arr, "_ZdaPv", DEL_A, (void *p), (p))
DEL(ml_del_sz, "_ZdlPvm", DEL_L_SZ, (void *p, size_t s), (p, s))
DEL(ml_del_arr_sz, "_ZdaPvm", DEL_A_SZ, (void *p, size_t s), (p, s))
DEL(ml_del_nt, "_ZdlPvRKSt9nothrow_t", DEL_L_NOTHROW, (void *p, const void *nt), (p, nt))
DEL(ml_del_arr_nt, "_ZdaPvRKSt9nothrow_t", DEL_A_NOTHROW, (void *p, const void *nt), (p, nt))
DEL(ml_del_al, "_ZdlPvSt11align_val_t", DEL_L_AL, (void *p, size_t al), (p, al))
DEL(ml_del_arr_al, "_ZdaPvSt11align_val_t", DEL_A_AL, (void *p, size_t al), (p, al))
DEL(ml_del_sz_al, "_ZdlPvmSt11align_val_t", DEL_L_SZ_AL, (void *p, size_t s, size_t al), (p, s, al))
DEL(ml_del_arr_sz_al, "_ZdaPvmSt11align_val_t", DEL_A_SZ_AL, (void *p, size_t s, size_t al),
    (p, s, al))
DEL(ml_del_al_nt, "_ZdlPvSt11align_val_tRKSt9nothrow_t", DEL_L_AL_NOTHROW,
    (void *p, size_t al, const void *nt), (p, al, nt))
DEL(ml_del_arr_al_nt, "_ZdaPvSt11align_val_tRKSt9nothrow_t", DEL_A_AL_NOTHROW,
    (void *p, size_t al, const void *nt), (p, al, nt))
