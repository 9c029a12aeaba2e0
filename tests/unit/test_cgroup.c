/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "cgroup.h"

#define FIX "tests/fixtures/"
static struct ml_cgroup cg;

static void discover(const char *name) {
    char root[256];
    snprintf(root, sizeof root, FIX "%s", name);
    ml_cgroup_discover(root, &cg);
}

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

Test(cgroup, v2_private_namespace) {
    discover("v2-private");
    cr_expect_eq(cg.version, 2);
    cr_expect_eq(cg.cgroup_limit, 536870912);
    cr_expect_eq(cg.limit, 536870912);
    cr_expect_str_eq(cg.source_kind, "memory.max");
    cr_expect(ends_with(cg.source, "v2-private/sys/fs/cgroup/memory.max"), "%s", cg.source);
    cr_expect(ends_with(cg.dir, "v2-private/sys/fs/cgroup"), "%s", cg.dir);
}

Test(cgroup, v2_host_namespace_nested_path) {
    discover("v2-host-nested");
    cr_expect_eq(cg.version, 2);
    cr_expect_eq(cg.limit, 1073741824);
    cr_expect(ends_with(cg.source, "cri-containerd-3f4e.scope/memory.max"), "%s", cg.source);
    cr_expect(ends_with(cg.dir, "kubepods-burstable-pod1a2b.slice/cri-containerd-3f4e.scope"), "%s",
              cg.dir);
    /* every level read: 4 cgroups x (max, high) */
    cr_expect_eq(cg.nfiles, 8);
}

Test(cgroup, v2_limit_only_on_ancestor) {
    discover("v2-ancestor");
    cr_expect_eq(cg.limit, 268435456);
    cr_expect(ends_with(cg.source, "pod77.slice/memory.max"), "%s", cg.source);
}

Test(cgroup, v2_memory_high_below_max) {
    discover("v2-high");
    cr_expect_eq(cg.limit, 805306368);
    cr_expect_str_eq(cg.source_kind, "memory.high");
}

Test(cgroup, v2_max_everywhere_falls_back_to_memtotal) {
    discover("v2-max");
    cr_expect_eq(cg.version, 2);
    cr_expect_eq(cg.cgroup_limit, ML_NO_LIMIT);
    cr_expect_eq(cg.mem_total, 4000000ULL * 1024);
    cr_expect_eq(cg.limit, 4000000ULL * 1024);
    cr_expect_str_eq(cg.source_kind, "MemTotal");
}

Test(cgroup, v2_hidden_ancestors_are_said) {
    /* at the top of a cgroup namespace: memory.max exists (not the root cgroup) */
    discover("v2-ns-hidden");
    cr_expect_eq(cg.version, 2);
    cr_expect_eq(cg.cgroup_limit, ML_NO_LIMIT);
    cr_expect(cg.hidden_ancestors);
    /* the host's view: not at the top of the mount, nothing hidden */
    discover("v2-max");
    cr_expect_not(cg.hidden_ancestors);
    /* a limit found: nothing to say */
    discover("v2-private");
    cr_expect_not(cg.hidden_ancestors);
}

Test(cgroup, v2_mount_above_the_namespace_is_not_our_cgroup) {
    /* unshare -C without a fresh mount: the mount's root (here with a 100 MiB limit)
     * is another cgroup; its limit must not be taken for ours */
    discover("v2-ns-outside");
    cr_expect_eq(cg.version, 0);
    cr_expect_eq(cg.cgroup_limit, ML_NO_LIMIT);
    cr_expect_eq(cg.v2dir[0], '\0');
    cr_expect(strstr(cg.warning, "cannot locate this process's cgroup") != NULL, "%s", cg.warning);
}

Test(cgroup, v2_picks_the_mount_that_contains_our_cgroup) {
    /* after unshare -C and a fresh mount: the old mount's root is outside the
     * namespace ("/.."), the new one's contains us */
    discover("v2-two-mounts");
    cr_expect_eq(cg.version, 2);
    cr_expect_eq(cg.limit, 201326592);
    cr_expect(ends_with(cg.dir, "v2-two-mounts/mnt/cg2/app"), "%s", cg.dir);
}

