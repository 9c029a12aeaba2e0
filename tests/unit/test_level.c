/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>

#include "cgroup.h"
#include "level.h"
#include "trim.h"

#define MiB (1ULL << 20)

Test(level, watermarks) {
    struct ml_limits l = {.soft = 1000 * MiB, .cgroup = ML_NO_LIMIT};
    bool r = false;
    cr_expect_eq(ml_level_compute(899 * MiB, &l, &r), MEMLIMIT_LEVEL_NONE);
    cr_expect_eq(ml_level_compute(900 * MiB, &l, &r), MEMLIMIT_LEVEL_MODERATE);
    cr_expect_not(r);
    cr_expect_eq(ml_level_compute(1000 * MiB, &l, &r), MEMLIMIT_LEVEL_SOFT);
    cr_expect(r);
}

Test(level, reached_hysteresis) {
    struct ml_limits l = {.soft = 1000 * MiB};
    bool r = false;
    ml_level_compute(1001 * MiB, &l, &r);
    cr_assert(r);
    /* stays reached (and SOFT) until usage falls below 95% */
    cr_expect_eq(ml_level_compute(960 * MiB, &l, &r), MEMLIMIT_LEVEL_SOFT);
    cr_expect(r);
    cr_expect_eq(ml_level_compute(950 * MiB, &l, &r), MEMLIMIT_LEVEL_SOFT);
    cr_expect(r);
    cr_expect_eq(ml_level_compute(949 * MiB, &l, &r), MEMLIMIT_LEVEL_MODERATE);
    cr_expect_not(r);
    /* and is not set again on the way up before the soft limit */
    cr_expect_eq(ml_level_compute(990 * MiB, &l, &r), MEMLIMIT_LEVEL_MODERATE);
    cr_expect_not(r);
}

Test(level, critical_and_no_limit) {
    struct ml_limits l = {.soft = 900 * MiB, .cgroup = 1000 * MiB};
    bool r = false;
    cr_expect_eq(ml_level_compute(969 * MiB, &l, &r), MEMLIMIT_LEVEL_SOFT);
    cr_expect_eq(ml_level_compute(970 * MiB, &l, &r), MEMLIMIT_LEVEL_CRITICAL);
    struct ml_limits h = {.soft = 900 * MiB, .hard = 950 * MiB};
    cr_expect_eq(ml_level_compute(950 * MiB, &h, &r), MEMLIMIT_LEVEL_CRITICAL);
    struct ml_limits none = {0};
    r = true;
    cr_expect_eq(ml_level_compute(100000 * MiB, &none, &r), MEMLIMIT_LEVEL_NONE);
    cr_expect_not(r);
}

Test(level, stall_is_critical_only_near_our_limit) {
    struct ml_limits l = {.soft = 900 * MiB, .cgroup = 1000 * MiB, .stalled = true};
    bool r = false;
    cr_expect_eq(ml_level_compute(500 * MiB, &l, &r), MEMLIMIT_LEVEL_NONE,
                 "someone else's stall, far from our limit");
    cr_expect_eq(ml_level_compute(810 * MiB, &l, &r), MEMLIMIT_LEVEL_CRITICAL);
    cr_expect_eq(ml_level_compute(900 * MiB, &l, &r), MEMLIMIT_LEVEL_CRITICAL);
    cr_expect(r, "the hysteresis still follows usage");
    l.stalled = false;
    cr_expect_eq(ml_level_compute(900 * MiB, &l, &r), MEMLIMIT_LEVEL_SOFT);
    struct ml_limits none = {.stalled = true};
    cr_expect_eq(ml_level_compute(100000 * MiB, &none, &r), MEMLIMIT_LEVEL_NONE);
}

Test(level, budget_shrinks_with_the_headroom) {
    cr_expect_eq(ml_budget(0, 0, 0), ML_CHUNK_MAX, "no limit: 1 MiB");
    cr_expect_eq(ml_budget(0, 1000 * MiB, 0), ML_CHUNK_MAX, "far from it");
    /* a sixteenth of what is left to the moderate watermark (900 MiB) */
    cr_expect_eq(ml_budget(900 * MiB - 8 * MiB, 1000 * MiB, 0), (size_t)(512 << 10));
    cr_expect_eq(ml_budget(899 * MiB, 1000 * MiB, 0), ML_CHUNK_MIN, "at least 64 KiB");
    cr_expect_eq(ml_budget(2000 * MiB, 1000 * MiB, 0), ML_CHUNK_MIN, "past it");
    /* a hard limit below the watermark is the mark */
    cr_expect_eq(ml_budget(100 * MiB - 8 * MiB, 1000 * MiB, 100 * MiB), (size_t)(512 << 10));
    cr_expect_eq(ml_budget(100 * MiB - 8 * MiB, 0, 100 * MiB), (size_t)(512 << 10));
}
