#include "limiter.h"
#include "caller.h"
#include "cgroup.h"
#include "config.h"
#include "decide.h"
#include "events.h"
#include "level.h"
#include "log.h"
#include "metrics.h"
#include "pathfmt.h"
#include "profile.h"
#include "siglock.h"
#include "memlimit.h"
#include "reclaim.h"
#include "usage.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

enum { ST_NEW, ST_INITIALIZING, ST_READY };

/* A kernel stall report (PSI "full", memory.events max/oom) makes CRITICAL for one PSI
 * window, and rounds then aim at 80% of the soft limit. */
#define ML_STALL_NS              (2000ULL * 1000000)
#define ML_STALL_TARGET_PERMILLE 800

static struct {
    _Atomic int state;
    struct ml_config cfg;

    /* limits */
    _Atomic uint64_t soft;      /* 0: none */
    _Atomic uint64_t detected;  /* cgroup limit capped by MemTotal; ML_NO_LIMIT if none */
    _Atomic uint64_t cglimit;   /* cgroup files only */
    _Atomic bool soft_explicit; /* set by MEMLIMIT bytes or memlimit_set_limit: not re-derived */
    _Atomic uint64_t hard;      /* 0: none */
    _Atomic uint64_t failed;    /* allocations refused at the hard limit */
    _Atomic uint64_t next_refusal_log_ns;

    /* usage accounting */
    _Atomic uint64_t usage;     /* last sample */
    _Atomic uint64_t unsampled; /* bytes handed out since then: an upper bound on growth */
    _Atomic uint64_t last_sample_ns;
    _Atomic uint64_t peak;
    _Atomic uint64_t samples;
    atomic_flag sampling; /* one sampler at a time; application threads never wait for it */
    _Atomic int pid;      /* ours: a vfork child shares this memory and must not act in it */

    /* level */
    _Atomic int level;
    _Atomic bool reached;

    /* trimming: one trim at a time and nobody waits for it. No flag of ours is held
     * while the allocator trims: it takes its own locks, and a thread holding those
     * may be inside our mmap at that moment. */
    atomic_flag trimming;
    struct ml_trim_policy trim_policy; /* only touched by the holder of `trimming` */
    _Atomic uint64_t trims, trimmed_bytes;

    bool want_thread; /* kernel events need the memlimit thread even without callbacks */

    /* periodic output (MEMLIMIT_TRACE=2, MEMLIMIT_METRICS); sampler only */
    uint64_t next_trace_ns, next_metrics_ns;
    enum memlimit_level traced_level;
    bool metrics_failed;

    /* limit re-reading */
    _Atomic uint64_t next_refresh_ns;
    _Atomic uint64_t stall_until; /* a kernel stall report makes CRITICAL until then */
    atomic_flag cg_lock;          /* guards cg against memlimit_stats readers */
    struct ml_cgroup cg;
} S = {.sampling = ATOMIC_FLAG_INIT, .trimming = ATOMIC_FLAG_INIT, .cg_lock = ATOMIC_FLAG_INIT};

/* used by the sampler only (and by start-up, before anyone samples): discovery's
 * buffers live here, not on the stack of whichever application thread samples */
static struct ml_cgroup cg_scratch;
static struct ml_cg_work cg_work;

/* ---- heap profile output (MEMLIMIT_PROFILE) ---- */
enum { PROF_SOFT = 1, PROF_CRITICAL = 2, PROF_SIGNAL = 4 };
static _Atomic unsigned prof_due, prof_done; /* reasons pending, and written once */
static int prof_pid0;                        /* the process that started: not a fork child */

/* One profile file is named at a time: its path is built in static space (threads may
 * have small stacks, and the signal handler uses it), by the holder of this flag. */
static atomic_flag prof_naming = ATOMIC_FLAG_INIT;
static char prof_path_buf[PATH_MAX + 64];

static void report_line(const char *line);
static void report_info_line(const char *line);

/* PATH with %p as the pid, then ".reason". Without %p a fork child adds ".PID", so
 * it never overwrites its parent's files. Allocation-free (the signal handler uses
 * it); the caller holds prof_naming. */
static int prof_path(const char *reason) {
    int pid = (int)getpid();
    if (strstr(S.cfg.profile, "%p") || pid == prof_pid0)
        return ml_path_expand(prof_path_buf, sizeof prof_path_buf, S.cfg.profile, pid, reason);
    int err = ml_path_expand(prof_path_buf, sizeof prof_path_buf, S.cfg.profile, pid, NULL);
    size_t n = strlen(prof_path_buf), cap = sizeof prof_path_buf;
    if (!err && ml_fmt(prof_path_buf + n, cap - n, ".%d.%s", pid, reason) + 1 >= cap - n)
        err = ENAMETOOLONG;
    return err;
}

/* wait: at exit, where the file must be written; elsewhere a busy writer means the
 * reason stays due for the next pass. */
static bool prof_write(const char *reason, bool top, bool wait) {
    if (atomic_flag_test_and_set_explicit(&prof_naming, memory_order_acquire)) {
        if (!wait) return false;
        for (int i = 0; atomic_flag_test_and_set_explicit(&prof_naming, memory_order_acquire);
             i++) {
            if (i > 100000) return false; /* a writer stuck for seconds: give up */
            sched_yield();
        }
    }
    int err = prof_path(reason);
    if (!err) err = ml_prof_write(prof_path_buf, false);
    if (err) {
        ml_log("cannot write the heap profile %s: %s",
               prof_path_buf[0] ? prof_path_buf : S.cfg.profile, strerrordesc_np(err));
    } else {
        /* informational: only where the user asked for lines (a trace, a log file) */
        struct ml_prof_totals t;
        ml_prof_totals(&t);
        char a[24], b[24];
        ml_log_info("heap profile (%s) written to %s: %s live, %s allocated since start, "
                    "%llu samples",
                    reason, prof_path_buf, ml_fmt_bytes(a, t.live_bytes),
                    ml_fmt_bytes(b, t.alloc_bytes), (unsigned long long)t.samples);
        if (top && (t.samples || S.cfg.trace)) ml_prof_top(10, report_info_line);
    }
    atomic_flag_clear_explicit(&prof_naming, memory_order_release);
    return true;
}

/* Writes what is due; where no allocator lock is held (slow path with may_act, the
 * memlimit thread). */
