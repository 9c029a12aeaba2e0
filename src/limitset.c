/* SPDX-License-Identifier: MIT */
#include "limitset.h"
#include "cold.h"
#include "cgroup.h"
#include "clock.h"
#include "decide.h"
#include "hardlimit.h"
#include "level.h"
#include "log.h"
#include "siglock.h"
#include "usage.h"

#include <stdatomic.h>
#include <string.h>

static const struct ml_config *cfg;
static _Atomic uint64_t soft;      /* 0: none */
static _Atomic uint64_t detected;  /* cgroup limit capped by MemTotal; ML_NO_LIMIT if none */
static _Atomic uint64_t cglimit;   /* cgroup files only */
static _Atomic bool soft_explicit; /* MEMLIMIT bytes or memlimit_set_limit: not derived */
static _Atomic uint64_t next_refresh_ns;
static _Atomic bool discovered; /* the first discovery ran (start-up or first sample) */

/* The published cgroup, copied whole under a spin flag: readers (stats, the thread)
 * are rare. memlimit_stats takes it on any thread, so signals are blocked while it
 * is held. Only the sampler writes it, so the sampler reads it without the flag. */
static atomic_flag cg_flag = ATOMIC_FLAG_INIT;
static ML_COLD struct ml_cgroup cg;
static uint64_t cg_mask; /* the holder's own mask: written and read only under the lock */
static void cg_lock(void) {
    cg_mask = ml_siglock(&cg_flag);
}
static void cg_unlock(void) {
    ml_sigunlock(&cg_flag, cg_mask);
}

/* the sampler's (and start-up's): discovery's buffers live here, not on the stack of
 * whichever application thread samples */
static ML_COLD struct ml_cgroup scratch;
static ML_COLD struct ml_cg_work work;

/* What usage is measured (ml_decide_by_cgroup) and, for the cgroup, from where,
 * with the inactive file cache read every ML_STAT_EVERY_NS: the sampler's own, as
 * only the sampler reads the cgroup's usage. */
static _Atomic bool by_cgroup;
static ML_COLD char usage_dir[ML_PATH_MAX];
static uint64_t inactive, inactive_ns;
#define ML_STAT_EVERY_NS (100ULL * 1000000)

static void choose_usage(const struct ml_cgroup *c) {
    atomic_store(&by_cgroup, ml_decide_by_cgroup(cfg->scope, c, atomic_load(&soft_explicit)));
    ml_usage_dir(c, usage_dir, sizeof usage_dir);
    inactive_ns = 0;
}

static void publish(const struct ml_cgroup *c) {
    cg_lock();
    memcpy(&cg, c, sizeof *c);
    cg_unlock();
    atomic_store(&detected, c->limit);
    atomic_store(&cglimit, c->cgroup_limit);
    choose_usage(c);
}

/* Takes new limits if they changed; false if they did not. Sampler only. */
static bool apply(const struct ml_cgroup *c) {
    if (c->limit == atomic_load(&detected) && c->cgroup_limit == atomic_load(&cglimit) &&
        c->from == cg.from && !strcmp(c->dir, cg.dir) && !strcmp(c->source, cg.source))
        return false; /* cg: the sampler's own, read without the lock */
    publish(c);
    ml_hard_set(ml_decide_hard(cfg, c->limit));
    if (atomic_load(&soft_explicit)) return true;
    /* memlimit_set_limit may run meanwhile, on any thread: it marks the limit explicit,
     * then stores it. A compare-and-swap never overwrites its value, and if it landed
     * between our check and the swap, its value is put back. */
    uint64_t old = atomic_load(&soft), s = ml_decide_soft(cfg, c->limit, c->cgroup_limit);
    if (!atomic_compare_exchange_strong(&soft, &old, s)) return true;
    if (atomic_load(&soft_explicit)) {
        uint64_t mine = s;
        atomic_compare_exchange_strong(&soft, &mine, old);
        return true;
    }
    if (cfg->trace && old != s && atomic_load(&discovered)) { /* the first is no change */
        char a[24], b[24], d[24];
        ml_log("limit changed: %s at %s, soft %s -> %s", ml_fmt_bytes(d, c->limit), c->source,
               ml_fmt_bytes(a, old), ml_fmt_bytes(b, s));
    }
    return true;
}

/* The first discovery, at start-up or deferred to the first sample. The limits
 * before it are those of a process without a cgroup limit; apply derives anew only
 * if discovery found one, so the cgroup (its paths, for the watch and stats) is
 * published here either way. */
static void discover_first(void) {
    ml_cgroup_discover_in("", &scratch, &work);
    if (scratch.warning[0]) ml_log("%s", scratch.warning);
    if (!apply(&scratch)) publish(&scratch);
    atomic_store(&next_refresh_ns, ml_now_ns() + (uint64_t)cfg->refresh_sec * 1000000000ULL);
    atomic_store_explicit(&discovered, true, memory_order_release);
}

