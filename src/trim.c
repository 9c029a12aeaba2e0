/* SPDX-License-Identifier: MIT */
#include "trim.h"
#include "log.h"
#include "clock.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

static enum ml_allocator alloc_kind = ML_ALLOC_OTHER;
static int (*glibc_trim)(size_t);
static int (*je_mallctl)(const char *, void *, size_t *, void *, size_t);
static void (*tc_release)(void);
static void (*mi_collect)(bool);

static int (*glibc_mallopt)(int, int);
#ifdef __GLIBC__
static struct mallinfo2 (*glibc_mallinfo2)(void);
#else /* musl: neither malloc_trim nor mallinfo2 nor arenas (ml_trim_now says so) */
static struct mallinfo2 { size_t fordblks; } (*glibc_mallinfo2)(void);
#define M_ARENA_MAX (-8)
#endif
static int (*tc_property)(const char *, size_t *);

static unsigned je_narenas; /* jemalloc's arenas at start-up, 0 if unknown */

#ifdef __GLIBC__
static const char *const names[] = {"glibc", "jemalloc", "tcmalloc", "mimalloc", "unknown"};
#else /* built with musl, no allocator of the four: musl's own malloc */
static const char *const names[] = {"glibc", "jemalloc", "tcmalloc", "mimalloc", "musl"};
#endif

void ml_trim_init(ml_lookup_fn lookup) {
    /* the allocator's own entry points, found in the object that serves malloc */
    if ((je_mallctl =
             (int (*)(const char *, void *, size_t *, void *, size_t))lookup("mallctl", false))) {
        alloc_kind = ML_ALLOC_JEMALLOC;
        /* asked here, on the main thread's stack: capping comes later, maybe on an
         * application thread with a small stack, and mallctl runs deep */
        size_t sz = sizeof je_narenas;
        if (je_mallctl("arenas.narenas", &je_narenas, &sz, NULL, 0) != 0) je_narenas = 0;
    } else if ((tc_release = (void (*)(void))lookup("MallocExtension_ReleaseFreeMemory", false))) {
        alloc_kind = ML_ALLOC_TCMALLOC;
        tc_property =
            (int (*)(const char *, size_t *))lookup("MallocExtension_GetNumericProperty", false);
    } else if ((mi_collect = (void (*)(bool))lookup("mi_collect", false)))
        alloc_kind = ML_ALLOC_MIMALLOC;
    else if ((glibc_trim = (int (*)(size_t))lookup("malloc_trim", true))) {
        alloc_kind = ML_ALLOC_GLIBC;
        glibc_mallopt = (int (*)(int, int))lookup("mallopt", true);
        /* glibc 2.33; older ones have only mallinfo, whose int fields wrap */
        glibc_mallinfo2 = (struct mallinfo2(*)(void))lookup("mallinfo2", true);
    } else
        alloc_kind = ML_ALLOC_OTHER;
}

static unsigned je_cap;          /* 0: threads stay where jemalloc puts them */
static _Atomic unsigned je_next; /* round-robin over the capped arenas */

bool ml_trim_cap_arenas(unsigned n, const char *(*getenv_fn)(const char *)) {
    if (n < 1) return false;
    if (alloc_kind == ML_ALLOC_GLIBC && glibc_mallopt) {
        const char *t = getenv_fn("GLIBC_TUNABLES");
        if (getenv_fn("MALLOC_ARENA_MAX") || (t && strstr(t, "glibc.malloc.arena_max")))
            return false;
        return glibc_mallopt(M_ARENA_MAX, (int)n) == 1;
    }
    if (alloc_kind == ML_ALLOC_JEMALLOC) {
        const char *c = getenv_fn("MALLOC_CONF");
        if ((c && strstr(c, "narenas")) || je_narenas <= n) return false;
        je_cap = n;
        return true;
    }
    return false;
}

void ml_trim_thread_start(void) {
    if (!je_cap) return;
    unsigned idx = atomic_fetch_add(&je_next, 1) % je_cap;
    je_mallctl("thread.arena", NULL, NULL, &idx, sizeof idx);
}

enum ml_allocator ml_trim_allocator(void) {
    return alloc_kind;
}

const char *ml_trim_allocator_name(void) {
    return names[alloc_kind];
}

/* Once, when a trim is first due: this allocator has nothing to call (musl's malloc
 * has no malloc_trim), so no trim happens and none is counted. */
static void no_trim_said(void) {
    static atomic_flag said = ATOMIC_FLAG_INIT;
    if (atomic_flag_test_and_set(&said)) return;
    ml_log_info("no trim: allocator %s has no call to give freed memory back (no malloc_trim); "
                "memlimit measures, calls callbacks and refuses at the hard limit, but trims "
                "nothing",
                names[alloc_kind]);
}

/* CPU time spent in the allocator's trim calls, every thread's (their own CPU clock
 * around the call: a trim preempted midway is not charged for the wait) */
static _Atomic uint64_t trim_cpu_ns;

uint64_t ml_trim_cpu_ns(void) {
    return atomic_load_explicit(&trim_cpu_ns, memory_order_relaxed);
}

static bool trim_call(void) {
    switch (alloc_kind) {
    case ML_ALLOC_GLIBC:
        glibc_trim(0);
        return true;
    case ML_ALLOC_JEMALLOC:
        /* MALLCTL_ARENAS_ALL is 4096 */
        return je_mallctl("arena.4096.purge", NULL, NULL, NULL, 0) == 0;
    case ML_ALLOC_TCMALLOC:
        tc_release();
        return true;
    case ML_ALLOC_MIMALLOC:
        mi_collect(true);
        return true;
    default:
        return false; /* ML_ALLOC_OTHER: ml_trim_now said so */
    }
}

