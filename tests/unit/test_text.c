#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "fileio.h"
#include "log.h"
#include "pathfmt.h"
#include "usage.h"

Test(text, formatter) {
    char b[128];
    ml_fmt(b, sizeof b, "%s=%d %u %ld %llu %zu %x %c%%", "k", -42, 7u, -5L, 18446744073709551615ULL,
           (size_t)12, 255u, 'z');
    cr_expect_str_eq(b, "k=-42 7 -5 18446744073709551615 12 ff z%");
    char small[8];
    cr_expect_eq(ml_fmt(small, sizeof small, "%s", "truncated text"), 7);
    cr_expect_str_eq(small, "truncat");
    const char *volatile null_str = NULL; /* the formatter must not crash on it */
    ml_fmt(b, sizeof b, "%s", null_str);
    cr_expect_str_eq(b, "(null)");
}

Test(text, sizes_and_durations) {
    char b[24];
    cr_expect_str_eq(ml_fmt_bytes(b, 512), "512B");
    cr_expect_str_eq(ml_fmt_bytes(b, 1536), "1.5KiB");
    cr_expect_str_eq(ml_fmt_bytes(b, 483183820ULL), "460.8MiB");
    cr_expect_str_eq(ml_fmt_bytes(b, 3ULL << 29), "1.5GiB");
    cr_expect_str_eq(ml_fmt_ns(b, 850), "850ns");
    cr_expect_str_eq(ml_fmt_ns(b, 850000), "850us");
    cr_expect_str_eq(ml_fmt_ns(b, 1900000), "1.9ms");
    cr_expect_str_eq(ml_fmt_ns(b, 2300000000ULL), "2.3s");
}

Test(text, statm_and_stat) {
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

Test(text, real_usage_grows_with_touched_memory) {
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

Test(text, path_expand) {
    char b[64];
    cr_expect_eq(ml_path_expand(b, sizeof b, "/run/m-%p.prom", 42, NULL), 0);
    cr_expect_str_eq(b, "/run/m-42.prom");
    cr_expect_eq(ml_path_expand(b, sizeof b, "p.%p.%p%%q%", 7, "soft"), 0);
    cr_expect_str_eq(b, "p.7.7%%q%.soft");
    /* exactly full fits; one byte less is refused, never cut */
    cr_expect_eq(ml_path_expand(b, 8, "ab%pcd", 123, NULL), 0);
    cr_expect_str_eq(b, "ab123cd");
    cr_expect_eq(ml_path_expand(b, 7, "ab%pcd", 123, NULL), ENAMETOOLONG);
    cr_expect_str_eq(b, "");
    cr_expect_eq(ml_path_expand(b, 10, "ab%pcd", 123, "x"), 0);
    cr_expect_eq(ml_path_expand(b, 9, "ab%pcd", 123, "x"), ENAMETOOLONG);
    cr_expect_str_eq(b, "");
    cr_expect_eq(ml_path_expand(b, sizeof b, NULL, 1, NULL), EINVAL);
    /* PATH_MAX - 1 characters fit a PATH_MAX buffer */
    static char pat[4096], out[4096];
    memset(pat, 'a', 4093);
    memcpy(pat + 4093, "%p", 3);
    cr_expect_eq(ml_path_expand(out, sizeof out, pat, 12, NULL), 0);
    cr_expect_eq(strlen(out), 4095);
    cr_expect_eq(ml_path_expand(out, sizeof out, pat, 123, NULL), ENAMETOOLONG);
}
