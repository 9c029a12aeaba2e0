/* SPDX-License-Identifier: MIT */
/* Reproducers of defects a review found, one per subcommand; each prints one line
 * ending in "ok" or "FAIL ..." (exit 1). Run by t_deadlock, t_smallstack,
 * t_hardlimit_kinds, t_backoff and t_forks.
 * usage: edges tcdeadlock SECONDS [TOTAL_MIB BLOCK_KIB] | forksig SECONDS | smallstack SECONDS |
 *        stall ROUNDS | mremap KIND | tls PLUGIN | stuckcb | freeback | vfork | forkexit */
#define MEMLIMIT_OPTIONAL
#include "memlimit.h"
#include "logwait.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void fail(const char *what) {
    printf("FAIL %s\n", what);
    fflush(stdout);
    exit(1);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rss_anon(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    uint64_t kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "RssAnon: %lu kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb << 10;
}

/* ---- tcdeadlock: threads grow and shrink the heap at the hard limit; the allocator
 * maps memory under its own locks while another thread trims ---- */
static double until;
static size_t grow_total, grow_block;
static void *grower(void *arg) {
    (void)arg;
    size_t n = grow_total / grow_block;
    void **b = calloc(n, sizeof *b);
    if (!b) return NULL;
    while (now_s() < until) {
        for (size_t i = 0; i < n; i++)
            if ((b[i] = malloc(grow_block))) memset(b[i], 1, grow_block);
        for (size_t i = 0; i < n; i++)
            free(b[i]);
    }
    free(b);
    return NULL;
}
/* each of 4 threads allocates TOTAL_MIB in blocks of BLOCK_KIB, frees them, again */
static int tcdeadlock(int secs, int total_mib, int block_kib) {
    until = now_s() + secs;
    grow_total = (size_t)total_mib << 20;
    grow_block = (size_t)block_kib << 10;
    if (!grow_block || grow_block > grow_total) fail("tcdeadlock: bad sizes");
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, grower, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    printf("tcdeadlock: 4 threads, %d MiB each in %d KiB blocks, %ds, ok\n", total_mib, block_kib,
           secs);
    return 0;
}

/* ---- stall: the same at the hard limit, while our lines go to a stderr nobody reads;
 * every thread must finish its rounds (joined with a deadline) ---- */
static int rounds_each;
static atomic_int finished;
static void *rounds(void *arg) {
    (void)arg;
    size_t n = grow_total / grow_block;
    void **b = calloc(n, sizeof *b);
    double t0 = now_s(); /* 3 s at least: the pipe fills with trace lines first */
    for (int r = 0; b && (r < rounds_each || now_s() - t0 < 3); r++) {
        for (size_t i = 0; i < n; i++)
            if ((b[i] = malloc(grow_block))) memset(b[i], 1, grow_block);
        for (size_t i = 0; i < n; i++)
            free(b[i]);
    }
    free(b);
    finished++;
    return NULL;
}
static int stall(int nrounds) {
    rounds_each = nrounds;
    grow_total = 40u << 20;
    grow_block = 1u << 20;
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, rounds, NULL);
    double end = now_s() + 60;
    while (finished < 4 && now_s() < end)
        usleep(10000);
    printf("stall: %d of 4 threads finished %d rounds at the hard limit within 60 s, %s\n",
           (int)finished, nrounds, finished == 4 ? "ok" : "FAIL");
    fflush(stdout);
    _exit(finished == 4 ? 0 : 1); /* a stuck thread must not hold the exit */
}

/* ---- forksig: fork() from a signal handler that interrupted register/unregister ---- */
static atomic_long forks;
static size_t nothing(enum memlimit_level lv, size_t want, void *arg) {
    (void)lv, (void)want, (void)arg;
    return 0;
}
static void on_usr1(int sig) {
    (void)sig;
    int saved = errno;
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    if (pid > 0) waitpid(pid, NULL, 0), forks++;
    errno = saved;
}
static void *registrar(void *arg) {
    (void)arg;
    while (now_s() < until) {
        int h = memlimit_register(nothing, NULL, 0);
        if (h > 0) memlimit_unregister(h);
    }
    return NULL;
}
static int forksig(int secs) {
    struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_RESTART};
    sigaction(SIGUSR1, &sa, NULL);
    until = now_s() + secs;
    pthread_t t;
    pthread_create(&t, NULL, registrar, NULL);
    long sent = 0;
    while (now_s() < until) {
        pthread_kill(t, SIGUSR1);
        sent++;
        usleep(200);
    }
    pthread_join(t, NULL);
    if (forks == 0) fail("forksig: no fork happened");
    printf("forksig: %ld signals, %ld forks from the handler, ok\n", sent, (long)forks);
    return 0;
}