bool ml_trim_now(uint64_t *cpu_ns) {
    if (alloc_kind == ML_ALLOC_OTHER) {
        no_trim_said();
        return false;
    }
    uint64_t t0 = ml_thread_cpu_ns();
    bool ok = trim_call();
    *cpu_ns = ml_thread_cpu_ns() - t0;
    atomic_fetch_add_explicit(&trim_cpu_ns, *cpu_ns, memory_order_relaxed);
    return ok;
}

/* jemalloc's statistics, refreshed (epoch): the named page counts summed, in bytes.
 * A name that jemalloc lacks counts 0 unless it is the first. */
static bool je_pages(uint64_t *out, const char *first, const char *second) {
    uint64_t epoch = 1;
    size_t a = 0, b = 0, page = 0, sz = sizeof a;
    if (je_mallctl("epoch", NULL, NULL, &epoch, sizeof epoch) != 0 ||
        je_mallctl(first, &a, &sz, NULL, 0) != 0 ||
        je_mallctl("arenas.page", &page, &sz, NULL, 0) != 0)
        return false;
    if (second && je_mallctl(second, &b, &sz, NULL, 0) != 0) b = 0;
    *out = (uint64_t)(a + b) * page;
    return true;
}

/* one of tcmalloc's numeric properties */
static bool tc_bytes(uint64_t *out, const char *name) {
    size_t v = 0;
    if (!tc_property || !tc_property(name, &v)) return false;
    *out = v;
    return true;
}

bool ml_trim_released_bytes(uint64_t *out, bool small_stack) {
    if (small_stack) return false;
    switch (alloc_kind) {
    case ML_ALLOC_JEMALLOC: /* a uint64_t counter, the same width as size_t here */
        return je_pages(out, "stats.arenas.4096.dirty_purged", NULL);
    case ML_ALLOC_TCMALLOC:
        return tc_bytes(out, "tcmalloc.pageheap_unmapped_bytes");
    default:
        return false;
    }
}

bool ml_trim_free_bytes(uint64_t *out, bool small_stack) {
    if (small_stack && alloc_kind != ML_ALLOC_GLIBC) return false;
    switch (alloc_kind) {
    case ML_ALLOC_GLIBC:
        if (!glibc_mallinfo2) return false;
        *out = glibc_mallinfo2().fordblks;
        return true;
    case ML_ALLOC_JEMALLOC: /* counted in jemalloc's pages */
        return je_pages(out, "stats.arenas.4096.pdirty", "stats.arenas.4096.pmuzzy");
    case ML_ALLOC_TCMALLOC:
        return tc_bytes(out, "tcmalloc.pageheap_free_bytes");
    default:
        return false;
    }
}

bool ml_trim_due(const struct ml_trim_policy *p, uint64_t now, unsigned duty) {
    if (!p->last_end_ns) return true;
    uint64_t wait = p->last_cpu_ns * duty;
    if (wait < ML_TRIM_MIN_INTERVAL_NS) wait = ML_TRIM_MIN_INTERVAL_NS;
    if (wait < p->backoff_ns) wait = p->backoff_ns;
    return now >= p->last_end_ns + wait;
}

void ml_trim_policy_update(struct ml_trim_policy *p, uint64_t end, uint64_t cpu_ns, bool productive,
                           uint64_t free_after) {
    p->last_end_ns = end;
    p->last_cpu_ns = cpu_ns;
    p->free_after = free_after;
    p->next_probe_ns = end + ML_TRIM_PROBE_NS;
    if (productive) {
        p->backoff_ns = 0;
    } else {
        p->backoff_ns = p->backoff_ns ? p->backoff_ns * 2 : ML_TRIM_FIRST_BACKOFF_NS;
        if (p->backoff_ns > ML_TRIM_MAX_BACKOFF_NS) p->backoff_ns = ML_TRIM_MAX_BACKOFF_NS;
    }
}

bool ml_trim_probe_due(struct ml_trim_policy *p, uint64_t now) {
    if (!p->last_end_ns || now < p->next_probe_ns) return false;
    p->next_probe_ns = now + ML_TRIM_PROBE_NS;
    return true;
}

/* known frees end the back-off, never the rate limit: at least 10 ms and one trim's
 * CPU time after the last */
static bool past_soft_wait(const struct ml_trim_policy *p, uint64_t now) {
    uint64_t wait = p->last_cpu_ns * ML_TRIM_DUTY_SOFT;
    if (wait < ML_TRIM_MIN_INTERVAL_NS) wait = ML_TRIM_MIN_INTERVAL_NS;
    return now >= p->last_end_ns + wait;
}

bool ml_trim_freed_due(struct ml_trim_policy *p, uint64_t now, uint64_t free_now, uint64_t enough) {
    if (p->free_after == ML_TRIM_FREE_UNKNOWN) { /* the first reading is the baseline */
        p->free_after = free_now;
        p->free_grew = 0;
        return false;
    }
    p->free_grew = free_now > p->free_after ? free_now - p->free_after : 0;
    return p->free_grew >= enough && past_soft_wait(p, now);
}

bool ml_trim_risen_due(const struct ml_trim_policy *p, uint64_t now, unsigned level, uint64_t usage,
                       uint64_t rise) {
    bool risen = level > p->level_then || (p->backoff_ns && usage >= p->usage_then + rise);
    return p->last_end_ns && risen && past_soft_wait(p, now);
}

void ml_trim_level_seen(struct ml_trim_policy *p, unsigned level, uint64_t usage, bool trimmed) {
    if (trimmed || level < p->level_then) p->level_then = level;
    if (trimmed) p->usage_then = usage;
}

bool ml_trim_reported_due(const struct ml_trim_policy *p, uint64_t now, uint64_t reported,
                          uint64_t enough) {
    return reported >= enough && past_soft_wait(p, now);
}
