/* SPDX-License-Identifier: MIT */
#include "level.h"
#include "cgroup.h"

/* usage >= pm per mille of limit, exactly (no rounding of the watermark) */
static bool at_permille(uint64_t usage, uint64_t limit, unsigned pm) {
    return (unsigned __int128)usage * 1000 >= (unsigned __int128)limit * pm;
}

enum memlimit_level ml_level_compute(uint64_t usage, const struct ml_limits *l, bool *reached) {
    if (l->soft == 0) {
        *reached = false;
    } else if (usage >= l->soft) {
        *reached = true;
    } else if (!at_permille(usage, l->soft, ML_RELEASE_PERMILLE)) {
        *reached = false;
    }
    if ((l->hard && usage >= l->hard) || (l->cgroup && l->cgroup != ML_NO_LIMIT &&
                                          at_permille(usage, l->cgroup, ML_CRITICAL_PERMILLE)))
        return MEMLIMIT_LEVEL_CRITICAL;
    enum memlimit_level lv = *reached ? MEMLIMIT_LEVEL_SOFT
                             : l->soft && at_permille(usage, l->soft, ML_MODERATE_PERMILLE)
                                 ? MEMLIMIT_LEVEL_MODERATE
                                 : MEMLIMIT_LEVEL_NONE;
    /* A stall is CRITICAL only when we are near our own limit: the source may be
     * system-wide (/proc/pressure/memory), and another cgroup's thrashing must not make
     * every process drop its caches. */
    if (l->stalled && lv >= MEMLIMIT_LEVEL_MODERATE) return MEMLIMIT_LEVEL_CRITICAL;
    return lv;
}

const char *ml_level_name(enum memlimit_level lv) {
    static const char *const names[] = {"none", "moderate", "soft", "critical"};
    return (unsigned)lv < 4 ? names[lv] : "?";
}

size_t ml_budget(uint64_t est, uint64_t soft, uint64_t hard) {
    if (!soft && !hard) return ML_CHUNK_MAX;
    uint64_t mark = soft ? ml_permille(soft, ML_MODERATE_PERMILLE) : hard;
    if (hard && hard < mark) mark = hard;
    uint64_t c = est < mark ? (mark - est) / 16 : 0;
    return c > ML_CHUNK_MAX ? ML_CHUNK_MAX : c < ML_CHUNK_MIN ? ML_CHUNK_MIN : (size_t)c;
}