Test(cgroup, v1_unlimited_sentinel) {
    discover("v1-unlimited");
    cr_expect_eq(cg.version, 1);
    cr_expect_eq(cg.cgroup_limit, ML_NO_LIMIT);
    cr_expect_eq(cg.limit, 24000000ULL * 1024);
    cr_expect(ends_with(cg.dir, "sys/fs/cgroup/memory/process_api/000c7e"), "%s", cg.dir);
}

Test(cgroup, v1_hierarchy) {
    discover("v1-hierarchy");
    cr_expect_eq(cg.version, 1);
    cr_expect_eq(cg.limit, 402653184);
    cr_expect(ends_with(cg.source, "jobs/batch/memory.limit_in_bytes"), "%s", cg.source);
}

Test(cgroup, v1_docker_without_namespace_uses_hierarchical_limit) {
    discover("v1-docker");
    cr_expect_eq(cg.version, 1);
    cr_expect(ends_with(cg.dir, "v1-docker/sys/fs/cgroup/memory"), "%s", cg.dir);
    cr_expect_eq(cg.limit, 209715200);
    cr_expect_str_eq(cg.source_kind, "hierarchical_memory_limit");
}

Test(cgroup, hybrid_prefers_the_v1_memory_controller) {
    discover("hybrid");
    cr_expect_eq(cg.version, 1);
    cr_expect_eq(cg.limit, 314572800);
    cr_expect(ends_with(cg.source, "memory/process_api/000c7e/memory.limit_in_bytes"), "%s",
              cg.source);
    /* PSI lives in the unified hierarchy even when memory is on v1 */
    cr_expect(ends_with(cg.v2dir, "hybrid/sys/fs/cgroup/unified"), "%s", cg.v2dir);
}

Test(cgroup, v2dir_is_the_memory_cgroup_on_v2) {
    discover("v2-host-nested");
    cr_expect_str_eq(cg.v2dir, cg.dir);
    discover("v1-hierarchy");
    cr_expect_str_eq(cg.v2dir, "", "no cgroup2 mount");
}

Test(cgroup, reread_follows_a_changed_limit_file) {
    char tmp[] = "/tmp/memlimit-reread-XXXXXX", cmd[256], path[ML_PATH_MAX];
    cr_assert(mkdtemp(tmp));
    snprintf(cmd, sizeof cmd, "cp -r " FIX "v2-ancestor/. %s/", tmp);
    cr_assert_eq(system(cmd), 0);
    ml_cgroup_discover(tmp, &cg);
    uint64_t before = cg.limit;
    cr_assert_neq(before, ML_NO_LIMIT);
    snprintf(path, sizeof path, "%s", cg.source);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fprintf(f, "%llu\n", (unsigned long long)(before / 2));
    fclose(f);
    cr_expect(ml_cgroup_reread(&cg));
    cr_expect_eq(cg.limit, before / 2);
    cr_expect_str_eq(cg.source, path);
    /* a file that disappears means the cgroup is gone (removed, or the process was
     * moved): the caller must discover again, and then it is no longer a limit */
    unlink(path);
    cr_expect_not(ml_cgroup_reread(&cg));
    ml_cgroup_discover(tmp, &cg);
    cr_expect_gt(cg.limit, before / 2);
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    cr_expect_eq(system(cmd), 0);
}

Test(cgroup, mountinfo_optional_fields_and_spaces) {
    discover("spaces");
    cr_expect_eq(cg.version, 2);
    cr_expect(ends_with(cg.dir, "mnt/cgroup v2/my app.slice/worker 1.scope"), "%s", cg.dir);
    cr_expect_eq(cg.limit, 157286400);
}

Test(cgroup, unreadable_and_missing_files_are_not_limits) {
    discover("unreadable");
    cr_expect_eq(cg.version, 2);
    cr_expect_eq(cg.mem_total, 0);     /* no meminfo */
    cr_expect_eq(cg.limit, 209715200); /* the parent's, the leaf's is a directory */
    cr_expect_eq(cg.warning[0], '\0');
}

