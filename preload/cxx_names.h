/* SPDX-License-Identifier: MIT */
/* The C++ allocation operators we interpose, each named once (LP64 mangling: size_t
 * is 'm'). X-macros: next.h makes the variant enums from them, next.c the names it
 * looks up in the next allocator, cxx.c the definitions. preload/exports.map must
 * export exactly these names besides the C ones: scripts/check-symbols (make
 * check-symbols, part of make test) compares them. */
#ifndef ML_CXX_NAMES_H
#define ML_CXX_NAMES_H

/* X(variant, mangled name, our function, kind): kind is PLAIN (size), NT (size,
 * nothrow), AL (size, alignment) or AL_NT (size, alignment, nothrow) */
#define ML_CXX_NEW(X)                                                                              \
    X(NEW_N, "_Znwm", ml_new, PLAIN)                                                               \
    X(NEW_A, "_Znam", ml_new_arr, PLAIN)                                                           \
    X(NEW_N_NOTHROW, "_ZnwmRKSt9nothrow_t", ml_new_nt, NT)                                         \
    X(NEW_A_NOTHROW, "_ZnamRKSt9nothrow_t", ml_new_arr_nt, NT)                                     \
    X(NEW_N_AL, "_ZnwmSt11align_val_t", ml_new_al, AL)                                             \
    X(NEW_A_AL, "_ZnamSt11align_val_t", ml_new_arr_al, AL)                                         \
    X(NEW_N_AL_NOTHROW, "_ZnwmSt11align_val_tRKSt9nothrow_t", ml_new_al_nt, AL_NT)                 \
    X(NEW_A_AL_NOTHROW, "_ZnamSt11align_val_tRKSt9nothrow_t", ml_new_arr_al_nt, AL_NT)

/* X(variant, mangled name, our function, (parameters), (arguments)) */
#define ML_CXX_DELETE(X)                                                                           \
    X(DEL_L, "_ZdlPv", ml_del, (void *p), (p))                                                     \
    X(DEL_A, "_ZdaPv", ml_del_arr, (void *p), (p))                                                 \
    X(DEL_L_SZ, "_ZdlPvm", ml_del_sz, (void *p, size_t s), (p, s))                                 \
    X(DEL_A_SZ, "_ZdaPvm", ml_del_arr_sz, (void *p, size_t s), (p, s))                             \
    X(DEL_L_NOTHROW, "_ZdlPvRKSt9nothrow_t", ml_del_nt, (void *p, const void *nt), (p, nt))        \
    X(DEL_A_NOTHROW, "_ZdaPvRKSt9nothrow_t", ml_del_arr_nt, (void *p, const void *nt), (p, nt))    \
    X(DEL_L_AL, "_ZdlPvSt11align_val_t", ml_del_al, (void *p, size_t al), (p, al))                 \
    X(DEL_A_AL, "_ZdaPvSt11align_val_t", ml_del_arr_al, (void *p, size_t al), (p, al))             \
    X(DEL_L_SZ_AL, "_ZdlPvmSt11align_val_t", ml_del_sz_al, (void *p, size_t s, size_t al),         \
      (p, s, al))                                                                                  \
    X(DEL_A_SZ_AL, "_ZdaPvmSt11align_val_t", ml_del_arr_sz_al, (void *p, size_t s, size_t al),     \
      (p, s, al))                                                                                  \
    X(DEL_L_AL_NOTHROW, "_ZdlPvSt11align_val_tRKSt9nothrow_t", ml_del_al_nt,                       \
      (void *p, size_t al, const void *nt), (p, al, nt))                                           \
    X(DEL_A_AL_NOTHROW, "_ZdaPvSt11align_val_tRKSt9nothrow_t", ml_del_arr_al_nt,                   \
      (void *p, size_t al, const void *nt), (p, al, nt))

#endif
