/* SPDX-License-Identifier: MIT */
/* A program that closes every descriptor it did not open while running, then
 * reuses the numbers for pipes of its own, then grows toward its limit. With
 * events on, memlimit's eventfd was among those closed: it must notice, and never
 * write its wake-ups into the pipes. Prints "pipes clean" or what it found.
 * usage: fdclose [MiB to grow=100] */
#define MEMLIMIT_OPTIONAL
#include "memlimit.h"
#include "logwait.h"

#include <dirent.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static size_t nothing(enum memlimit_level level, size_t want, void *arg) {
    (void)level, (void)want, (void)arg;
    return 0;
}

/* whether this process holds an eventfd (the memlimit thread's, once it set up) */
static bool has_eventfd(void) {
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    char path[64], link[64];
    bool found = false;
    while (d && !found && (e = readdir(d))) {
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(path, link, sizeof link - 1);
        found = n > 0 && (link[n] = '\0', strstr(link, "[eventfd]") != NULL);
    }
    if (d) closedir(d);
    return found;
}

static void sleep_ms(long ms) {
    nanosleep(&(struct timespec){ms / 1000, ms % 1000 * 1000000L}, NULL);
}

int main(int argc, char **argv) {
    int mib = argc > 1 ? atoi(argv[1]) : 100;
    if (!memlimit_available() || memlimit_register(nothing, NULL, 0) < 0) return 2;
    /* the memlimit thread sets up its events: up to 10 s, however late it runs (with
     * a log, until its thresholds are set; else until its eventfd exists) */
    const char *log = getenv("MEMLIMIT_LOG");
    if (!log_wait(log, "usage threshold at", 10))
        for (int i = 0; i < 1000 && !has_eventfd(); i++)
            sleep_ms(10);
    close_range(3, ~0U, 0);
    int p[32][2];
    for (int i = 0; i < 32; i++)
        if (pipe(p[i]) != 0) return 3;
    for (int i = 0; i < mib; i++) { /* past the watermarks: the slow path wakes the thread */
        char *b = malloc(1 << 20);
        if (!b) return 3;
        memset(b, 1, 1 << 20);
        if (i % 8 == 0) sleep_ms(5);
    }
    /* the thread may sleep in poll() up to half a second before it looks at the number
     * again: with a log, until it said so (up to 10 s), else 1.2 s */
    if (!log_wait(log, "closed by the application", 10) && !log) sleep_ms(1200);
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
