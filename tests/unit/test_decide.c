/* decide.c: what is measured (scope), a callback's share, the thread's sleep. */
#include <criterion/criterion.h>
#include <string.h>

#include "decide.h"

static struct ml_cgroup with_limit(int version, enum ml_limit_from from) {
    struct ml_cgroup cg;
    memset(&cg, 0, sizeof cg);
    cg.version = version;
    cg.from = from;
    cg.limit = cg.cgroup_limit = 256u << 20;
    return cg;
}

Test(decide, auto_measures_the_cgroup_only_under_its_limit) {
    struct ml_cgroup cg = with_limit(2, ML_FROM_CGROUP);
    cr_expect(ml_decide_by_cgroup(ML_SCOPE_AUTO, &cg, false));
    /* MEMLIMIT in bytes or memlimit_set_limit: a budget of the process's own */
    cr_expect_not(ml_decide_by_cgroup(ML_SCOPE_AUTO, &cg, true));
    cr_expect_not(ml_decide_by_cgroup(ML_SCOPE_PROCESS, &cg, false));
    cr_expect(ml_decide_by_cgroup(ML_SCOPE_CGROUP, &cg, true));
    /* physical memory is the limit: nothing shared to weigh */
    struct ml_cgroup mt = with_limit(1, ML_FROM_MEMTOTAL);
    cr_expect_not(ml_decide_by_cgroup(ML_SCOPE_AUTO, &mt, false));
    cr_expect(ml_decide_by_cgroup(ML_SCOPE_CGROUP, &mt, false));
    struct ml_cgroup none = with_limit(0, ML_FROM_NONE);
    cr_expect_not(ml_decide_by_cgroup(ML_SCOPE_AUTO, &none, false));
    cr_expect_not(ml_decide_by_cgroup(ML_SCOPE_CGROUP, &none, false));
    cr_expect_str_eq(ml_scope_name(ML_SCOPE_AUTO, true), "auto (cgroup)");
    cr_expect_str_eq(ml_scope_name(ML_SCOPE_AUTO, false), "auto (process)");
    cr_expect_str_eq(ml_scope_name(ML_SCOPE_CGROUP, false), "cgroup");
}

Test(decide, share_is_proportional_with_a_floor) {
    const uint64_t M = 1u << 20;
    /* a quarter of the cgroup's usage: a quarter of the excess */
    cr_expect_eq(ml_decide_share(40 * M, 50 * M, 200 * M), 10 * M);
    /* all of it ours (or more: RssAnon counts pages the charge's other half misses) */
    cr_expect_eq(ml_decide_share(40 * M, 200 * M, 200 * M), 40 * M);
    cr_expect_eq(ml_decide_share(40 * M, 300 * M, 200 * M), 40 * M);
    /* a tiny process is still asked for 1 MiB, never more than the excess */
    cr_expect_eq(ml_decide_share(40 * M, 1024, 200 * M), M);
    cr_expect_eq(ml_decide_share(M / 2, 1024, 200 * M), M / 2);
    cr_expect_eq(ml_decide_share(40 * M, 10 * M, 0), 40 * M);
}

Test(decide, assist_grows_with_the_way_into_the_headroom) {
    const uint64_t M = 1u << 20, ms = 1000000;
    /* below the soft limit, or no soft limit: never */
    cr_expect_eq(ml_decide_assist_ns(229 * M, 230 * M, 256 * M, 20 * ms), 0);
    cr_expect_eq(ml_decide_assist_ns(229 * M, 0, 256 * M, 20 * ms), 0);
    /* half way from the soft limit to the cgroup's: half of the most */
    cr_expect_eq(ml_decide_assist_ns(243 * M, 230 * M, 256 * M, 20 * ms), 10 * ms);
    /* at it and past it: the most, never more */
    cr_expect_eq(ml_decide_assist_ns(256 * M, 230 * M, 256 * M, 20 * ms), 20 * ms);
    cr_expect_eq(ml_decide_assist_ns(300 * M, 230 * M, 256 * M, 20 * ms), 20 * ms);
    /* just past: at least a pass (1 ms) */
    cr_expect_eq(ml_decide_assist_ns(230 * M + 1, 230 * M, 256 * M, 20 * ms), 1 * ms);
    /* no limit above the soft one (MEMLIMIT alone): a tenth of it is the room */
    cr_expect_eq(ml_decide_assist_ns(105 * M, 100 * M, UINT64_MAX, 20 * ms), 10 * ms);
}

