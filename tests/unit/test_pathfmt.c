/* SPDX-License-Identifier: MIT */
/* pathfmt.c: the %p expander, the directory check and random temporary names. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

Test(pathfmt, dir_check_names_the_directory_and_why) {
    char dir[] = "/tmp/memlimit-pathfmt-XXXXXX", b[256];
    cr_assert_not_null(mkdtemp(dir));
    /* a writable directory: 0, and path is now that directory */
    snprintf(b, sizeof b, "%s/p.123", dir);
    cr_expect_eq(ml_path_dir_check(b, sizeof b), 0);
    cr_expect_str_eq(b, dir);
    /* missing: ENOENT, and the directory named is the one the file would be in */
    snprintf(b, sizeof b, "%s/no/such/p", dir);
    cr_expect_eq(ml_path_dir_check(b, sizeof b), ENOENT);
    char want[256];
    snprintf(want, sizeof want, "%s/no/such", dir);
    cr_expect_str_eq(b, want);
    /* a file where the directory should be: ENOTDIR, not a pass */
    char file[128];
    snprintf(file, sizeof file, "%s/afile", dir);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fclose(f);
    snprintf(b, sizeof b, "%s/p", file);
    cr_expect_eq(ml_path_dir_check(b, sizeof b), ENOTDIR);
    cr_expect_str_eq(b, file);
    /* not writable: EACCES (root writes anywhere: only checked as another user) */
    if (geteuid() != 0) {
        cr_assert_eq(chmod(dir, 0500), 0);
        snprintf(b, sizeof b, "%s/p", dir);
        cr_expect_eq(ml_path_dir_check(b, sizeof b), EACCES);
        chmod(dir, 0700);
    }
    /* the root, and a bare name (the working directory); errno is kept */
    strcpy(b, "/p");
    errno = 1234;
    int r = ml_path_dir_check(b, sizeof b);
    cr_expect(r == 0 || r == EACCES || r == EROFS, "%d", r);
    cr_expect_str_eq(b, "/");
    cr_expect_eq(errno, 1234);
    strcpy(b, "p");
    ml_path_dir_check(b, sizeof b);
    cr_expect_str_eq(b, ".");
    /* no room for "/.": refused, path untouched */
    strcpy(b, "ab/c");
    cr_expect_eq(ml_path_dir_check(b, 4), ENAMETOOLONG);
    cr_expect_str_eq(b, "ab/c");
    unlink(file);
    rmdir(dir);
}
