/* SPDX-License-Identifier: MIT */
/* malloc/free pairs for scripts/bench: bench_malloc THREADS small|mixed PAIRS
 * Prints nanoseconds per pair (wall time over all threads' pairs). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long pairs;
static int mixed;

static void *run(void *arg) {
    uint64_t s = 88172645463325252ULL + (uintptr_t)arg;
    void *keep[64] = {0};
    for (long i = 0; i < pairs; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        size_t n = mixed ? 16 + s % 65536 : 16 + s % 112;
        unsigned k = (unsigned)(s >> 40) % 64;
        free(keep[k]); /* a small live window, like a real program */
        keep[k] = malloc(n);
        *(volatile char *)keep[k] = 1;
    }
    for (int k = 0; k < 64; k++)
        free(keep[k]);
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    mixed = argc > 2 && strcmp(argv[2], "mixed") == 0;
    pairs = argc > 3 ? atol(argv[3]) : 20000000;
    pthread_t t[64];
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, run, (void *)(uintptr_t)i);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec));
    printf("%.2f\n", ns / (double)pairs); /* wall ns per pair, per thread */
    return 0;
}
