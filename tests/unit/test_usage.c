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

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void put(const char *dir, const char *name, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(usage, cgroup_charge_and_inactive_cache) {
    char dir[] = "/tmp/ml-usage-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    put(dir, "memory.current", "209715200\n");
    put(dir, "memory.stat", "anon 100\nfile 200\nactive_file 5\ninactive_file 10485760\n");
    put(dir, "memory.usage_in_bytes", "104857600\n");
    int err = 0;
    cr_expect_eq(ml_usage_cgroup_charge(dir, 2, &err), 209715200);
    cr_expect_eq(err, 0);
    cr_expect_eq(ml_usage_cgroup_inactive(dir, 2), 10485760);
    cr_expect_eq(ml_usage_cgroup_charge(dir, 1, &err), 104857600);
    cr_expect_eq(ml_usage_cgroup_inactive(dir, 1), 0); /* v1 reads total_inactive_file */
    unlink(strcat(strcpy((char[600]){0}, dir), "/memory.current"));
    cr_expect_eq(ml_usage_cgroup_charge(dir, 2, &err), 0);
    cr_expect_eq(err, ENOENT);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
}

Test(usage, cgroup_swap_v1_and_v2) {
    char dir[] = "/tmp/ml-usage-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    uint64_t limit = 1, used = 1;
    /* no swap accounting: no figure */
    cr_expect_not(ml_usage_cgroup_swap(dir, 1, &limit, &used));
    cr_expect_not(ml_usage_cgroup_swap(dir, 2, &limit, &used));
    /* v1: memory and swap together, less memory */
    put(dir, "memory.limit_in_bytes", "268435456\n");
    put(dir, "memory.memsw.limit_in_bytes", "301989888\n");
    put(dir, "memory.usage_in_bytes", "104857600\n");
    put(dir, "memory.memsw.usage_in_bytes", "113246208\n");
    cr_expect(ml_usage_cgroup_swap(dir, 1, &limit, &used));
    cr_expect_eq(limit, 32u << 20);
    cr_expect_eq(used, 8u << 20);
    /* read a moment apart, memsw can lag memory: never below 0 */
    put(dir, "memory.memsw.usage_in_bytes", "104853504\n");
    cr_expect(ml_usage_cgroup_swap(dir, 1, &limit, &used));
    cr_expect_eq(used, 0);
    /* the v1 sentinel: no swap limit */
    put(dir, "memory.memsw.limit_in_bytes", "9223372036854771712\n");
    cr_expect(ml_usage_cgroup_swap(dir, 1, &limit, &used));
    cr_expect_eq(limit, ML_NO_LIMIT);
    /* v2 */
    put(dir, "memory.swap.max", "max\n");
    put(dir, "memory.swap.current", "4096\n");
    cr_expect(ml_usage_cgroup_swap(dir, 2, &limit, &used));
    cr_expect_eq(limit, ML_NO_LIMIT);
    cr_expect_eq(used, 4096);
    put(dir, "memory.swap.max", "0\n");
    cr_expect(ml_usage_cgroup_swap(dir, 2, &limit, &used));
    cr_expect_eq(limit, 0);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
}

Test(usage, the_charge_is_read_where_the_limit_is) {
    struct ml_cgroup cg;
    memset(&cg, 0, sizeof cg);
    strcpy(cg.dir, "/sys/fs/cgroup/pod/ctr");
    char out[ML_PATH_MAX];
    cg.from = ML_FROM_CGROUP;
    strcpy(cg.source, "/sys/fs/cgroup/pod/memory.max"); /* an ancestor's limit */
    ml_usage_dir(&cg, out, sizeof out);
    cr_expect_str_eq(out, "/sys/fs/cgroup/pod");
    cg.from = ML_FROM_MEMTOTAL;
    strcpy(cg.source, "/proc/meminfo");
    ml_usage_dir(&cg, out, sizeof out);
    cr_expect_str_eq(out, "/sys/fs/cgroup/pod/ctr");
}