static void prof_run_due(void) {
    unsigned due = atomic_exchange(&prof_due, 0), left = 0;
    if (!due) return;
    if ((due & PROF_SIGNAL) && !prof_write("signal", true, false)) left |= PROF_SIGNAL;
    if ((due & PROF_SOFT) && !prof_write("soft", true, false)) left |= PROF_SOFT;
    if ((due & PROF_CRITICAL) && !prof_write("critical", true, false)) left |= PROF_CRITICAL;
    if (left) atomic_fetch_or(&prof_due, left);
}

static void prof_level(enum memlimit_level lv) {
    unsigned want = lv >= MEMLIMIT_LEVEL_CRITICAL ? PROF_SOFT | PROF_CRITICAL
                    : lv >= MEMLIMIT_LEVEL_SOFT   ? PROF_SOFT
                                                  : 0;
    unsigned done = atomic_load(&prof_done);
    if (want & ~done) {
        atomic_fetch_or(&prof_done, want);
        atomic_fetch_or(&prof_due, want & ~done);
        ml_reclaim_wake();
    }
}

static void prof_signal(int sig) {
    (void)sig;
    int saved = errno;
    /* all async-signal-safe; if a writer is busy, the next pass writes it */
    bool done = false;
    if (!atomic_flag_test_and_set_explicit(&prof_naming, memory_order_acquire)) {
        done = prof_path("signal") == 0 && ml_prof_write(prof_path_buf, true) != EBUSY;
        atomic_flag_clear_explicit(&prof_naming, memory_order_release);
    }
    if (!done) {
        atomic_fetch_or(&prof_due, PROF_SIGNAL);
        ml_reclaim_wake();
    }
    errno = saved;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void report_line(const char *line) {
    ml_log("%s", line);
}
static void report_info_line(const char *line) {
    ml_log_info("%s", line);
}

static const char *env_get(const char *name) {
    /* Paths are kept for the life of the process, so they are copied: programs that
     * set their process title (redis, postgres, nginx) write over the environment
     * strings. In secure-execution mode they are not taken at all. */
    static const char *const path_vars[] = {"MEMLIMIT_LOG", "MEMLIMIT_METRICS", "MEMLIMIT_PROFILE"};
    static char copies[3][PATH_MAX];
    for (int i = 0; i < 3; i++) {
        if (strcmp(name, path_vars[i]) != 0) continue;
        const char *v = secure_getenv(name);
        if (!v) return NULL;
        size_t n = strlen(v);
        if (n >= sizeof copies[i]) {
            ml_log("%s is longer than PATH_MAX; ignored", name);
            return NULL;
        }
        memcpy(copies[i], v, n + 1);
        return copies[i];
    }
    return getenv(name);
}

/* S.cg is copied whole, under a spin flag: readers (stats, the thread) are rare.
 * memlimit_stats takes it on any thread, so signals are blocked while it is held. */
static uint64_t cg_mask; /* the holder's own mask: written and read only under the lock */
static void cg_lock(void) {
    cg_mask = ml_siglock(&S.cg_lock);
}
static void cg_unlock(void) {
    ml_sigunlock(&S.cg_lock, cg_mask);
}

static void publish_cgroup(const struct ml_cgroup *cg) {
    cg_lock();
    memcpy(&S.cg, cg, sizeof *cg);
    cg_unlock();
    atomic_store(&S.detected, cg->limit);
    atomic_store(&S.cglimit, cg->cgroup_limit);
}

/* Takes new limits if they changed. Sampler only. */
static void apply_limits(const struct ml_cgroup *cg) {
    uint64_t old_detected = atomic_load(&S.detected);
    if (cg->limit == old_detected && cg->cgroup_limit == atomic_load(&S.cglimit)) return;
    publish_cgroup(cg);
    atomic_store(&S.hard, ml_decide_hard(&S.cfg, cg));
    if (!atomic_load(&S.soft_explicit)) {
        /* memlimit_set_limit may run meanwhile, on any thread: it marks the limit
         * explicit, then stores it. A compare-and-swap never overwrites its value, and
         * if it landed between our check and the swap, its value is put back. */
        uint64_t old = atomic_load(&S.soft), soft = ml_decide_soft(&S.cfg, cg);
        if (!atomic_compare_exchange_strong(&S.soft, &old, soft)) return;
        if (atomic_load(&S.soft_explicit)) {
            uint64_t mine = soft;
            atomic_compare_exchange_strong(&S.soft, &mine, old);
            return;
        }
        if (S.cfg.trace && old != soft) {
            char a[24], b[24], c[24];
            ml_log("limit changed: %s at %s, soft %s -> %s", ml_fmt_bytes(c, cg->limit), cg->source,
                   ml_fmt_bytes(a, old), ml_fmt_bytes(b, soft));
        }
    }
}

/* Re-discovers (an in-place pod resize changes memory.max; a process can be moved).
 * Sampler only. */
static void refresh_limits(uint64_t now) {
    atomic_store(&S.next_refresh_ns, now + (uint64_t)S.cfg.refresh_sec * 1000000000ULL);
    ml_cgroup_discover_in("", &cg_scratch, &cg_work);
    apply_limits(&cg_scratch);
}

static uint64_t read_usage(void) {
    static atomic_bool warned;
    int err = 0;
    uint64_t u =
        S.cfg.scope == ML_SCOPE_CGROUP ? ml_usage_cgroup(&S.cg, &err) : ml_usage_process(&err);
    /* No /proc (a chroot, a sandbox), a vanished cgroup, no descriptors left: usage
     * reads as 0, so nothing is trimmed and the hard limit refuses only a request
     * larger than itself. Said once, as the user must know. */
    if (err && !atomic_exchange(&warned, true))
        ml_log("cannot read %s: %s; usage counts as 0 while it cannot be read (no trims; "
               "the hard limit refuses only a request above it)",
               S.cfg.scope == ML_SCOPE_CGROUP ? "the cgroup's usage" : "/proc/self/statm",
               strerrordesc_np(err));
    return u;
}

static enum memlimit_level update_level(uint64_t usage) {
    uint64_t stall = atomic_load(&S.stall_until);
    struct ml_limits l = {.soft = atomic_load(&S.soft),
                          .hard = atomic_load(&S.hard),
                          .cgroup = atomic_load(&S.cglimit),
                          .stalled = stall && now_ns() < stall};
    bool reached = atomic_load(&S.reached);
    enum memlimit_level lv = ml_level_compute(usage, &l, &reached);
    atomic_store(&S.reached, reached);
    atomic_store(&S.level, lv);
    if (ml_prof_on && lv >= MEMLIMIT_LEVEL_SOFT) prof_level(lv);
    return lv;
}

/* The sampling flag: one sampler at a time. The thread that holds it can come back
 * here (pthread_create allocating while the sampler starts the reclaim thread, the
 * allocator's own mmap during a trim); it must then be refused, never wait for
 * itself. Application threads never wait for it either: they may be inside the
 * allocator's locks (mmap), and the holder may be writing to a slow log or metrics
 * file. Only the memlimit thread waits (take_sampler). Nothing that calls into the
 * allocator runs while it is held. */
static __thread bool tl_sampler __attribute__((tls_model("initial-exec")));

static bool try_take_sampler(void) {
    if (tl_sampler || atomic_flag_test_and_set_explicit(&S.sampling, memory_order_acquire))
        return false;
    tl_sampler = true;
    return true;
}
/* For the memlimit thread: waits for other threads; false only on re-entry. */
static bool take_sampler(void) {
    if (tl_sampler) return false;
    while (atomic_flag_test_and_set_explicit(&S.sampling, memory_order_acquire))
        sched_yield();
    tl_sampler = true;
    return true;
}
static void give_sampler(void) {
    tl_sampler = false;
    atomic_flag_clear_explicit(&S.sampling, memory_order_release);
}

/* A vfork child runs in its parent's memory until it execs: it must not start a
 * thread, trim or write files there (pthread_atfork handlers do not run for vfork,
 * so the pid tells). Asked only before acting, never on the fast path. */
static bool in_vfork_child(void) {
    return (int)getpid() != atomic_load_explicit(&S.pid, memory_order_relaxed);
}

static uint64_t thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* worth trimming for: 1/64 of the limit, at least 1 MiB */
static uint64_t trim_enough(void) {
    uint64_t soft = atomic_load(&S.soft);
    if (!soft) soft = atomic_load(&S.hard);
    return soft / 64 > (1u << 20) ? soft / 64 : (1u << 20);
}

/* The caller holds `trimming` and nothing else of ours. */
static void trim(uint64_t now, const char *why) {
    uint64_t before = read_usage(), cpu0 = thread_cpu_ns();
    if (!ml_trim_now()) return;
    /* The rate limit charges the CPU the trim used: with more runnable threads than
     * cores, the trimming thread is preempted mid-walk and its wall time says more
     * about the scheduler than about the trim. */
    uint64_t cpu = thread_cpu_ns() - cpu0;
    uint64_t done = now_ns(), took = done - now;
    uint64_t after = read_usage();
    uint64_t freed = before > after ? before - after : 0;
    uint64_t free_after = 0;
    ml_trim_free_bytes(&free_after);
    ml_trim_policy_update(&S.trim_policy, done, cpu, freed >= trim_enough(), free_after);
    uint64_t n = atomic_fetch_add(&S.trims, 1) + 1;
    atomic_fetch_add(&S.trimmed_bytes, freed);
    if (try_take_sampler()) { /* else the sampler is taking a fresher figure now */
        atomic_store(&S.usage, after);
        atomic_store(&S.last_sample_ns, done);
        update_level(after);
        give_sampler();
    }
    if (S.cfg.trace) {
        char a[24], b[24], c[24], d[24];
        ml_log("trim #%llu at %s -> %s in %s (cpu %s)%s", (unsigned long long)n,
               ml_fmt_bytes(a, before), ml_fmt_bytes(b, after), ml_fmt_ns(c, took),
               ml_fmt_ns(d, cpu), why);
    }
}

/* Trims when the policy allows (rate limit, back-off), or at once when the
 * allocator holds much more free memory than after the last trim: frees since then
 * are what a trim gives back, and the back-off (for a live set stuck above the
 * limit) must not keep them resident. Holds no flag of ours while the allocator
 * trims; never waits. */
static void trim_if_due(enum memlimit_level lv) {
    if (atomic_flag_test_and_set_explicit(&S.trimming, memory_order_acquire)) return;
    uint64_t now = now_ns(), free;
    unsigned duty = lv >= MEMLIMIT_LEVEL_SOFT ? ML_TRIM_DUTY_SOFT : ML_TRIM_DUTY_MODERATE;
    if (ml_trim_due(&S.trim_policy, now, duty)) {
        trim(now, "");
    } else if (ml_trim_probe_due(&S.trim_policy, now) && ml_trim_free_bytes(&free) &&
               ml_trim_freed_due(&S.trim_policy, now, free, trim_enough())) {
        char why[64], a[24];
        ml_fmt(why, sizeof why, " (the allocator held %s more free)",
               ml_fmt_bytes(a, S.trim_policy.free_grew));
        trim(now, why);
    }
    atomic_flag_clear_explicit(&S.trimming, memory_order_release);
}

/* The sample line (MEMLIMIT_TRACE=2) and the metrics file, when due. Sampler only,
 * so one writer; both allocation-free. */
static void periodic(uint64_t now, uint64_t u, enum memlimit_level lv) {
    /* every interval, and at every change of level, so a chart shows the crossings */
    if (S.cfg.trace >= 2 && (now >= S.next_trace_ns || lv != S.traced_level)) {
        S.traced_level = lv;
        S.next_trace_ns = now + (uint64_t)S.cfg.trace_interval_ms * 1000000ULL;
        uint64_t det = atomic_load(&S.detected);
        ml_log("sample usage=%llu soft=%llu hard=%llu limit=%llu level=%s trims=%llu rounds=%llu "
               "failed=%llu",
               (unsigned long long)u, (unsigned long long)atomic_load(&S.soft),
               (unsigned long long)atomic_load(&S.hard),
               (unsigned long long)(det == ML_NO_LIMIT ? 0 : det), ml_level_name(lv),
               (unsigned long long)atomic_load(&S.trims), (unsigned long long)ml_reclaim_rounds(),
               (unsigned long long)atomic_load(&S.failed));
    }
    if (S.cfg.metrics && now >= S.next_metrics_ns) {
        S.next_metrics_ns = now + (uint64_t)S.cfg.metrics_interval_sec * 1000000000ULL;
        /* static: the sampler is one thread at a time, and its stack may be small */
        static struct memlimit_stats st;
        memlimit_stats(&st);
        static char text[4096]; /* the text is about 2.2 KiB; a longer one is refused, not cut */
        int pid = (int)getpid();
        size_t n = ml_metrics_format(text, sizeof text, &st, atomic_load(&S.reached), pid);
        int err = n ? ml_metrics_write(S.cfg.metrics, text, n, pid) : ENOBUFS;
        if (err && !S.metrics_failed) { /* once: a full disk must not flood the log */
            S.metrics_failed = true;
            ml_log("cannot write metrics (%s) to %s", strerrordesc_np(err), S.cfg.metrics);
        }
    }
}

/* Reads usage and updates everything that follows from it; the caller holds the
 * sampling flag. The bytes handed out before the read are settled by it. */
static enum memlimit_level take_sample(uint64_t now, uint64_t *usage) {
    if (now >= atomic_load(&S.next_refresh_ns)) refresh_limits(now);
    uint64_t pending = atomic_load(&S.unsampled);
    uint64_t u = read_usage();
    atomic_fetch_sub(&S.unsampled, pending);
    atomic_store(&S.usage, u);
    atomic_store(&S.last_sample_ns, now);
    atomic_fetch_add(&S.samples, 1);
    uint64_t peak = atomic_load(&S.peak);
    while (u > peak && !atomic_compare_exchange_weak(&S.peak, &peak, u)) {
    }
    *usage = u;
    enum memlimit_level lv = update_level(u);
    periodic(now, u, lv);
    return lv;
}

/* Samples if the last sample is at least `every` old and no one else is sampling
 * (never waits), then acts on the level: wakes the reclaim thread, or without one
 * trims inline when may_act. Returns false if it did not sample. */
static bool try_sample(uint64_t now, uint64_t every, bool may_act) {
    if (now - atomic_load_explicit(&S.last_sample_ns, memory_order_relaxed) < every ||
        !try_take_sampler())
        return false;
    uint64_t u;
    enum memlimit_level lv = take_sample(now, &u);
    give_sampler();
    bool running = ml_reclaim_running();
    if (lv >= MEMLIMIT_LEVEL_MODERATE && running) ml_reclaim_wake();
    if (!may_act || running || in_vfork_child()) return true;
    /* the thread trims and calls back when it exists; without it, this thread, after
     * the forwarded call returned and holding nothing of ours */
    if (lv >= MEMLIMIT_LEVEL_MODERATE) trim_if_due(lv);
    if (ml_prof_on) prof_run_due();
    /* a fork child with callbacks gets its thread; started outside the flag, since
     * pthread_create allocates */
    if (lv >= MEMLIMIT_LEVEL_MODERATE || S.want_thread) ml_reclaim_ensure_thread();
    return true;
}

/* Budget per thread: 1 MiB far from the limit, down to 64 KiB as it nears, so
 * the bytes no one has looked at stay small against the headroom. */
static size_t chunk_size(void) {
    uint64_t soft = atomic_load(&S.soft), hard = atomic_load(&S.hard);
    if (!soft && !hard) return ML_CHUNK_MAX;
    uint64_t est = atomic_load(&S.usage) + atomic_load(&S.unsampled);
    uint64_t mark = soft ? ml_permille(soft, ML_MODERATE_PERMILLE) : hard;
    if (hard && hard < mark) mark = hard;
    uint64_t c = est < mark ? (mark - est) / 16 : 0;
    return c > ML_CHUNK_MAX ? ML_CHUNK_MAX : c < ML_CHUNK_MIN ? ML_CHUNK_MIN : (size_t)c;
}

/* ---- what the reclaim thread uses ---- */

/* A fresh sample, unless one was taken in the last millisecond. wait: the memlimit
 * thread waits for another sampler; application threads take the figure there is. */
static uint64_t fresh_usage(bool wait, enum memlimit_level *lv) {
    uint64_t now = now_ns();
    uint64_t u;
    if (wait ? take_sampler() : try_take_sampler()) { /* on re-entry: the figure we have */
        if (now - atomic_load(&S.last_sample_ns) >= 1000000) take_sample(now, &u);
        give_sampler();
    }
    if (lv) *lv = (enum memlimit_level)atomic_load(&S.level);
    return atomic_load(&S.usage);
}

static uint64_t op_measure(enum memlimit_level *lv) {
    return fresh_usage(true, lv);
}

static uint64_t op_target(enum memlimit_level lv) {
    /* every level aims below 95% of the soft limit (or of the hard limit); a kernel
     * stall report lower, to 80%: the stall means the cgroup is short now, even
     * where our own figure is only at the moderate watermark */
    uint64_t soft = atomic_load(&S.soft), hard = atomic_load(&S.hard);
    uint64_t stall = atomic_load(&S.stall_until);
    unsigned pm = lv >= MEMLIMIT_LEVEL_CRITICAL && stall && now_ns() < stall
                      ? ML_STALL_TARGET_PERMILLE
                      : ML_RELEASE_PERMILLE;
    uint64_t t = soft ? ml_permille(soft, pm) : UINT64_MAX;
    if (hard && ml_permille(hard, ML_RELEASE_PERMILLE) < t)
        t = ml_permille(hard, ML_RELEASE_PERMILLE);
    return t == UINT64_MAX ? 0 : t;
}

static void op_trim(enum memlimit_level lv) {
    trim_if_due(lv);
}

/* Kernel events (MEMLIMIT_EVENTS), on the memlimit thread only.
 *
 * fds[0] is one eventfd that lives as long as the process (the slow path writes its
 * wakes to it, so we never close it); on cgroup v1 the kernel signals it when usage
 * crosses a threshold: the moderate and soft watermarks and 97% of the cgroup limit.
 * Thresholds are only added: a changed limit adds its own, a stale one costs a
 * spurious wake. Besides it: PSI triggers (or systemd's watch) and, on cgroup v2,
 * memory.events. Each source is optional; a failure is one trace line. */
#define ML_MAX_THRESHOLDS   24
#define ML_MAX_SOURCES      4
#define ML_REREAD_NS        (500ULL * 1000000) /* limit files, on the thread */
#define ML_EVENT_REFRESH_NS (100ULL * 1000000) /* full re-discovery on events, at most */

/* the triggers: "some" wakes and re-reads; "full" (every task stalled) may mean CRITICAL.
 * Windows of 2 s, the unprivileged minimum; one trigger per descriptor. */
static const char psi_some[] = "some 100000 2000000", psi_full[] = "full 100000 2000000";

enum src_kind { SRC_PSI, SRC_WATCH, SRC_MEMEV };
struct source {
    int fd;
    uint64_t ino; /* still ours? (the application may close it and reuse the number) */
    short events;
    enum src_kind kind;
    bool full; /* a "full" trigger */
    struct ml_memory_events ev;
    char what[ML_PATH_MAX + 48];
};

static struct {
    bool failed, v1_failed;
    int efd;
    pid_t pid; /* whose sources these are: a fork child makes its own */
    int n;
    uint64_t at[ML_MAX_THRESHOLDS];
    bool sources_done;
    int nsrc;
    struct source src[ML_MAX_SOURCES];
    uint64_t next_reread_ns, next_event_refresh_ns, next_memev_log_ns;
    /* systemd's memory-pressure protocol, read at start (getenv is not for threads) */
    bool watch_set;
    char watch[ML_PATH_MAX];
    unsigned char watch_write[128];
    long watch_write_len; /* -1: $MEMORY_PRESSURE_WRITE is not base64 */
} E = {.efd = -1};

static void events_log(const char *fmt, const char *a, int err) {
    if (!S.cfg.trace && S.cfg.events != ML_EVENTS_ON) return;
    char msg[ML_PATH_MAX + 160];
    ml_fmt(msg, sizeof msg, fmt, a);
    ml_log("events: %s%s%s", msg, err ? ": " : "", err ? strerrordesc_np(err) : "");
}

static void events_fail(const char *what, int err) {
    E.failed = true;
    events_log("%s; sampling on allocation and every half second only", what, err);
}

static void events_read_env(void) {
    const char *w = secure_getenv("MEMORY_PRESSURE_WATCH");
    if (!w || !w[0]) return;
    E.watch_set = true;
    ml_fmt(E.watch, sizeof E.watch, "%s", w);
    const char *wr = secure_getenv("MEMORY_PRESSURE_WRITE");
    E.watch_write_len = wr ? ml_base64_decode(wr, E.watch_write, sizeof E.watch_write) : 0;
}

static struct source *add_source(int fd, short events, enum src_kind kind, bool full,
                                 const char *what) {
    struct stat st;
    if (E.nsrc == ML_MAX_SOURCES || fstat(fd, &st) != 0) {
        close(fd);
        return NULL;
    }
    struct source *s = &E.src[E.nsrc++];
    memset(s, 0, sizeof *s);
    s->fd = fd;
    s->ino = (uint64_t)st.st_ino;
    s->events = events;
    s->kind = kind;
    s->full = full;
    ml_fmt(s->what, sizeof s->what, "%s", what);
    events_log("watching %s", what, 0);
    return s;
}

static void open_psi(const char *path) {
    const char *trig[2] = {psi_some, psi_full};
    for (int i = 0; i < 2; i++) {
        int fd = ml_events_psi_open(path, trig[i], strlen(trig[i]) + 1);
        char what[ML_PATH_MAX + 48];
        ml_fmt(what, sizeof what, "PSI '%s' on %s", trig[i], path);
        if (fd < 0)
            events_log("cannot set %s", what, -fd);
        else
            add_source(fd, POLLPRI, SRC_PSI, i == 1, what);
    }
}

/* Once per process: the sources other than the v1 thresholds. */
static void open_sources(int version, const char *dir, const char *v2dir) {
    E.sources_done = true;
    char what[ML_PATH_MAX + 48];
    if (E.watch_set && strcmp(E.watch, "/dev/null") == 0) {
        events_log("%s", "$MEMORY_PRESSURE_WATCH=/dev/null: no pressure watch", 0);
    } else if (E.watch_set) {
        bool full = false;
        if (E.watch_write_len < 0) {
            events_log("%s", "$MEMORY_PRESSURE_WRITE is not base64; ignoring the watch", 0);
        } else {
            short ev = 0;
            int fd = ml_events_watch_open(E.watch, E.watch_write, (size_t)E.watch_write_len, &ev);
            ml_fmt(what, sizeof what, "$MEMORY_PRESSURE_WATCH %s", E.watch);
            if (fd < 0) {
                events_log("cannot open %s", what, -fd);
            } else {
                ml_psi_trigger_valid((const char *)E.watch_write, (size_t)E.watch_write_len, &full);
                add_source(fd, ev, SRC_WATCH, full, what);
            }
        }
        if (E.nsrc == 0) E.watch_set = false; /* fall back to our own triggers */
    }
    if (!E.watch_set) {
        /* the cgroup's own pressure (cgroup2 has memory.pressure in every group, also
         * on hybrid systems), else the whole machine's */
        char path[ML_PATH_MAX + 32];
        ml_events_psi_path(path, sizeof path, v2dir, "");
        open_psi(path);
    }
    if (version == 2) {
        struct ml_memory_events ev;
        int fd = ml_events_memevents_open(dir, &ev);
        ml_fmt(what, sizeof what, "%s/memory.events", dir);
        if (fd < 0) {
            events_log("cannot watch %s", what, -fd);
        } else {
            struct source *src = add_source(fd, POLLPRI, SRC_MEMEV, false, what);
            if (src) src->ev = ev;
        }
    }
}

static void drop_source(int i, bool close_it, const char *why) {
    struct source *s = &E.src[i];
    char msg[ML_PATH_MAX + 128];
    ml_fmt(msg, sizeof msg, "%s dropped: %s", s->what, why);
    events_log("%s", msg, 0);
    if (close_it) close(s->fd);
    s->fd = -1;
}

/* On the thread, every ML_REREAD_NS: the limit files again, so a lowered memory.max
 * or limit_in_bytes takes effect within a second without a full re-discovery. */
static void reread_limits(uint64_t now) {
    if (now < E.next_reread_ns || !take_sampler()) return;
    E.next_reread_ns = now + ML_REREAD_NS;
    cg_lock();
    memcpy(&cg_scratch, &S.cg, sizeof cg_scratch);
    cg_unlock();
    /* a file that went away: the cgroup was removed or the process moved */
    if (!ml_cgroup_reread(&cg_scratch)) ml_cgroup_discover_in("", &cg_scratch, &cg_work);
    apply_limits(&cg_scratch);
    give_sampler();
}

static int op_events(struct pollfd *fds, int cap, bool lost) {
    if (ml_prof_on) prof_run_due();
    reread_limits(now_ns()); /* wherever the thread runs, events or not */
    if (S.cfg.events == ML_EVENTS_OFF || E.failed) return 0;
    if (lost) {
        events_fail("the event descriptor was closed by the application", 0);
        return 0;
    }
    pid_t pid = getpid();
    if (E.efd >= 0 && E.pid != pid) {
        /* a fork child: the inherited descriptors carry the parent's thresholds and
         * triggers. Make our own; the inherited ones are left open, since after fork
         * the child may have closed them and reused their numbers for its own files. */
        E.efd = -1;
        E.n = 0;
        E.nsrc = 0;
        E.sources_done = false;
        E.v1_failed = false;
    }
    static char dir[ML_PATH_MAX], v2dir[ML_PATH_MAX]; /* this thread's copies */
    int version;
    cg_lock();
    version = S.cg.version;
    memcpy(dir, S.cg.dir, sizeof dir);
    memcpy(v2dir, S.cg.v2dir, sizeof v2dir);
    cg_unlock();
    if (E.efd < 0) {
        if ((E.efd = ml_events_eventfd()) < 0) {
            events_fail("cannot create an eventfd", errno);
            return 0;
        }
        E.pid = pid;
    }
    if (!E.sources_done) open_sources(version, dir, v2dir);
    if (version == 1 && !E.v1_failed) {
        uint64_t soft = atomic_load(&S.soft), cgl = atomic_load(&S.cglimit);
        uint64_t want[3] = {soft ? ml_permille(soft, ML_MODERATE_PERMILLE) : 0, soft,
                            cgl != ML_NO_LIMIT ? ml_permille(cgl, ML_CRITICAL_PERMILLE) : 0};
        for (int i = 0; i < 3; i++) {
            if (!want[i]) continue;
            bool have = false;
            for (int k = 0; k < E.n && !have; k++)
                have = E.at[k] == want[i];
            if (have) continue;
            if (E.n == ML_MAX_THRESHOLDS) break; /* the limit changed many times: keep these */
            int err = ml_events_v1_threshold(dir, E.efd, want[i]);
            if (err) {
                E.v1_failed = true; /* thresholds already registered still work */
                events_log("cannot register a usage threshold in %s", dir, err);
                break;
            }
            E.at[E.n++] = want[i];
            if (S.cfg.trace) {
                char a[24];
                ml_log("events: cgroup v1 usage threshold at %s on %s", ml_fmt_bytes(a, want[i]),
                       dir);
            }
        }
    }
    int n = 0;
    fds[n++] = (struct pollfd){.fd = E.efd, .events = POLLIN};
    for (int i = 0; i < E.nsrc && n < cap; i++)
        if (E.src[i].fd >= 0)
            fds[n++] = (struct pollfd){.fd = E.src[i].fd, .events = E.src[i].events};
    return n;
}

static void op_fired(const struct pollfd *fds, int n) {
    uint64_t now = now_ns();
    bool any = false, stall = false;
    for (int k = 1; k < n; k++) {
        short rev = fds[k].revents;
        if (!rev) continue;
        int i = 0;
        while (i < E.nsrc && E.src[i].fd != fds[k].fd)
            i++;
        if (i == E.nsrc) continue;
        struct source *s = &E.src[i];
        struct stat st;
        if ((rev & POLLNVAL) || fstat(s->fd, &st) != 0 || (uint64_t)st.st_ino != s->ino) {
            drop_source(i, false, "its descriptor was closed by the application");
            continue;
        }
        if (s->kind == SRC_MEMEV) {
            struct ml_memory_events ev;
            if (ml_events_memevents_read(s->fd, &ev) != 0) {
                drop_source(i, true, "it cannot be read any more");
                continue;
            }
            unsigned d = ml_memory_events_diff(&s->ev, &ev);
            s->ev = ev;
            if (!d) continue;
            any = true;
            stall |= (d & (ML_MEMEV_MAX | ML_MEMEV_OOM)) != 0;
            if (S.cfg.trace && now >= E.next_memev_log_ns) { /* it can change 100 times a second */
                E.next_memev_log_ns = now + 1000000000ULL;
                ml_log("events: %s: high %llu max %llu oom %llu oom_kill %llu", s->what,
                       (unsigned long long)ev.high, (unsigned long long)ev.max,
                       (unsigned long long)ev.oom, (unsigned long long)ev.oom_kill);
            }
            continue;
        }
        bool fifo = s->kind == SRC_WATCH && S_ISFIFO(st.st_mode);
        if (s->kind == SRC_WATCH && (rev & POLLIN)) { /* FIFO or socket: drain */
            char buf[256];
            while (read(s->fd, buf, sizeof buf) > 0) {
            }
        }
        if (fifo && (rev & POLLHUP)) {
            /* the writer closed: a FIFO stays hung up until reopened, and the next
             * writer is welcome */
            short ev;
            int fd = ml_events_watch_open(E.watch, NULL, 0, &ev);
            if (fd < 0 || fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) {
                if (fd >= 0) close(fd);
                drop_source(i, true, "it cannot be reopened");
                continue;
            }
            close(s->fd);
            s->fd = fd;
            s->ino = (uint64_t)st.st_ino;
            if (!(rev & POLLIN)) continue;
        } else if (rev & (POLLERR | POLLHUP)) { /* the cgroup went away, a peer closed */
            drop_source(i, true, rev & POLLERR ? "the kernel reported an error" : "hang-up");
            continue;
        }
        any = true;
        stall |= s->full;
        if (S.cfg.trace) ml_log("events: pressure from %s", s->what);
    }
    if (!any) return;
    if (stall) atomic_store(&S.stall_until, now + ML_STALL_NS);
    /* the next sample re-reads everything: a resize, a move to another cgroup */
    if (now >= E.next_event_refresh_ns) {
        E.next_event_refresh_ns = now + ML_EVENT_REFRESH_NS;
        atomic_store(&S.next_refresh_ns, 0);
    }
    atomic_store(&S.last_sample_ns, 0);
}

static const struct ml_reclaim_ops reclaim_ops = {.measure = op_measure,
                                                  .target = op_target,
                                                  .trim = op_trim,
                                                  .events = op_events,
                                                  .fired = op_fired};

/* ---- the hard limit ---- */

/* Small allocations may go this far past the hard limit, so that a program told
 * ENOMEM can still unwind: print, open a file, throw. The language runtime (the C
 * library, libstdc++, libgcc_s) may go twice as far, so an application that ate its
 * own reserve (handling NULL correctly) does not leave the runtime without memory to
 * report, unwind or throw with; the dynamic loader is never refused (its lazy TLS
 * and link-map allocations are small, and its failure is an abort). */
#define ML_RESERVE_SMALL ((size_t)64 << 10)
static uint64_t reserve_bytes(uint64_t hard) {
    uint64_t r = hard / 32;
    return r < (1u << 20) ? (1u << 20) : r > (32u << 20) ? (32u << 20) : r;
}

bool ml_core_hard_near(size_t n) {
    uint64_t hard = atomic_load_explicit(&S.hard, memory_order_relaxed);
    if (!hard || atomic_load_explicit(&S.state, memory_order_acquire) != ST_READY) return false;
    return atomic_load(&S.usage) + atomic_load(&S.unsampled) + n >= hard;
}

bool ml_core_admit_from(size_t n, bool may_wait, const void *caller) {
    uint64_t hard = atomic_load_explicit(&S.hard, memory_order_relaxed);
    if (!hard || atomic_load_explicit(&S.state, memory_order_acquire) != ST_READY) return true;
    int saved = errno;
    bool ok = true;
    uint64_t est = atomic_load(&S.usage) + atomic_load(&S.unsampled);
    if (est + n < hard) goto out;
    /* never waits for the sampler: this may run inside the allocator's locks */
    uint64_t u = fresh_usage(false, NULL);
    if (u + n < hard) goto out;
    /* a CRITICAL round first: the thread's callbacks and trim, or an inline trim,
     * holding nothing of ours. From mmap (!may_wait) only a wake. */
    if (ml_reclaim_running() && !may_wait) ml_reclaim_wake();
    if (may_wait && !in_vfork_child()) {
        if (ml_reclaim_running())
            ml_reclaim_wait_round((uint64_t)S.cfg.hard_wait_ms * 1000000);
        else
            trim_if_due(MEMLIMIT_LEVEL_CRITICAL);
        atomic_store(&S.last_sample_ns, 0);
        u = fresh_usage(false, NULL);
        if (u + n < hard) goto out;
    }
    enum ml_caller who = ml_caller_of(caller);
    if (who == ML_CALLER_LOADER) goto out;
    uint64_t reserve = reserve_bytes(hard) * (who == ML_CALLER_RUNTIME ? 2 : 1);
    if (n <= ML_RESERVE_SMALL && u + n < hard + reserve) goto out;
    ok = false;
    atomic_fetch_add(&S.failed, 1);
    uint64_t now = now_ns();
    if (now >= atomic_load(&S.next_refusal_log_ns)) { /* at most one line a second */
        atomic_store(&S.next_refusal_log_ns, now + 1000000000ULL);
        char a[24], b[24], c[24];
        ml_log("hard limit %s: refused %s at %s (ENOMEM)", ml_fmt_bytes(a, hard),
               ml_fmt_bytes(b, n), ml_fmt_bytes(c, u));
    }
out:
    errno = saved;
    return ok;
}

bool ml_core_admit(size_t n, bool may_wait) {
    return ml_core_admit_from(n, may_wait, NULL);
}

static __thread bool tl_started __attribute__((tls_model("initial-exec")));

size_t ml_core_slow(void *p, size_t bytes, size_t left, bool may_act) {
    if (atomic_load_explicit(&S.state, memory_order_acquire) != ST_READY) return ML_CHUNK_MIN;
    int saved = errno; /* nothing here may show through to the application */
    if (__builtin_expect(may_act && !tl_started, 0)) {
        tl_started = true;
        ml_trim_thread_start();
    }
    /* the profile's next sample point caps the budget, so the allocation that holds
     * it comes here */
    size_t cap = ml_prof_on ? ml_prof_account(p, bytes, left) : SIZE_MAX;
    size_t chunk = chunk_size();
    atomic_fetch_add_explicit(&S.unsampled, bytes + chunk, memory_order_relaxed);
    uint64_t now = now_ns();
    /* a /proc read costs ~2 us: at most one per ms with a limit, one per 10 ms without */
    uint64_t every = atomic_load(&S.soft) ? 1000000 : 10000000;
    if (try_sample(now, every, may_act)) chunk = chunk_size();
    if (chunk > cap) chunk = cap;
    if (ml_prof_on) ml_prof_issued(chunk);
    errno = saved;
    return chunk;
}

static void prof_init(void) {
    uint64_t rate = ML_PROFILE_RATE_DEFAULT;
    if (S.cfg.profile_rate.kind == ML_SIZE_BYTES)
        rate = S.cfg.profile_rate.bytes;
    else if (S.cfg.profile_rate.kind != ML_SIZE_UNSET)
        ml_log("MEMLIMIT_PROFILE_RATE must be a size in bytes; using 512KiB");
    int err = ml_prof_init(rate);
    if (err) {
        ml_log("MEMLIMIT_PROFILE: cannot profile (%s); no heap profile",
               err == ENOENT ? "libunwind.so.8 not found" : strerrordesc_np(err));
        return;
    }
    int sig = ml_profile_signals[S.cfg.profile_signal];
    if (sig) {
        struct sigaction old, sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = prof_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        /* never take a signal the program handles itself */
        if (sigaction(sig, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
            sigaction(sig, &sa, NULL);
        else
            ml_log("MEMLIMIT_PROFILE_SIGNAL: the program handles %s itself; not installed",
                   strsignal(sig));
    }
    if (S.cfg.trace) {
        char a[24];
        ml_log("heap profile: sampling every %s on average, to %s", ml_fmt_bytes(a, rate),
               S.cfg.profile);
    }
}

static __attribute__((destructor)) void prof_at_exit(void) {
    if (ml_prof_on && atomic_load(&S.state) == ST_READY) {
        prof_run_due();
        prof_write("exit", true, true);
    }
}

static void atfork_prepare(void) {
    ml_prof_atfork_prepare();
}
static void atfork_parent(void) {
    ml_prof_atfork_release();
}
static void atfork_child(void) {
    ml_prof_atfork_release();    /* the table was locked across fork: consistent */
    atomic_store(&prof_done, 0); /* the child writes its own profiles */
    atomic_store(&prof_due, 0);
    /* a lock held by a thread that does not exist in the child would stay held */
    atomic_flag_clear(&S.sampling);
    tl_sampler = false; /* unless the forking thread held it: it is ours again */
    atomic_flag_clear(&S.cg_lock);
    atomic_flag_clear(&S.trimming);
    atomic_flag_clear(&prof_naming);
    atomic_store(&S.pid, (int)getpid());
}

void ml_core_init(ml_lookup_fn lookup) {
    int expect = ST_NEW;
    if (!atomic_compare_exchange_strong(&S.state, &expect, ST_INITIALIZING)) return;
    int saved = errno;
    atomic_store(&S.pid, (int)getpid());
    prof_pid0 = (int)getpid();
    ml_log_init(); /* which file is stderr: lines never go to another on descriptor 2 */

    /* the log destination first, so configuration errors go where the user asked */
    const char *logv = env_get("MEMLIMIT_LOG");
    if (logv && logv[0]) ml_log_set_dest(logv);
    ml_config_load(&S.cfg, env_get, report_line);
    ml_log_set_dest(S.cfg.log);
    ml_log_set_verbose(S.cfg.trace || S.cfg.log);
    if (S.cfg.trace >= 2) ml_log_set_clock(now_ns());
    if (S.cfg.profile) prof_init();

    ml_cgroup_discover_in("", &cg_scratch, &cg_work);
    publish_cgroup(&cg_scratch);
    if (cg_scratch.warning[0]) ml_log("%s", cg_scratch.warning);
    atomic_store(&S.soft, ml_decide_soft(&S.cfg, &cg_scratch));
    atomic_store(&S.soft_explicit, S.cfg.soft.kind == ML_SIZE_BYTES);
    atomic_store(&S.hard, ml_decide_hard(&S.cfg, &cg_scratch));
    /* MEMLIMIT_EVENTS: auto is on when a callback is registered (the thread exists
     * then anyway) or the scope is cgroup (other processes' growth must be seen) */
    S.want_thread = S.cfg.events == ML_EVENTS_ON ||
                    (S.cfg.events == ML_EVENTS_AUTO && S.cfg.scope == ML_SCOPE_CGROUP);
    if (S.want_thread) ml_reclaim_want_thread();
    if (S.cfg.events != ML_EVENTS_OFF) events_read_env();
    struct ml_reclaim_ops ops = reclaim_ops;
    ops.trace = S.cfg.trace > 0;
    ml_reclaim_set_ops(&ops);
    atomic_store(&S.next_refresh_ns, now_ns() + (uint64_t)S.cfg.refresh_sec * 1000000000ULL);

    ml_trim_init(lookup);
    int arenas = 0;
    if (atomic_load(&S.soft) || atomic_load(&S.hard)) {
        /* measured on tests/work/fragment: 2 arenas held an 8-thread pool at 140 MiB
         * where glibc's default reached 269 MiB (jemalloc: 168 vs 304 MiB, no
         * slowdown); trimming alone cannot keep up (see README, "How it works") */
        arenas = (int)ml_decide_arenas();
        if (!ml_trim_cap_arenas((unsigned)arenas, env_get)) arenas = 0;
    }
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);

    if (S.cfg.trace) {
        char soft[ML_PATH_MAX + 128];
        ml_describe_soft(soft, sizeof soft, &S.cfg, &cg_scratch, atomic_load(&S.soft));
        char cap[48] = "";
        if (arenas) ml_fmt(cap, sizeof cap, " (arenas capped at %d)", arenas);
        char hard[40] = "off", hb[24];
        if (atomic_load(&S.hard))
            ml_fmt(hard, sizeof hard, "%s", ml_fmt_bytes(hb, atomic_load(&S.hard)));
        ml_log("%s, hard %s, scope %s, allocator %s%s", soft, hard,
               S.cfg.scope == ML_SCOPE_CGROUP ? "cgroup" : "process", ml_trim_allocator_name(),
               cap);
    }
    atomic_store_explicit(&S.state, ST_READY, memory_order_release);
    errno = saved;
}

/* ---- the public API (memlimit.h) ---- */

EXPORT bool memlimit_reached(void) {
    if (__builtin_expect(!atomic_load_explicit(&S.reached, memory_order_relaxed), 1)) return false;
    /* Reached: usage may have fallen since, with no allocation to notice it (a pool
     * that defers work allocates nothing), or freed memory may sit in the allocator
     * with nothing left to trim it. Without the thread, look again, at most once a
     * millisecond for the whole process, and trim when due: the application calls
     * this outside the allocator, so no allocator lock is held here. */
    if (!ml_reclaim_running() && atomic_load(&S.state) == ST_READY) {
        int saved = errno;
        try_sample(now_ns(), 1000000, true);
        errno = saved;
    }
    return atomic_load_explicit(&S.reached, memory_order_relaxed);
}

EXPORT int memlimit_profile_dump(const char *path) {
    if (!ml_prof_on) {
        errno = ENOTSUP;
        return -1;
    }
    if (!path) {
        errno = EINVAL;
        return -1;
    }
    int err = ml_prof_write(path, false);
    if (err) {
        errno = err;
        return -1;
    }
    ml_prof_top(10, report_info_line);
    return 0;
}

EXPORT int memlimit_register(memlimit_reclaim_fn fn, void *arg, int priority) {
    return ml_reclaim_register(fn, arg, priority);
}

EXPORT int memlimit_unregister(int handle) {
    return ml_reclaim_unregister(handle);
}

EXPORT enum memlimit_level memlimit_level(void) {
    return (enum memlimit_level)atomic_load_explicit(&S.level, memory_order_relaxed);
}

EXPORT int64_t memlimit_set_limit(int64_t bytes) {
    if (bytes < 0) return (int64_t)atomic_load(&S.soft);
    uint64_t old;
    {
        atomic_store(&S.soft_explicit, true); /* first: see apply_limits */
        old = atomic_exchange(&S.soft, (uint64_t)bytes);
        if (try_take_sampler()) { /* the level's hysteresis is the sampler's state; when
                                     busy, the next sample sets the level */
            update_level(atomic_load(&S.usage));
            give_sampler();
        }
        atomic_store(&S.last_sample_ns, 0); /* the next slow path samples */
    }
    return (int64_t)old;
}

EXPORT int memlimit_stats(struct memlimit_stats *out) {
    if (!out) {
        errno = EINVAL;
        return -1;
    }
    memset(out, 0, sizeof *out);
    out->soft_limit = (int64_t)atomic_load(&S.soft);
    uint64_t det = atomic_load(&S.detected);
    out->detected_limit = det == ML_NO_LIMIT ? 0 : (int64_t)det;
    cg_lock();
    if (det != ML_NO_LIMIT) {
        bool memtotal = S.cg.source_kind && strcmp(S.cg.source_kind, "MemTotal") == 0;
        out->source = memtotal            ? MEMLIMIT_SOURCE_MEMTOTAL
                      : S.cg.version == 1 ? MEMLIMIT_SOURCE_CGROUP_V1
                                          : MEMLIMIT_SOURCE_CGROUP_V2;
        ml_fmt(out->source_path, sizeof out->source_path, "%s", S.cg.source);
    }
    cg_unlock();
    out->usage = (int64_t)atomic_load(&S.usage);
    out->peak_usage = (int64_t)atomic_load(&S.peak);
    out->level = memlimit_level();
    out->samples = atomic_load(&S.samples);
    out->trims = atomic_load(&S.trims);
    out->trimmed_bytes = atomic_load(&S.trimmed_bytes);
    out->hard_limit = (int64_t)atomic_load(&S.hard);
    out->callback_calls = ml_reclaim_calls();
    out->callback_bytes = ml_reclaim_bytes();
    out->callback_rounds = ml_reclaim_rounds();
    out->failed_allocs = atomic_load(&S.failed);
    return 0;
}
