/* SPDX-License-Identifier: MIT */
/* watch.c: which kernel sources the memlimit thread would open (memlimit-run --show
 * prints the same plan). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "watch.h"

Test(watch, plan_by_cgroup_version_and_systemd) {
    struct ml_watch_plan p;
    ml_watch_plan(1, "", "tests/fixtures/none", NULL, &p);
    cr_expect(p.v1_thresholds && !p.memory_events);
    cr_expect_eq(p.psi, ML_WATCH_PSI_OURS);
    cr_expect_str_eq(p.psi_path, "tests/fixtures/none/proc/pressure/memory");
    cr_expect_not(p.psi_exists);

    char dir[] = "/tmp/memlimit-watch-XXXXXX", file[64];
    cr_assert(mkdtemp(dir));
    snprintf(file, sizeof file, "%s/memory.pressure", dir);
    FILE *f = fopen(file, "w");
    cr_assert(f);
    fclose(f);
    ml_watch_plan(2, dir, "", NULL, &p);
    cr_expect(p.memory_events && !p.v1_thresholds);
    cr_expect_str_eq(p.psi_path, file, "the cgroup's own memory.pressure");
    cr_expect(p.psi_exists);
    unlink(file);
    ml_watch_plan(2, dir, "tests/fixtures/none", NULL, &p);
    cr_expect_str_eq(p.psi_path, "tests/fixtures/none/proc/pressure/memory", "none: the machine's");
    rmdir(dir);

    ml_watch_plan(2, "/sys/fs/cgroup/app", "", "/run/app/pressure", &p);
    cr_expect_eq(p.psi, ML_WATCH_PSI_SYSTEMD);
    cr_expect_str_eq(p.psi_path, "/run/app/pressure");
    cr_expect(p.memory_events, "systemd's watch replaces our PSI triggers only");

    ml_watch_plan(0, "", "", "/dev/null", &p);
    cr_expect_eq(p.psi, ML_WATCH_PSI_NONE);
    cr_expect(!p.memory_events && !p.v1_thresholds);
}

Test(watch, plan_sees_the_real_psi_file) {
    struct ml_watch_plan p;
    ml_watch_plan(0, "", "", NULL, &p);
    cr_expect_str_eq(p.psi_path, "/proc/pressure/memory");
    cr_expect_eq(p.psi_exists, access("/proc/pressure/memory", F_OK) == 0);
}
