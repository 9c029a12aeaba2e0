/* SPDX-License-Identifier: MIT */
#include "limiter.h"
#include "lastwords.h"
#include "cold.h"
#include "caller.h"
#include "clock.h"
#include "cgroup.h"
#include "config.h"
#include "decide.h"
#include "dump.h"
#include "fileio.h"
#include "hardlimit.h"
#include "limitset.h"
#include "meminfo.h"
#include "periodic.h"
#include "watch.h"
#include "level.h"
#include "log.h"
#include "metrics.h"
#include "onlimit.h"
#include "pathfmt.h"
#include "profile.h"
#include "siglock.h"
#include "threadops.h"
#include "memlimit.h"
#include "reclaim.h"
#include "rtgc.h"
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

enum { ST_NEW, ST_INITIALIZING, ST_READY };

/* A kernel stall report (PSI "full", memory.events max/oom) makes CRITICAL for one PSI
 * window, and rounds then aim at 80% of the soft limit. */
#define ML_STALL_NS (2000ULL * 1000000)

static struct {
    _Atomic int state;

    /* usage accounting */
    _Atomic uint64_t usage;     /* last sample */
    _Atomic uint64_t unsampled; /* bytes handed out since then: an upper bound on growth */
    _Atomic uint64_t last_sample_ns;
    _Atomic uint64_t peak;
    _Atomic uint64_t samples;
    atomic_flag sampling; /* one sampler at a time; application threads never wait for it */
    _Atomic int pid;      /* ours: a vfork child shares this memory and must not act in it */

    /* trimming: one trim at a time and nobody waits for it. No flag of ours is held
     * while the allocator trims: it takes its own locks, and a thread holding those
     * may be inside our mmap at that moment. */
    atomic_flag trimming;
    struct ml_trim_policy trim_policy; /* only touched by the holder of `trimming` */
    _Atomic uint64_t trims, trimmed_bytes;

    bool want_thread;          /* kernel events need the memlimit thread even without callbacks */
    _Atomic uint64_t assists;  /* allocating threads that waited for the thread's pass */
    _Atomic bool critical_ask; /* a CRITICAL round asked of the thread (the hard limit) */
    _Atomic uint64_t above_since_ns; /* usage at or above the soft limit since; 0: below */
    _Atomic uint64_t start_ns;       /* the process's start (or its fork): how young it is */

    _Atomic uint64_t stall_until; /* a kernel stall report makes CRITICAL until then */

    /* memlimit_reached()'s hysteresis, the sampler's own: the published flag may run
     * ahead of it (raise_on_estimate) until the next sample */
    bool reached;
} S = {.sampling = ATOMIC_FLAG_INIT, .trimming = ATOMIC_FLAG_INIT};

/* the configuration, apart from S: its 20 KiB path store is read only through the
 * pointers set with it, and S shares the page start-up touches anyway */
static ML_COLD struct ml_config cfg;

/* A configuration line, once MEMLIMIT_LOG (loaded first) says where lines go. */
static void report_config(const char *line) {
    ml_log_set_dest(cfg.log);
    ml_log_set_json(cfg.log_format == ML_LOG_JSON);
    ml_log("%s", line);
}

/* The environment, read once at start-up through the option table; in
 * secure-execution mode (setuid) nothing that names a file is taken. */
static const char *env_get(const char *name, bool secure) {
    return secure ? secure_getenv(name) : getenv(name);
}

/* this thread holds the sampling flag (below) */
static __thread bool tl_sampler __attribute__((tls_model("initial-exec")));

/* Usage now. The cgroup's is read by the sampler only (its files are the sampler's
 * to follow); any other thread gets the last sample. */
static uint64_t read_usage(uint64_t now) {
    static atomic_bool warned, fell_back;
    int err = 0;
    bool cgroup = ml_limits_by_cgroup();
    if (cgroup && !tl_sampler) return atomic_load(&S.usage);
    uint64_t u = cgroup ? ml_limits_cgroup_usage(now, &err) : ml_usage_process(&err);
    if (err && cgroup && cfg.scope == ML_SCOPE_AUTO) {
        /* scope auto: this process's own figure while the cgroup's cannot be read */
        if (!atomic_exchange(&fell_back, true))
            ml_log("cannot read the cgroup's memory usage: %s; measuring this process only",
                   strerrordesc_np(err));
        err = 0;
        cgroup = false;
        u = ml_usage_process(&err);
    }
    /* No /proc (a chroot, a sandbox), a vanished cgroup, no descriptors left: usage
     * reads as 0, so nothing is trimmed and the hard limit refuses only a request
     * larger than itself. Said once, as the user must know. */
    if (err && !atomic_exchange(&warned, true))
        ml_log("cannot read %s: %s; usage counts as 0 while it cannot be read (no trims; "
               "the hard limit refuses only a request above it)",
               cgroup ? "the cgroup's usage" : "/proc/self/statm", strerrordesc_np(err));
    return u;
}

