/* SPDX-License-Identifier: MIT */
/* Lifecycle stress, one mode per run; exit 0 when everything held.
 *   churn threads N      N short-lived threads (8 alive at a time), each with a TLS
 *                        destructor that allocates, and thread-local blocks freed by
 *                        other threads
 *   churn signal SECS    a SIGALRM every 100 us whose handler mallocs and frees 256 KiB,
 *                        interrupting the library's own code (mmap's slow path, the API,
 *                        profile dumps); glibc's malloc itself is never interrupted, as
 *                        it is not async-signal-safe */
#define MEMLIMIT_OPTIONAL
#include "memlimit.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static pthread_key_t key;
static atomic_long destructed, handled;
static _Atomic(void *) handoff[64];

static void tls_destructor(void *p) {
    void *q = malloc(1000 + (size_t)(destructed % 7) * 1000); /* allocates while exiting */
    memset(q, 3, 1000);
    free(q);
    free(p);
    destructed++;
}

static void *short_thread(void *arg) {
    uintptr_t i = (uintptr_t)arg;
    void *mine = malloc(64 + i % 4096);
    pthread_setspecific(key, mine);
    for (int k = 0; k < 20; k++) { /* blocks freed by whichever thread comes next */
        void *p = malloc(16 + (i * 131 + (uintptr_t)k * 17) % 20000);
        memset(p, 1, 16);
        free(atomic_exchange(&handoff[(i + (uintptr_t)k) % 64], p));
    }
    return NULL;
}

static int threads(long n) {
    pthread_key_create(&key, tls_destructor);
    pthread_t t[8];
    for (long i = 0; i < n; i += 8) {
        for (int j = 0; j < 8; j++)
            if (pthread_create(&t[j], NULL, short_thread, (void *)(uintptr_t)(i + j))) return 1;
        for (int j = 0; j < 8; j++)
            pthread_join(t[j], NULL);
    }
    for (int i = 0; i < 64; i++)
        free(handoff[i]);
    long want = (n + 7) / 8 * 8;
    printf("threads: %ld created, %ld TLS destructors ran\n", want, (long)destructed);
    return destructed == want ? 0 : 1;
}

static void on_alarm(int sig) {
    (void)sig;
    void *p = malloc(256 << 10);
    if (p) memset(p, 5, 4096);
    free(p);
    handled++;
}

static int signals(int secs) {
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 100}, {0, 100}};
    setitimer(ITIMER_REAL, &it, NULL);
    time_t end = time(NULL) + secs;
    long loops = 0;
    while (time(NULL) < end) {
        /* the library's code, never glibc's malloc: mmap's accounting slow path... */
        void *m = mmap(NULL, 2 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) return 1;
        memset(m, 1, 2 << 20);
        munmap(m, 2 << 20);
        /* ...the API, and with MEMLIMIT_PROFILE a dump, which holds the profile lock */
        struct memlimit_stats st;
        if (memlimit_available()) {
            memlimit_stats(&st);
            (void)memlimit_reached();
            if (loops % 50 == 0 && getenv("CHURN_DUMP"))
                memlimit_profile_dump(getenv("CHURN_DUMP"));
        }
        loops++;
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    printf("signal: %ld loops, %ld handlers allocated\n", loops, (long)handled);
    return handled > 100 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "threads")) return threads(atol(argv[2]));
    if (argc >= 3 && !strcmp(argv[1], "signal")) return signals(atoi(argv[2]));
    fprintf(stderr, "usage: churn threads N | signal SECS\n");
    return 2;
}
