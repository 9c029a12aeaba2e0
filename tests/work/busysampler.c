/* SPDX-License-Identifier: MIT */
/* memlimit_reached() while the sampler is held elsewhere. A thread that samples can
 * be preempted for milliseconds with the sampler held (more runnable threads than
 * cores); the other threads never wait for it, and their growth must still raise
 * reached. Here one thread is made to hold it for good: this program defines open(),
 * which the library's calls bind to, and once armed the first thread to open
 * /proc/self/statm (the sampler, at scope process) stops there. The main thread then
 * maps memory past the soft limit, asking memlimit_reached() before each piece.
 * Then it frees down to 97% of the soft limit and lets the sampler go: the sample
 * settles reached from usage alone, and usage never reached the limit in a sample,
 * so it is false (the hysteresis is the sampler's, not the estimate's).
 * Run with MEMLIMIT=64MiB MEMLIMIT_SCOPE=process.
 * Exit 0: both held; 1: one did not; 2: the setup failed.
 * `busysampler lastwords`, in a cgroup limited to 256 MiB: once past the soft limit
 * (the level raised while the last sample's usage is low), one 300 MiB malloc, left
 * untouched, says last words; the test checks that the line's level is the one its
 * usage figure implies. Then it exits 0 at once. */
#define MEMLIMIT_OPTIONAL
#include "memlimit.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MiB    (1L << 20)
#define SOFT   (64 * MiB)
#define BEYOND (8 * MiB) /* how far past the soft limit the main thread goes */

static atomic_int armed, holder_tid, go, released, holder_done;

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The library's open (fileio.c); everything else is passed on. */
int open(const char *path, int flags, ...) {
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    int none = 0;
    if (atomic_load(&armed) && strcmp(path, "/proc/self/statm") == 0 &&
        atomic_compare_exchange_strong(&holder_tid, &none, (int)syscall(SYS_gettid)))
        while (!atomic_load(&released))
            pause(); /* the sampler, held until main says */
    return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

static void wake(int sig) {
    (void)sig;
}

/* this process's usage as the library measures it at scope process (usage.c) */
static long own_usage(void) {
    char buf[128] = "";
    int fd = open("/proc/self/statm", O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0) close(fd);
    long size, res, shared;
    if (n <= 0 || sscanf(buf, "%ld %ld %ld", &size, &res, &shared) != 3) return -1;
    return (res - shared) * sysconf(_SC_PAGESIZE);
}

/* main's blocks are mappings: unmapped, they leave usage at once, whatever the
 * allocator keeps of freed blocks; mmap counts against the same budget as malloc */
static void *map(long bytes) {
    char *p = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) abort();
    memset(p, 1, (size_t)bytes);
    return p;
}

static void *grab(long bytes) {
    char *p = malloc((size_t)bytes);
    if (!p) abort();
    memset(p, 1, (size_t)bytes);
    return p;
}

/* allocates until one of its samples stops in open() */
static void *holder(void *arg) {
    (void)arg;
    while (!atomic_load(&go))
        sleep_ms(1);
    for (int i = 0; i < 4000 && !atomic_load(&released); i++) {
        grab(64 << 10);
        sleep_ms(1);
    }
    atomic_store(&holder_done, 1); /* never stopped: main says so */
    return NULL;
}

int main(int argc, char **argv) {
    bool lastwords = argc > 1 && strcmp(argv[1], "lastwords") == 0;
    if (!memlimit_available()) {
        printf("busysampler: needs libmemlimit\n");
        return 2;
    }
    static char outbuf[4096]; /* stdio must not allocate (and sample) on the error paths */
    setvbuf(stdout, outbuf, _IOLBF, sizeof outbuf);
    pthread_t t;
    if (pthread_create(&t, NULL, holder, NULL)) return 2;
    atomic_store(&armed, 1);
    atomic_store(&go, 1);
    /* no clock here: the holder stops within its 4000 steps or says it never did */
    while (!atomic_load(&holder_tid)) {
        if (atomic_load(&holder_done)) {
            printf("busysampler: no sample opened /proc/self/statm (scope process?)\n");
            return 2;
        }
        sleep_ms(1);
    }
    struct memlimit_stats st;
    memlimit_stats(&st);
    uint64_t samples = st.samples;
    long start = st.usage;
    if (memlimit_reached()) {
        printf("busysampler: reached before any growth, at %ld MiB\n", start / MiB);
        return 1;
    }
    /* past the soft limit, asking before each piece */
    enum { MAXB = (SOFT + BEYOND) / MiB };
    static void *blocks[MAXB];
    long mine = 0, at = -1;
    int nb = 0;
    while (start + mine < SOFT + BEYOND && nb < MAXB) {
        blocks[nb++] = map(MiB);
        mine += MiB;
        if (at < 0 && memlimit_reached()) at = start + mine;
    }
    memlimit_stats(&st);
    char when[48] = "never";
    if (at >= 0) snprintf(when, sizeof when, "at %ld MiB", at / MiB);
    printf("busysampler: sampler held from %ld MiB; %ld MiB allocated of a %ld MiB soft "
           "limit; samples %llu -> %llu; reached %s, level %d\n",
           start / MiB, (start + mine) / MiB, SOFT / MiB, (unsigned long long)samples,
           (unsigned long long)st.samples, when, (int)memlimit_level());
    int ok = at >= 0 && st.samples == samples && memlimit_level() >= MEMLIMIT_LEVEL_SOFT;
    if (lastwords) {
        /* the last sample read `start`; the level says SOFT: the line must say the
         * level of the usage it prints */
        free(malloc(300 * MiB));
        _exit(ok ? 0 : 1);
    }

    /* down to 97% of the soft limit, then the held sample goes on */
    long u = own_usage();
    while (nb > 0 && u > SOFT / 100 * 97 + MiB / 2) {
        munmap(blocks[--nb], MiB);
        u = own_usage();
    }
    if (u < SOFT / 100 * 96 || u >= SOFT) {
        printf("busysampler: could not settle between 96%% and 100%% of the soft limit "
               "(%ld KiB)\n",
               u >> 10);
        _exit(2);
    }
    struct sigaction sa = {.sa_handler = wake};
    sigaction(SIGUSR1, &sa, NULL);
    atomic_store(&released, 1);
    pthread_kill(t, SIGUSR1);
    pthread_join(t, NULL); /* its held sample ends before it returns */
    memlimit_stats(&st);
    if (st.samples == samples) {
        printf("busysampler: the sampler was let go, but no sample was taken\n");
        _exit(2);
    }
    bool settled = !memlimit_reached();
    printf("busysampler: let go at %ld KiB (%ld%% of the soft limit): the sample read %ld "
           "KiB; reached %s, level %d\n",
           u >> 10, u * 100 / SOFT, (long)(st.usage >> 10), settled ? "false" : "true",
           (int)memlimit_level());
    if (st.usage < SOFT / 100 * 95 || st.usage >= SOFT) {
        printf("busysampler: the sample is outside 95%%-100%% of the soft limit\n");
        _exit(2);
    }
    _exit(ok && settled ? 0 : 1);
}