static struct ml_limits limits_now(void) {
    uint64_t stall = atomic_load(&S.stall_until);
    return (struct ml_limits){.soft = ml_limits_soft(),
                              .hard = ml_hard_get(),
                              .cgroup = ml_limits_cgroup(),
                              .stalled = stall && ml_now_ns() < stall};
}

static enum memlimit_level update_level(uint64_t usage) {
    struct ml_limits l = limits_now();
    bool reached = S.reached; /* not the published flag: an estimate may have raised it */
    enum memlimit_level lv = ml_level_compute(usage, &l, &reached);
    S.reached = reached;
    atomic_store(&ml_core_reached_now, reached);
    atomic_store(&ml_core_level_now, lv);
    if (lv >= MEMLIMIT_LEVEL_SOFT) ml_dump_level(lv);
    return lv;
}

/* The sampling flag: one sampler at a time. The thread that holds it can come back
 * here (pthread_create allocating while the sampler starts the reclaim thread, the
 * allocator's own mmap during a trim); it must then be refused, never wait for
 * itself. Application threads never wait for it either: they may be inside the
 * allocator's locks (mmap), and the holder may be writing to a slow log or metrics
 * file. Only the memlimit thread waits (take_sampler). Nothing that calls into the
 * allocator runs while it is held. */

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

/* worth trimming for: 1/64 of the limit, at least 1 MiB */
static uint64_t trim_enough(void) {
    uint64_t soft = ml_limits_soft();
    if (!soft) soft = ml_hard_get();
    return soft / 64 > (1u << 20) ? soft / 64 : (1u << 20);
}

/* The caller holds `trimming` and nothing else of ours. */
static void trim(uint64_t now, const char *why, bool thread) {
    /* What the trim gave back is judged by this process's own figure: the cgroup's
     * also moves with its other processes, and a trim that seemed to free nothing
     * would back off while they grow. */
    bool cg = ml_limits_by_cgroup();
    uint64_t before = read_usage(now), own0 = cg ? ml_usage_process(NULL) : before;
    /* The rate limit charges the CPU the trim used: with more runnable threads than
     * cores, the trimming thread is preempted mid-walk and its wall time says more
     * about the scheduler than about the trim. */
    uint64_t cpu = 0, rel0 = 0, rel1 = 0;
    /* what the allocator returned, for the trace: the usage drop also counts what
     * other threads touched meanwhile */
    bool rel = cfg.trace && ml_trim_released_bytes(&rel0, !thread);
    if (!ml_trim_now(&cpu)) return;
    rel = rel && ml_trim_released_bytes(&rel1, !thread);
    uint64_t done = ml_now_ns(), took = done - now;
    uint64_t after = read_usage(done), own1 = cg ? ml_usage_process(NULL) : after;
    uint64_t freed = own0 > own1 ? own0 - own1 : 0;
    uint64_t free_after = ML_TRIM_FREE_UNKNOWN;
    if (!ml_trim_free_bytes(&free_after, !thread)) free_after = ML_TRIM_FREE_UNKNOWN;
    ml_trim_policy_update(&S.trim_policy, done, cpu, freed >= trim_enough(), free_after);
    uint64_t n = atomic_fetch_add(&S.trims, 1) + 1;
    atomic_fetch_add(&S.trimmed_bytes, freed);
    if (try_take_sampler()) {             /* else the sampler is taking a fresher figure now */
        if (cg) after = read_usage(done); /* the cgroup's, now that we are the sampler */
        atomic_store(&S.usage, after);
        atomic_store(&S.last_sample_ns, done);
        update_level(after);
        give_sampler();
    }
    if (cfg.trace) {
        char a[24], b[24], c[24], d[24], e[40] = "";
        if (rel)
            ml_fmt(e, sizeof e, ", released %s", ml_fmt_bytes(a, rel1 > rel0 ? rel1 - rel0 : 0));
        ml_log("trim #%llu at %s -> %s in %s (cpu %s%s)%s", (unsigned long long)n,
               ml_fmt_bytes(a, before), ml_fmt_bytes(b, after), ml_fmt_ns(c, took),
               ml_fmt_ns(d, cpu), e, why);
    }
}

