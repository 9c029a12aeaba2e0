/* SPDX-License-Identifier: MIT */
/* malloc/free pairs at many addresses for scripts/bench, to compare MEMLIMIT_PROFILE
 * on and off over a long run: a window of WINDOW live blocks of 16..MAX+15 bytes,
 * one freed and one allocated per pair, so the heap's addresses are reused over and
 * over and, while profiling, each of them sooner or later held a sampled block.
 * (A filter that never forgot such an address made every later free there take the
 * profile's lock: the cost per pair grew with the length of the run.)
 * usage: profchurn [pairs=20000000] [window=64] [max=112]
 * Prints nanoseconds per pair. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
    long pairs = argc > 1 ? atol(argv[1]) : 20000000;
    long window = argc > 2 ? atol(argv[2]) : 64;
    uint64_t max = argc > 3 ? strtoull(argv[3], NULL, 0) : 112;
    if (window < 1) window = 1;
    if (max < 1) max = 1;
    void **keep = calloc((size_t)window, sizeof *keep);
    uint64_t s = 88172645463325252ULL;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < pairs; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        size_t k = (size_t)((s >> 32) % (uint64_t)window);
        free(keep[k]);
        keep[k] = malloc(16 + s % max);
        *(volatile char *)keep[k] = 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    for (long k = 0; k < window; k++)
        free(keep[k]);
    free(keep);
    double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
    printf("%.2f\n", ns / (double)pairs);
    return 0;
}