/* ---- smallstack: how deep our slow path goes on small stacks ---- */
#define PAINT 0xA5
static size_t used_below(const unsigned char *lo, const unsigned char *top) {
    const unsigned char *p = lo;
    while (p < top && *p == PAINT)
        p++;
    return (size_t)(top - p);
}
static __attribute__((noinline)) void paint(unsigned char *lo, unsigned char *top) {
    for (volatile unsigned char *p = lo; p < top; p++)
        *p = PAINT;
}
static _Atomic size_t max_depth;
static void note_depth(size_t d) {
    size_t m = max_depth;
    while (d > m && !atomic_compare_exchange_weak(&max_depth, &m, d)) {
    }
}
/* allocate 2 MiB every 20 ms; the slow path runs each time (sampling, refresh, trim) */
static __attribute__((noinline)) void churn_2mib(int rounds) {
    for (int i = 0; i < rounds; i++) {
        char *p = malloc(2 << 20);
        if (p) memset(p, 1, 2 << 20);
        free(p);
        usleep(20000);
    }
}
static int rounds_for;
static void *small_thread(void *arg) {
    (void)arg;
    pthread_attr_t a;
    void *base;
    size_t size;
    pthread_getattr_np(pthread_self(), &a);
    pthread_attr_getstack(&a, &base, &size);
    pthread_attr_destroy(&a);
    churn_2mib(1); /* binds the program's lazy PLT entries first: the loader's resolver
                      saves the vector registers on the stack, kilobytes we did not ask for */
    unsigned char *here = __builtin_frame_address(0);
    unsigned char *top = here - 512; /* our own frame and paint's stay clear */
    paint(base, top);
    churn_2mib(rounds_for);
    note_depth(used_below(base, top) + 512);
    return NULL;
}
static unsigned char *alt;
static size_t alt_size;
static void on_alrm(int sig) {
    (void)sig;
    unsigned char *here = __builtin_frame_address(0), *top = here - 256;
    paint(alt, top);
    char *p = malloc(2 << 20);
    if (p) memset(p, 1, 4096);
    free(p);
    size_t d = used_below(alt, top) + 256 + (size_t)(alt + alt_size - here);
    note_depth(d);
}
static int smallstack(int secs) {
    rounds_for = secs * 50;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, PTHREAD_STACK_MIN);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        if (pthread_create(&t[i], &a, small_thread, NULL) != 0) fail("pthread_create");
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    size_t threads = max_depth;
    raise(SIGURG); /* ignored by default: binds raise */
    /* a signal handler on an alternate stack of MINSIGSTKSZ bytes, allocating */
    max_depth = 0;
    alt_size = MINSIGSTKSZ;
    alt = mmap(NULL, alt_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    stack_t ss = {.ss_sp = alt, .ss_size = alt_size};
    if (sigaltstack(&ss, NULL) != 0) fail("sigaltstack");
    struct sigaction sa = {.sa_handler = on_alrm, .sa_flags = SA_ONSTACK};
    sigaction(SIGALRM, &sa, NULL);
    for (int i = 0; i < secs * 50; i++) {
        raise(SIGALRM);
        usleep(20000);
    }
    printf("smallstack: deepest use %zu bytes of a PTHREAD_STACK_MIN thread stack, %zu of a "
           "%zu-byte signal stack, ok\n",
           threads, (size_t)max_depth, alt_size);
    return 0;
}

