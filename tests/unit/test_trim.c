/* SPDX-License-Identifier: MIT */
/* trim.c: the pacing of trims (duty cycle, back-off, frees ending the back-off). */
#include <criterion/criterion.h>

#include "memlimit.h"
#include "trim.h"

#define MiB (1ULL << 20)
#define MS  1000000ULL

Test(trim_policy, duty_cycle_by_level) {
    struct ml_trim_policy p = {0};
    cr_expect(ml_trim_due(&p, 1, ML_TRIM_DUTY_MODERATE)); /* never trimmed */
    ml_trim_policy_update(&p, 1000 * MS, 20 * MS, true, 0);
    /* MODERATE: 19 x 20 ms = 380 ms */
    cr_expect_not(ml_trim_due(&p, 1379 * MS, ML_TRIM_DUTY_MODERATE));
    cr_expect(ml_trim_due(&p, 1380 * MS, ML_TRIM_DUTY_MODERATE));
    /* SOFT: 1 x 20 ms */
    cr_expect_not(ml_trim_due(&p, 1019 * MS, ML_TRIM_DUTY_SOFT));
    cr_expect(ml_trim_due(&p, 1020 * MS, ML_TRIM_DUTY_SOFT));
}

Test(trim_policy, minimum_interval) {
    struct ml_trim_policy p = {0};
    ml_trim_policy_update(&p, 1000 * MS, 10000, true, 0); /* a 10 us trim */
    cr_expect_not(ml_trim_due(&p, 1009 * MS, ML_TRIM_DUTY_SOFT));
    cr_expect(ml_trim_due(&p, 1010 * MS, ML_TRIM_DUTY_SOFT));
}

Test(trim_policy, backoff_when_unproductive) {
    struct ml_trim_policy p = {0};
    uint64_t t = 1000 * MS, waits[8];
    for (int i = 0; i < 8; i++) {
        ml_trim_policy_update(&p, t, 1 * MS, false, 0);
        uint64_t w = 0;
        while (!ml_trim_due(&p, t + w, ML_TRIM_DUTY_SOFT))
            w += MS;
        waits[i] = w;
        t += w;
    }
    cr_expect_eq(waits[0], 100 * MS);
    cr_expect_eq(waits[1], 200 * MS);
    cr_expect_eq(waits[2], 400 * MS);
    cr_expect_eq(waits[4], 1600 * MS);
    cr_expect_eq(waits[5], 2000 * MS); /* capped: a stuck live set gets ~1 trim per 2 s */
    cr_expect_eq(waits[7], 2000 * MS);
    /* a productive trim resets the backoff */
    ml_trim_policy_update(&p, t, 1 * MS, true, 0);
    cr_expect(ml_trim_due(&p, t + 10 * MS, ML_TRIM_DUTY_SOFT));
}

Test(trim_policy, frees_end_the_backoff) {
    struct ml_trim_policy p = {0};
    uint64_t t = 1000 * MS;
    for (int i = 0; i < 6; i++) /* stuck: the back-off is at 2 s */
        ml_trim_policy_update(&p, t += 2000 * MS, 1 * MS, false, 50 * MiB);
    cr_expect_not(ml_trim_due(&p, t + 500 * MS, ML_TRIM_DUTY_SOFT));
    /* the allocator is probed every 100 ms, not more often */
    cr_expect_not(ml_trim_probe_due(&p, t + 50 * MS));
    cr_expect(ml_trim_probe_due(&p, t + 100 * MS));
    cr_expect_not(ml_trim_probe_due(&p, t + 150 * MS));
    /* 8 MiB newly free is not enough for a 16 MiB threshold; 300 MiB is */
    cr_expect_not(ml_trim_freed_due(&p, t + 100 * MS, 58 * MiB, 16 * MiB));
    cr_expect_eq(p.free_grew, 8 * MiB);
    cr_expect(ml_trim_freed_due(&p, t + 100 * MS, 350 * MiB, 16 * MiB));
    /* free memory that was there after the last trim (madvised, still free to the
     * allocator) never counts: only what grew since */
    cr_expect_not(ml_trim_freed_due(&p, t + 100 * MS, 50 * MiB, 1));
    /* still at least the minimum interval after the last trim */
    cr_expect_not(ml_trim_freed_due(&p, t + 5 * MS, 350 * MiB, 16 * MiB));
}

Test(trim_policy, unknown_free_memory_makes_the_next_reading_the_baseline) {
    struct ml_trim_policy p = {0};
    ml_trim_policy_update(&p, 1000 * MS, 1 * MS, false, ML_TRIM_FREE_UNKNOWN);
    /* the first reading after a trim that could not read the allocator: a baseline */
    cr_expect_not(ml_trim_freed_due(&p, 2000 * MS, 500 * MiB, 1 * MiB));
    cr_expect_eq(p.free_after, 500 * MiB);
    cr_expect(ml_trim_freed_due(&p, 2100 * MS, 520 * MiB, 16 * MiB), "what grew after it counts");
}

