/* SPDX-License-Identifier: MIT */
/* A request-processing service whose live data fits its container but whose freed
 * memory strands in glibc's per-thread arenas: T worker threads, at most K requests
 * in flight, each request builds an M MiB working set of small objects, keeps 1 in
 * 32 in a bounded per-thread cache, and frees the rest. Live data stays under
 * K*M + T*1 MiB, yet each thread's arena keeps its own high-water mark, so resident
 * memory grows towards T*M.
 *
 * usage: fragment [threads=8] [rounds=40] [MiB per request=32] [in flight=2] */
#include <pthread.h>
#include <stdbool.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define KEEP_EVERY  32
#define CACHE_SLOTS 512 /* ~1 MiB of retained objects per thread */

static int rounds, mib;
static sem_t in_flight;

static uint64_t xorshift(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Returns false if any byte of the object is not what the request wrote. */
static bool intact(const unsigned char *p, size_t sz, unsigned char v) {
    uint64_t pat = 0x0101010101010101ULL * v, w;
    size_t i = 0;
    for (; i + 8 <= sz; i += 8) {
        memcpy(&w, p + i, 8);
        if (w != pat) return false;
    }
    for (; i < sz; i++)
        if (p[i] != v) return false;
    return true;
}

static void *worker(void *arg) {
    uint64_t seed = 0x9e3779b97f4a7c15ULL * ((uintptr_t)arg + 1);
    size_t max_objs = ((size_t)mib << 20) / 64 + 1;
    void **objs = malloc(max_objs * sizeof *objs);
    uint16_t *sizes = malloc(max_objs * sizeof *sizes);
    void *cache[CACHE_SLOTS] = {0};
    size_t cache_next = 0;
    if (!objs || !sizes) abort();
    for (int r = 0; r < rounds; r++) {
        unsigned char v = (unsigned char)(r * 7 + (uintptr_t)arg + 1);
        sem_wait(&in_flight);
        size_t n = 0, bytes = 0, want = (size_t)mib << 20;
        while (bytes < want && n < max_objs) {
            size_t sz = 64 + xorshift(&seed) % 4033; /* 64..4096: all from the arena */
            char *p = malloc(sz);
            if (!p) {
                fprintf(stderr, "fragment: malloc failed\n");
                exit(3);
            }
            memset(p, v, sz);
            sizes[n] = (uint16_t)sz;
            objs[n++] = p;
            bytes += sz;
        }
        /* the request uses its working set: reading it back also proves that nothing
         * underneath handed out or released memory still in use */
        for (size_t i = 0; i < n; i++) {
            if (!intact(objs[i], sizes[i], v)) {
                fprintf(stderr, "fragment: object %zu of request %d corrupted\n", i, r);
                exit(4);
            }
        }
        for (size_t i = 0; i < n; i++) {
            if (i % KEEP_EVERY == 0) { /* survives the request: pins its page */
                free(cache[cache_next]);
                cache[cache_next] = objs[i];
                cache_next = (cache_next + 1) % CACHE_SLOTS;
            } else {
                free(objs[i]);
            }
        }
        sem_post(&in_flight);
    }
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        free(cache[i]);
    free(objs);
    free(sizes);
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 8;
    rounds = argc > 2 ? atoi(argv[2]) : 40;
    mib = argc > 3 ? atoi(argv[3]) : 32;
    int k = argc > 4 ? atoi(argv[4]) : 2;
    if (threads < 1 || threads > 256 || rounds < 1 || mib < 1 || k < 1) {
        fprintf(stderr, "usage: fragment [threads] [rounds] [MiB per request] [in flight]\n");
        return 2;
    }
    sem_init(&in_flight, 0, (unsigned)k);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t tid[256];
    for (int i = 0; i < threads; i++)
        pthread_create(&tid[i], NULL, worker, (void *)(uintptr_t)i);
    for (int i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("fragment: %d threads x %d requests of %d MiB (%d in flight) done in %.2f s, "
           "max RSS %.1f MiB\n",
           threads, rounds, mib, k, secs, ru.ru_maxrss / 1024.0);
    return 0;
}
