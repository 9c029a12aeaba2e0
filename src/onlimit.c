/* SPDX-License-Identifier: MIT */
/* The process-wide changes made once a limit is in force (see onlimit.h). */
#include "onlimit.h"
#include "decide.h"
#include "fileio.h"
#include "log.h"
#include "trim.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

static _Atomic bool applied;

bool ml_onlimit_applied(void) {
    return atomic_load_explicit(&applied, memory_order_relaxed);
}

/* Transparent huge pages off for this process where they defeat trimming
 * (ml_decide_thp_off). */
static void thp_off(enum ml_thp thp) {
    char mode[96] = "";
    if (thp == ML_THP_AUTO &&
        ml_read_file("/sys/kernel/mm/transparent_hugepage/enabled", mode, sizeof mode) < 0)
        return;
    if (!ml_decide_thp_off(thp, mode, ml_trim_allocator() == ML_ALLOC_JEMALLOC, true)) return;
    if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0) {
        ml_log("cannot turn transparent huge pages off: %s", strerrordesc_np(errno));
        return;
    }
    ml_log_info("transparent huge pages off for this process (%s)",
                thp == ML_THP_NEVER ? "MEMLIMIT_THP=never"
                                    : "jemalloc under transparent_hugepage=always: its "
                                      "purges would leave huge pages charged");
}

static const char *env_plain(const char *name) {
    return getenv(name);
}

int ml_onlimit_apply(enum ml_thp thp, bool have_limit) {
    /* with no limit yet, nothing is decided: one set later (memlimit_set_limit, a
     * cgroup limit found by a later discovery) gets the changes then */
    if (!have_limit || atomic_exchange(&applied, true)) return 0;
    thp_off(thp);
    /* measured on tests/work/fragment: 2 arenas held an 8-thread pool at 140 MiB
     * where glibc's default reached 269 MiB (jemalloc: 168 vs 304 MiB, no
     * slowdown); trimming alone cannot keep up (docs/benchmarks.md) */
    int arenas = (int)ml_decide_arenas();
    return ml_trim_cap_arenas((unsigned)arenas, env_plain) ? arenas : 0;
}
