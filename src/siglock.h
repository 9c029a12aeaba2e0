/* Spin locks taken with every signal blocked on the holding thread: a signal
 * handler that allocates (or asks for stats) on a thread interrupted inside the
 * critical section would otherwise spin on a lock its own thread holds. Costs two
 * sigprocmask calls, so only for rare sections (sampled allocations, dumps, limit
 * publication), never on the fast path. */
#ifndef ML_SIGLOCK_H
#define ML_SIGLOCK_H

#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>

static inline void ml_siglock(atomic_flag *f, sigset_t *saved) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, saved);
    while (atomic_flag_test_and_set_explicit(f, memory_order_acquire))
        sched_yield();
}

static inline bool ml_siglock_try(atomic_flag *f, sigset_t *saved) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, saved);
    if (!atomic_flag_test_and_set_explicit(f, memory_order_acquire)) return true;
    pthread_sigmask(SIG_SETMASK, saved, NULL);
    return false;
}

static inline void ml_sigunlock(atomic_flag *f, const sigset_t *saved) {
    atomic_flag_clear_explicit(f, memory_order_release);
    pthread_sigmask(SIG_SETMASK, saved, NULL);
}

#endif
