/* SPDX-License-Identifier: MIT */
/* The heap profile's sampled mmap regions: disjoint page ranges [lo, hi), sorted by
 * address, each one object of its stack with its bytes as its size. munmap and
 * mremap act on ranges, so a region may be cut at an end, split by a hole, or taken
 * out to be moved. A table in memory the caller provides; no lock (the profile holds
 * its own around every call); what a change does to a stack's live counts goes to
 * the caller's count function. */
#ifndef ML_PROFILE_REGIONS_H
#define ML_PROFILE_REGIONS_H

#include <stdbool.h>
#include <stdint.h>

#pragma GCC visibility push(hidden)

struct ml_prof_region {
    uintptr_t lo, hi;
    uint32_t stack;
};

struct ml_prof_regions {
    struct ml_prof_region *r; /* sorted by lo; n used of cap */
    uint32_t n, cap;
    /* a stack gained or lost live objects and bytes */
    void (*count)(void *arg, uint32_t stack, int64_t objects, int64_t bytes);
    void *arg;
};

/* Takes [a, b) out: a region wholly inside goes, one cut at an end shrinks, one that
 * holds the whole range becomes two (the part above is forgotten when the table is
 * full). With out, the parts taken are copied there (at most cap, the rest are
 * forgotten); returns how many were copied. */
uint32_t ml_prof_regions_cut(struct ml_prof_regions *t, uintptr_t a, uintptr_t b,
                             struct ml_prof_region *out, uint32_t cap);

/* [lo, hi) is mapped afresh for stack: whatever was recorded there is gone (its munmap
 * went unseen, e.g. a raw syscall). False when the table is full. */
bool ml_prof_regions_insert(struct ml_prof_regions *t, uintptr_t lo, uintptr_t hi, uint32_t stack);

#pragma GCC visibility pop

#endif
