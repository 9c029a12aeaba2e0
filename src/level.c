#include "level.h"
#include "cgroup.h"

enum memlimit_level ml_level_compute(uint64_t usage, const struct ml_limits *l, bool *reached) {
    if (l->soft == 0) {
        *reached = false;
    } else if (usage >= l->soft) {
        *reached = true;
    } else if (usage < ml_permille(l->soft, ML_RELEASE_PERMILLE)) {
        *reached = false;
    }
    if ((l->hard && usage >= l->hard) || (l->cgroup && l->cgroup != ML_NO_LIMIT &&
                                          usage >= ml_permille(l->cgroup, ML_CRITICAL_PERMILLE)))
        return MEMLIMIT_LEVEL_CRITICAL;
    if (*reached) return MEMLIMIT_LEVEL_SOFT;
    if (l->soft && usage >= ml_permille(l->soft, ML_MODERATE_PERMILLE))
        return MEMLIMIT_LEVEL_MODERATE;
    return MEMLIMIT_LEVEL_NONE;
}
