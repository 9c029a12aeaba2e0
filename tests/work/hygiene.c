/* SPDX-License-Identifier: MIT */
/* The library must not disturb its host: no descriptor of ours stays open or is
 * written behind the application's back (even after close_range and descriptor
 * reuse), errno survives allocations, and a single-threaded program gets one
 * thread at most, the memlimit thread (which parks for unshare: t_unshare_thread).
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

/* the application's descriptors: not the memlimit thread's event sources (its
 * eventfd, PSI trigger, cgroup v1 threshold files), which it arms and re-arms, nor
 * /proc files (its samples open and close one; this listing is one too) */
static int count_app_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[64], to[256] = "";
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        if (readlink(path, to, sizeof to - 1) < 0) continue;
        if (!strncmp(to, "anon_inode:", 11) || strstr(to, "/sys/fs/cgroup/") ||
            !strncmp(to, "/proc/", 6))
            continue;
        n++;
    }
    if (d) closedir(d);
    return n;
}

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
    int fds0 = count_app_fds();
    errno = 777;
    churn(20);
    CHECK(errno == 777, "errno changed to %d by allocations", errno);
    CHECK(count_app_fds() == fds0, "descriptors: %d before, %d after", fds0, count_app_fds());
    /* one thread of ours at most, the memlimit thread (t_unshare_thread: it takes no
     * namespace change away) */
    int ours = threads_named("memlimit"), all = count_dir("/proc/self/task");
    CHECK(ours <= 1 && all == 1 + ours, "threads: %d, %d of them memlimit", all, ours);

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
