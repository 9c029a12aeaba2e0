/* SPDX-License-Identifier: MIT */
/* The cost of an open of another path, and of a sysconf of another name, with the
 * container-view interposers in front (preload/meminfo.c): ns per call, best of 5
 * passes. usage: bench_sysopen open|sysconf [calls=200000] */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 2) return fprintf(stderr, "usage: bench_sysopen open|sysconf [calls]\n"), 2;
    long n = argc > 2 ? atol(argv[2]) : 200000, sum = 0;
    bool opens = strcmp(argv[1], "open") == 0;
    double best = 1e18;
    for (int pass = 0; pass < 5; pass++) {
        double t0 = now();
        for (long i = 0; i < n; i++) {
            if (opens) {
                int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                sum += fd;
                close(fd);
            } else {
                sum += sysconf(_SC_CLK_TCK);
            }
        }
        double per = (now() - t0) / n;
        if (per < best) best = per;
    }
    printf("%.2f\n", best + (sum == 42 ? 1e-9 : 0));
    return 0;
}
