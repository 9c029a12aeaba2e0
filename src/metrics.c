/* SPDX-License-Identifier: MIT */
#include "sysio.h"
#include "metrics.h"
#include "cold.h"
#include "limitset.h"
#include "log.h"
#include "pathfmt.h"
#include "version.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h> /* renameat */
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* SECONDS: a counter, its value in ns; SCOPED: a gauge whose meaning depends on the
 * scope (this process's figure or the cgroup's): labelled and explained as such */
enum { GAUGE, COUNTER, SECONDS, SCOPED };

/* The release, as Prometheus exporters say theirs: a gauge of 1 with a version label. */
static size_t build_info(char *buf, size_t cap, size_t len, int pid) {
    size_t n = ml_fmt(buf + len, cap - len,
                      "# HELP memlimit_build_info The library's release (the version label).\n"
                      "# TYPE memlimit_build_info gauge\n"
                      "memlimit_build_info{pid=\"%d\",version=\"%s\"} 1\n",
                      pid, ML_VERSION);
    return len + n + 1 >= cap ? 0 : len + n;
}

size_t ml_metrics_format(char *buf, size_t cap, const struct memlimit_stats *st,
                         const struct ml_metrics_extra *x, bool reached, int pid) {
    static const struct ml_metrics_extra none;
    if (!x) x = &none;
    bool cgroup = x->scope == ML_METRICS_SCOPE_IN_FORCE ? ml_limits_by_cgroup()
                                                        : x->scope == ML_METRICS_SCOPE_CGROUP;
    /* the label, and what the figure is in the HELP text */
    const char *scope = cgroup ? "cgroup" : "process";
    const char *what = cgroup ? "the cgroup's working set, for all its processes"
                              : "this process's resident anonymous memory";
    const struct {
        const char *name, *help;
        int type;
        unsigned long long value;
    } m[] = {
        {"memlimit_usage_bytes", "Memory in use at the last sample", SCOPED,
         (unsigned long long)st->usage},
        {"memlimit_peak_usage_bytes", "Highest sampled usage", SCOPED,
         (unsigned long long)st->peak_usage},
        {"memlimit_soft_limit_bytes", "Soft limit in force; 0 when none.", GAUGE,
         (unsigned long long)st->soft_limit},
        {"memlimit_hard_limit_bytes", "Hard limit (MEMLIMIT_HARD); 0 when none.", GAUGE,
         (unsigned long long)st->hard_limit},
        {"memlimit_detected_limit_bytes",
         "The cgroup memory limit capped by physical memory; 0 when none.", GAUGE,
         (unsigned long long)st->detected_limit},
        {"memlimit_level",
         "How near usage is to the limits: 0 none, 1 moderate, 2 soft, 3 critical", SCOPED,
         (unsigned long long)st->level},
        {"memlimit_limit_reached",
         "1 while memlimit_reached() is true: from the soft limit until usage is below 95% of it",
         SCOPED, reached ? 1ULL : 0ULL},
        {"memlimit_samples_total", "Usage samples taken.", COUNTER,
         (unsigned long long)st->samples},
        {"memlimit_trims_total", "Allocator trims.", COUNTER, (unsigned long long)st->trims},
        {"memlimit_trimmed_bytes_total",
         "This process's resident anonymous memory released by allocator trims (its own "
         "figure, whatever the scope).",
         COUNTER, (unsigned long long)st->trimmed_bytes},
        {"memlimit_trim_cpu_seconds_total", "CPU time the allocator's trim calls took.", SECONDS,
         (unsigned long long)x->trim_cpu_ns},
        {"memlimit_callback_rounds_total", "Reclaim rounds run by the memlimit thread.", COUNTER,
         (unsigned long long)st->callback_rounds},
        {"memlimit_callback_calls_total", "Reclaim callbacks called.", COUNTER,
         (unsigned long long)st->callback_calls},
        {"memlimit_callback_freed_bytes_total", "Bytes reclaim callbacks said they freed.", COUNTER,
         (unsigned long long)st->callback_bytes},
        {"memlimit_failed_allocations_total", "Allocations refused at the hard limit.", COUNTER,
         (unsigned long long)st->failed_allocs},
    };
    size_t len = 0;
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        char v[32];
        if (m[i].type == SECONDS) { /* "1.000250000": nine decimals, zeros kept */
            size_t k = ml_fmt(v, sizeof v, "%llu.", m[i].value / 1000000000ULL);
            unsigned long long frac = m[i].value % 1000000000ULL;
            for (int d = 8; d >= 0; d--, frac /= 10)
                v[k + (size_t)d] = (char)('0' + frac % 10);
            v[k + 9] = '\0';
        } else {
            ml_fmt(v, sizeof v, "%llu", m[i].value);
        }
        size_t n;
        if (m[i].type == SCOPED)
            n = ml_fmt(buf + len, cap - len,
                       "# HELP %s %s (scope %s: %s).\n# TYPE %s gauge\n%s{pid=\"%d\",scope=\"%s\"} "
                       "%s\n",
                       m[i].name, m[i].help, scope, what, m[i].name, m[i].name, pid, scope, v);
        else
            n = ml_fmt(buf + len, cap - len, "# HELP %s %s\n# TYPE %s %s\n%s{pid=\"%d\"} %s\n",
                       m[i].name, m[i].help, m[i].name, m[i].type == GAUGE ? "gauge" : "counter",
                       m[i].name, pid, v);
        if (len + n + 1 >= cap) return 0; /* truncated */
        len += n;
    }
    return build_info(buf, cap, len, pid);
}

