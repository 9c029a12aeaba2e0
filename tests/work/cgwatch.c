/* SPDX-License-Identifier: MIT */
/* cgwatch DIR OUT|- CMD [ARG...]: runs CMD inside the memory cgroup DIR and, when OUT is
 * not "-", writes the cgroup's working set to OUT every 20 ms (CGWATCH_INTERVAL_MS) as
 * memlimit trace sample lines (docs/operators.md, "Trace format"), so that
 * scripts/memlimit-plot draws a run without the library like one with it. Usage is
 * what the library's cgroup scope measures: memory.usage_in_bytes - total_inactive_file
 * (v1) or memory.current - inactive_file (v2). One process, no fork per sample: it
 * sleeps to absolute 20 ms ticks and wakes at once when CMD ends (a pidfd).
 *
 * Once the cgroup counts an OOM kill (oom_kill in memory.oom_control or memory.events),
 * sampling stops (a process being torn down frees its memory gradually) and one last
 * sample, at the moment the kill was seen, gives the cgroup's peak charge
 * (memory.max_usage_in_bytes or memory.peak): the OOM killer acts when the charge
 * reaches the limit, which is usually between two samples.
 *
 * Exits with CMD's status as a shell reports it (128 + signal when killed), 126 when it
 * cannot be run, 125 on a usage or cgroup error. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

static char dir[4096];

/* The first number in DIR/NAME, or -1. */
static long long read_num(const char *name) {
    char path[4200], buf[64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    if (strncmp(buf, "max", 3) == 0) return 0;
    return strtoll(buf, NULL, 10);
}

/* The value of KEY in a "key value" file DIR/NAME (memory.stat), or 0. */
static long long key_value(const char *name, const char *key) {
    char path[4200], buf[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    size_t kl = strlen(key);
    for (char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, key, kl) == 0 && p[kl] == ' ') return strtoll(p + kl + 1, NULL, 10);
    return 0;
}

static void sample(FILE *out, double t, long long usage, long long limit) {
    fprintf(out,
            "memlimit[%d cgwatch]: t=%.3f sample usage=%lld soft=0 hard=0 limit=%lld level=none "
            "trims=0 rounds=0 failed=0\n",
            (int)getpid(), t, usage, limit);
}

static double since(const struct timespec *t0) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (now.tv_nsec - t0->tv_nsec) / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: cgwatch CGROUP-DIR OUT|- CMD [ARG...]\n");
        return 125;
    }
    snprintf(dir, sizeof dir, "%s", argv[1]);
    const char *env = getenv("CGWATCH_INTERVAL_MS");
    long interval_ms = env ? atol(env) : 20;
    if (interval_ms < 1) interval_ms = 20;
    int v1 = read_num("memory.usage_in_bytes") >= 0;
    const char *usage_file = v1 ? "memory.usage_in_bytes" : "memory.current";
    const char *inactive_key = v1 ? "total_inactive_file" : "inactive_file";
    const char *peak_file = v1 ? "memory.max_usage_in_bytes" : "memory.peak";
    const char *events_file = v1 ? "memory.oom_control" : "memory.events";
    long long kills0 = key_value(events_file, "oom_kill");
    long long limit = read_num(v1 ? "memory.limit_in_bytes" : "memory.max");
    if (limit >= 1LL << 60) limit = 0; /* v1's "no limit": LONG_MAX rounded to pages */
    if (read_num(usage_file) < 0) {
        fprintf(stderr, "cgwatch: no %s in %s\n", usage_file, dir);
        return 125;
    }
    FILE *out = NULL;
    if (strcmp(argv[2], "-") != 0 && !(out = fopen(argv[2], "we"))) {
        fprintf(stderr, "cgwatch: %s: %s\n", argv[2], strerror(errno));
        return 125;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) return 125;
    if (pid == 0) {
        char path[4200], me[32];
        snprintf(path, sizeof path, "%s/cgroup.procs", dir);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        int len = snprintf(me, sizeof me, "%d\n", (int)getpid());
        if (fd < 0 || write(fd, me, (size_t)len) != len) {
            fprintf(stderr, "cgwatch: cannot join %s: %s\n", dir, strerror(errno));
            _exit(125);
        }
        close(fd);
        execvp(argv[3], argv + 3);
        fprintf(stderr, "cgwatch: %s: %s\n", argv[3], strerror(errno));
        _exit(126);
    }
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    int status = 0;
    struct timespec tick = t0;
    double killed_at = -1;
    for (;;) {
        if (out && killed_at < 0) {
            double t = since(&t0);
            long long u = read_num(usage_file), ws = u - key_value("memory.stat", inactive_key);
            if (key_value(events_file, "oom_kill") > kills0)
                killed_at = t;
            else if (u >= 0)
                sample(out, t, ws > 0 ? ws : u, limit);
        }
        tick.tv_nsec += interval_ms * 1000000L;
        while (tick.tv_nsec >= 1000000000L) {
            tick.tv_nsec -= 1000000000L;
            tick.tv_sec++;
        }
        if (pidfd >= 0) { /* sleep to the tick, or until the child ends */
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            long ms = (tick.tv_sec - now.tv_sec) * 1000 + (tick.tv_nsec - now.tv_nsec) / 1000000;
            struct pollfd p = {.fd = pidfd, .events = POLLIN};
            if (ms > 0) poll(&p, 1, (int)ms);
        } else {
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &tick, NULL);
        }
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) return 125;
    }
    if (out) {
        if (killed_at < 0 && key_value(events_file, "oom_kill") > kills0) killed_at = since(&t0);
        long long peak = read_num(peak_file);
        if (killed_at >= 0 && peak > 0) sample(out, killed_at, peak, limit);
        fclose(out);
    }
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}
