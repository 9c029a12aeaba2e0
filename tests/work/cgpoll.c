/* SPDX-License-Identifier: MIT */
/* When a cgroup's charge crossed a threshold, seen from outside (scripts/bench-protect's
 * reaction time): reads FILE (memory.usage_in_bytes or memory.current) every
 * millisecond and, at the first reading at or over THRESHOLD bytes, writes
 * "BELOW ABOVE" to OUT: the CLOCK_REALTIME microseconds of the last reading under it
 * and of that reading, so the crossing lies between them. Exits then, or on SIGTERM
 * having written nothing (no crossing).
 *
 * usage: cgpoll FILE THRESHOLD OUT */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: cgpoll FILE THRESHOLD OUT\n");
        return 2;
    }
    uint64_t thr = strtoull(argv[2], NULL, 10);
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) return perror(argv[1]), 1;
    int64_t below = now_us();
    const struct timespec ms = {0, 1000000};
    for (;;) {
        char buf[64];
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        int64_t t = now_us();
        if (n <= 0) return 1; /* the cgroup is gone */
        buf[n] = '\0';
        if (strtoull(buf, NULL, 10) < thr) {
            below = t;
        } else {
            FILE *f = fopen(argv[3], "w");
            if (!f) return perror(argv[3]), 1;
            fprintf(f, "%" PRId64 " %" PRId64 "\n", below, t);
            return fclose(f) != 0;
        }
        nanosleep(&ms, NULL);
    }
}