Test(cgroup, garbage_is_ignored_with_a_warning) {
    discover("garbage");
    cr_expect_eq(cg.limit, 524288000);
    cr_expect(strstr(cg.warning, "memory.max") && strstr(cg.warning, "'lots'"), "%s", cg.warning);
}

Test(cgroup, nothing_known) {
    discover("none");
    cr_expect_eq(cg.version, 0);
    cr_expect_eq(cg.cgroup_limit, ML_NO_LIMIT);
    cr_expect_eq(cg.limit, 2000000ULL * 1024);
}

Test(cgroup, root_that_does_not_exist) {
    discover("no-such-fixture");
    cr_expect_eq(cg.version, 0);
    cr_expect_eq(cg.limit, ML_NO_LIMIT);
    cr_expect_null(cg.source_kind);
}

Test(cgroup, real_system_matches_proc_self_cgroup) {
    ml_cgroup_discover("", &cg);
    FILE *f = fopen("/proc/self/cgroup", "r");
    cr_assert_not_null(f);
    char line[1024], want[1024] = "";
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2) continue;
        *c2 = 0;
        if (strstr(c1 + 1, "memory")) strcpy(want, c2 + 1);
    }
    fclose(f);
    cr_assert(cg.version == 1 || cg.version == 2);
    if (cg.version == 1 && want[0] && strcmp(want, "/") != 0)
        cr_expect(ends_with(cg.dir, want), "%s should end with %s", cg.dir, want);
    cr_expect_gt(cg.mem_total, 0);
    cr_expect_leq(cg.limit, cg.mem_total);
}

Test(cgroup, line_parsers) {
    char v1[64] = "", v2[64] = "";
    cr_expect(ml_parse_proc_cgroup_line("4:memory:/a/b", v1, v2, sizeof v1));
    cr_expect_str_eq(v1, "/a/b");
    cr_expect(ml_parse_proc_cgroup_line("7:cpu,memory,pids:/x:y", v1, v2, sizeof v1));
    cr_expect_str_eq(v1, "/x:y");
    cr_expect(ml_parse_proc_cgroup_line("0::/user.slice", v1, v2, sizeof v1));
    cr_expect_str_eq(v2, "/user.slice");
    cr_expect_not(ml_parse_proc_cgroup_line("4:memoryx:/a", v1, v2, sizeof v1));
    cr_expect_not(ml_parse_proc_cgroup_line("x:memory:/a", v1, v2, sizeof v1));
    cr_expect_not(ml_parse_proc_cgroup_line("garbage", v1, v2, sizeof v1));
    cr_expect_not(ml_parse_proc_cgroup_line("", v1, v2, sizeof v1));

    char l1[] = "36 35 98:0 /mnt1 /mnt\\0402 rw,noatime master:1 - ext3 /dev/root rw";
    char *root, *mnt, *fs, *so;
    cr_assert(ml_parse_mountinfo_line(l1, &root, &mnt, &fs, &so));
    cr_expect_str_eq(root, "/mnt1");
    cr_expect_str_eq(mnt, "/mnt 2");
    cr_expect_str_eq(fs, "ext3");
    char l2[] = "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 ext3 /dev/root rw"; /* no '-' */
    cr_expect_not(ml_parse_mountinfo_line(l2, &root, &mnt, &fs, &so));
    char l3[] = "36 35";
    cr_expect_not(ml_parse_mountinfo_line(l3, &root, &mnt, &fs, &so));

    uint64_t v;
    cr_expect(ml_parse_limit_value("max\n", &v) && v == ML_NO_LIMIT);
    cr_expect(ml_parse_limit_value("9223372036854771712\n", &v) && v == ML_NO_LIMIT);
    cr_expect(ml_parse_limit_value("9223372036854710272\n", &v) &&
              v == ML_NO_LIMIT); /* 64K pages */
    cr_expect(ml_parse_limit_value("1048576\n", &v) && v == 1048576);
    cr_expect_not(ml_parse_limit_value("maximum\n", &v));
    cr_expect_not(ml_parse_limit_value("-1\n", &v));
    cr_expect_not(ml_parse_limit_value("99999999999999999999999\n", &v));
    cr_expect_not(ml_parse_limit_value("", &v));
}
