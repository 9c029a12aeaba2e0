/* SPDX-License-Identifier: MIT */
/* The heap profile's table of live sampled blocks and free's filter (see
 * profile_live.h). */
#include "profile_live.h"

#include <stddef.h>

/* Under the lock, so a load and a store suffice (no read-modify-write); a counter
 * that reached 255 stays there ("maybe" for good). */
static void filter_add(struct ml_prof_live *t, uintptr_t p) {
    _Atomic uint8_t *c = &t->filter[ml_prof_live_bucket(t, p)];
    uint8_t v = atomic_load_explicit(c, memory_order_relaxed);
    if (v != UINT8_MAX) atomic_store_explicit(c, (uint8_t)(v + 1), memory_order_release);
}
static void filter_sub(struct ml_prof_live *t, uintptr_t p) {
    _Atomic uint8_t *c = &t->filter[ml_prof_live_bucket(t, p)];
    uint8_t v = atomic_load_explicit(c, memory_order_relaxed);
    if (v != UINT8_MAX && v) atomic_store_explicit(c, (uint8_t)(v - 1), memory_order_release);
}

static uint32_t home(const struct ml_prof_live *t, uintptr_t p) {
    return (uint32_t)ml_prof_mix(p) & (t->size - 1);
}

/* The slot holding p, or the empty slot that ends its probe run. Never loops: at
 * most max of size slots are used. */
static uint32_t find(const struct ml_prof_live *t, uintptr_t p) {
    uint32_t i = home(t, p);
    while (t->slot[i].p != p && t->slot[i].p != 0)
        i = (i + 1) & (t->size - 1);
    return i;
}

/* Empties slot i, moving later entries of its probe run back so that none is left
 * behind a gap. */
static void remove_at(struct ml_prof_live *t, uint32_t i) {
    const uint32_t m = t->size - 1;
    for (uint32_t j = i;;) {
        j = (j + 1) & m;
        if (t->slot[j].p == 0) break;
        /* the entry at j may fill the gap unless its home lies in (i, j] */
        if (((j - home(t, t->slot[j].p)) & m) >= ((j - i) & m)) {
            t->slot[i] = t->slot[j];
            i = j;
        }
    }
    t->slot[i].p = 0;
    t->used--;
}

bool ml_prof_live_take(struct ml_prof_live *t, uintptr_t p, struct ml_prof_block *out) {
    uint32_t i = find(t, p);
    if (!t->slot[i].p) return false;
    struct ml_prof_block b = t->slot[i];
    if (out) *out = b;
    if (t->count) t->count(t->arg, b.stack, -1, -(int64_t)b.size);
    filter_sub(t, p);
    remove_at(t, i);
    return true;
}

bool ml_prof_live_put(struct ml_prof_live *t, uintptr_t p, uint32_t stack, uint64_t size) {
    ml_prof_live_take(t, p, NULL);
    if (t->used >= t->max) return false;
    t->used++;
    filter_add(t, p);
    t->slot[find(t, p)] = (struct ml_prof_block){.p = p, .stack = stack, .size = size};
    if (t->count) t->count(t->arg, stack, 1, (int64_t)size);
    return true;
}

bool ml_prof_live_resize(struct ml_prof_live *t, uintptr_t p, uint64_t size) {
    struct ml_prof_block *b = &t->slot[find(t, p)];
    if (!b->p) return false;
    if (t->count) t->count(t->arg, b->stack, 0, (int64_t)(size - b->size));
    b->size = size;
    return true;
}
