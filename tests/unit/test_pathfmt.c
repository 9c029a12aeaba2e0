/* SPDX-License-Identifier: MIT */
/* pathfmt.c: the %p expander and random temporary names. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "pathfmt.h"

Test(pathfmt, path_expand) {
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
