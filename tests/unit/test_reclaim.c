/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "memlimit.h"
#include "reclaim.h"

#define MiB_ (1ULL << 20)

/* A fake world: usage is a number the callbacks lower by what they free. */
static _Atomic uint64_t fake_usage;
static _Atomic int fake_level = MEMLIMIT_LEVEL_NONE; /* what the thread's own samples see */
static uint64_t measure(enum memlimit_level *lv) {
    if (lv) *lv = (enum memlimit_level)fake_level;
    return fake_usage;
}
static uint64_t target(enum memlimit_level lv) {
    (void)lv;
    return 1000;
}
static const struct ml_reclaim_ops ops = {.measure = measure, .target = target};

static int calls[64];
static _Atomic int ncalls; /* written by the memlimit thread, read by the test */
static size_t wants[64];
static enum memlimit_level levels[64];
static size_t record(enum memlimit_level lv, size_t want, void *arg) {
    int id = (int)(intptr_t)arg;
    levels[ncalls] = lv;
    wants[ncalls] = want;
    calls[ncalls++] = id;
    fake_usage -= fake_usage >= 300 ? 300 : fake_usage; /* each frees 300 */
    return 300;
}

static void setup(void) {
    ml_reclaim_set_ops(&ops);
    ncalls = 0;
    fake_usage = 0;
}

TestSuite(reclaim, .init = setup);

Test(reclaim, ascending_priority_then_registration_order) {
    ml_reclaim_register(record, (void *)5, 5);
    ml_reclaim_register(record, (void *)1, 1);
    ml_reclaim_register(record, (void *)3, 3);
    ml_reclaim_register(record, (void *)2, 3); /* same priority, registered later */
    ml_reclaim_register(record, (void *)0, -7);
    fake_usage = 100000; /* far above: everyone is called */
    cr_assert_eq(ml_reclaim_round(MEMLIMIT_LEVEL_SOFT), 5);
    int want_order[] = {0, 1, 3, 2, 5};
    for (int i = 0; i < 5; i++)
        cr_expect_eq(calls[i], want_order[i], "call %d was %d", i, calls[i]);
}

Test(reclaim, soft_asks_for_the_excess_and_stops_under_target) {
    for (int i = 0; i < 4; i++)
        ml_reclaim_register(record, (void *)(intptr_t)i, i);
    fake_usage = 1500;                                      /* 500 over the target of 1000 */
    cr_assert_eq(ml_reclaim_round(MEMLIMIT_LEVEL_SOFT), 2); /* 1500 -> 1200 -> 900: stop */
    cr_expect_eq(wants[0], 500);
    cr_expect_eq(wants[1], 200); /* re-measured between callbacks */
    cr_expect_eq(levels[0], MEMLIMIT_LEVEL_SOFT);
    fake_usage = 900;
    ncalls = 0;
    cr_expect_eq(ml_reclaim_round(MEMLIMIT_LEVEL_CRITICAL), 0, "under the target: nobody");
}

Test(reclaim, moderate_tells_everyone_with_want_zero) {
    for (int i = 0; i < 3; i++)
        ml_reclaim_register(record, (void *)(intptr_t)i, i);
    fake_usage = 100;
    cr_assert_eq(ml_reclaim_round(MEMLIMIT_LEVEL_MODERATE), 3);
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(levels[i], MEMLIMIT_LEVEL_MODERATE);
        cr_expect_eq(wants[i], 0);
    }
}

Test(reclaim, bad_arguments) {
    errno = 0;
    cr_expect_eq(ml_reclaim_register(NULL, NULL, 0), -1);
    cr_expect_eq(errno, EINVAL);
    errno = 0;
    cr_expect_eq(ml_reclaim_unregister(12345), -1);
    cr_expect_eq(errno, EINVAL);
    int h = ml_reclaim_register(record, NULL, 0);
    cr_assert_gt(h, 0);
    cr_expect_eq(ml_reclaim_unregister(h), 0);
    cr_expect_eq(ml_reclaim_unregister(h), -1, "twice");
    for (int i = 0; i < ML_MAX_CALLBACKS; i++)
        cr_assert_gt(ml_reclaim_register(record, NULL, 0), 0);
    errno = 0;
    cr_expect_eq(ml_reclaim_register(record, NULL, 0), -1);
    cr_expect_eq(errno, ENOSPC);
}