Test(decide, paced_target_leaves_room_for_the_growth_until_the_answer) {
    const uint64_t M = 1u << 20, ms = 1000000;
    /* no growth: the target itself */
    cr_expect_eq(ml_decide_paced_target(207 * M, 172 * M, 0, 50 * ms), 207 * M);
    /* 300 MiB/s for 50 ms: 15 MiB lower */
    cr_expect_eq(ml_decide_paced_target(207 * M, 172 * M, 300 * M, 50 * ms), 192 * M);
    /* faster than the floor allows, or past all of it: the floor */
    cr_expect_eq(ml_decide_paced_target(207 * M, 172 * M, 2000 * M, 50 * ms), 172 * M);
    cr_expect_eq(ml_decide_paced_target(207 * M, 172 * M, UINT64_MAX / 2, 50 * ms), 172 * M);
    /* a floor above the target (a stall's 80% of a small soft limit): the target */
    cr_expect_eq(ml_decide_paced_target(100 * M, 150 * M, 300 * M, 50 * ms), 100 * M);
}

Test(decide, wait_shrinks_with_headroom_and_growth) {
    const uint64_t M = 1u << 20, ms = 1000000, base = 500 * ms;
    /* idle, far from the mark: the base */
    cr_expect_eq(ml_decide_wait_ns(100 * M, 100000 * M, 0, 4096 * M, base), base);
    /* no mark (no limit): the base */
    cr_expect_eq(ml_decide_wait_ns(100 * M, 0, 1000 * M, 4096 * M, base), base);
    /* 110 MiB of headroom at an assumed 4 GiB/s: ~27 ms */
    uint64_t w = ml_decide_wait_ns(120 * M, 230 * M, 0, 4096 * M, base);
    cr_expect(w > 26 * ms && w < 28 * ms, "%lu", (unsigned long)w);
    /* observed 100 MiB/s with 100 MiB left: a quarter of 1 s */
    cr_expect_eq(ml_decide_wait_ns(130 * M, 230 * M, 100 * M, 0, base), 250 * ms);
    /* the smaller of the two */
    w = ml_decide_wait_ns(130 * M, 230 * M, 1000 * M, 4096 * M, base);
    cr_expect(w > 24 * ms && w < 25 * ms, "%lu", (unsigned long)w);
    /* at or past the mark, or closing fast: 1 ms */
    cr_expect_eq(ml_decide_wait_ns(230 * M, 230 * M, 0, 0, base), ms);
    cr_expect_eq(ml_decide_wait_ns(229 * M, 230 * M, 100000 * M, 0, base), ms);
    /* never longer than the base */
    cr_expect_eq(ml_decide_wait_ns(100 * M, 230 * M, 1, 0, 5 * ms), 5 * ms);
}

Test(decide, a_hidden_ancestor_is_said_in_the_description) {
    struct ml_config cfg;
    memset(&cfg, 0, sizeof cfg);
    struct ml_cgroup cg = with_limit(2, ML_FROM_MEMTOTAL);
    cg.cgroup_limit = ML_NO_LIMIT;
    strcpy(cg.dir, "/sys/fs/cgroup");
    char out[ML_PATH_MAX + 256];
    ml_describe_soft(out, sizeof out, &cfg, &cg, 0);
    cr_expect_null(strstr(out, "hidden"), "%s", out);
    cg.hidden_ancestors = true;
    ml_describe_soft(out, sizeof out, &cfg, &cg, 0);
    cr_expect(strstr(out, "a limit on a hidden ancestor cannot be read; set MEMLIMIT") != NULL,
              "%s", out);
}

Test(decide, thp_off_only_where_it_defeats_trimming) {
    const char *always = "[always] madvise never\n", *madvise = "always [madvise] never\n";
    cr_expect(ml_decide_thp_off(ML_THP_AUTO, always, true, true));
    cr_expect_not(ml_decide_thp_off(ML_THP_AUTO, madvise, true, true));
    cr_expect_not(ml_decide_thp_off(ML_THP_AUTO, always, false, true)); /* glibc keeps up */
    cr_expect_not(ml_decide_thp_off(ML_THP_AUTO, always, true, false)); /* no limit */
    cr_expect_not(ml_decide_thp_off(ML_THP_AUTO, NULL, true, true));    /* no THP file */
    cr_expect_not(ml_decide_thp_off(ML_THP_KEEP, always, true, true));
    cr_expect(ml_decide_thp_off(ML_THP_NEVER, madvise, false, true));
    cr_expect_not(ml_decide_thp_off(ML_THP_NEVER, madvise, false, false));
}
