/* SPDX-License-Identifier: MIT */
/* The monotonic clock in nanoseconds, the one time base of every interval here
 * (vDSO: no system call). */
#ifndef ML_CLOCK_H
#define ML_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t ml_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

#endif
