/* SPDX-License-Identifier: MIT */
/* usage.c: statm and memory.stat, and the process's real usage. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "fileio.h"
#include "usage.h"

Test(usage, statm_and_stat) {
    cr_expect_eq(ml_parse_statm("1000 300 100 10 0 500 0\n", 4096), 200 * 4096);
    cr_expect_eq(ml_parse_statm("1000 100 300 10 0 500 0\n", 4096), 0);
    cr_expect_eq(ml_parse_statm("garbage", 4096), 0);
    cr_expect_eq(ml_parse_statm("", 4096), 0);
    const char *v1 = "cache 10\ninactive_file 999\ntotal_inactive_file 4096\n";
    cr_expect_eq(ml_working_set(10000, v1, 1), 10000 - 4096);
    const char *v2 = "anon 5\nfile 6\ninactive_file 1000\nactive_file 3\n";
    cr_expect_eq(ml_working_set(10000, v2, 2), 9000);
    cr_expect_eq(ml_working_set(500, v2, 2), 0);
    uint64_t v;
    cr_expect_not(ml_find_key_u64("inactive_filex 5\n", "inactive_file", &v));
    cr_expect(ml_find_key_u64("MemTotal:   24000 kB\n", "MemTotal", &v) && v == 24000);
}

Test(usage, real_usage_grows_with_touched_memory) {
    uint64_t before = ml_usage_process(NULL);
    cr_assert_gt(before, 0);
    size_t n = 64 << 20;
    char *p = malloc(n);
    cr_assert_not_null(p);
    memset(p, 1, n);
    cr_assert_eq(((volatile char *)p)[n - 1], 1); /* keeps the compiler from eliding it all */
    uint64_t after = ml_usage_process(NULL);
    cr_expect_geq(after, before + (60 << 20), "before %lu after %lu", (unsigned long)before,
                  (unsigned long)after);
    free(p);
}
