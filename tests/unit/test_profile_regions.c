/* SPDX-License-Identifier: MIT */
/* profile_regions.c: cuts at an end, holes, cuts across several regions, a full
 * table, and the parts a cut hands out for mremap, with the stacks' counts. */
#include <criterion/criterion.h>

#include "profile_regions.h"

static int64_t objs[4], bytes[4];
static void count(void *arg, uint32_t s, int64_t o, int64_t b) {
    (void)arg;
    cr_assert(s < 4);
    objs[s] += o;
    bytes[s] += b;
}

static struct ml_prof_regions table(struct ml_prof_region *r, uint32_t cap) {
    for (int i = 0; i < 4; i++)
        objs[i] = bytes[i] = 0;
    return (struct ml_prof_regions){.r = r, .cap = cap, .count = count};
}

static void expect(const struct ml_prof_regions *t, uint32_t i, uintptr_t lo, uintptr_t hi) {
    cr_assert(i < t->n);
    cr_expect(t->r[i].lo == lo && t->r[i].hi == hi, "region %u is [%#lx, %#lx), not [%#lx, %#lx)",
              i, t->r[i].lo, t->r[i].hi, lo, hi);
}

Test(profile_regions, insert_sorted_and_replacing) {
    struct ml_prof_region r[8];
    struct ml_prof_regions t = table(r, 8);
    cr_expect(ml_prof_regions_insert(&t, 0x5000, 0x6000, 0));
    cr_expect(ml_prof_regions_insert(&t, 0x1000, 0x3000, 1));
    cr_expect_eq(t.n, 2);
    expect(&t, 0, 0x1000, 0x3000);
    expect(&t, 1, 0x5000, 0x6000);
    /* mapped afresh over a stale record: the stale part goes */
    cr_expect(ml_prof_regions_insert(&t, 0x2000, 0x5800, 2));
    expect(&t, 0, 0x1000, 0x2000);
    expect(&t, 1, 0x2000, 0x5800);
    expect(&t, 2, 0x5800, 0x6000);
    cr_expect_eq(objs[0], 1);
    cr_expect_eq(bytes[0], 0x800);
    cr_expect_eq(objs[1], 1);
    cr_expect_eq(bytes[1], 0x1000);
    cr_expect_eq(objs[2], 1);
    cr_expect_eq(bytes[2], 0x3800);
}

Test(profile_regions, cuts_head_tail_hole_and_across) {
    struct ml_prof_region r[8];
    struct ml_prof_regions t = table(r, 8);
    for (uintptr_t i = 0; i < 4; i++) /* [0x10000 * (i+1), + 0x4000) */
        ml_prof_regions_insert(&t, 0x10000 * (i + 1), 0x10000 * (i + 1) + 0x4000, 0);
    cr_expect_eq(objs[0], 4);
    ml_prof_regions_cut(&t, 0x10000, 0x11000, NULL, 0); /* head */
    expect(&t, 0, 0x11000, 0x14000);
    ml_prof_regions_cut(&t, 0x23000, 0x30000, NULL, 0); /* tail, and the gap after */
    expect(&t, 1, 0x20000, 0x23000);
    ml_prof_regions_cut(&t, 0x31000, 0x32000, NULL, 0); /* a hole: two regions */
    expect(&t, 2, 0x30000, 0x31000);
    expect(&t, 3, 0x32000, 0x34000);
    cr_expect_eq(objs[0], 5);
    /* across: the end of one, a whole one, the start of the next */
    struct ml_prof_region out[4];
    uint32_t n = ml_prof_regions_cut(&t, 0x22000, 0x33000, out, 4);
    cr_expect_eq(n, 3);
    cr_expect(out[0].lo == 0x22000 && out[0].hi == 0x23000);
    cr_expect(out[1].lo == 0x30000 && out[1].hi == 0x31000);
    cr_expect(out[2].lo == 0x32000 && out[2].hi == 0x33000);
    cr_expect_eq(t.n, 4);
    expect(&t, 1, 0x20000, 0x22000);
    expect(&t, 2, 0x33000, 0x34000);
    cr_expect_eq(objs[0], 4);
    cr_expect_eq(bytes[0], 0x3000 + 0x2000 + 0x1000 + 0x4000);
    cr_expect_eq(ml_prof_regions_cut(&t, 0x50000, 0x60000, out, 4), 0, "nothing there");
}

Test(profile_regions, full_table_forgets_the_part_above_a_hole) {
    struct ml_prof_region r[2];
    struct ml_prof_regions t = table(r, 2);
    cr_expect(ml_prof_regions_insert(&t, 0x1000, 0x9000, 0));
    cr_expect(ml_prof_regions_insert(&t, 0x10000, 0x11000, 1));
    cr_expect(!ml_prof_regions_insert(&t, 0x20000, 0x21000, 1), "full");
    struct ml_prof_region out[1];
    cr_expect_eq(ml_prof_regions_cut(&t, 0x2000, 0x3000, out, 1), 1);
    expect(&t, 0, 0x1000, 0x2000);
    cr_expect_eq(objs[0], 1);
    cr_expect_eq(bytes[0], 0x1000, "the part above the hole is forgotten, not counted");
}