Test(trim_policy, reported_frees_end_the_backoff_not_the_rate_limit) {
    struct ml_trim_policy p = {0};
    uint64_t t = 1000 * MS;
    ml_trim_policy_update(&p, t, 1 * MS, false, 50 * MiB); /* unproductive: 100 ms back-off */
    cr_expect_not(ml_trim_due(&p, t + 20 * MS, ML_TRIM_DUTY_SOFT));
    /* callbacks reported 26 MiB freed: due once 10 ms have passed, back-off or not */
    cr_expect(ml_trim_reported_due(&p, t + 20 * MS, 26 * MiB, 4 * MiB));
    cr_expect_not(ml_trim_reported_due(&p, t + 5 * MS, 26 * MiB, 4 * MiB), "the 10 ms floor");
    cr_expect_not(ml_trim_reported_due(&p, t + 20 * MS, 1 * MiB, 4 * MiB), "too little");
    cr_expect_not(ml_trim_reported_due(&p, t + 20 * MS, 0, 4 * MiB));
    /* a trim that took 30 ms of CPU: the next waits as long (the SOFT duty) */
    ml_trim_policy_update(&p, t, 30 * MS, false, 50 * MiB);
    cr_expect_not(ml_trim_reported_due(&p, t + 20 * MS, 26 * MiB, 4 * MiB));
    cr_expect(ml_trim_reported_due(&p, t + 30 * MS, 26 * MiB, 4 * MiB));
}

Test(trim, a_rise_in_level_ends_the_backoff) {
    const uint64_t t = 1000 * MS;
    struct ml_trim_policy p = {0};
    cr_expect_not(ml_trim_risen_due(&p, t, MEMLIMIT_LEVEL_SOFT, 400 * MiB, 7 * MiB),
                  "never trimmed: ml_trim_due decides");
    /* an unproductive trim at MODERATE: backed off for 100 ms */
    ml_trim_policy_update(&p, t, 1 * MS, false, ML_TRIM_FREE_UNKNOWN);
    ml_trim_level_seen(&p, MEMLIMIT_LEVEL_MODERATE, 400 * MiB, true);
    cr_expect_not(ml_trim_due(&p, t + 20 * MS, ML_TRIM_DUTY_SOFT));
    cr_expect_not(ml_trim_risen_due(&p, t + 20 * MS, MEMLIMIT_LEVEL_MODERATE, 400 * MiB, 7 * MiB),
                  "same level");
    cr_expect(ml_trim_risen_due(&p, t + 20 * MS, MEMLIMIT_LEVEL_SOFT, 400 * MiB, 7 * MiB));
    cr_expect_not(ml_trim_risen_due(&p, t + 5 * MS, MEMLIMIT_LEVEL_CRITICAL, 400 * MiB, 7 * MiB),
                  "the 10 ms floor");
    /* trimmed at SOFT: SOFT again is no rise; falling to MODERATE and back is */
    ml_trim_level_seen(&p, MEMLIMIT_LEVEL_SOFT, 400 * MiB, true);
    cr_expect_not(ml_trim_risen_due(&p, t + 20 * MS, MEMLIMIT_LEVEL_SOFT, 400 * MiB, 7 * MiB));
    ml_trim_level_seen(&p, MEMLIMIT_LEVEL_MODERATE, 400 * MiB, false);
    cr_expect(ml_trim_risen_due(&p, t + 20 * MS, MEMLIMIT_LEVEL_SOFT, 400 * MiB, 7 * MiB));
    /* a look at a higher level that did not trim does not raise it */
    ml_trim_level_seen(&p, MEMLIMIT_LEVEL_CRITICAL, 400 * MiB, false);
    cr_expect(ml_trim_risen_due(&p, t + 20 * MS, MEMLIMIT_LEVEL_SOFT, 400 * MiB, 7 * MiB));
}

Test(trim, usage_grown_since_a_trim_that_backed_off_ends_the_backoff) {
    const uint64_t t = 1000 * MS;
    struct ml_trim_policy p = {0};
    ml_trim_policy_update(&p, t, 1 * MS, false, ML_TRIM_FREE_UNKNOWN); /* backed off */
    ml_trim_level_seen(&p, MEMLIMIT_LEVEL_MODERATE, 415 * MiB, true);
    cr_expect_not(ml_trim_risen_due(&p, t + 20 * MS, MEMLIMIT_LEVEL_MODERATE, 420 * MiB, 7 * MiB));
    cr_expect(ml_trim_risen_due(&p, t + 20 * MS, MEMLIMIT_LEVEL_MODERATE, 422 * MiB, 7 * MiB));
    cr_expect_not(ml_trim_risen_due(&p, t + 5 * MS, MEMLIMIT_LEVEL_MODERATE, 440 * MiB, 7 * MiB),
                  "the 10 ms floor");
    /* a productive trim has no back-off to end */
    ml_trim_policy_update(&p, t, 1 * MS, true, ML_TRIM_FREE_UNKNOWN);
    cr_expect_not(ml_trim_risen_due(&p, t + 20 * MS, MEMLIMIT_LEVEL_MODERATE, 440 * MiB, 7 * MiB));
}
