/* SPDX-License-Identifier: MIT */
/* Reclaim callbacks and the thread that runs them. Callbacks never run inside an
 * application's allocation call: a callback that takes a mutex the allocating
 * thread holds must not deadlock. The thread starts when the first callback is
 * registered (a program that registers none stays single-threaded, so it can still
 * unshare(CLONE_NEWUSER)); once it exists it also does the trimming. */
#ifndef ML_RECLAIM_H
#define ML_RECLAIM_H

#include "memlimit.h"

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

#define ML_MAX_CALLBACKS 128

int ml_reclaim_register(memlimit_reclaim_fn fn, void *arg, int priority);
int ml_reclaim_unregister(int handle);

/* How the thread measures and trims: the limiter in the library, fakes in tests. */
#define ML_RECLAIM_MAX_FDS 8

struct ml_reclaim_ops {
    uint64_t (*measure)(enum memlimit_level *level);  /* a fresh sample and its level */
    uint64_t (*target)(enum memlimit_level level);    /* usage a round aims below */
    uint64_t (*share)(uint64_t want, uint64_t usage); /* this process's part of want */
    uint64_t (*wait)(uint64_t base);                  /* the thread's next sleep, at most base */
    /* allocator trim, rate-limited; freed: what callbacks reported since the last
     * call, which ends a back-off */
    void (*trim)(enum memlimit_level level, uint64_t freed);
    bool trace; /* one line per round that called someone (MEMLIMIT_TRACE) */
    /* Called by the thread before it sleeps: descriptors to poll, how many (0: sleep
     * on a futex). fds[0] is an eventfd whose readability wakes the thread (kernel
     * thresholds; the slow path's wakes are written to it too); the others are more
     * kernel sources, with their events set; *ino is fds[0]'s inode, taken when it
     * was created. lost: the fds[0] last returned was found closed behind our back. */
    int (*events)(struct pollfd *fds, int cap, bool lost, uint64_t *ino);
    /* After poll: fds[1..n) as returned, with revents. */
    void (*fired)(const struct pollfd *fds, int n);
};
void ml_reclaim_set_ops(const struct ml_reclaim_ops *ops);

/* One round at `level`: callbacks in ascending priority, each told the level and
 * asked for the bytes still above the target (0 at MODERATE: informational), usage
 * re-measured between them; at SOFT and above it stops once usage is under the
 * target. Returns the number of callbacks called. The thread calls this; tests too. */
int ml_reclaim_round(enum memlimit_level level);

/* True when the thread runs in this process (then the slow path wakes it instead of
 * trimming inline). */
bool ml_reclaim_running(void);
/* A callback is registered. */
bool ml_reclaim_registered(void);
/* Wakes the thread (a futex; safe anywhere, allocates nothing). */
void ml_reclaim_wake(void);
/* Starts the thread if callbacks exist (or ml_reclaim_want_thread was called) and it
 * does not run in this process (after fork). Only where no allocator lock can be held. */
void ml_reclaim_ensure_thread(void);
/* The thread is wanted without callbacks (kernel events are on). */
void ml_reclaim_want_thread(void);
/* Before a call the kernel refuses to a threaded process (unshare(CLONE_NEWUSER),
 * setns into a user or mount namespace): the thread leaves its loop at its next
 * safe point and the kernel lets it go; none is started until ml_reclaim_unpark.
 * False if it was still busy (a callback) after timeout_ns: it stays. Always pair
 * with ml_reclaim_unpark, which starts it again, in whatever namespace the process
 * is in then. */
bool ml_reclaim_park(uint64_t timeout_ns);
void ml_reclaim_unpark(void);
/* Wakes the thread and waits up to timeout_ns for it to finish a round that began
 * after this call. False if there is no thread or it took longer. */
bool ml_reclaim_wait_round(uint64_t timeout_ns);
/* When the thread last finished a pass (ml_now_ns; 0 before the first). */
uint64_t ml_reclaim_last_pass_ns(void);

/* Pacing of rounds, pure so it is unit-tested. A round that frees nothing (no
 * callback reports bytes, usage does not fall) doubles the wait before the next from
 * 100 ms up to 2 s, as trims back off: a live set stuck above the limit must not
 * have callbacks called hundreds of times a second. A rise in level, usage growing by
 * `rise` bytes since the last fruitless round, or a round that freed something
 * brings rounds back at once. */
struct ml_round_policy {
    uint64_t last_ns;    /* end of the last round; 0: none yet */
    uint64_t backoff_ns; /* 0 after a round that freed something */
    uint64_t usage_then; /* usage after the last fruitless round */
    enum memlimit_level level_then;
};
#define ML_ROUND_FIRST_BACKOFF_NS (100ULL * 1000000)  /* 100 ms */
#define ML_ROUND_MAX_BACKOFF_NS   (2000ULL * 1000000) /* 2 s */
/* every: the level's own minimum interval between rounds */
bool ml_round_due(const struct ml_round_policy *p, uint64_t now, uint64_t every,
                  enum memlimit_level lv, uint64_t usage, uint64_t rise);
void ml_round_update(struct ml_round_policy *p, uint64_t now, enum memlimit_level lv,
                     uint64_t reported, uint64_t usage_before, uint64_t usage_after,
                     uint64_t progress);

/* The handle after prev: positive, never one of the n in use (n < INT_MAX). */
int ml_reclaim_next_handle(int prev, const int *in_use, int n);

/* counters for memlimit_stats */
uint64_t ml_reclaim_calls(void);
uint64_t ml_reclaim_bytes(void);
uint64_t ml_reclaim_rounds(void);

#pragma GCC visibility pop

#endif
