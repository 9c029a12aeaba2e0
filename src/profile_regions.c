/* SPDX-License-Identifier: MIT */
/* The heap profile's table of sampled mmap regions (see profile_regions.h). */
#include "profile_regions.h"

#include <string.h>

/* The first region that ends after a (regions are disjoint: their ends are sorted). */
static uint32_t after(const struct ml_prof_regions *t, uintptr_t a) {
    uint32_t lo = 0, hi = t->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (t->r[mid].hi <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void count(const struct ml_prof_regions *t, uint32_t s, int64_t objects, int64_t bytes) {
    if (t->count) t->count(t->arg, s, objects, bytes);
}

uint32_t ml_prof_regions_cut(struct ml_prof_regions *t, uintptr_t a, uintptr_t b,
                             struct ml_prof_region *out, uint32_t cap) {
    uint32_t i = after(t, a), end = i, nout = 0;
    while (end < t->n && t->r[end].lo < b)
        end++;
    if (i == end) return 0;
    struct ml_prof_region *r = &t->r[i];
    if (end - i == 1 && r->lo < a && r->hi > b) { /* a hole in the middle */
        if (out && cap) out[nout++] = (struct ml_prof_region){a, b, r->stack};
        count(t, r->stack, 0, -(int64_t)(b - a));
        if (t->n < t->cap) {
            memmove(r + 2, r + 1, sizeof *r * (t->n - i - 1));
            r[1] = (struct ml_prof_region){.lo = b, .hi = r->hi, .stack = r->stack};
            t->n++;
            count(t, r->stack, 1, 0);
        } else {
            count(t, r->stack, 0, -(int64_t)(r->hi - b));
        }
        r->hi = a;
        return nout;
    }
    uint32_t w = i;
    for (uint32_t k = i; k < end; k++) {
        struct ml_prof_region g = t->r[k];
        uintptr_t lo = g.lo > a ? g.lo : a, hi = g.hi < b ? g.hi : b;
        if (out && nout < cap) out[nout++] = (struct ml_prof_region){lo, hi, g.stack};
        if (g.lo < a) { /* the first may keep its start */
            g.hi = a;
            t->r[w++] = g;
            count(t, g.stack, 0, -(int64_t)(hi - lo));
        } else if (g.hi > b) { /* the last its end */
            g.lo = b;
            t->r[w++] = g;
            count(t, g.stack, 0, -(int64_t)(hi - lo));
        } else {
            count(t, g.stack, -1, -(int64_t)(hi - lo));
        }
    }
    memmove(&t->r[w], &t->r[end], sizeof *t->r * (t->n - end));
    t->n -= end - w;
    return nout;
}

bool ml_prof_regions_insert(struct ml_prof_regions *t, uintptr_t lo, uintptr_t hi, uint32_t stack) {
    ml_prof_regions_cut(t, lo, hi, NULL, 0);
    if (t->n >= t->cap) return false;
    uint32_t i = after(t, lo);
    memmove(&t->r[i + 1], &t->r[i], sizeof *t->r * (t->n - i));
    t->r[i] = (struct ml_prof_region){.lo = lo, .hi = hi, .stack = stack};
    t->n++;
    count(t, stack, 1, (int64_t)(hi - lo));
    return true;
}
