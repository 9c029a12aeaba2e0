/* SPDX-License-Identifier: MIT */
/* memlimit_reached() while the sampler is held elsewhere. A thread that samples can
 * be preempted for milliseconds with the sampler held (more runnable threads than
 * cores); the other threads never wait for it, and their growth must still raise
 * reached. Here one thread is made to hold it for good: in a mount namespace of its
 * own, the program binds a FIFO over /proc/self/statm (what the sampler reads at scope
 * process; the library opens it with a raw system call, so no function of the
 * program's can stand in the way), and the first sample after that waits in the
 * FIFO until the program writes it a statm line. The main thread then maps memory
 * past the soft limit, asking memlimit_reached() before each piece.
 * Then it frees down to 97% of the soft limit and lets the sampler go, with its real
 * usage in the line: the sample settles reached from usage alone, and usage never
 * reached the limit in a sample, so it is false (the hysteresis is the sampler's,
 * not the estimate's). Needs root (mount).
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
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MiB    (1L << 20)
#define SOFT   (64 * MiB)
#define BEYOND (8 * MiB) /* how far past the soft limit the main thread goes */

static atomic_int held, go, released, holder_done;
static char fifo[64];

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* this process's usage as the library measures it at scope process (usage.c: statm's
 * resident less shared, which is RssAnon), from /proc/self/status: statm is the FIFO */
static long own_usage(void) {
    char buf[4096] = "";
    int fd = open("/proc/self/status", O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0) close(fd);
    const char *p = n > 0 ? strstr(buf, "RssAnon:") : NULL;
    long kb;
    if (!p || sscanf(p, "RssAnon: %ld", &kb) != 1) return -1;
    return kb << 10;
}

/* A mount namespace of our own (the threads made after this share it: the namespace
 * is per thread), then the FIFO over /proc/self/statm in it. */
static bool own_namespace(void) {
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        printf("busysampler: cannot make a mount namespace: %s\n", strerror(errno));
        return false;
    }
    return true;
}

static bool arm(void) {
    snprintf(fifo, sizeof fifo, "/tmp/busysampler.%d", (int)getpid());
    unlink(fifo);
    if (mkfifo(fifo, 0600) != 0 || mount(fifo, "/proc/self/statm", NULL, MS_BIND, NULL) != 0) {
        printf("busysampler: cannot bind a FIFO over /proc/self/statm: %s\n", strerror(errno));
        return false;
    }
    return true;
}

/* Lets the held sample go with `bytes` of usage. Unmounted first: a sample that opens
 * statm after this reads the real one, and none can wait in the FIFO with no writer. */
static void release(int wfd, long bytes) {
    umount2("/proc/self/statm", MNT_DETACH);
    unlink(fifo);
    long page = sysconf(_SC_PAGESIZE);
    char line[96];
    int n = snprintf(line, sizeof line, "%ld %ld 0 0 0 0 0\n", bytes / page, bytes / page);
    if (write(wfd, line, (size_t)n) != n) abort();
    close(wfd);
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

/* allocates until a sample (its own or another thread's) is held, then waits */
static void *holder(void *arg) {
    (void)arg;
    while (!atomic_load(&go))
        sleep_ms(1);
    for (int i = 0; i < 4000 && !atomic_load(&released) && !atomic_load(&held); i++) {
        grab(64 << 10);
        sleep_ms(1);
    }
    if (!atomic_load(&held)) atomic_store(&holder_done, 1); /* never held: main says so */
    while (!atomic_load(&released))
        sleep_ms(1);
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
    if (!own_namespace()) return 2;
    pthread_t t;
    if (pthread_create(&t, NULL, holder, NULL)) return 2;
    /* from here main allocates nothing until the sampler is held (a sample of its own
     * would wait in the FIFO, and nothing would open its other end) */
    if (!arm()) return 2;
    atomic_store(&go, 1);
    /* a writer's open succeeds once a reader waits in the FIFO's open: from then on
     * that reader waits in its read, until release. No clock here: the holder stops
     * within its 4000 steps or says it never did. */
    int wfd;
    while ((wfd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
        if (atomic_load(&holder_done)) {
            printf("busysampler: no sample opened /proc/self/statm (scope process?)\n");
            return 2;
        }
        sleep_ms(1);
    }
    atomic_store(&held, 1);
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
    release(wfd, u);
    atomic_store(&released, 1);
    pthread_join(t, NULL);
    /* the held sample ends as soon as it reads the line */
    for (int i = 0; i < 5000; i++) {
        memlimit_stats(&st);
        if (st.samples != samples) break;
        sleep_ms(1);
    }
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
