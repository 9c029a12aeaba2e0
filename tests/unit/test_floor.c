/* SPDX-License-Identifier: MIT */
/* The glibc floor's replacements (src/glibc_floor.h) against glibc's own calls: the
 * errno table against strerrordesc_np, stat and fstat as system calls against libc's. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errdesc.h"
#include "glibc_floor.h" /* also where the build does not -include it (make sanitize) */

#undef strerrordesc_np /* glibc's own, from here on */
#undef stat
#undef fstat

Test(floor, errdesc_is_glibcs_text) {
    for (int e = -2; e < 4200; e++) {
        const char *ours = ml_errdesc(e), *theirs = strerrordesc_np(e);
        if (!theirs) {
            cr_expect_null(ours, "errno %d: we say \"%s\", glibc knows none", e, ours);
            continue;
        }
        cr_expect(ours && strcmp(ours, theirs) == 0, "errno %d: \"%s\", glibc \"%s\"", e,
                  ours ? ours : "(null)", theirs);
    }
}

Test(floor, stat_and_fstat_as_glibc) {
    struct stat a, b;
    cr_assert_eq(ml_floor_stat("/proc/self/exe", &a), 0);
    cr_assert_eq(stat("/proc/self/exe", &b), 0);
    cr_expect(a.st_ino == b.st_ino && a.st_dev == b.st_dev && a.st_size == b.st_size &&
              a.st_mode == b.st_mode && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec);
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ml_floor_fstat(fd, &a), 0);
    cr_expect(a.st_ino == b.st_ino && a.st_dev == b.st_dev && a.st_size == b.st_size);
    close(fd);
    errno = 0;
    cr_expect_eq(ml_floor_stat("/nonexistent/memlimit", &a), -1);
    cr_expect_eq(errno, ENOENT);
    cr_expect_eq(ml_floor_fstat(-1, &a), -1);
    cr_expect_eq(errno, EBADF);
}
