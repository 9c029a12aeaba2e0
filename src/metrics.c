#include "metrics.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* rename */
#include <string.h>
#include <unistd.h>

enum { GAUGE, COUNTER };

size_t ml_metrics_format(char *buf, size_t cap, const struct memlimit_stats *st, int pid) {
    const struct {
        const char *name, *help;
        int type;
        unsigned long long value;
    } m[] = {
        {"memlimit_usage_bytes", "Memory in use at the last sample (scope process: RssAnon).",
         GAUGE, (unsigned long long)st->usage},
        {"memlimit_peak_usage_bytes", "Highest sampled usage.", GAUGE,
         (unsigned long long)st->peak_usage},
        {"memlimit_soft_limit_bytes", "Soft limit in force; 0 when none.", GAUGE,
         (unsigned long long)st->soft_limit},
        {"memlimit_hard_limit_bytes", "Hard limit (MEMLIMIT_HARD); 0 when none.", GAUGE,
         (unsigned long long)st->hard_limit},
        {"memlimit_detected_limit_bytes",
         "The cgroup memory limit capped by physical memory; 0 when none.", GAUGE,
         (unsigned long long)st->detected_limit},
        {"memlimit_level", "0 none, 1 moderate, 2 soft, 3 critical.", GAUGE,
         (unsigned long long)st->level},
        {"memlimit_limit_reached", "1 from the soft limit until usage is below 95% of it.", GAUGE,
         st->level >= MEMLIMIT_LEVEL_SOFT ? 1ULL : 0ULL},
        {"memlimit_samples_total", "Usage samples taken.", COUNTER,
         (unsigned long long)st->samples},
        {"memlimit_trims_total", "Allocator trims.", COUNTER, (unsigned long long)st->trims},
        {"memlimit_trimmed_bytes_total", "Usage released by allocator trims.", COUNTER,
         (unsigned long long)st->trimmed_bytes},
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
        size_t n = ml_fmt(buf + len, cap - len, "# HELP %s %s\n# TYPE %s %s\n%s{pid=\"%d\"} %llu\n",
                          m[i].name, m[i].help, m[i].name, m[i].type == GAUGE ? "gauge" : "counter",
                          m[i].name, pid, m[i].value);
        if (len + n + 1 >= cap) return 0; /* truncated */
        len += n;
    }
    return len;
}

int ml_metrics_write(const char *path, const char *text, size_t len, int pid) {
    char final[512], tmp[600];
    /* "%p" is the pid */
    size_t o = 0;
    for (const char *p = path; *p && o + 24 < sizeof final; p++) {
        if (p[0] == '%' && p[1] == 'p') {
            o += ml_fmt(final + o, sizeof final - o, "%d", pid);
            p++;
        } else {
            final[o++] = *p;
        }
    }
    final[o] = '\0';
    /* dot-prefixed temporary in the same directory: node_exporter skips non-.prom
     * files, and rename is atomic within a filesystem */
    const char *slash = strrchr(final, '/');
    size_t dirlen = slash ? (size_t)(slash - final + 1) : 0;
    memcpy(tmp, final, dirlen);
    ml_fmt(tmp + dirlen, sizeof tmp - dirlen, ".%s.tmp.%d", final + dirlen, pid);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
    if (fd < 0) return errno;
    const char *p = text;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            close(fd);
            unlink(tmp);
            return e;
        }
        p += w;
        left -= (size_t)w;
    }
    if (close(fd) != 0 || rename(tmp, final) != 0) {
        int e = errno;
        unlink(tmp);
        return e;
    }
    return 0;
}