/* Trims when the policy allows (rate limit, back-off), or at once when callbacks
 * reported `freed` bytes or the allocator holds much more free memory than after
 * the last trim: frees since then are what a trim gives back, and the back-off (for
 * a live set stuck above the limit) must not keep them resident. Holds no flag of
 * ours while the allocator trims; never waits. thread: on the memlimit thread, whose
 * stack is ours (the allocator's statistics may be asked there, see
 * ml_trim_free_bytes). */
static void trim_if_due(enum memlimit_level lv, bool thread, uint64_t freed) {
    if (atomic_flag_test_and_set_explicit(&S.trimming, memory_order_acquire)) return;
    uint64_t now = ml_now_ns(), free;
    unsigned duty = lv >= MEMLIMIT_LEVEL_SOFT ? ML_TRIM_DUTY_SOFT : ML_TRIM_DUTY_MODERATE;
    const char *why = NULL; /* past the back-off: which frees, of how many bytes */
    uint64_t bytes = 0;
    if (ml_trim_due(&S.trim_policy, now, duty)) {
        why = "";
    } else if (ml_trim_reported_due(&S.trim_policy, now, freed, trim_enough())) {
        why = " (callbacks freed %s)", bytes = freed;
    } else if (ml_trim_risen_due(&S.trim_policy, now, (unsigned)lv, atomic_load(&S.usage),
                                 trim_enough())) {
        why = " (usage rose)";
    } else if (ml_trim_probe_due(&S.trim_policy, now) && ml_trim_free_bytes(&free, !thread) &&
               ml_trim_freed_due(&S.trim_policy, now, free, trim_enough())) {
        why = " (the allocator held %s more free)", bytes = S.trim_policy.free_grew;
    }
    if (why) {
        char line[64], b[24];
        ml_fmt(line, sizeof line, why, ml_fmt_bytes(b, bytes));
        trim(now, line, thread);
    }
    ml_trim_level_seen(&S.trim_policy, (unsigned)lv, atomic_load(&S.usage), why != NULL);
    atomic_flag_clear_explicit(&S.trimming, memory_order_release);
}

/* Reads usage and updates everything that follows from it; the caller holds the
 * sampling flag. The bytes handed out before the read are settled by it. */
static enum memlimit_level take_sample(uint64_t now, uint64_t *usage) {
    ml_limits_refresh_if_due(now);
    uint64_t pending = atomic_load(&S.unsampled);
    uint64_t u = read_usage(now);
    atomic_fetch_sub(&S.unsampled, pending);
    atomic_store(&S.usage, u);
    atomic_store(&S.last_sample_ns, now);
    atomic_fetch_add(&S.samples, 1);
    uint64_t peak = atomic_load(&S.peak);
    while (u > peak && !atomic_compare_exchange_weak(&S.peak, &peak, u)) {
    }
    *usage = u;
    enum memlimit_level lv = update_level(u);
    uint64_t soft = ml_limits_soft();
    if (!soft || u < soft)
        atomic_store_explicit(&S.above_since_ns, 0, memory_order_relaxed);
    else if (!atomic_load_explicit(&S.above_since_ns, memory_order_relaxed))
        atomic_store_explicit(&S.above_since_ns, now, memory_order_relaxed);
    ml_periodic(now, lv, atomic_load(&ml_core_reached_now), ml_core_stats);
    return lv;
}

/* the once-per-process changes (onlimit.c), when a limit is known */
static int cap_arenas(void) {
    return ml_onlimit_apply(cfg.thp, ml_limits_soft() || ml_hard_get());
}

/* The sampler was busy when a sample was due. Its holder may be preempted for
 * milliseconds (more runnable threads than cores: 7 ms seen on 2 cores with 4
 * allocating workers), and meanwhile memlimit_reached() would say false while the
 * others allocate past the soft limit. The estimate (last usage plus every byte
 * handed out since, frees not subtracted) bounds usage from above: once it reaches
 * the soft limit, reached (and the level, to SOFT) is raised now, and the next
 * sample settles both from usage alone. Never lowered here. The thread, where it
 * runs, is woken as a sample at SOFT would wake it. */