void ml_limits_init(const struct ml_config *c, bool now) {
    cfg = c;
    atomic_store(&soft_explicit, cfg->soft.kind == ML_SIZE_BYTES);
    /* what derivation gives without a cgroup limit: an explicit MEMLIMIT or
     * MEMLIMIT_HARD in bytes holds from the start */
    atomic_store(&detected, ML_NO_LIMIT);
    atomic_store(&cglimit, ML_NO_LIMIT);
    atomic_store(&soft, ml_decide_soft(cfg, ML_NO_LIMIT, ML_NO_LIMIT));
    ml_hard_set(ml_decide_hard(cfg, ML_NO_LIMIT));
    if (now) discover_first();
}

bool ml_limits_ready(void) {
    return atomic_load_explicit(&discovered, memory_order_acquire);
}

uint64_t ml_limits_soft(void) {
    return atomic_load_explicit(&soft, memory_order_relaxed);
}
uint64_t ml_limits_cgroup(void) {
    return atomic_load_explicit(&cglimit, memory_order_relaxed);
}

int64_t ml_limits_set_soft(int64_t bytes) {
    if (bytes < 0) return (int64_t)atomic_load(&soft);
    atomic_store(&soft_explicit, true);                                      /* first: see apply */
    if (cfg && cfg->scope == ML_SCOPE_AUTO) atomic_store(&by_cgroup, false); /* its own budget */
    return (int64_t)atomic_exchange(&soft, (uint64_t)bytes);
}

void ml_limits_refresh_if_due(uint64_t now) {
    if (!atomic_load_explicit(&discovered, memory_order_relaxed)) {
        discover_first();
        return;
    }
    if (now < atomic_load(&next_refresh_ns)) return;
    atomic_store(&next_refresh_ns, now + (uint64_t)cfg->refresh_sec * 1000000000ULL);
    ml_cgroup_discover_in("", &scratch, &work);
    apply(&scratch);
}

void ml_limits_refresh_soon(void) {
    atomic_store(&next_refresh_ns, 0);
}

void ml_limits_reread(void) {
    if (!atomic_load_explicit(&discovered, memory_order_relaxed)) {
        discover_first();
        return;
    }
    memcpy(&scratch, &cg, sizeof scratch); /* the sampler is the only writer */
    /* a file that went away: the cgroup was removed or the process moved */
    if (!ml_cgroup_reread(&scratch)) ml_cgroup_discover_in("", &scratch, &work);
    apply(&scratch);
}

bool ml_limits_by_cgroup(void) {
    return atomic_load_explicit(&by_cgroup, memory_order_relaxed);
}

uint64_t ml_limits_cgroup_usage(uint64_t now, int *err) {
    int version = cg.version; /* the sampler's own copy */
    uint64_t charge = ml_usage_cgroup_charge(usage_dir, version, err);
    if (err && *err) return 0;
    if (!inactive_ns || now - inactive_ns >= ML_STAT_EVERY_NS) {
        inactive = ml_usage_cgroup_inactive(usage_dir, version);
        inactive_ns = now;
    }
    return charge > inactive ? charge - inactive : 0;
}

bool ml_limits_cgroup_swap(uint64_t *limit, uint64_t *used) {
    return ml_usage_cgroup_swap(usage_dir, cg.version, limit, used);
}

void ml_limits_watch_view(struct ml_watch_view *v, char *dir, char *v2dir) {
    memset(v, 0, sizeof *v);
    v->dir = dir;
    v->v2dir = v2dir;
    cg_lock();
    v->version = cg.version;
    memcpy(dir, cg.dir, ML_PATH_MAX);
    memcpy(v2dir, cg.v2dir, ML_PATH_MAX);
    cg_unlock();
    uint64_t s = ml_limits_soft(), cgl = ml_limits_cgroup();
    v->marks[0] = s ? ml_permille(s, ML_MODERATE_PERMILLE) : 0;
    v->marks[1] = s;
    v->marks[2] = cgl != ML_NO_LIMIT ? ml_permille(cgl, ML_CRITICAL_PERMILLE) : 0;
}

void ml_limits_stats(struct memlimit_stats *out) {
    uint64_t det = atomic_load(&detected);
    out->detected_limit = det == ML_NO_LIMIT ? 0 : (int64_t)det;
    if (det == ML_NO_LIMIT) return;
    cg_lock();
    out->source = cg.from == ML_FROM_MEMTOTAL ? MEMLIMIT_SOURCE_MEMTOTAL
                  : cg.version == 1           ? MEMLIMIT_SOURCE_CGROUP_V1
                                              : MEMLIMIT_SOURCE_CGROUP_V2;
    ml_fmt(out->source_path, sizeof out->source_path, "%s", cg.source);
    cg_unlock();
}

void ml_limits_describe(char *out, size_t cap) {
    ml_describe_soft(out, cap, cfg, &cg, ml_limits_soft()); /* start-up: no writer yet */
}

void ml_limits_forked(void) {
    atomic_flag_clear(&cg_flag);
}
