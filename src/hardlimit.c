/* SPDX-License-Identifier: MIT */
#include "hardlimit.h"
#include "cold.h"
#include "caller.h"
#include "clock.h"
#include "limiter.h"
#include "dump.h"
#include "lastwords.h"
#include "level.h"
#include "log.h"

#include <errno.h>
#include <stdatomic.h>

static _Atomic uint64_t hard;   /* 0: none */
static _Atomic uint64_t failed; /* allocations refused */
static _Atomic uint64_t next_log_ns;
static uint32_t wait_ms = 5;

void ml_hard_set(uint64_t bytes) {
    atomic_store(&hard, bytes);
}
void ml_hard_set_wait(uint32_t ms) {
    wait_ms = ms;
}
uint64_t ml_hard_get(void) {
    return atomic_load_explicit(&hard, memory_order_relaxed);
}
uint64_t ml_hard_refused(void) {
    return atomic_load(&failed);
}

/* Small allocations may go this far past the hard limit, so that a program told
 * ENOMEM can still unwind: print, open a file, throw. The language runtime (the C
 * library, libstdc++, libgcc_s) may go twice as far, so an application that ate its
 * own reserve (handling NULL correctly) does not leave the runtime without memory to
 * report, unwind or throw with; the dynamic loader is never refused (its lazy TLS
 * and link-map allocations are small, and its failure is an abort). */
#define ML_RESERVE_SMALL ((size_t)64 << 10)
static uint64_t reserve_bytes(uint64_t h) {
    uint64_t r = h / 32;
    return r < (1u << 20) ? (1u << 20) : r > (32u << 20) ? (32u << 20) : r;
}

bool ml_hard_past(uint64_t h, uint64_t usage, size_t n, enum ml_caller who) {
    if (who == ML_CALLER_LOADER) return true;
    uint64_t reserve = reserve_bytes(h) * (who == ML_CALLER_RUNTIME ? 2 : 1);
    return n <= ML_RESERVE_SMALL && usage + n < h + reserve;
}

bool ml_hard_near(size_t n) {
    uint64_t h = ml_hard_get();
    return h && ml_core_ready() && ml_core_estimate() + n >= h;
}

/* with_stack: where no allocator lock is held (the malloc family), the caller's
 * frames and the .critical profile too (see lastwords.h) */
static void refused_line(uint64_t h, size_t n, uint64_t u, bool with_stack) {
    uint64_t now = ml_now_ns(), next = atomic_load(&next_log_ns);
    /* at most one line a second, from one thread: the one that moves the time on */
    if (now < next || !atomic_compare_exchange_strong(&next_log_ns, &next, now + 1000000000ULL))
        return;
    char a[24], b[24], c[24];
    static ML_COLD char frames[640]; /* that thread's alone */
    if (with_stack) ml_lastwords_frames(frames, sizeof frames, 6);
    ml_log("hard limit %s: refused %s at %s (ENOMEM), level %s%s%s", ml_fmt_bytes(a, h),
           ml_fmt_bytes(b, n), ml_fmt_bytes(c, u), ml_level_name(ml_core_level_of(u)),
           with_stack && frames[0] ? ", from " : "", with_stack ? frames : "");
    if (with_stack) ml_dump_critical_now();
}

static bool admit(size_t n, bool may_wait, const void *caller);

bool ml_hard_admit(size_t n, bool may_wait, const void *caller) {
    bool ok = admit(n, may_wait, caller);
    /* about to pass the cgroup limit: said before the allocation is made */
    if (ok && may_wait && n >= ML_LASTWORDS_MIN) ml_lastwords_check(n);
    return ok;
}

static bool admit(size_t n, bool may_wait, const void *caller) {
    uint64_t h = ml_hard_get();
    if (!h || !ml_core_ready()) return true;
    int saved = errno;
    bool ok = true;
    if (ml_core_estimate_high() + n < h) goto out;
    /* measured now (a /proc read, only this near the limit: a millisecond's growth
     * can pass the whole reserve), never waiting for the sampler: this may run
     * inside the allocator's locks */
    uint64_t u = ml_core_usage_exact();
    if (u + n < h) goto out;
    /* a CRITICAL round first (the thread's callbacks and trim, or an inline trim),
     * holding nothing of ours; from mmap (!may_wait) only a wake */
    if (ml_core_critical_round(may_wait ? (uint64_t)wait_ms * 1000000 : 0)) {
        u = ml_core_usage_exact();
        if (u + n < h) goto out;
    }
    enum ml_caller who = ml_caller_of(caller);
    /* within the runtime's wider reserve only: was it the runtime's own need, or
     * memory it hands to the application (new, strdup)? (a stack walk) */
    if (who == ML_CALLER_RUNTIME && may_wait && !ml_hard_past(h, u, n, ML_CALLER_APP) &&
        ml_hard_past(h, u, n, who))
        who = ml_caller_outer();
    if (ml_hard_past(h, u, n, who)) goto out;
    ok = false;
    atomic_fetch_add(&failed, 1);
    refused_line(h, n, u, may_wait);
out:
    errno = saved;
    return ok;
}