static void raise_on_estimate(void) {
    uint64_t soft = ml_limits_soft();
    if (!soft || atomic_load_explicit(&ml_core_reached_now, memory_order_relaxed) ||
        atomic_load(&S.usage) + atomic_load(&S.unsampled) < soft)
        return;
    atomic_store(&ml_core_reached_now, true);
    int lv = atomic_load(&ml_core_level_now);
    while (lv < MEMLIMIT_LEVEL_SOFT &&
           !atomic_compare_exchange_weak(&ml_core_level_now, &lv, MEMLIMIT_LEVEL_SOFT)) {
    }
    if (ml_reclaim_running()) ml_reclaim_wake(); /* its round samples, waiting its turn */
}

/* Samples if the last sample is at least `every` old and no one else is sampling
 * (never waits), then acts on the level: wakes the reclaim thread, or without one
 * trims inline when may_act. Returns false if it did not sample. */
static bool try_sample(uint64_t now, uint64_t every, bool may_act) {
    if (now - atomic_load_explicit(&S.last_sample_ns, memory_order_relaxed) < every) return false;
    if (!try_take_sampler()) {
        if (!tl_sampler) raise_on_estimate(); /* busy elsewhere, not re-entry */
        return false;
    }
    uint64_t u;
    enum memlimit_level lv = take_sample(now, &u);
    give_sampler();
    bool running = ml_reclaim_running();
    if (lv >= MEMLIMIT_LEVEL_MODERATE && running) ml_reclaim_wake();
    if (!may_act || in_vfork_child()) return true;
    if (!ml_onlimit_applied()) cap_arenas();
    if (running) return true;
    /* the thread trims and calls back when it exists; without it, this thread, after
     * the forwarded call returned and holding nothing of ours */
    if (lv >= MEMLIMIT_LEVEL_MODERATE) trim_if_due(lv, false, 0);
    ml_core_give_up_check(now);
    ml_dump_run_due();
    /* the thread watches whenever a limit is in force (memory grows by page touches
     * and in other processes, with no allocation here to notice); a fork child gets
     * its own. Started outside the flag, since pthread_create allocates */
    if (lv >= MEMLIMIT_LEVEL_MODERATE || S.want_thread || ml_limits_soft() || ml_hard_get())
        ml_reclaim_want_thread(), ml_reclaim_ensure_thread();
    return true;
}

/* Budget per thread: 1 MiB far from the limit, down to 64 KiB as it nears, so
 * the bytes no one has looked at stay small against the headroom. */
static size_t chunk_size(void) {
    return ml_budget(atomic_load(&S.usage) + atomic_load(&S.unsampled), ml_limits_soft(),
                     ml_hard_get());
}

/* ---- what the memlimit thread's operations (threadops.c) ask ---- */

uint64_t ml_core_fresh_usage(bool wait, enum memlimit_level *lv) {
    uint64_t now = ml_now_ns();
    uint64_t u;
    if (wait ? take_sampler() : try_take_sampler()) { /* on re-entry: the figure we have */
        if (now - atomic_load(&S.last_sample_ns) >= 1000000) take_sample(now, &u);
        give_sampler();
    }
    if (lv) *lv = ml_core_level();
    return atomic_load(&S.usage);
}

/* MEMLIMIT_GIVE_UP: usage above the soft limit for that long, every trim and round
 * since notwithstanding, is a leak or live data over the limit; trims would go on
 * costing CPU and the kernel kills at the worst moment. So: the profile's .critical
 * and one line, then exit 75 (EX_TEMPFAIL: try again), for the orchestrator to restart
 * the program early. _exit: other threads may hold the locks atexit handlers take.
 * Where a thread may block (the memlimit thread, or the slow path without it). */
