/* SPDX-License-Identifier: MIT */
/* Everything at once, under a limit low enough that reclaim rounds and trims never
 * stop: 16 threads allocate and free across threads (some while holding the mutex
 * the callbacks take), 2 threads register and unregister callbacks that allocate,
 * one thread forks (each child registers a callback and must see it called by its
 * own memlimit thread), one loads and unloads a plugin that registers in its
 * constructor and unregisters in its destructor. Bounded in time; exit 0 if all held.
 * usage: stress SECONDS [PLUGIN.so] */
#define MEMLIMIT_OPTIONAL
#include "memlimit.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static atomic_int stop, failures;
static pthread_mutex_t app_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(void *) exchange[1024];
static atomic_long cb_calls, forks, plugin_loads;

static void fail(const char *what) {
    fprintf(stderr, "stress: %s\n", what);
    failures++;
}

static size_t cb(enum memlimit_level lv, size_t want, void *arg) {
    (void)lv, (void)want, (void)arg;
    pthread_mutex_lock(&app_lock); /* the lock allocating threads hold */
    void *p = malloc(4096 + (size_t)(cb_calls % 100) * 100);
    if (p) memset(p, 1, 4096);
    free(p);
    pthread_mutex_unlock(&app_lock);
    cb_calls++;
    return 4096;
}

static void *allocator(void *arg) {
    uint64_t s = (uintptr_t)arg * 2654435761u + 1;
    while (!stop) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        size_t n = 16 + s % (s & 1 ? 256 : 65536);
        void *p = malloc(n);
        if (!p) {
            fail("malloc failed");
            break;
        }
        memset(p, 7, n < 64 ? n : 64);
        if ((s >> 20) % 16 == 0) { /* sometimes while holding the app's lock */
            pthread_mutex_lock(&app_lock);
            void *q = realloc(p, n * 2);
            if (q) p = q;
            pthread_mutex_unlock(&app_lock);
        }
        /* hand it to whichever thread finds it: cross-thread frees */
        free(atomic_exchange(&exchange[(s >> 8) % 1024], p));
    }
    return NULL;
}

static void *registrar(void *arg) {
    (void)arg;
    while (!stop) {
        int h = memlimit_register(cb, NULL, rand() % 10);
        if (h <= 0) {
            fail("register failed");
            break;
        }
        usleep(500);
        if (memlimit_unregister(h) != 0) fail("unregister failed");
    }
    return NULL;
}

static atomic_int child_called;
static size_t child_cb(enum memlimit_level lv, size_t want, void *arg) {
    (void)lv, (void)want, (void)arg;
    child_called = 1;
    return 0;
}

static void *forker(void *arg) {
    (void)arg;
    while (!stop) {
        pid_t pid = fork();
        if (pid == 0) {
            /* one thread here; the registry must work and a thread must come */
            if (memlimit_register(child_cb, NULL, 0) <= 0) _exit(5);
            /* hold 16 MiB (above any soft limit the test sets), then keep allocating:
             * samples see the limit and the child's own thread must call back */
            for (int i = 0; i < 16; i++)
                memset(malloc(1 << 20), 1, 1 << 20);
            for (int i = 0; i < 400 && !child_called; i++) {
                void *p = malloc(256 << 10);
                memset(p, 1, 256 << 10);
                free(p);
                usleep(5000);
            }
            if (!child_called) {
                struct memlimit_stats st;
                memlimit_stats(&st);
                fprintf(stderr,
                        "stress child: never called back: usage %lld, soft %lld, level %d, "
                        "samples %llu, rounds %llu, calls %llu\n",
                        (long long)st.usage, (long long)st.soft_limit, (int)st.level,
                        (unsigned long long)st.samples, (unsigned long long)st.callback_rounds,
                        (unsigned long long)st.callback_calls);
            }
            _exit(child_called ? 0 : 6);
        }
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) != pid)
            fail("fork/wait");
        else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            char m[64];
            snprintf(m, sizeof m, "child status %d", st);
            fail(m);
        }
        forks++;
    }
    return NULL;
}

static void *plugin_loader(void *arg) {
    const char *path = arg;
    while (!stop) {
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            fail(dlerror());
            break;
        }
        usleep(2000); /* rounds may call the plugin's callback meanwhile */
        dlclose(h);   /* its destructor unregisters: the code may go away */
        plugin_loads++;
    }
    return NULL;
}

/* The child inherits the registrations, callbacks that take app_lock included: like
 * any program that forks while threads hold its locks, this one must make the lock
 * consistent in the child, or the child's memlimit thread would wait on it forever. */
static void lock_app(void) {
    pthread_mutex_lock(&app_lock);
}
static void unlock_app(void) {
    pthread_mutex_unlock(&app_lock);
}

int main(int argc, char **argv) {
    int secs = argc > 1 ? atoi(argv[1]) : 5;
    pthread_atfork(lock_app, unlock_app, unlock_app);
    if (!memlimit_available()) {
        fprintf(stderr, "stress: needs libmemlimit\n");
        return 2;
    }
    pthread_t t[20];
    int n = 0;
    for (int i = 0; i < 16; i++)
        pthread_create(&t[n++], NULL, allocator, (void *)(uintptr_t)i);
    for (int i = 0; i < 2; i++)
        pthread_create(&t[n++], NULL, registrar, NULL);
    pthread_create(&t[n++], NULL, forker, NULL);
    if (argc > 2) pthread_create(&t[n++], NULL, plugin_loader, argv[2]);
    sleep((unsigned)secs);
    stop = 1;
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 1024; i++)
        free(exchange[i]);
    struct memlimit_stats st;
    memlimit_stats(&st);
    printf("stress: %ds, %ld callback calls in the app, %ld forks, %ld plugin loads, %llu rounds, "
           "%llu trims, %d failures\n",
           secs, (long)cb_calls, (long)forks, (long)plugin_loads,
           (unsigned long long)st.callback_rounds, (unsigned long long)st.trims, (int)failures);
    return failures ? 1 : 0;
}