/* a callback that unregisters itself (and registers another) from inside a round */
static int self_handle;
static _Atomic int self_calls, other_calls;
static size_t other(enum memlimit_level lv, size_t want, void *arg) {
    (void)lv, (void)want, (void)arg;
    other_calls++;
    return 0;
}
static size_t unregister_self(enum memlimit_level lv, size_t want, void *arg) {
    (void)lv, (void)want, (void)arg;
    self_calls++;
    cr_expect_eq(ml_reclaim_unregister(self_handle), 0);
    cr_expect_gt(ml_reclaim_register(other, NULL, 10), 0);
    return 0;
}

Test(reclaim, unregister_and_register_from_inside_a_callback) {
    self_handle = ml_reclaim_register(unregister_self, NULL, 0);
    fake_usage = 100000;
    ml_reclaim_round(MEMLIMIT_LEVEL_SOFT);
    cr_expect_eq(self_calls, 1);
    ml_reclaim_round(MEMLIMIT_LEVEL_SOFT);
    cr_expect_eq(self_calls, 1, "never called again after unregistering itself");
    cr_expect_geq(other_calls, 1, "the callback it registered runs");
}

/* unregister waits for a running call to finish */
static _Atomic int slow_started, slow_done;
static size_t slow(enum memlimit_level lv, size_t want, void *arg) {
    (void)lv, (void)want, (void)arg;
    slow_started = 1;
    usleep(200 * 1000);
    slow_done = 1;
    return 0;
}
static void *run_round(void *arg) {
    (void)arg;
    ml_reclaim_round(MEMLIMIT_LEVEL_SOFT);
    return NULL;
}

Test(reclaim, unregister_waits_for_the_running_call) {
    int h = ml_reclaim_register(slow, NULL, 0);
    fake_usage = 100000;
    uint64_t calls = ml_reclaim_calls();
    pthread_t t;
    pthread_create(&t, NULL, run_round, NULL);
    while (!slow_started)
        usleep(1000);
    cr_assert_eq(ml_reclaim_unregister(h), 0);
    cr_expect_eq(slow_done, 1, "unregister returned while the callback was still running");
    /* and the call it waited for is counted by then (the Python binding's test read
     * the counter one short, in CI) */
    cr_expect_eq(ml_reclaim_calls(), calls + 1, "unregister returned before the call was counted");
    pthread_join(t, NULL);
    slow_done = 0;
    ml_reclaim_round(MEMLIMIT_LEVEL_SOFT);
    cr_expect_eq(slow_done, 0, "called after unregister returned");
}

/* many threads registering and unregistering while rounds run */
static _Atomic int churn_stop;
static void *churner(void *arg) {
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        int h = ml_reclaim_register(other, NULL, i % 7);
        if (h <= 0) continue;
        if (ml_reclaim_unregister(h) != 0) return (void *)1;
    }
    return NULL;
}
static void *rounder(void *arg) {
    (void)arg;
    while (!churn_stop)
        ml_reclaim_round(MEMLIMIT_LEVEL_SOFT);
    return NULL;
}

Test(reclaim, concurrent_register_unregister_during_rounds, .timeout = 60) {
    fake_usage = UINT64_MAX / 2;
    pthread_t r, t[8];
    pthread_create(&r, NULL, rounder, NULL);
    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, churner, NULL);
    for (int i = 0; i < 8; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        cr_expect_null(ret, "an unregister failed");
    }
    churn_stop = 1;
    pthread_join(r, NULL);
    /* every slot came back: 128 registrations fit again */
    for (int i = 0; i < ML_MAX_CALLBACKS; i++)
        cr_assert_gt(ml_reclaim_register(other, NULL, 0), 0, "slot %d leaked", i);
}