#define ML_GIVE_UP_STATUS 75
void ml_core_give_up_check(uint64_t now) {
    uint64_t since = atomic_load_explicit(&S.above_since_ns, memory_order_relaxed);
    if (!cfg.give_up_sec || !since || now - since < (uint64_t)cfg.give_up_sec * 1000000000ULL)
        return;
    static atomic_flag once = ATOMIC_FLAG_INIT;
    if (atomic_flag_test_and_set(&once)) return;
    char a[24], b[24], c[24];
    uint64_t u = atomic_load(&S.usage);
    ml_log("giving up (MEMLIMIT_GIVE_UP=%us): usage %s has stayed above the soft limit %s for "
           "%s through %llu trims and %llu rounds; exiting with status %d so that the "
           "program is restarted",
           cfg.give_up_sec, ml_fmt_bytes(a, u), ml_fmt_bytes(b, ml_limits_soft()),
           ml_fmt_ns(c, now - since), (unsigned long long)atomic_load(&S.trims),
           (unsigned long long)ml_reclaim_rounds(), ML_GIVE_UP_STATUS);
    if (cfg.profile) ml_dump_critical_now();
    _exit(ML_GIVE_UP_STATUS);
}

bool ml_core_young(uint64_t now, uint64_t ns) {
    return now - atomic_load_explicit(&S.start_ns, memory_order_relaxed) < ns;
}

bool ml_core_events_now(uint64_t now) {
    /* asked for (MEMLIMIT_EVENTS=on, MEMLIMIT_SCOPE=cgroup) or an aware program's
     * callbacks: at once; otherwise not while young and far from the limit */
    return S.want_thread || ml_reclaim_registered() || !ml_core_young(now, ML_YOUNG_EVENTS_NS) ||
           ml_core_level() >= MEMLIMIT_LEVEL_MODERATE;
}

bool ml_core_critical_asked(void) {
    return atomic_load_explicit(&S.critical_ask, memory_order_relaxed) &&
           atomic_exchange(&S.critical_ask, false);
}

uint64_t ml_core_last_usage(void) {
    return atomic_load(&S.usage);
}

/* how much of the interpreter's time its collections may take at a level (rtgc.h) */
static unsigned gc_duty(enum memlimit_level lv) {
    return lv >= MEMLIMIT_LEVEL_SOFT       ? ML_TRIM_DUTY_SOFT
           : lv >= MEMLIMIT_LEVEL_MODERATE ? ML_TRIM_DUTY_MODERATE
                                           : 0;
}

void ml_core_thread_started(void) {
    ml_rtgc_find(cfg.gc == ML_GC_ON, cfg.trace > 0);
}

void ml_core_thread_trim(enum memlimit_level lv, uint64_t freed) {
    /* an interpreter's uncollected garbage first: what its collection frees, the
     * next trim gives back */
    if (lv >= MEMLIMIT_LEVEL_SOFT && cfg.gc == ML_GC_ON)
        ml_rtgc_request(ml_now_ns(), cfg.trace > 0);
    trim_if_due(lv, true, freed); /* the memlimit thread: its stack is ours */
}

bool ml_core_stalled(uint64_t now) {
    uint64_t stall = atomic_load(&S.stall_until);
    return stall && now < stall;
}

void ml_core_kernel_event(uint64_t now, bool stall) {
    if (stall) atomic_store(&S.stall_until, now + ML_STALL_NS);
    atomic_store(&S.last_sample_ns, 0); /* the next slow path samples */
}

void ml_core_reread_limits(void) {
    if (!take_sampler()) return; /* re-entry: the sampler re-reads them itself */
    ml_limits_reread();
    give_sampler();
}

/* ---- what the hard limit (hardlimit.c) asks ---- */

bool ml_core_ready(void) {
    return atomic_load_explicit(&S.state, memory_order_acquire) == ST_READY;
}

uint64_t ml_core_estimate(void) {
    return atomic_load(&S.usage) + atomic_load(&S.unsampled);
}

enum memlimit_level ml_core_level_of(uint64_t usage) {
    struct ml_limits l = limits_now();
    bool reached = false; /* the figure's own level: SOFT from the soft limit up, without
                             the sampler's hysteresis (its state, not ours to read) */
    return ml_level_compute(usage, &l, &reached);
}

uint64_t ml_core_estimate_high(void) {
    return atomic_load(&S.usage) + 2 * atomic_load(&S.unsampled);
}

uint64_t ml_core_usage_now(void) {
    return ml_core_fresh_usage(false, NULL);
}

uint64_t ml_core_usage_exact(void) {
    if (!try_take_sampler()) return ml_core_estimate(); /* busy, or re-entry */
    uint64_t u;
    take_sample(ml_now_ns(), &u);
    give_sampler();
    return u;
}

