/* SPDX-License-Identifier: MIT */
/* The library must not disturb its host: no descriptor of ours stays open or is
 * written behind the application's back (even after close_range and descriptor
 * reuse), errno survives allocations, and a single-threaded program stays
 * single-threaded (so unshare(CLONE_NEWUSER) keeps working).
 * Run with a tiny MEMLIMIT and tracing on, so trims and trace lines happen. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"

static int count_dir(const char *path) {
    DIR *d = opendir(path);
    int n = 0;
    if (!d) return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n - 2;
}

static void churn(int rounds) {
    for (int r = 0; r < rounds; r++) {
        void *p[64];
        for (int i = 0; i < 64; i++) {
            p[i] = malloc(64 << 10);
            memset(p[i], r, 64 << 10);
        }
        for (int i = 0; i < 64; i++)
            free(p[i]);
        usleep(1500); /* let the sampler's per-ms limit pass */
    }
}

int main(int argc, char **argv) {
    const char *out = argc > 1 ? argv[1] : "/tmp/memlimit-hygiene.out";
    int fds0 = count_dir("/proc/self/fd");
    errno = 777;
    churn(20);
    CHECK(errno == 777, "errno changed to %d by allocations", errno);
    CHECK(count_dir("/proc/self/fd") == fds0, "descriptors: %d before, %d after", fds0,
          count_dir("/proc/self/fd"));
    CHECK(count_dir("/proc/self/task") == 1, "threads: %d (a helper thread appeared)",
          count_dir("/proc/self/task"));

    /* close everything above stderr, then reuse the numbers for our own file */
    syscall(SYS_close_range, 3U, ~0U, 0U);
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd == 3, "expected to reuse descriptor 3, got %d", fd);
    churn(20);
    const char mine[] = "application data\n";
    CHECK(write(fd, mine, sizeof mine - 1) == (ssize_t)sizeof mine - 1, "write");
    close(fd);
    char buf[256] = {0};
    fd = open(out, O_RDONLY);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    CHECK(n == (ssize_t)sizeof mine - 1 && strcmp(buf, mine) == 0,
          "our file holds something else: '%s'", buf);
    printf("hygiene: %d failed\n", failures);
    return failures ? 1 : 0;
}
