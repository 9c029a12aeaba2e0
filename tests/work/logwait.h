/* SPDX-License-Identifier: MIT */
/* For workloads that must wait for a line of memlimit's log (MEMLIMIT_LOG) instead of
 * sleeping a fixed time: how soon the memlimit thread writes it depends on the
 * machine. */
#ifndef ML_TEST_LOGWAIT_H
#define ML_TEST_LOGWAIT_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* whether the file at path holds text */
static inline bool log_has(const char *path, const char *text) {
    FILE *f = path ? fopen(path, "r") : NULL;
    char line[1024];
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f))
        found = strstr(line, text) != NULL;
    if (f) fclose(f);
    return found;
}

/* up to seconds for text in the log at path; false if it never came (or no path) */
static inline bool log_wait(const char *path, const char *text, int seconds) {
    for (int i = 0; path && i < seconds * 100; i++) {
        if (log_has(path, text)) return true;
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    return path && log_has(path, text);
}

#endif
