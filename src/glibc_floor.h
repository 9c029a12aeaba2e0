/* SPDX-License-Identifier: MIT */
/* The glibc floor: the Makefile includes this before every source of the library and
 * of memlimit-show (-include src/glibc_floor.h), so that neither needs a symbol
 * version newer than GLIBC_2.17 (manylinux2014), whatever glibc builds them; make
 * check-abi checks the result.
 *   - Calls whose default version moved past 2.17 (glibc 2.34 moved libpthread and
 *     libdl into libc) are bound to their old version with .symver. Before 2.34
 *     those versions live in libpthread.so.0 and libdl.so.2. The library does not
 *     name either (ld.so loading the two stubs cost every exec more than the rest
 *     of our start-up): its references to them are weak, NULL where a program on
 *     an older glibc has not loaded them, and ML_HAVE says whether one is there.
 *   - stat and fstat (GLIBC_2.33) are the system calls themselves.
 *   - strerrordesc_np (2.32, and absent from musl) is our own table (errdesc.c).
 * Never bound to an old version here: a call whose old version is a different
 * implementation (pthread_cond_* at GLIBC_2.2.5 is the pre-2.3.2 condition
 * variable). Only x86_64 and aarch64 are covered; elsewhere this changes nothing
 * but the strerrordesc_np table. */
#ifndef ML_GLIBC_FLOOR_H
#define ML_GLIBC_FLOOR_H

#include <string.h>
#include <sys/stat.h>

#include "errdesc.h"
#include "have.h"

#define strerrordesc_np(err) ml_errdesc(err)

#if defined(__GLIBC__) && (defined(__x86_64__) || defined(__aarch64__))

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* glibc's struct stat is the kernel's on these two (64-bit, no stat64 split) */
static inline int ml_floor_fstat(int fd, struct stat *st) {
    return (int)syscall(SYS_fstat, fd, st);
}
static inline int ml_floor_stat(const char *path, struct stat *st) {
    return (int)syscall(SYS_newfstatat, AT_FDCWD, path, st, 0);
}
#define fstat(fd, st)  ml_floor_fstat(fd, st)
#define stat(path, st) ml_floor_stat(path, st)

#if defined(__x86_64__)
#define ML_FLOOR_BASE  "GLIBC_2.2.5"
#define ML_FLOOR_2_12  "GLIBC_2.12"
#else /* aarch64 begins at 2.17 */
#define ML_FLOOR_BASE  "GLIBC_2.17"
#define ML_FLOOR_2_12  "GLIBC_2.17"
#endif
/* every call bound here lives in libpthread or libdl before 2.34: weak as well */
#define ML_FLOOR(sym, ver)                                                                         \
    __asm__(".symver " #sym "," #sym "@" ver);                                                     \
    _Pragma(ML_FLOOR_STR(weak sym))
#define ML_FLOOR_STR(x) #x

ML_FLOOR(pthread_create, ML_FLOOR_BASE)
ML_FLOOR(pthread_sigmask, ML_FLOOR_BASE)
ML_FLOOR(pthread_join, ML_FLOOR_BASE)
ML_FLOOR(pthread_detach, ML_FLOOR_BASE)
ML_FLOOR(pthread_kill, ML_FLOOR_BASE)
ML_FLOOR(pthread_once, ML_FLOOR_BASE)
ML_FLOOR(pthread_key_create, ML_FLOOR_BASE)
ML_FLOOR(pthread_getspecific, ML_FLOOR_BASE)
ML_FLOOR(pthread_setspecific, ML_FLOOR_BASE)
ML_FLOOR(pthread_mutex_trylock, ML_FLOOR_BASE)
ML_FLOOR(pthread_setname_np, ML_FLOOR_2_12)
ML_FLOOR(pthread_getname_np, ML_FLOOR_2_12)
ML_FLOOR(dlopen, ML_FLOOR_BASE)
ML_FLOOR(dlclose, ML_FLOOR_BASE)
ML_FLOOR(dlsym, ML_FLOOR_BASE)
ML_FLOOR(dlvsym, ML_FLOOR_BASE)
ML_FLOOR(dlerror, ML_FLOOR_BASE)
ML_FLOOR(dladdr, ML_FLOOR_BASE)

#endif /* glibc on x86_64 or aarch64 */
#endif
