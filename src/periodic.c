/* SPDX-License-Identifier: MIT */
#include "periodic.h"
#include "cold.h"
#include "cgroup.h"
#include "level.h"
#include "log.h"
#include "metrics.h"
#include "trim.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static const struct ml_config *cfg;
static int pid0; /* the process that started: not a fork child */
static uint64_t next_trace_ns, next_metrics_ns;
static enum memlimit_level traced_level;
static bool metrics_failed;
static struct memlimit_stats st;
static ML_COLD char
    text[4096]; /* the metrics text is at most about 3.2 KiB; a longer one is refused, not cut */

void ml_periodic_init(const struct ml_config *c) {
    cfg = c;
    pid0 = (int)getpid();
}

bool ml_periodic_arm_exit(void) {
    if (!cfg || !cfg->metrics || ((int)getpid() != pid0 && !strstr(cfg->metrics, "%p")))
        return false;
    next_metrics_ns = 0;
    return true;
}

void ml_periodic_forked(void) {
    next_trace_ns = next_metrics_ns = 0;
}

void ml_periodic(uint64_t now, enum memlimit_level lv, bool reached,
                 void (*stats)(struct memlimit_stats *st)) {
    if (!cfg) return;
    bool line = cfg->trace >= 2 && (now >= next_trace_ns || lv != traced_level);
    bool metrics = cfg->metrics && now >= next_metrics_ns;
    if (!line && !metrics) return;
    stats(&st);
    /* every interval, and at every change of level, so a chart shows the crossings */
    if (line) {
        traced_level = lv;
        next_trace_ns = now + (uint64_t)cfg->trace_interval_ms * 1000000ULL;
        ml_log("sample usage=%llu soft=%llu hard=%llu limit=%llu level=%s trims=%llu rounds=%llu "
               "failed=%llu",
               (unsigned long long)st.usage, (unsigned long long)st.soft_limit,
               (unsigned long long)st.hard_limit, (unsigned long long)st.detected_limit,
               ml_level_name(lv), (unsigned long long)st.trims,
               (unsigned long long)st.callback_rounds, (unsigned long long)st.failed_allocs);
    }
    if (metrics) {
        next_metrics_ns = now + (uint64_t)cfg->metrics_interval_sec * 1000000000ULL;
        int pid = (int)getpid();
        struct ml_metrics_extra x = {.trim_cpu_ns = ml_trim_cpu_ns()};
        size_t n = ml_metrics_format(text, sizeof text, &st, &x, reached, pid);
        int err = n ? ml_metrics_write(cfg->metrics, text, n, pid) : ENOBUFS;
        if (err && !metrics_failed) { /* once: a full disk must not flood the log */
            metrics_failed = true;
            ml_log("cannot write metrics (%s) to %s", strerrordesc_np(err), cfg->metrics);
        }
    }
}
