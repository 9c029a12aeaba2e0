/* SPDX-License-Identifier: MIT */
/* The heap profile's live sampled blocks: an open-addressing table from address to
 * (stack, size), linear probing with backward-shift deletion (no tombstones, so a
 * freed block's slot is free again and probes stay short however many blocks have
 * come and gone), and beside it a filter of saturating counters per bucket of
 * addresses: free's quick "not sampled", read without a lock. Memory the caller
 * provides; every call but the filter test under the caller's lock; what a change
 * does to a stack's live counts goes to the caller's count function. */
#ifndef ML_PROFILE_LIVE_H
#define ML_PROFILE_LIVE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#pragma GCC visibility push(hidden)

struct ml_prof_block {
    uintptr_t p; /* 0: an empty slot */
    uint32_t stack;
    uint64_t size;
};

struct ml_prof_live {
    struct ml_prof_block *slot; /* size slots, a power of two; at most max used */
    _Atomic uint8_t *filter;    /* 1 << filter_lg counters */
    uint32_t size, max, used, filter_lg;
    void (*count)(void *arg, uint32_t stack, int64_t objects, int64_t bytes);
    void *arg;
};

/* 64-bit finaliser (murmur3's): the table's hash, and the profile's stack hash */
static inline uint64_t ml_prof_mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* May p be a live sampled block? False means certainly not. Without the lock, on
 * every free while profiling: Fibonacci hashing, two instructions, and one load. */
static inline uint32_t ml_prof_live_bucket(const struct ml_prof_live *t, uintptr_t p) {
    return (uint32_t)((p * 0x9E3779B97F4A7C15ULL) >> (64 - t->filter_lg));
}
static inline bool ml_prof_live_maybe(const struct ml_prof_live *t, const void *p) {
    return atomic_load_explicit(&t->filter[ml_prof_live_bucket(t, (uintptr_t)p)],
                                memory_order_acquire) != 0;
}

/* p's entry, if there is one, goes (its stack loses the object); copied to *out */
bool ml_prof_live_take(struct ml_prof_live *t, uintptr_t p, struct ml_prof_block *out);

/* A new entry for p on stack; one p had goes first (its address was handed out again
 * after a free we did not see). False when the table is full. */
bool ml_prof_live_put(struct ml_prof_live *t, uintptr_t p, uint32_t stack, uint64_t size);

/* p's entry, if there is one, is now of size bytes; false when there is none */
bool ml_prof_live_resize(struct ml_prof_live *t, uintptr_t p, uint64_t size);

#pragma GCC visibility pop

#endif