/* The expanded path. Static, not 4 KiB of an application thread's stack (the limiter
 * writes from whichever thread holds its sampler flag, and threads can have 16 KiB):
 * the limiter calls ml_metrics_write only while holding that flag, which is
 * exclusive, so there is one writer. `owner` makes that a checked rule (EBUSY for a
 * second writer) rather than a silent overwrite; it holds a pid, not a bool, so a
 * child forked while its parent's sampler was writing is not locked out for good. */
static ML_COLD char final[PATH_MAX];
static _Atomic int owner;

static int write_at(int dir, const char *name, const char *text, size_t len) {
    /* ".NAME.tmp.RANDOM" beside it, made with O_EXCL: the directory may be shared
     * (/tmp), and a name someone else made first is theirs, never opened. The dot
     * keeps node_exporter from reading it (it also skips non-.prom names); NAME is
     * cut to 200 bytes so the whole stays under NAME_MAX. */
    char tmp[256];
    size_t nl = strlen(name) < 200 ? strlen(name) : 200;
    tmp[0] = '.';
    memcpy(tmp + 1, name, nl);
    memcpy(tmp + 1 + nl, ".tmp.", 5);
    char *hex = tmp + 1 + nl + 5;
    hex[16] = '\0';
    int fd = -1;
    for (int tries = 0; tries < 16 && fd < 0; tries++) {
        uint64_t r = ml_random64();
        for (int i = 0; i < 16; i++, r >>= 4)
            hex[i] = "0123456789abcdef"[r & 15];
        /* 0644 on purpose: node_exporter's textfile collector reads it as another
         * user; nothing in it is secret. The umask still applies. */
        fd = ml_openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
                       0644);
        if (fd < 0 && errno != EEXIST) return errno;
    }
    if (fd < 0) return EEXIST;
    const char *p = text;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            close(fd);
            unlinkat(dir, tmp, 0);
            return e;
        }
        p += w;
        left -= (size_t)w;
    }
    /* rename is atomic within a filesystem: a reader sees the old file or the new */
    if (close(fd) != 0 || renameat(dir, tmp, dir, name) != 0) {
        int e = errno;
        unlinkat(dir, tmp, 0);
        return e;
    }
    return 0;
}

int ml_metrics_write(const char *path, const char *text, size_t len, int pid) {
    int me = (int)getpid(), held = atomic_load(&owner);
    /* free, or held by the process we were forked from */
    if ((held == me) || !atomic_compare_exchange_strong(&owner, &held, me)) return EBUSY;
    int err = ml_path_expand(final, sizeof final, path, pid, NULL);
    if (!err) {
        /* the directory opened once and names relative to it: the temporary name is
         * longer than the final one, and must work wherever the final one does */
        char *slash = strrchr(final, '/');
        const char *name = slash ? slash + 1 : final;
        int dir = AT_FDCWD;
        if (slash) {
            char keep = slash[1];
            slash[1] = '\0'; /* "dir/": "/" stays for a file at the root */
            dir = ml_open(final, O_PATH | O_DIRECTORY | O_CLOEXEC);
            slash[1] = keep;
            if (dir < 0) err = errno;
        }
        if (!err) err = name[0] ? write_at(dir, name, text, len) : EISDIR;
        if (dir >= 0) close(dir);
    }
    atomic_store(&owner, 0);
    return err;
}