/* ---- mremap: growth of mappings mmap does not count, at the hard limit ---- */
static int do_mremap(const char *kind) {
    size_t from = 64u << 20, to = 512u << 20;
    int prot = PROT_READ | PROT_WRITE, fl = MAP_PRIVATE | MAP_ANONYMOUS, fd = -1;
    bool refuse = false;
    if (strcmp(kind, "shared") == 0) {
        fl = MAP_SHARED | MAP_ANONYMOUS;
    } else if (strcmp(kind, "file") == 0) {
        char path[] = "/tmp/memlimit-edges-XXXXXX";
        fd = mkstemp(path);
        unlink(path);
        if (fd < 0 || ftruncate(fd, (off_t)to) != 0) fail("file");
        fl = MAP_SHARED;
    } else if (strcmp(kind, "none") == 0) {
        prot = PROT_NONE;
    } else if (strcmp(kind, "noreserve") == 0) {
        fl |= MAP_NORESERVE;
    } else if (strcmp(kind, "private") == 0) {
        refuse = true; /* the one kind the hard limit counts */
    } else {
        fail("unknown kind");
    }
    void *p = mmap(NULL, from, prot, fl, fd, 0);
    if (p == MAP_FAILED) fail("mmap");
    void *q = mremap(p, from, to, MREMAP_MAYMOVE);
    int e = errno;
    if (refuse && !(q == MAP_FAILED && e == ENOMEM)) fail("mremap: private growth admitted");
    if (!refuse && q == MAP_FAILED) {
        printf("FAIL mremap %s: %s\n", kind, strerror(e));
        return 1;
    }
    printf("mremap %s 64 -> 512 MiB: %s, ok\n", kind, q == MAP_FAILED ? "refused" : "grown");
    return 0;
}

/* ---- tls: the dynamic loader's lazy TLS after the program ate its reserve ---- */
static int (*touch)(void);
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int go;
static void *tls_thread(void *arg) {
    (void)arg;
    pthread_mutex_lock(&m);
    while (!go)
        pthread_cond_wait(&c, &m);
    pthread_mutex_unlock(&m);
    touch(); /* glibc allocates this thread's block of the plugin now */
    return NULL;
}
static int tls(const char *plugin) {
    void *h = dlopen(plugin, RTLD_NOW);
    if (!h || !(touch = (int (*)(void))dlsym(h, "tls_touch"))) fail("dlopen");
    pthread_t t;
    pthread_create(&t, NULL, tls_thread, NULL);
    /* eat everything the hard limit allows, handling NULL as a program should */
    size_t n = 0, nulls = 0;
    while (nulls < 1000) {
        char *p = malloc(4096);
        if (!p) {
            nulls++;
            continue;
        }
        memset(p, 1, 4096);
        n++;
    }
    pthread_mutex_lock(&m);
    go = 1;
    pthread_cond_signal(&c);
    pthread_mutex_unlock(&m);
    pthread_join(t, NULL);
    printf("tls: ate %zu MiB until refused, then a thread's dynamic TLS was allocated, ok\n",
           (n * 4096) >> 20);
    return 0;
}

/* ---- stuckcb: a live set stuck above the soft limit, a callback that frees nothing ---- */
static atomic_long calls;
static size_t counted(enum memlimit_level lv, size_t want, void *arg) {
    (void)lv, (void)want, (void)arg;
    calls++;
    return 0;
}
static char *hold(size_t n) {
    char *p = malloc(n);
    if (!p) fail("malloc");
    memset(p, 1, n);
    return p;
}
static int stuckcb(void) {
    int64_t soft = memlimit_set_limit(-1);
    if (soft <= 0) fail("no soft limit");
    memlimit_register(counted, NULL, 0);
    char *live = hold((size_t)soft + ((size_t)soft >> 2)); /* 125% of the limit */
    sleep(1);
    long before = calls;
    sleep(4);
    long stuck = calls - before;
    /* growth brings rounds back */
    long at_grow = calls;
    char *more = hold((size_t)soft >> 2);
    double t0 = now_s();
    while (calls == at_grow && now_s() - t0 < 10)
        usleep(1000);
    printf("stuckcb: %ld calls in 4 s stuck above the limit; after growing: %s, %s\n", stuck,
           calls > at_grow ? "called again" : "not called", stuck <= 40 ? "ok" : "FAIL");
    free(live);
    free(more);
    return stuck <= 40 && calls > at_grow ? 0 : 1;
}

