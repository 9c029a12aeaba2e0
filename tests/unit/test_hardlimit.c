/* SPDX-License-Identifier: MIT */
/* hardlimit.c: the decision past the hard limit, by who asks. */
#include <criterion/criterion.h>

#include "hardlimit.h"

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)

Test(hardlimit, reserves_past_the_limit_by_caller) {
    uint64_t h = 64 * MiB; /* reserve 2 MiB (1/32), runtime 4 MiB */
    /* the application: small requests within 2 MiB past the limit */
    cr_expect(ml_hard_past(h, h, 64 * KiB, ML_CALLER_APP));
    cr_expect(ml_hard_past(h, h + 2 * MiB - 65 * KiB, 64 * KiB, ML_CALLER_APP));
    cr_expect_not(ml_hard_past(h, h + 2 * MiB, 4 * KiB, ML_CALLER_APP), "its reserve is eaten");
    cr_expect_not(ml_hard_past(h, h, 64 * KiB + 1, ML_CALLER_APP), "large: never past");
    /* the C runtime: twice as far, so a program that ate its own still unwinds */
    cr_expect(ml_hard_past(h, h + 2 * MiB, 4 * KiB, ML_CALLER_RUNTIME));
    cr_expect_not(ml_hard_past(h, h + 4 * MiB, 4 * KiB, ML_CALLER_RUNTIME));
    /* the dynamic loader (lazy TLS): never refused */
    cr_expect(ml_hard_past(h, h + 100 * MiB, 1 * MiB, ML_CALLER_LOADER));
}

Test(hardlimit, reserve_is_a_thirty_second_within_1_and_32_mib) {
    cr_expect(ml_hard_past(8 * MiB, 9 * MiB - 5 * KiB, 4 * KiB, ML_CALLER_APP), "1 MiB at least");
    cr_expect_not(ml_hard_past(8 * MiB, 9 * MiB, 4 * KiB, ML_CALLER_APP));
    uint64_t big = 4096 * MiB; /* 1/32 is 128 MiB: capped at 32 */
    cr_expect(ml_hard_past(big, big + 32 * MiB - 5 * KiB, 4 * KiB, ML_CALLER_APP));
    cr_expect_not(ml_hard_past(big, big + 32 * MiB, 4 * KiB, ML_CALLER_APP));
}
