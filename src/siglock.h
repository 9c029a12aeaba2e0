/* SPDX-License-Identifier: MIT */
/* Spin locks taken with every signal blocked on the holding thread: a signal
 * handler that allocates (or asks for stats) on a thread interrupted inside the
 * critical section would otherwise spin on a lock its own thread holds. Costs two
 * sigprocmask calls, so only for rare sections (sampled allocations, dumps, limit
 * publication), never on the fast path.
 *
 * The saved mask is the kernel's 64-bit set, handed back to the caller: glibc's
 * sigset_t is 128 bytes, and kept per thread it made most of our static TLS (scarce
 * for a library that may be dlopen'ed). A caller that cannot keep it in a local keeps
 * it in a static written and read only while holding the lock. */
#ifndef ML_SIGLOCK_H
#define ML_SIGLOCK_H

#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

_Static_assert(_NSIG - 1 <= 64, "the kernel's signal set is wider than 64 bits here");

/* Every signal but glibc's internal two (32: cancellation, 33: setxid), as
 * sigfillset gives pthread_sigmask; the kernel ignores SIGKILL and SIGSTOP. */
#define ML_SIGS_ALL (~((1ULL << (32 - 1)) | (1ULL << (33 - 1))))

static inline uint64_t ml_sigblock_all(void) {
    static const uint64_t all = ML_SIGS_ALL;
    uint64_t old = 0;
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, &old, sizeof old);
    return old;
}
static inline void ml_sigrestore(uint64_t old) {
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, sizeof old);
}

/* Returns the mask to hand back to ml_sigunlock. */
static inline uint64_t ml_siglock(atomic_flag *f) {
    uint64_t old = ml_sigblock_all();
    while (atomic_flag_test_and_set_explicit(f, memory_order_acquire))
        sched_yield();
    return old;
}

/* False, with the mask as it was, when f is held; else *old as ml_siglock returns. */
static inline bool ml_siglock_try(atomic_flag *f, uint64_t *old) {
    *old = ml_sigblock_all();
    if (!atomic_flag_test_and_set_explicit(f, memory_order_acquire)) return true;
    ml_sigrestore(*old);
    return false;
}

static inline void ml_sigunlock(atomic_flag *f, uint64_t old) {
    atomic_flag_clear_explicit(f, memory_order_release);
    ml_sigrestore(old);
}

#endif
