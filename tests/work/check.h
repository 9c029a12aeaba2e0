/* SPDX-License-Identifier: MIT */
/* CHECK for the workload programs (C and C++): counts, and prints each failure as
 * "FAIL file:line: message" without stopping, so one run reports every failure. */
#ifndef ML_TEST_CHECK_H
#define ML_TEST_CHECK_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>

static int checks __attribute__((unused)), failures __attribute__((unused));
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                            \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
        }                                                                                          \
    } while (0)

/* How many of this process's threads have this name (/proc/self/task/N/comm). */
static inline int threads_named(const char *name) {
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[96], comm[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f && fgets(comm, sizeof comm, f)) comm[strcspn(comm, "\n")] = '\0';
        if (f) fclose(f);
        if (strcmp(comm, name) == 0) n++;
    }
    if (d) closedir(d);
    return n;
}

#endif
