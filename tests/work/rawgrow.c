/* SPDX-License-Identifier: MIT */
/* Growth no allocator sees: anonymous memory from the mmap system call itself,
 * touched page by page, 1 MiB at a time. After each step it reads the cgroup's
 * usage and prints the moment (CLOCK_MONOTONIC, ns) it first reached THRESHOLD.
 * With WAIT_S it stops growing there and waits up to WAIT_S seconds for the usage to
 * fall below THRESHOLD again (someone else gave memory back), printing when it did:
 * a neighbour that pauses, so that whether it is answered does not depend on how
 * fast this machine schedules the answer. Exit 4 when nothing was given back. With
 * OVER_MiB it grows that much more past THRESHOLD before it waits: the library weighs
 * the cgroup's working set (its inactive file cache left out), a little below the
 * usage read here.
 * usage: rawgrow USAGE_FILE THRESHOLD_BYTES TARGET_MiB [hold ms=300] [WAIT_S=0] [OVER_MiB=0] */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* the usage file's figure; an unreadable one ends the run (exit 2): it would never
 * cross, or would seem to have dropped */
static unsigned long long read_usage(const char *usage) {
    FILE *f = fopen(usage, "r");
    unsigned long long u = 0;
    int ok = f && fscanf(f, "%llu", &u) == 1;
    if (f) fclose(f);
    if (!ok) {
        fprintf(stderr, "rawgrow: cannot read %s\n", usage);
        exit(2);
    }
    return u;
}

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    const char *usage = argv[1];
    unsigned long long threshold = strtoull(argv[2], NULL, 10);
    int target = atoi(argv[3]);
    long hold = argc > 4 ? atol(argv[4]) : 300;
    int wait_s = argc > 5 ? atoi(argv[5]) : 0;
    int over = argc > 6 ? atoi(argv[6]) : 0;
    int crossed_at = -1, rc = 0; /* the step that first reached THRESHOLD */
    for (int i = 0; i < target; i++) {
        char *p = (char *)syscall(SYS_mmap, NULL, 1 << 20, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return 3;
        for (int off = 0; off < (1 << 20); off += 4096)
            p[off] = 1;
        if (crossed_at >= 0 && (!wait_s || i < crossed_at + over)) continue;
        unsigned long long u = read_usage(usage);
        if (crossed_at < 0) {
            if (u < threshold) continue;
            crossed_at = i;
            printf("crossed at %lld usage %llu after %d MiB\n", now_ns(), u, i + 1);
            fflush(stdout);
            if (!wait_s || over) continue;
        }
        long long until = now_ns() + wait_s * 1000000000LL;
        while ((u = read_usage(usage)) >= threshold && now_ns() < until) {
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
        }
        if (u < threshold) {
            printf("dropped at %lld usage %llu\n", now_ns(), u);
        } else {
            printf("no drop within %d s: usage %llu\n", wait_s, u);
            rc = 4;
        }
        fflush(stdout);
        break;
    }
    struct timespec ts = {hold / 1000, (hold % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    return rc;
}
