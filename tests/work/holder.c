/* SPDX-License-Identifier: MIT */
/* An idle aware process: it fills a droppable cache, registers a callback that drops
 * it, says "ready" and then allocates nothing. Only kernel events (or the thread's
 * idle timer) can tell it that someone else is filling the cgroup. The callback
 * prints when it was first called at SOFT or above (CLOCK_MONOTONIC, ns).
 * usage: holder [cache MiB=120] [seconds to wait=5] */
#define MEMLIMIT_OPTIONAL
#include "memlimit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char **blocks;
static int nblocks, held;
static long long first_soft_ns;
static int calls;

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static size_t drop(enum memlimit_level level, size_t want, void *arg) {
    (void)arg;
    long long t = now_ns();
    pthread_mutex_lock(&lock);
    calls++;
    size_t freed = 0;
    if (level >= MEMLIMIT_LEVEL_SOFT) {
        if (!first_soft_ns) {
            first_soft_ns = t;
            printf("callback at %lld level %d want %zu\n", t, (int)level, want);
            fflush(stdout);
        }
        while (held > 0 && freed < want + (8u << 20)) {
            free(blocks[--held]);
            freed += 1u << 20;
        }
    }
    pthread_mutex_unlock(&lock);
    return freed;
}

int main(int argc, char **argv) {
    nblocks = argc > 1 ? atoi(argv[1]) : 120;
    int wait_s = argc > 2 ? atoi(argv[2]) : 5;
    if (nblocks < 1 || !memlimit_available()) {
        fprintf(stderr, "holder: needs libmemlimit and a cache size\n");
        return 2;
    }
    blocks = calloc((size_t)nblocks, sizeof *blocks);
    for (held = 0; held < nblocks; held++) {
        blocks[held] = malloc(1 << 20);
        if (!blocks[held]) return 3;
        memset(blocks[held], held, 1 << 20);
    }
    if (memlimit_register(drop, NULL, 0) < 0) return 2;
    printf("ready pid %d\n", (int)getpid()); /* the pid: a test may end the wait early */
    fflush(stdout);
    for (int i = 0; i < wait_s * 10; i++) {
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL); /* idle: no allocation */
    }
    pthread_mutex_lock(&lock);
    printf("holder: %d calls, %d of %d MiB still cached\n", calls, held, nblocks);
    pthread_mutex_unlock(&lock);
    return 0;
}
