/* SPDX-License-Identifier: MIT */
/* ns per memlimit_reached() call from C, the reference the bindings are measured
 * against (scripts/bench): N calls in a loop, best of 5. Run it preloaded.
 * usage: reached [calls=100000000] */
#define MEMLIMIT_OPTIONAL
#include "memlimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 100000000L;
    if (!memlimit_available()) {
        fprintf(stderr, "reached: libmemlimit is not loaded (LD_PRELOAD)\n");
        return 1;
    }
    double best = 1e18;
    long hits = 0;
    for (int r = 0; r < 5; r++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (long i = 0; i < n; i++)
            if (memlimit_reached()) hits++;
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
        if (ns < best) best = ns;
    }
    printf("%.3f %ld\n", best, hits);
    return 0;
}