bool ml_core_critical_round(uint64_t wait_ns) {
    if (!wait_ns) { /* from mmap: never waits */
        if (ml_reclaim_running()) ml_reclaim_wake();
        return false;
    }
    if (in_vfork_child()) return false;
    if (ml_reclaim_running()) {
        /* the thread's pass runs at CRITICAL, whatever level its sample finds (a hard
         * limit below the soft one: usage at it is still "none") */
        atomic_store(&S.critical_ask, true);
        ml_reclaim_wait_round(wait_ns);
    } else {
        trim_if_due(MEMLIMIT_LEVEL_CRITICAL, false, 0);
    }
    atomic_store(&S.last_sample_ns, 0); /* the next look samples */
    return true;
}

static __thread bool tl_started __attribute__((tls_model("initial-exec")));

/* Allocators pay when they outrun the watch: past the soft limit, with the thread a
 * pass behind (none in the interval its level asks for), the allocating thread waits
 * for the next pass, up to ML_ASSIST_MOST_NS at the limit (Go's GC assists and the
 * kernel's memory.high throttle do the same). Bounded: a callback may wait for a lock
 * this thread holds. Only from the malloc family, after the call, holding nothing. */
#define ML_ASSIST_MOST_NS (20ULL * 1000000)
static void assist(uint64_t now) {
    enum memlimit_level lv = ml_core_level();
    if (lv < MEMLIMIT_LEVEL_SOFT || !ml_reclaim_running() || in_vfork_child()) return;
    uint64_t every = lv >= MEMLIMIT_LEVEL_CRITICAL ? 1000000 : 5000000;
    uint64_t last = ml_reclaim_last_pass_ns();
    if (last && now - last < every) return; /* it keeps up */
    uint64_t lim = ml_hard_get() ? ml_hard_get() : ml_limits_cgroup();
    uint64_t ns = ml_decide_assist_ns(ml_core_estimate(), ml_limits_soft(), lim, ML_ASSIST_MOST_NS);
    if (!ns) return;
    atomic_fetch_add_explicit(&S.assists, 1, memory_order_relaxed);
    ml_reclaim_wait_round(ns);
}

size_t ml_core_slow(void *p, size_t bytes, size_t left, bool may_act) {
    if (atomic_load_explicit(&S.state, memory_order_acquire) != ST_READY) return ML_CHUNK_MIN;
    int saved = errno; /* nothing here may show through to the application */
    if (__builtin_expect(may_act && !tl_started, 0)) {
        tl_started = true;
        ml_trim_thread_start();
    }
    /* the profile's next sample point caps the budget, so the allocation that holds
     * it comes here */
    size_t cap = ml_prof_enabled() ? ml_prof_account(p, bytes, left) : SIZE_MAX;
    size_t chunk = chunk_size();
    atomic_fetch_add_explicit(&S.unsampled, bytes + chunk, memory_order_relaxed);
    uint64_t now = ml_now_ns();
    /* a /proc read costs ~2 us: at most one per ms with a limit, one per 10 ms without */
    uint64_t every = ml_limits_soft() || ml_hard_get() ? 1000000 : 10000000;
    if (try_sample(now, every, may_act)) chunk = chunk_size();
    if (may_act) assist(now);
    if (may_act) ml_rtgc_poll(gc_duty(ml_core_level()), now);
    if (chunk > cap) chunk = cap;
    if (ml_prof_enabled()) ml_prof_issued(chunk);
    errno = saved;
    return chunk;
}

static void atfork_prepare(void) {
    ml_prof_atfork_prepare();
}
static void atfork_parent(void) {
    ml_prof_atfork_release();
}
static void atfork_child(void) {
    ml_prof_atfork_release(); /* the table was locked across fork: consistent */
    ml_dump_forked();
    ml_lastwords_forked();
    ml_periodic_forked();
    ml_rtgc_forked();
    /* a lock held by a thread that does not exist in the child would stay held */
    atomic_flag_clear(&S.sampling);
    tl_sampler = false; /* unless the forking thread held it: it is ours again */
    ml_limits_forked();
    atomic_flag_clear(&S.trimming);
    atomic_store(&S.pid, (int)getpid());
    atomic_store(&S.start_ns, ml_now_ns()); /* a young process again */
}

