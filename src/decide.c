/* SPDX-License-Identifier: MIT */
#include "decide.h"
#include "log.h"

#include <sched.h>
#include <string.h>

/* The soft limit the configuration asks for, given a discovery. */
uint64_t ml_decide_soft(const struct ml_config *cfg, const struct ml_cgroup *cg) {
    const struct ml_size *s = &cfg->soft;
    switch (s->kind) {
    case ML_SIZE_OFF:
        return 0;
    case ML_SIZE_BYTES:
        return s->bytes;
    case ML_SIZE_PERCENT: /* of the cgroup limit, or of physical memory */
        return cg->limit == ML_NO_LIMIT ? 0 : ml_size_resolve(s, cg->limit);
    case ML_SIZE_UNSET:
    default: { /* 90% of the cgroup limit; with none, only watch */
        if (cg->cgroup_limit == ML_NO_LIMIT) return 0;
        struct ml_size ninety = {.kind = ML_SIZE_PERCENT, .milli_percent = 90000};
        return ml_size_resolve(&ninety, cg->limit);
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
uint64_t ml_decide_hard(const struct ml_config *cfg, const struct ml_cgroup *cg) {
    const struct ml_size *h = &cfg->hard;
    if (h->kind == ML_SIZE_BYTES) return h->bytes;
    if (h->kind == ML_SIZE_PERCENT && cg->limit != ML_NO_LIMIT)
        return ml_size_resolve(h, cg->limit);
    return 0;
}

unsigned ml_decide_arenas(void) {
    cpu_set_t set;
    int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 2;
    return cpus < 2 ? 2 : (unsigned)cpus;
}
