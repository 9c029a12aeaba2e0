/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "memlimit.h"

#define MiB (1LL << 20)

Test(api, set_limit_queries_sets_and_turns_off) {
    cr_expect_eq(memlimit_set_limit(-1), 0, "no soft limit before");
    cr_expect_eq(memlimit_set_limit(100 * MiB), 0);
    cr_expect_eq(memlimit_set_limit(-1), 100 * MiB, "a negative argument only queries");
    cr_expect_eq(memlimit_set_limit(-12345), 100 * MiB);
    struct memlimit_stats st;
    cr_assert_eq(memlimit_stats(&st), 0);
    cr_expect_eq(st.soft_limit, 100 * MiB);
    cr_expect_eq(memlimit_set_limit(0), 100 * MiB);
    cr_assert_eq(memlimit_stats(&st), 0);
    cr_expect_eq(st.soft_limit, 0, "0 turns it off");
}

Test(api, set_limit_above_usage_leaves_level_none) {
    /* no sample has been taken here: usage reads 0, below any limit (even 1 byte: the
     * watermarks are compared exactly, not rounded down to 0) */
    memlimit_set_limit(1);
    cr_expect_eq(memlimit_level(), MEMLIMIT_LEVEL_NONE);
    cr_expect_not(memlimit_reached());
}

Test(api, stats_needs_a_buffer) {
    errno = 0;
    cr_expect_eq(memlimit_stats(NULL), -1);
    cr_expect_eq(errno, EINVAL);
}

/* the VERSION file, as the Makefile passed it */
Test(api, version_is_the_version_file) {
    char want[64] = "";
    FILE *f = fopen("VERSION", "r");
    cr_assert_not_null(f, "run from the top of the tree");
    cr_assert_not_null(fgets(want, sizeof want, f));
    fclose(f);
    want[strcspn(want, "\n")] = '\0';
    cr_expect_str_eq(memlimit_version(), want);
}
