/* SPDX-License-Identifier: MIT */
/* A signal handler that calls operator new while its thread is inside memlimit's
 * first lookup of the C++ runtime's operator new (tests/integration/t_resolve_signal.sh).
 * usage: resolve_signal RUNTIME LIB...
 * A C program: it loads every LIB, then RUNTIME (libstdc++) with RTLD_LOCAL, so the
 * first call of each operator new variant makes memlimit search every loaded object
 * for the runtime's own: a long call (milliseconds with 500 libraries). During the
 * first nothrow new another thread signals this one every few microseconds; from
 * 200 us into that call (so inside the lookup, not before it) the handler calls three
 * other variants, not yet looked up either. Prints "ok" when all four returned. The allocator
 * behind memlimit must be async-signal-safe (the test preloads a lock-free bump allocator), so that
 * only memlimit can deadlock here. */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef void *(*new_nt_fn)(size_t, const void *);
typedef void *(*new_al_nt_fn)(size_t, size_t, const void *);

static const char nothrow_tag; /* std::nothrow_t is empty: only its address is passed */
static new_nt_fn new_nt, new_arr_nt;
static new_al_nt_fn new_al_nt, new_arr_al_nt;
static _Atomic int phase; /* 1 while the handler may allocate */
static _Atomic int handled, handler_null;
static struct timespec t0; /* when the first nothrow new was called */

static double ms_since(const struct timespec *a) {
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a->tv_sec) * 1e3 + (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

static void on_signal(int sig) {
    (void)sig;
    if (atomic_load(&phase) != 1 || ms_since(&t0) < 0.2) return;
    int k = atomic_load(&handled);
    if (k >= 3) return;
    void *p = k == 0   ? new_arr_nt(64, &nothrow_tag)
              : k == 1 ? new_al_nt(64, 64, &nothrow_tag)
                       : new_arr_al_nt(64, 64, &nothrow_tag);
    if (!p) atomic_fetch_add(&handler_null, 1);
    atomic_store(&handled, k + 1); /* the blocks stay: the bump allocator never reuses */
}

static void *signaller(void *arg) {
    pthread_t target = *(pthread_t *)arg;
    while (atomic_load(&phase) != 2) {
        pthread_kill(target, SIGUSR1);
        usleep(5);
    }
    return NULL;
}

/* ours when memlimit is preloaded, else the runtime's own */
static void *lookup(void *runtime, const char *name) {
    void *p = dlsym(RTLD_DEFAULT, name);
    return p ? p : dlsym(runtime, name);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: resolve_signal RUNTIME LIB...\n");
        return 2;
    }
    for (int i = 2; i < argc; i++)
        if (!dlopen(argv[i], RTLD_NOW | RTLD_LOCAL)) return fprintf(stderr, "%s\n", dlerror()), 3;
    void *rt = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!rt) return fprintf(stderr, "%s\n", dlerror()), 3;
    new_nt = (new_nt_fn)lookup(rt, "_ZnwmRKSt9nothrow_t");
    new_arr_nt = (new_nt_fn)lookup(rt, "_ZnamRKSt9nothrow_t");
    new_al_nt = (new_al_nt_fn)lookup(rt, "_ZnwmSt11align_val_tRKSt9nothrow_t");
    new_arr_al_nt = (new_al_nt_fn)lookup(rt, "_ZnamSt11align_val_tRKSt9nothrow_t");
    if (!new_nt || !new_arr_nt || !new_al_nt || !new_arr_al_nt)
        return fprintf(stderr, "no new\n"), 3;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    pthread_t self = pthread_self(), t;
    if (pthread_create(&t, NULL, signaller, &self)) return 3;
    usleep(1000); /* the signals are coming */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    atomic_store(&phase, 1);
    void *p = new_nt(64, &nothrow_tag);
    double ms = ms_since(&t0);
    /* the handler's calls that did not land in ours run now, while this thread waits */
    for (int i = 0; i < 2000 && atomic_load(&handled) < 3; i++)
        usleep(1000);
    atomic_store(&phase, 2);
    pthread_join(t, NULL);
    printf("first nothrow new: %.1f ms under signals; handler's new: %d of 3 called, %d NULL\n", ms,
           atomic_load(&handled), atomic_load(&handler_null));
    if (!p || atomic_load(&handled) != 3 || atomic_load(&handler_null)) return 1;
    puts("ok");
    return 0;
}