/* ---- freeback: stuck above the limit, then most of the heap is freed ---- */
static void churn_small(double secs) {
    double end = now_s() + secs;
    while (now_s() < end) {
        void *p = malloc(64 << 10);
        free(p);
        usleep(100);
    }
}
static int freeback(void) {
    enum { SZ = 1024 };
    size_t n = (400u << 20) / SZ;
    char **b = malloc(n * sizeof *b);
    if (!b) fail("malloc");
    for (size_t i = 0; i < n; i++)
        b[i] = hold(SZ);
    churn_small(3);             /* trims free nothing: the back-off grows */
    uint64_t high = rss_anon(); /* before the frees: a trim may follow the first of them */
    for (size_t i = 0; i < n; i++)
        if (i % 16) free(b[i]);
    double t0 = now_s();
    while (rss_anon() > high / 2 && now_s() - t0 < 30)
        churn_small(0.01);
    uint64_t low = rss_anon();
    /* the memlimit thread that trimmed writes its line once the trim returns: up to 10 s
     * for it, however late the thread runs */
    log_wait(getenv("MEMLIMIT_LOG"), "the allocator held", 10);
    printf("freeback: %lu MiB resident after freeing 15/16 of 400 MiB, %lu MiB %.2f s later, "
           "%s\n",
           (unsigned long)(high >> 20), (unsigned long)(low >> 20), now_s() - t0,
           low <= high / 2 ? "ok" : "FAIL");
    return low <= high / 2 ? 0 : 1;
}

/* ---- vfork: a child that allocates in its parent's memory ---- */
static int do_vfork(void) {
    pid_t pid = vfork();
    if (pid == 0) {
        void *p = malloc(8 << 20); /* the first slow path after start-up is the child's */
        if (p) memset(p, 1, 8 << 20);
        free(p);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    int64_t soft = memlimit_set_limit(-1);
    if (soft <= 0) fail("no soft limit");
    memlimit_register(counted, NULL, 0);
    char *live = hold((size_t)soft + ((size_t)soft >> 2));
    double t0 = now_s();
    while (calls == 0 && now_s() - t0 < 10)
        usleep(1000);
    free(live);
    printf("vfork: after a vfork child allocated, the parent's callback was %s, %s\n",
           calls ? "called" : "never called", calls ? "ok" : "FAIL");
    return calls ? 0 : 1;
}

/* ---- forkexit: a parent and its fork child both exit normally (destructors run) ---- */
static int forkexit(void) {
    pid_t pid = fork();
    free(hold(1 << 20));
    if (pid == 0) exit(0);
    int st = 0;
    waitpid(pid, &st, 0);
    printf("forkexit: child %d exited %d, ok\n", (int)pid, WEXITSTATUS(st));
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *cmd = argc > 1 ? argv[1] : "";
    const char *arg = argc > 2 ? argv[2] : "";
    /* smallstack also measures the C library alone, for the difference */
    if (!memlimit_available() && strcmp(cmd, "smallstack") != 0)
        fail("libmemlimit.so is not loaded");
    if (strcmp(cmd, "vfork") == 0) return do_vfork(); /* first: before any allocation */
    if (strcmp(cmd, "tcdeadlock") == 0)
        return tcdeadlock(atoi(arg), argc > 3 ? atoi(argv[3]) : 150,
                          argc > 4 ? atoi(argv[4]) : 256);
    if (strcmp(cmd, "forksig") == 0) return forksig(atoi(arg));
    if (strcmp(cmd, "stall") == 0) return stall(atoi(arg));
    if (strcmp(cmd, "smallstack") == 0) return smallstack(atoi(arg));
    if (strcmp(cmd, "mremap") == 0) return do_mremap(arg);
    if (strcmp(cmd, "tls") == 0) return tls(arg);
    if (strcmp(cmd, "stuckcb") == 0) return stuckcb();
    if (strcmp(cmd, "freeback") == 0) return freeback();
    if (strcmp(cmd, "forkexit") == 0) return forkexit();
    fprintf(stderr, "usage: edges tcdeadlock|forksig|smallstack SECONDS | mremap KIND | tls PLUGIN "
                    "| stuckcb | freeback | vfork\n");
    return 2;
}