Test(reclaim, the_thread_runs_rounds_when_the_level_rises, .timeout = 20) {
    ml_reclaim_register(record, (void *)9, 0);
    cr_assert(ml_reclaim_running(), "the first registration starts the thread");
    fake_usage = 5000;
    fake_level = MEMLIMIT_LEVEL_SOFT;
    ml_reclaim_wake();
    cr_assert(ml_reclaim_wait_round(2000ULL * 1000000));
    for (int i = 0; i < 200 && ncalls == 0; i++)
        usleep(10000);
    cr_expect_geq(ncalls, 1, "the thread did not call back");
    cr_expect_eq(calls[0], 9);
    cr_expect_geq(ml_reclaim_calls(), 1);
}

#define MS 1000000ULL

Test(round_policy, fruitless_rounds_back_off_and_growth_ends_it) {
    struct ml_round_policy p = {0};
    uint64_t t = 1000 * MS, every = 5 * MS, rise = MiB_;
    cr_expect(ml_round_due(&p, t, every, MEMLIMIT_LEVEL_SOFT, 100 * MiB_, rise)); /* first */
    uint64_t waits[6];
    for (int i = 0; i < 6; i++) {
        ml_round_update(&p, t, MEMLIMIT_LEVEL_SOFT, 0, 100 * MiB_, 100 * MiB_, rise);
        uint64_t w = 0;
        while (!ml_round_due(&p, t + w, every, MEMLIMIT_LEVEL_SOFT, 100 * MiB_, rise))
            w += MS;
        waits[i] = w;
        t += w;
    }
    cr_expect_eq(waits[0], 100 * MS);
    cr_expect_eq(waits[1], 200 * MS);
    cr_expect_eq(waits[5], 2000 * MS); /* capped: a stuck live set, a call every 2 s */
    /* usage growing by `rise` since the last fruitless round: at once */
    ml_round_update(&p, t, MEMLIMIT_LEVEL_SOFT, 0, 100 * MiB_, 100 * MiB_, rise);
    cr_expect_not(
        ml_round_due(&p, t + MS, every, MEMLIMIT_LEVEL_SOFT, 100 * MiB_ + rise - 1, rise));
    cr_expect(ml_round_due(&p, t + MS, every, MEMLIMIT_LEVEL_SOFT, 100 * MiB_ + rise, rise));
    /* so does a rise in level */
    cr_expect(ml_round_due(&p, t + MS, every, MEMLIMIT_LEVEL_CRITICAL, 100 * MiB_, rise));
    /* a round that freed something (reported, or usage fell by `rise`) resets it */
    ml_round_update(&p, t, MEMLIMIT_LEVEL_SOFT, 4096, 100 * MiB_, 100 * MiB_, rise);
    cr_expect(ml_round_due(&p, t + every, every, MEMLIMIT_LEVEL_SOFT, 100 * MiB_, rise));
    ml_round_update(&p, t, MEMLIMIT_LEVEL_SOFT, 0, 100 * MiB_, 100 * MiB_, rise);
    ml_round_update(&p, t, MEMLIMIT_LEVEL_SOFT, 0, 100 * MiB_, 99 * MiB_, rise);
    cr_expect(ml_round_due(&p, t + every, every, MEMLIMIT_LEVEL_SOFT, 99 * MiB_, rise));
}

Test(reclaim, handles_stay_positive_and_unique_past_int_max) {
    int used[3] = {1, 2, INT_MAX};
    cr_expect_eq(ml_reclaim_next_handle(5, used, 3), 6);
    cr_expect_eq(ml_reclaim_next_handle(INT_MAX - 1, NULL, 0), INT_MAX);
    /* wraps without signed overflow, past handles still registered */
    cr_expect_eq(ml_reclaim_next_handle(INT_MAX, used, 3), 3);
    cr_expect_eq(ml_reclaim_next_handle(INT_MAX - 1, used, 3), 3);
    cr_expect_eq(ml_reclaim_next_handle(-7, NULL, 0), 1);
}
