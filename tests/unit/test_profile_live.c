/* SPDX-License-Identifier: MIT */
/* profile_live.c: the table of live sampled blocks against a plain model, through
 * runs of colliding addresses and deletions from their middle, and free's filter. */
#include <criterion/criterion.h>

#include <stdlib.h>

#include "profile_live.h"

#define SIZE 64 /* small, so that probe runs wrap and collide */
#define NST  4

static int64_t objs[NST], bytes[NST];
static void count(void *arg, uint32_t s, int64_t o, int64_t b) {
    (void)arg;
    cr_assert(s < NST);
    objs[s] += o;
    bytes[s] += b;
}

static struct ml_prof_live table(struct ml_prof_block *slot, _Atomic uint8_t *filter) {
    for (int i = 0; i < NST; i++)
        objs[i] = bytes[i] = 0;
    return (struct ml_prof_live){.slot = slot,
                                 .filter = filter,
                                 .size = SIZE,
                                 .max = SIZE / 4 * 3,
                                 .filter_lg = 10,
                                 .count = count};
}

Test(profile_live, put_take_resize_counts) {
    static struct ml_prof_block slot[SIZE];
    static _Atomic uint8_t filter[1 << 10];
    struct ml_prof_live t = table(slot, filter);
    cr_expect(!ml_prof_live_maybe(&t, (void *)0x1000));
    cr_expect(ml_prof_live_put(&t, 0x1000, 1, 100));
    cr_expect(ml_prof_live_maybe(&t, (void *)0x1000));
    cr_expect(ml_prof_live_put(&t, 0x2000, 1, 50));
    cr_expect_eq(objs[1], 2);
    cr_expect_eq(bytes[1], 150);
    /* the same address again (a free we did not see): the old block goes */
    cr_expect(ml_prof_live_put(&t, 0x1000, 2, 10));
    cr_expect_eq(objs[1], 1);
    cr_expect_eq(bytes[1], 50);
    cr_expect_eq(objs[2], 1);
    cr_expect(ml_prof_live_resize(&t, 0x1000, 30));
    cr_expect_eq(bytes[2], 30);
    cr_expect(!ml_prof_live_resize(&t, 0x3000, 30), "no entry, nothing resized");
    struct ml_prof_block b;
    cr_expect(ml_prof_live_take(&t, 0x1000, &b));
    cr_expect(b.p == 0x1000 && b.stack == 2 && b.size == 30);
    cr_expect_eq(objs[2], 0);
    cr_expect_eq(bytes[2], 0);
    cr_expect(!ml_prof_live_take(&t, 0x1000, NULL));
    cr_expect(!ml_prof_live_maybe(&t, (void *)0x1000), "the filter forgets a taken block");
    cr_expect_eq(t.used, 1);
}

Test(profile_live, full_table_refuses) {
    static struct ml_prof_block slot[SIZE];
    static _Atomic uint8_t filter[1 << 10];
    struct ml_prof_live t = table(slot, filter);
    for (uintptr_t i = 1; i <= t.max; i++)
        cr_assert(ml_prof_live_put(&t, i * 16, 0, 1));
    cr_expect(!ml_prof_live_put(&t, 0x999990, 0, 1));
    cr_expect_eq(objs[0], t.max);
    cr_expect(ml_prof_live_take(&t, 16, NULL));
    cr_expect(ml_prof_live_put(&t, 0x999990, 0, 1), "room again after a take");
}

/* Random puts and takes against a model: every live address is found, every other
 * one is not, whatever the order of deletions inside probe runs (backward shift). */
Test(profile_live, random_against_model) {
    static struct ml_prof_block slot[SIZE];
    static _Atomic uint8_t filter[1 << 10];
    struct ml_prof_live t = table(slot, filter);
    enum { NADDR = 96 };
    uint64_t model[NADDR] = {0}; /* size, 0: not live */
    srand(7);
    for (int step = 0; step < 20000; step++) {
        int k = rand() % NADDR;
        uintptr_t p = 0x10000 + (uintptr_t)k * 64;
        if (model[k]) {
            struct ml_prof_block b;
            cr_assert(ml_prof_live_take(&t, p, &b), "step %d: live %#lx not found", step, p);
            cr_assert_eq(b.size, model[k]);
            model[k] = 0;
        } else if (t.used < t.max) {
            model[k] = (uint64_t)(rand() % 1000 + 1);
            cr_assert(ml_prof_live_put(&t, p, (uint32_t)(k % NST), model[k]));
        }
        if (step % 1000 == 0) {
            uint32_t n = 0;
            for (int i = 0; i < NADDR; i++) {
                uintptr_t q = 0x10000 + (uintptr_t)i * 64;
                n += model[i] != 0;
                cr_assert_eq(ml_prof_live_resize(&t, q, model[i]), model[i] != 0, "step %d: %#lx",
                             step, q);
                if (model[i]) cr_assert(ml_prof_live_maybe(&t, (void *)q));
            }
            cr_assert_eq(t.used, n);
        }
    }
    int64_t total = 0;
    for (int i = 0; i < NST; i++)
        total += objs[i];
    cr_expect_eq(total, (int64_t)t.used);
}