void ml_core_init(ml_lookup_fn lookup) {
    int expect = ST_NEW;
    if (!atomic_compare_exchange_strong(&S.state, &expect, ST_INITIALIZING)) return;
    int saved = errno;
    atomic_store(&S.pid, (int)getpid());
    atomic_store(&S.start_ns, ml_now_ns());
    ml_log_init(); /* which file is stderr: lines never go to another on descriptor 2 */

    /* MEMLIMIT_LOG is the table's first option: report_config sends the lines about
     * the others where the user asked */
    ml_config_load(&cfg, env_get, report_config);
    ml_config_check_names(environ, report_config); /* MEMLIMIT_TRCE: did you mean ...? */
    ml_log_set_dest(cfg.log);
    ml_log_set_json(cfg.log_format == ML_LOG_JSON);
    ml_log_set_verbose(cfg.trace || cfg.log);
    if (cfg.trace >= 2) ml_log_set_clock(ml_now_ns());
    if (cfg.profile) ml_dump_init(&cfg);
    ml_periodic_init(&cfg);

    /* Cgroup discovery (two /proc files and the limit files, ~25 system calls) waits
     * for the first sample: a process that exits before its first budget runs out
     * (a shell's /bin/true) never needs it. The start-up line shows its result, and
     * a hard limit given as a percentage needs it before the first allocation. */
    bool eager = cfg.trace || (cfg.hard.kind != ML_SIZE_UNSET && cfg.hard.kind != ML_SIZE_OFF);
    ml_limits_init(&cfg, eager);
    ml_hard_set_wait(cfg.hard_wait_ms);
    char hard_warning[256]; /* with a hard limit, the limits were derived just now */
    if (ml_decide_hard_warning(ml_limits_soft(), ml_hard_get(), hard_warning, sizeof hard_warning))
        ml_log("%s", hard_warning);
    /* MEMLIMIT_EVENTS: auto is on when a callback is registered (the thread exists
     * then anyway) or the scope is cgroup (other processes' growth must be seen) */
    S.want_thread = cfg.events == ML_EVENTS_ON ||
                    (cfg.events == ML_EVENTS_AUTO && cfg.scope == ML_SCOPE_CGROUP);
    if (S.want_thread) ml_reclaim_want_thread();
    ml_watch_init(&cfg);
    ml_threadops_install(cfg.trace > 0);

    ml_trim_init(lookup);
    int arenas = eager ? cap_arenas() : 0;
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);

    if (cfg.trace) {
        char soft[ML_PATH_MAX + 256];
        ml_limits_describe(soft, sizeof soft);
        char cap[48] = "";
        if (arenas) ml_fmt(cap, sizeof cap, " (arenas capped at %d)", arenas);
        char hard[40] = "off", hb[24];
        if (ml_hard_get()) ml_fmt(hard, sizeof hard, "%s", ml_fmt_bytes(hb, ml_hard_get()));
        /* what sysconf and /proc/meminfo report: said only where it is the container's */
        ml_log("%s, hard %s, scope %s%s, allocator %s%s", soft, hard,
               ml_scope_name(cfg.scope, ml_limits_by_cgroup()),
               ml_core_meminfo_container() ? ", memory view container" : "",
               ml_trim_allocator_name(), cap);
    }
    atomic_store_explicit(&S.state, ST_READY, memory_order_release);
    errno = saved;
}

/* At exit (exit() or a return from main; not _exit, not a vfork child): a last sample,
 * and the metrics file written with it, so the file holds the process's peak.
 * Threads may still run: a sampler among them is waited for, briefly. */
static __attribute__((destructor)) void core_at_exit(void) {
    if (!cfg.metrics || !ml_core_ready() || in_vfork_child() || tl_sampler) return;
    int saved = errno;
    for (int i = 0; !try_take_sampler(); i++) {
        if (i > 1000) { /* a sampler stuck for milliseconds: its own write will do */
            errno = saved;
            return;
        }
        sched_yield();
    }
    uint64_t u;
    if (ml_periodic_arm_exit()) take_sample(ml_now_ns(), &u);
    give_sampler();
    errno = saved;
}

/* ---- what the public API (api.c) asks ---- */

/* The level and memlimit_reached()'s answer: written by the sampler, read anywhere
 * with one load (limiter.h). */
_Atomic int ml_core_level_now;
_Atomic bool ml_core_reached_now;

