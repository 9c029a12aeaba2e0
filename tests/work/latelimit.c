/* SPDX-License-Identifier: MIT */
/* A limit set after start-up (memlimit_set_limit, as the bindings' set_limit) gets
 * the once-per-process changes a limit found at start-up gets: with MEMLIMIT_THP=never
 * transparent huge pages go off, and glibc's arenas are capped. Samples run first with
 * no limit in force (they once decided "no changes, for good"). Prints what it saw;
 * exit 0 when both took effect, 1 when not. Run with no cgroup limit in force. */
#define MEMLIMIT_OPTIONAL
#include "memlimit.h"

#include <sched.h>

#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

static void churn(void) {
    /* budgets run out and samples come (one per 10 ms at most without a limit) */
    for (int r = 0; r < 5; r++) {
        for (int i = 0; i < 64; i++)
            free(malloc(64 << 10));
        nanosleep(&(struct timespec){0, 12000000}, NULL);
    }
}

static pthread_barrier_t bar;
static void *worker(void *arg) {
    (void)arg;
    void *p = malloc(1000); /* a new thread's first malloc takes an arena of its own if allowed */
    pthread_barrier_wait(&bar);
    free(p);
    return NULL;
}

/* arenas glibc made: the <heap nr=...> elements of malloc_info */
static int arenas(void) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f || malloc_info(0, f) != 0) return -1;
    fclose(f);
    int n = 0;
    for (char *s = buf; (s = strstr(s, "<heap nr=")); s++)
        n++;
    free(buf);
    return n;
}

int main(void) {
    churn();
    if (!memlimit_available()) return printf("memlimit is not loaded\n"), 2;
    if (memlimit_set_limit(-1) != 0) return printf("a limit is in force already\n"), 2;
    int before = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0);
    memlimit_set_limit(256 << 20);
    churn();
    int thp = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0);
    /* the cap is the number of CPUs (at least 2); more threads than that */
    cpu_set_t set;
    int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 2;
    int cap = cpus < 2 ? 2 : cpus, T = cap + 6;
    pthread_t t[T];
    pthread_barrier_init(&bar, NULL, T);
    for (int i = 0; i < T; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < T; i++)
        pthread_join(t[i], NULL);
    int n = arenas();
    printf("limit set late: THP disabled %d (before %d), %d arenas after %d threads\n", thp, before,
           n, T);
    return thp == 1 && n >= 1 && n <= cap ? 0 : 1;
}
