/* SPDX-License-Identifier: MIT */
/* Clocks in nanoseconds: the monotonic clock, the one time base of every interval
 * here (vDSO: no system call), and the calling thread's CPU time. */
#ifndef ML_CLOCK_H
#define ML_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t ml_clock_ns(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline uint64_t ml_now_ns(void) {
    return ml_clock_ns(CLOCK_MONOTONIC);
}

/* what this thread ran: a preempted thread is not charged for the wait */
static inline uint64_t ml_thread_cpu_ns(void) {
    return ml_clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

#endif
