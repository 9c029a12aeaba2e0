/* SPDX-License-Identifier: MIT */
#include "decide.h"
#include "log.h"

#include <sched.h>
#include <string.h>

/* The soft limit the configuration asks for, given a discovery. */
uint64_t ml_decide_soft(const struct ml_config *cfg, uint64_t limit, uint64_t cgroup_limit) {
    const struct ml_size *s = &cfg->soft;
    switch (s->kind) {
    case ML_SIZE_OFF:
        return 0;
    case ML_SIZE_BYTES:
        return s->bytes;
    case ML_SIZE_PERCENT: /* of the cgroup limit, or of physical memory */
        return limit == ML_NO_LIMIT ? 0 : ml_size_resolve(s, limit);
    case ML_SIZE_UNSET:
    default: { /* 90% of the cgroup limit; with none, only watch */
        if (cgroup_limit == ML_NO_LIMIT) return 0;
        struct ml_size ninety = {.kind = ML_SIZE_PERCENT, .milli_percent = 90000};
        return ml_size_resolve(&ninety, limit);
    }
    }
}

void ml_describe_soft(char *out, size_t cap, const struct ml_config *cfg,
                      const struct ml_cgroup *cg, uint64_t soft) {
    char a[24], b[24];
    const struct ml_size *s = &cfg->soft;
    if (s->kind == ML_SIZE_OFF) {
        ml_fmt(out, cap, "soft off (MEMLIMIT=off)");
    } else if (s->kind == ML_SIZE_BYTES) {
        ml_fmt(out, cap, "soft %s (MEMLIMIT)", ml_fmt_bytes(a, soft));
    } else if (soft == 0 && cg->hidden_ancestors) {
        ml_fmt(out, cap,
               "soft none (no cgroup memory limit at %s, the top of what this cgroup namespace "
               "shows: a limit on a hidden ancestor cannot be read; set MEMLIMIT to it; MemTotal "
               "%s), watching only",
               cg->dir, ml_fmt_bytes(a, cg->mem_total));
    } else if (soft == 0) {
        ml_fmt(out, cap, "soft none (no cgroup memory limit; MemTotal %s), watching only",
               ml_fmt_bytes(a, cg->mem_total));
    } else {
        uint32_t mp = s->kind == ML_SIZE_PERCENT ? s->milli_percent : 90000;
        ml_fmt(out, cap, "soft %s (%u%% of %s%s%s %s at %s)", ml_fmt_bytes(a, soft), mp / 1000,
               cg->from == ML_FROM_MEMTOTAL ? "" : "cgroup v",
               cg->from == ML_FROM_MEMTOTAL ? ""
               : cg->version == 1           ? "1 "
                                            : "2 ",
               cg->source_kind ? cg->source_kind : "?", ml_fmt_bytes(b, cg->limit), cg->source);
    }
}

/* The hard limit the configuration asks for (0: none). Percentages follow the
 * detected limit, so they are re-derived when it changes. */
uint64_t ml_decide_hard(const struct ml_config *cfg, uint64_t limit) {
    const struct ml_size *h = &cfg->hard;
    if (h->kind == ML_SIZE_BYTES) return h->bytes;
    if (h->kind == ML_SIZE_PERCENT && limit != ML_NO_LIMIT) return ml_size_resolve(h, limit);
    return 0;
}

bool ml_decide_hard_warning(uint64_t soft, uint64_t hard, char *out, size_t cap) {
    if (!soft || !hard || hard > soft) return false;
    char h[24], s[24];
    ml_fmt(out, cap,
           "the hard limit %s (MEMLIMIT_HARD) is %s the soft limit %s: allocations will fail with "
           "ENOMEM before trimming and callbacks at the soft limit can act; set MEMLIMIT_HARD "
           "above MEMLIMIT",
           ml_fmt_bytes(h, hard), hard == soft ? "at" : "below", ml_fmt_bytes(s, soft));
    return true;
}

bool ml_decide_thp_off(enum ml_thp thp, const char *thp_enabled, bool jemalloc, bool limit) {
    if (!limit || thp == ML_THP_KEEP) return false;
    if (thp == ML_THP_NEVER) return true;
    return jemalloc && thp_enabled && strstr(thp_enabled, "[always]") != NULL;
}

unsigned ml_decide_arenas(void) {
    cpu_set_t set;
    int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 2;
    return cpus < 2 ? 2 : (unsigned)cpus;
}

bool ml_decide_by_cgroup(enum ml_scope scope, const struct ml_cgroup *cg, bool soft_explicit) {
    if (scope == ML_SCOPE_CGROUP) return cg->version != 0;
    return scope == ML_SCOPE_AUTO && cg->version != 0 && cg->from == ML_FROM_CGROUP &&
           !soft_explicit;
}

uint64_t ml_decide_share(uint64_t want, uint64_t own, uint64_t usage) {
    const uint64_t floor = 1u << 20;
    if (!usage || own >= usage) return want;
    uint64_t s = (uint64_t)((unsigned __int128)want * own / usage);
    if (s < floor) s = want < floor ? want : floor;
    return s;
}

uint64_t ml_decide_wait_ns(uint64_t usage, uint64_t next_mark, uint64_t rate, uint64_t assumed,
                           uint64_t base) {
    const uint64_t least = 1000000; /* 1 ms */
    if (!next_mark) return base;
    if (usage >= next_mark) return least;
    uint64_t room = next_mark - usage, t = base;
    /* a quarter of the time the observed growth needs to get there, in ns */
    if (rate) {
        unsigned __int128 ns = (unsigned __int128)room * 250000000u / rate;
        if (ns < t) t = (uint64_t)ns;
    }
    /* growth no sample saw yet (another process starting): at `assumed` bytes/s */
    if (assumed) {
        unsigned __int128 ns = (unsigned __int128)room * 1000000000u / assumed;
        if (ns < t) t = (uint64_t)ns;
    }
    return t < least ? least : t;
}

uint64_t ml_decide_assist_ns(uint64_t usage, uint64_t soft, uint64_t limit, uint64_t most_ns) {
    if (!soft || usage < soft) return 0;
    uint64_t room = limit > soft && limit != UINT64_MAX ? limit - soft : soft / 10;
    if (!room) return most_ns;
    uint64_t into = usage - soft < room ? usage - soft : room;
    uint64_t ns = (uint64_t)((unsigned __int128)most_ns * into / room);
    return ns < 1000000 ? 1000000 : ns; /* a wait shorter than a pass is no wait */
}

uint64_t ml_decide_paced_target(uint64_t target, uint64_t floor, uint64_t rate,
                                uint64_t reaction_ns) {
    unsigned __int128 grow = (unsigned __int128)rate * reaction_ns / 1000000000u;
    if (grow >= target || target - (uint64_t)grow < floor) return floor < target ? floor : target;
    return target - (uint64_t)grow;
}

const char *ml_scope_name(enum ml_scope scope, bool by_cgroup) {
    if (scope == ML_SCOPE_CGROUP) return "cgroup";
    if (scope == ML_SCOPE_PROCESS) return "process";
    return by_cgroup ? "auto (cgroup)" : "auto (process)";
}