bool ml_core_reached_again(void) {
    /* Reached: usage may have fallen since, with no allocation to notice it (a pool
     * that defers work allocates nothing), or freed memory may sit in the allocator
     * with nothing left to trim it. Without the thread, look again, at most once a
     * millisecond for the whole process, and trim when due: the application calls
     * this outside the allocator, so no allocator lock is held here. */
    if (!ml_reclaim_running() && atomic_load(&S.state) == ST_READY) {
        int saved = errno;
        try_sample(ml_now_ns(), 1000000, true);
        errno = saved;
    }
    return atomic_load_explicit(&ml_core_reached_now, memory_order_relaxed);
}

int64_t ml_core_set_soft(int64_t bytes) {
    int64_t old = ml_limits_set_soft(bytes);
    if (bytes < 0) return old;
    if (try_take_sampler()) { /* the level's hysteresis is the sampler's state; when busy,
                                 the next sample sets the level */
        update_level(atomic_load(&S.usage));
        give_sampler();
    }
    atomic_store(&S.last_sample_ns, 0); /* the next slow path samples */
    /* an application's call, outside the allocator: the once-per-process changes now,
     * if this is the first limit (a program may not allocate again for a while) */
    if (bytes > 0 && ml_core_ready() && !in_vfork_child()) {
        if (!ml_onlimit_applied()) cap_arenas();
        ml_reclaim_want_thread();
        ml_reclaim_ensure_thread();
    }
    return old;
}

bool ml_core_container_memory(uint64_t host_total, uint64_t host_swap, struct ml_meminfo_view *v) {
    /* the cgroup's swap as last read, for callers that find the sampler busy */
    static _Atomic uint64_t swap_limit = ML_NO_LIMIT, swap_used;
    if (cfg.meminfo != ML_MEMINFO_CONTAINER || atomic_load(&S.state) != ST_READY ||
        in_vfork_child())
        return false;
    int saved = errno;
    uint64_t limit = ML_NO_LIMIT, ws = 0;
    bool have = false;
    /* a fresh working set where the sampler is free (the first discovery too); else
     * the last sample's, when it is the cgroup's */
    if (try_take_sampler()) {
        uint64_t now = ml_now_ns();
        if (!ml_limits_ready()) ml_limits_refresh_if_due(now);
        limit = ml_limits_cgroup();
        int err = 0;
        if (limit != ML_NO_LIMIT) {
            ws = ml_limits_cgroup_usage(now, &err), have = !err;
            uint64_t sl = ML_NO_LIMIT, su = 0;
            if (have && !ml_limits_cgroup_swap(&sl, &su)) sl = ML_NO_LIMIT;
            atomic_store(&swap_limit, sl);
            atomic_store(&swap_used, su);
        }
        give_sampler();
    } else if (ml_limits_ready() && ml_limits_by_cgroup()) {
        limit = ml_limits_cgroup();
        ws = atomic_load(&S.usage), have = true;
    }
    errno = saved;
    if (limit == ML_NO_LIMIT || !have) return false;
    *v = ml_meminfo_view(limit, ws, host_total);
    ml_meminfo_swap(v, atomic_load(&swap_limit), atomic_load(&swap_used), host_swap);
    return true;
}

bool ml_core_meminfo_container(void) {
    return cfg.meminfo == ML_MEMINFO_CONTAINER && ml_limits_cgroup() != ML_NO_LIMIT;
}

void ml_core_stats(struct memlimit_stats *out) {
    /* the first discovery, if no sample ran yet; never waits (application threads
     * do not wait for the sampler), and not on re-entry (the sampler's own periodic
     * line, which comes after it) */
    if (!ml_limits_ready() && atomic_load(&S.state) == ST_READY && try_take_sampler()) {
        ml_limits_refresh_if_due(ml_now_ns());
        give_sampler();
    }
    memset(out, 0, sizeof *out);
    out->soft_limit = (int64_t)ml_limits_soft();
    ml_limits_stats(out);
    out->usage = (int64_t)atomic_load(&S.usage);
    out->peak_usage = (int64_t)atomic_load(&S.peak);
    out->level = ml_core_level();
    out->samples = atomic_load(&S.samples);
    out->trims = atomic_load(&S.trims);
    out->trimmed_bytes = atomic_load(&S.trimmed_bytes);
    out->hard_limit = (int64_t)ml_hard_get();
    out->callback_calls = ml_reclaim_calls();
    out->callback_bytes = ml_reclaim_bytes();
    out->callback_rounds = ml_reclaim_rounds();
    out->failed_allocs = ml_hard_refused();
}
