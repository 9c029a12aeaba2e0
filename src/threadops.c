/* What the memlimit thread (reclaim.c) asks, answered from the core and the
 * limits: a fresh sample, the target a round aims below and this process's share
 * of it, how long to sleep before the next look (shorter as headroom shrinks when
 * usage is the cgroup's), trims, the limit files re-read, kernel events armed and
 * read. The thread's own state lives here. */
#include "threadops.h"
#include "cold.h"
#include "clock.h"
#include "decide.h"
#include "dump.h"
#include "level.h"
#include "limiter.h"
#include "limitset.h"
#include "reclaim.h"
#include "usage.h"
#include "watch.h"

#include <poll.h>

/* A kernel stall report: rounds at CRITICAL aim at 80% of the soft limit. */
#define ML_STALL_TARGET_PERMILLE 800
/* From a crossing to the memory coming back: the thread's sleep, a round, a trim, and
 * a CPU quota's throttled period (50 ms of a 100 ms period at cpu: 500m). */
#define ML_REACTION_NS (50ULL * 1000000)

static uint64_t op_measure(enum memlimit_level *lv) {
    static bool started; /* the thread's own */
    if (!started) {
        started = true;
        ml_core_thread_started();
    }
    uint64_t u = ml_core_fresh_usage(true, lv);
    /* the hard limit's round: at CRITICAL even where the soft limit says less */
    if (lv && *lv < MEMLIMIT_LEVEL_CRITICAL && ml_core_critical_asked())
        *lv = MEMLIMIT_LEVEL_CRITICAL;
    return u;
}

/* Growth the thread measured between its passes, bytes/s (op_wait keeps it). */
static uint64_t rate;

static uint64_t op_target(enum memlimit_level lv) {
    /* a round aims at the moderate watermark (90% of the soft limit), not just under
     * the 95% where memlimit_reached() clears: a cache held at the edge crosses it
     * again before the next round. Lower by what the measured growth adds in
     * ML_REACTION_NS (a pacer, as Go's GC has), to 75% at most; a kernel stall
     * report to 80%: the cgroup is short now, whatever our own figure says */
    uint64_t soft = ml_limits_soft(), hard = ml_hard_get();
    unsigned pm = lv >= MEMLIMIT_LEVEL_CRITICAL && ml_core_stalled(ml_now_ns())
                      ? ML_STALL_TARGET_PERMILLE
                      : ML_MODERATE_PERMILLE;
    uint64_t t = soft ? ml_decide_paced_target(ml_permille(soft, pm), ml_permille(soft, 750), rate,
                                               ML_REACTION_NS)
                      : UINT64_MAX;
    if (hard && ml_permille(hard, ML_RELEASE_PERMILLE) < t)
        t = ml_permille(hard, ML_RELEASE_PERMILLE);
    return t == UINT64_MAX ? 0 : t;
}

/* Usage is the cgroup's: this process's share of what a round wants freed. */
static uint64_t op_share(uint64_t want, uint64_t usage) {
    return ml_limits_by_cgroup() ? ml_decide_share(want, ml_usage_process(NULL), usage) : want;
}

/* Growth the thread sees between its passes (other processes in the cgroup, pages
 * touched with no allocation call: neither passes the slow path) shortens its sleep:
 * cgroup v2 has no usage thresholds to wake it. Near-free far from the limit: 0.5 s
 * when a quarter of the headroom would take that long at ML_ASSUMED_RATE. The
 * thread's own state. */
#define ML_ASSUMED_RATE (4ULL << 30) /* bytes/s: one thread faulting in fresh pages */
static uint64_t op_wait(uint64_t base) {
    static uint64_t last_u, last_ns;
    uint64_t now = ml_now_ns(), u = ml_core_last_usage();
    if (last_ns && now > last_ns) {
        uint64_t inst =
            u > last_u ? (uint64_t)((unsigned __int128)(u - last_u) * 1000000000u / (now - last_ns))
                       : 0;
        rate = rate / 2 + inst / 2;
    }
    last_u = u;
    last_ns = now;
    uint64_t soft = ml_limits_soft(), hard = ml_hard_get(), cgl = ml_limits_cgroup();
    uint64_t mark = soft;
    if (!soft || u >= soft) mark = hard ? hard : cgl != ML_NO_LIMIT ? cgl : 0;
    /* with v1 thresholds at the marks, the kernel says when usage crosses one: an
     * idle thread far from the limit then wakes twice a second (measured: 233 wakes
     * and 40 ms of CPU in 20 s at 100 MiB of 460 MiB without this) */
    uint64_t assumed = ml_watch_thresholds_armed() ? 0 : ML_ASSUMED_RATE;
    return ml_decide_wait_ns(u, mark, rate, assumed, base);
}

static void op_trim(enum memlimit_level lv, uint64_t freed) {
    ml_core_thread_trim(lv, freed);
}

/* ---- the memlimit thread's pass: limits re-read, kernel events ---- */

#define ML_REREAD_NS        (500ULL * 1000000)         /* limit files, on the thread */
#define ML_EVENT_REFRESH_NS (100ULL * 1000000)         /* full re-discovery on events, at most */
static uint64_t next_reread_ns, next_event_refresh_ns; /* the thread's own */

/* On the thread, every ML_REREAD_NS: the limit files again, so a lowered memory.max
 * or limit_in_bytes takes effect within a second without a full re-discovery. */
static void reread_limits(uint64_t now) {
    if (now < next_reread_ns) return;
    next_reread_ns = now + ML_REREAD_NS;
    ml_core_reread_limits();
}

static int op_events(struct pollfd *fds, int cap, bool lost, uint64_t *ino) {
    ml_core_give_up_check(ml_now_ns());
    ml_dump_run_due();
    reread_limits(ml_now_ns()); /* wherever the thread runs, events or not */
    static ML_COLD char dir[ML_PATH_MAX], v2dir[ML_PATH_MAX]; /* this thread's copies */
    /* not in a young process far from the limit: the thread's own look does until
     * then (limiter.h, ML_YOUNG_EVENTS_NS) */
    if (!ml_core_events_now(ml_now_ns())) return 0;
    struct ml_watch_view v;
    ml_limits_watch_view(&v, dir, v2dir);
    return ml_watch_arm(&v, fds, cap, lost, ino);
}

static void op_fired(const struct pollfd *fds, int n) {
    unsigned r = ml_watch_fired(fds, n);
    if (!(r & ML_WATCH_ANY)) return;
    uint64_t now = ml_now_ns();
    /* the next sample re-reads everything: a resize, a move to another cgroup */
    if (now >= next_event_refresh_ns) {
        next_event_refresh_ns = now + ML_EVENT_REFRESH_NS;
        ml_limits_refresh_soon();
    }
    ml_core_kernel_event(now, r & ML_WATCH_STALL);
}

void ml_threadops_install(bool trace) {
    struct ml_reclaim_ops ops = {.measure = op_measure,
                                 .target = op_target,
                                 .share = op_share,
                                 .wait = op_wait,
                                 .trim = op_trim,
                                 .events = op_events,
                                 .fired = op_fired,
                                 .trace = trace};
    ml_reclaim_set_ops(&ops);
}
