/* SPDX-License-Identifier: MIT */
/* A program that closes every descriptor it did not open while running, then
 * reuses the numbers for pipes of its own, then grows toward its limit. With
 * events on, memlimit's eventfd was among those closed: it must notice, and never
 * write its wake-ups into the pipes. Prints "pipes clean" or what it found.
 * usage: fdclose [MiB to grow=100] */
#define MEMLIMIT_OPTIONAL
#include "memlimit.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static size_t nothing(enum memlimit_level level, size_t want, void *arg) {
    (void)level, (void)want, (void)arg;
    return 0;
}

int main(int argc, char **argv) {
    int mib = argc > 1 ? atoi(argv[1]) : 100;
    if (!memlimit_available() || memlimit_register(nothing, NULL, 0) < 0) return 2;
    struct timespec ts = {0, 100000000};
    nanosleep(&ts, NULL); /* the memlimit thread sets up its events */
    close_range(3, ~0U, 0);
    int p[32][2];
    for (int i = 0; i < 32; i++)
        if (pipe(p[i]) != 0) return 3;
    for (int i = 0; i < mib; i++) { /* past the watermarks: the slow path wakes the thread */
        char *b = malloc(1 << 20);
        if (!b) return 3;
        memset(b, 1, 1 << 20);
        if (i % 8 == 0) nanosleep(&(struct timespec){0, 5000000}, NULL);
    }
    /* the thread may sleep in poll() up to a second before it looks at the number again */
    nanosleep(&(struct timespec){1, 200000000}, NULL);
    for (int i = 0; i < 8; i++)
        free(malloc(1 << 20)); /* a slow path after it did */
    int dirty = 0;
    for (int i = 0; i < 32; i++) {
        struct pollfd q[2] = {{.fd = p[i][0], .events = POLLIN}, {.fd = p[i][1], .events = POLLIN}};
        if (poll(q, 2, 0) > 0 && ((q[0].revents & POLLIN) || (q[1].revents & POLLIN))) {
            printf("pipe %d (fds %d, %d) has data written by someone else\n", i, p[i][0], p[i][1]);
            dirty++;
        }
    }
    printf(dirty ? "pipes dirty\n" : "pipes clean\n");
    return dirty ? 1 : 0;
}
