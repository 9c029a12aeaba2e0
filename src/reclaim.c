/* SPDX-License-Identifier: MIT */
#include "reclaim.h"
#include "have.h"
#include "cold.h"
#include "siglock.h"
#include "clock.h"
#include "level.h"
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct entry {
    memlimit_reclaim_fn fn; /* NULL: free slot */
    void *arg;
    int priority;
    int handle;
    uint64_t order;      /* registration order: ties in priority run first come first */
    bool active;         /* false once unregistered: never called again */
    bool busy;           /* being called right now */
    pthread_t runner;    /* by this thread */
    bool free_on_return; /* it unregistered itself: the round frees the slot */
};

/* The table's lock (never held while a callback runs) and the condition signalled
 * when a callback returns live apart from R: a fork child writes them, and R's
 * pages stay shared with its parent. */
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t table_idle = PTHREAD_COND_INITIALIZER;

static struct {
    struct entry e[ML_MAX_CALLBACKS];
    _Atomic int count;
    int next_handle;
    uint64_t next_order;
} R ML_COLD;

static struct ml_reclaim_ops ops;   /* set at start-up (apart from R: no page of R touched) */
static _Atomic uint32_t wake_seq;   /* bumped to wake the thread */
static _Atomic uint32_t round_seq;  /* bumped when the thread finishes a pass */
static _Atomic bool thread_running; /* in this process (cleared in a fork child) */
static _Atomic bool thread_starting;
static _Atomic bool thread_wanted; /* even without callbacks: events are on */
static _Atomic int wake_fd = -1;   /* the events descriptor the thread polls, or -1 */
static _Atomic uint64_t wake_ino;  /* and its inode: still ours? (see is_ours) */
static pthread_t thread_id;
static _Atomic uint64_t calls, bytes, rounds;
/* Parking (ml_reclaim_park): asked of the thread, which leaves its loop at the top,
 * says so and returns; its kernel id tells when the kernel has let it go. */
static _Atomic bool park_req, park_ack;
static _Atomic int parked;            /* parks in progress: no thread is started meanwhile */
static _Atomic int thread_tid;        /* the running thread's kernel id */
static _Atomic int thread_pid;        /* the process it runs in (a vfork child shares this) */
static _Atomic bool create_failed;    /* pthread_create refused once: inline from then on */
static _Atomic uint64_t last_pass_ns; /* when the thread last finished a pass */

static void futex_wait(_Atomic uint32_t *addr, uint32_t val, uint64_t ns) {
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ULL),
                          .tv_nsec = (long)(ns % 1000000000ULL)};
    syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, &ts, NULL, 0);
}
static void futex_wake(_Atomic uint32_t *addr) {
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

/* The application may close our descriptor and reuse its number (close_range in a
 * running process). Before writing to or reading from it, check it still is the
 * same file: another file, pipe or socket has another inode. (Every eventfd shares
 * one anonymous inode, so an application's own eventfd would pass; writing 1 to it
 * costs it a spurious wake, nothing more.) */
static bool is_ours(int fd) {
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_ino == atomic_load(&wake_ino);
}

void ml_reclaim_set_ops(const struct ml_reclaim_ops *o) {
    ops = *o;
}

/* The table's lock is taken with signals blocked: a signal handler that calls fork()
 * (async-signal-safe) on a thread interrupted while holding it would block forever
 * in our pthread_atfork handler, which takes it too. */
static uint64_t lock_table(void) {
    uint64_t old = ml_sigblock_all();
    pthread_mutex_lock(&table_lock);
    return old;
}
static void unlock_table(uint64_t old) {
    pthread_mutex_unlock(&table_lock);
    ml_sigrestore(old);
}

int ml_reclaim_next_handle(int prev, const int *in_use, int n) {
    int h = prev;
    for (;;) {
        h = h >= INT_MAX || h < 0 ? 1 : h + 1; /* never signed overflow */
        bool taken = false;
        for (int i = 0; i < n && !taken; i++)
            taken = in_use[i] == h;
        if (!taken) return h;
    }
}

static bool on_reclaim_thread(void) {
    return atomic_load(&thread_running) && pthread_equal(pthread_self(), thread_id);
}

int ml_reclaim_register(memlimit_reclaim_fn fn, void *arg, int priority) {
    if (!fn) {
        errno = EINVAL;
        return -1;
    }
    uint64_t mask = lock_table();
    int slot = -1, used[ML_MAX_CALLBACKS], n = 0;
    for (int i = 0; i < ML_MAX_CALLBACKS; i++) {
        if (!R.e[i].fn && slot < 0) slot = i;
        if (R.e[i].fn) used[n++] = R.e[i].handle;
    }
    if (slot < 0) {
        unlock_table(mask);
        errno = ENOSPC;
        return -1;
    }
    /* handles are > 0 and, after 2^31 registrations, still unique */
    int h = R.next_handle = ml_reclaim_next_handle(R.next_handle, used, n);
    R.e[slot] = (struct entry){.fn = fn,
                               .arg = arg,
                               .priority = priority,
                               .handle = h,
                               .order = R.next_order++,
                               .active = true};
    R.count++;
    unlock_table(mask);
    ml_reclaim_ensure_thread();
    return h;
}

int ml_reclaim_unregister(int handle) {
    uint64_t mask = lock_table();
    struct entry *e = NULL;
    for (int i = 0; i < ML_MAX_CALLBACKS && !e; i++)
        if (R.e[i].fn && R.e[i].active && R.e[i].handle == handle) e = &R.e[i];
    if (!e) {
        unlock_table(mask);
        errno = EINVAL;
        return -1;
    }
    e->active = false;
    /* Exactly one party frees the slot. A callback unregistering itself (this thread
     * is making the call): the round frees it when the call returns. Otherwise wait
     * for a running call to return, then free it here. */
    if (e->busy && pthread_equal(e->runner, pthread_self())) {
        e->free_on_return = true;
    } else {
        while (e->busy)
            pthread_cond_wait(&table_idle, &table_lock);
        e->fn = NULL;
        R.count--;
    }
    unlock_table(mask);
    return 0;
}

struct pick {
    int handle, priority;
    uint64_t order;
};

int ml_reclaim_round(enum memlimit_level level) {
    struct pick order[ML_MAX_CALLBACKS];
    int n = 0;
    pthread_mutex_lock(&table_lock);
    for (int i = 0; i < ML_MAX_CALLBACKS; i++)
        if (R.e[i].fn && R.e[i].active)
            order[n++] = (struct pick){R.e[i].handle, R.e[i].priority, R.e[i].order};
    pthread_mutex_unlock(&table_lock);
    /* ascending priority, then registration order (insertion sort: n is small) */
    for (int i = 1; i < n; i++) {
        struct pick k = order[i];
        int j = i - 1;
        while (j >= 0 && (order[j].priority > k.priority ||
                          (order[j].priority == k.priority && order[j].order > k.order))) {
            order[j + 1] = order[j];
            j--;
        }
        order[j + 1] = k;
    }
    int called = 0;
    uint64_t first_usage = 0, round_freed = 0, t0 = ops.trace ? ml_now_ns() : 0;
    for (int i = 0; i < n; i++) {
        enum memlimit_level now_level = level;
        uint64_t usage = ops.measure ? ops.measure(&now_level) : 0;
        if (i == 0) first_usage = usage;
        uint64_t target = ops.target ? ops.target(level) : 0;
        size_t want = usage > target ? (size_t)(usage - target) : 0;
        if (level >= MEMLIMIT_LEVEL_SOFT && want == 0) break; /* under the target: done */
        if (level == MEMLIMIT_LEVEL_MODERATE) want = 0;       /* informational */
        if (want && ops.share) want = (size_t)ops.share(want, usage);
        pthread_mutex_lock(&table_lock);
        struct entry *e = NULL;
        for (int k = 0; k < ML_MAX_CALLBACKS && !e; k++)
            if (R.e[k].fn && R.e[k].active && R.e[k].handle == order[i].handle) e = &R.e[k];
        if (!e) { /* unregistered meanwhile */
            pthread_mutex_unlock(&table_lock);
            continue;
        }
        memlimit_reclaim_fn fn = e->fn;
        void *arg = e->arg;
        e->busy = true;
        e->runner = pthread_self();
        pthread_mutex_unlock(&table_lock);

        size_t freed = fn(level, want, arg);
        /* counted before the slot is released: once memlimit_unregister returns, its
         * callback's calls are in memlimit_stats */
        atomic_fetch_add(&calls, 1);
        atomic_fetch_add(&bytes, freed);

        pthread_mutex_lock(&table_lock);
        e->busy = false;
        if (e->free_on_return) { /* it unregistered itself */
            e->fn = NULL;
            e->free_on_return = false;
            R.count--;
        }
        pthread_cond_broadcast(&table_idle);
        pthread_mutex_unlock(&table_lock);
        round_freed += freed;
        called++;
    }
    uint64_t nr = atomic_fetch_add(&rounds, 1) + 1;
    if (ops.trace && called) {
        uint64_t took = ml_now_ns() - t0;
        uint64_t after = ops.measure ? ops.measure(NULL) : 0;
        char a[24], b[24], c[24], d[24];
        ml_log("round #%llu (%s) at %s: callbacks freed %s (%d of %d called) in %s, now %s",
               (unsigned long long)nr, ml_level_name(level), ml_fmt_bytes(a, first_usage),
               ml_fmt_bytes(b, round_freed), called, n, ml_fmt_ns(c, took), ml_fmt_bytes(d, after));
    }
    return called;
}

/* ---- pacing ---- */

bool ml_round_due(const struct ml_round_policy *p, uint64_t now, uint64_t every,
                  enum memlimit_level lv, uint64_t usage, uint64_t rise) {
    if (!p->last_ns || lv > p->level_then) return true;
    if (p->backoff_ns && usage >= p->usage_then + rise) return true; /* growing again */
    uint64_t wait = every > p->backoff_ns ? every : p->backoff_ns;
    return now - p->last_ns >= wait;
}

void ml_round_update(struct ml_round_policy *p, uint64_t now, enum memlimit_level lv,
                     uint64_t reported, uint64_t usage_before, uint64_t usage_after,
                     uint64_t progress) {
    p->last_ns = now;
    p->level_then = lv;
    if (reported || usage_after + progress <= usage_before) {
        p->backoff_ns = 0;
        return;
    }
    p->usage_then = usage_after;
    p->backoff_ns = p->backoff_ns ? p->backoff_ns * 2 : ML_ROUND_FIRST_BACKOFF_NS;
    if (p->backoff_ns > ML_ROUND_MAX_BACKOFF_NS) p->backoff_ns = ML_ROUND_MAX_BACKOFF_NS;
}

/* ---- the thread ---- */

/* At most this often per level: a program that allocates at GB/s grows by
 * megabytes per millisecond, so near the limit rounds must follow closely; a round
 * under the target returns at once, so frequent rounds cost little. */
#define ROUND_EVERY_MODERATE_NS (1000ULL * 1000000) /* 1 s */
#define ROUND_EVERY_SOFT_NS     (5ULL * 1000000)    /* 5 ms */
#define ROUND_EVERY_CRITICAL_NS (1ULL * 1000000)    /* 1 ms */
#define IDLE_WAIT_NS            (500ULL * 1000000) /* re-sample (and re-read limits) every 0.5 s when idle */
#define BUSY_WAIT_NS            (5ULL * 1000000) /* and every 5 ms near the limit */

static uint64_t round_every(enum memlimit_level lv) {
    return lv >= MEMLIMIT_LEVEL_CRITICAL ? ROUND_EVERY_CRITICAL_NS
           : lv >= MEMLIMIT_LEVEL_SOFT   ? ROUND_EVERY_SOFT_NS
                                         : ROUND_EVERY_MODERATE_NS;
}

static void *thread_main(void *unused) {
    (void)unused;
    atomic_store(&thread_tid, (int)syscall(SYS_gettid));
    struct ml_round_policy pace = {0};
    bool lost = false;
    for (;;) {
        uint32_t seq = atomic_load(&wake_seq);
        if (atomic_load(&park_req)) { /* the safe point: no round, no trim, nothing held */
            atomic_store(&thread_running, false);
            atomic_store(&park_ack, true);
            futex_wake(&round_seq);
            return NULL;
        }
        enum memlimit_level lv = MEMLIMIT_LEVEL_NONE;
        if (ops.measure) ops.measure(&lv);
        if (lv >= MEMLIMIT_LEVEL_MODERATE) {
            if (ops.trim) ops.trim(lv, 0);
            uint64_t usage = ops.measure ? ops.measure(&lv) : 0;
            uint64_t target = ops.target ? ops.target(lv) : 0;
            uint64_t rise = target / 64 > (1u << 20) ? target / 64 : (1u << 20);
            /* a rise in level runs a round at once; otherwise at most every round_every,
             * and less often while rounds free nothing */
            if (lv >= MEMLIMIT_LEVEL_MODERATE &&
                ml_round_due(&pace, ml_now_ns(), round_every(lv), lv, usage, rise)) {
                uint64_t before = atomic_load(&bytes);
                ml_reclaim_round(lv);
                uint64_t reported = atomic_load(&bytes) - before;
                /* what callbacks freed sits in the allocator until it is trimmed */
                if (reported && ops.trim) ops.trim(lv, reported);
                uint64_t after = ops.measure ? ops.measure(NULL) : 0;
                ml_round_update(&pace, ml_now_ns(), lv, reported, usage, after, rise);
            }
        }
        if (lv < MEMLIMIT_LEVEL_MODERATE) pace.level_then = lv;
        atomic_store(&last_pass_ns, ml_now_ns());
        atomic_fetch_add(&round_seq, 1);
        futex_wake(&round_seq);
        uint64_t wait = lv >= MEMLIMIT_LEVEL_MODERATE ? BUSY_WAIT_NS : IDLE_WAIT_NS;
        if (ops.wait) wait = ops.wait(wait);
        struct pollfd fds[ML_RECLAIM_MAX_FDS];
        uint64_t ino = 0;
        int n = ops.events ? ops.events(fds, ML_RECLAIM_MAX_FDS, lost, &ino) : 0;
        int fd = n > 0 ? fds[0].fd : -1;
        lost = false;
        if (fd != atomic_load(&wake_fd)) {
            /* the inode from its creation: one taken here could already be that of
             * whatever the application opened under the same number since */
            atomic_store(&wake_fd, -1);
            atomic_store(&wake_ino, ino);
            if (fd >= 0) atomic_store(&wake_fd, fd);
        }
        if (fd < 0) {
            if (atomic_load(&wake_seq) == seq) futex_wait(&wake_seq, seq, wait);
        } else if (!is_ours(fd)) { /* closed or reused: back to the futex next pass */
            atomic_store(&wake_fd, -1);
            lost = true;
        } else if (atomic_load(&wake_seq) == seq) {
            /* kernel events and the slow path's wakes arrive on fds[0], other kernel
             * sources on the rest */
            fds[0].events = POLLIN;
            fds[0].revents = 0;
            int r = poll(fds, (nfds_t)n, (int)(wait / 1000000));
            if (r > 0 && ((fds[0].revents & POLLNVAL) || !is_ours(fd))) { /* closed or reused */
                atomic_store(&wake_fd, -1);
                lost = true;
            } else if (r > 0 && (fds[0].revents & POLLIN)) {
                uint64_t v;
                (void)!read(fd, &v, sizeof v); /* non-blocking: clears the counter */
                /* no wake of the slow path's since the pass began: a kernel threshold */
                if (ops.trace && atomic_load(&wake_seq) == seq)
                    ml_log("events: woken by a kernel threshold");
            }
            bool other = false;
            for (int i = 1; i < n && r > 0; i++)
                other |= fds[i].revents != 0;
            if (other && ops.fired) ops.fired(fds, n);
        }
    }
    return NULL;
}

bool ml_reclaim_registered(void) {
    return atomic_load_explicit(&R.count, memory_order_relaxed) > 0;
}

bool ml_reclaim_running(void) {
    return atomic_load_explicit(&thread_running, memory_order_relaxed);
}

void ml_reclaim_wake(void) {
    atomic_fetch_add(&wake_seq, 1);
    futex_wake(&wake_seq);
    int fd = atomic_load(&wake_fd);
    if (is_ours(fd)) { /* an eventfd: adds 1 to its counter, never blocks */
        uint64_t one = 1;
        (void)!write(fd, &one, sizeof one);
    }
}

void ml_reclaim_want_thread(void) {
    atomic_store(&thread_wanted, true);
}

/* Said once: what the thread would have done does not happen in this process. */
static void no_pthread(void) {
    static atomic_flag said = ATOMIC_FLAG_INIT;
    if (!atomic_flag_test_and_set(&said))
        ml_log("cannot start the memlimit thread: this glibc keeps pthread_create in "
               "libpthread.so.0, which the program does not load (add it to LD_PRELOAD after "
               "libmemlimit.so): no kernel events, no reclaim callbacks; trims run on the "
               "allocating thread");
}

void ml_reclaim_ensure_thread(void) {
    if (atomic_load(&thread_running) || atomic_load(&parked) || atomic_load(&create_failed) ||
        (atomic_load(&R.count) == 0 && !atomic_load(&thread_wanted)))
        return;
    bool expect = false;
    if (!atomic_compare_exchange_strong(&thread_starting, &expect, true)) return;
    /* a park began meanwhile: it waits for this flag, then finds no thread */
    if (!atomic_load(&thread_running) && !atomic_load(&parked)) {
        /* the thread takes no signals meant for the application */
        sigset_t all, old;
        sigfillset(&all);
        /* (glibc before 2.34 keeps pthread_create, and before 2.32 pthread_sigmask, in
         * libpthread.so.0: where the program has not loaded it, no thread) */
        if (!ML_HAVE(pthread_create)) {
            no_pthread();
            atomic_store(&thread_starting, false);
            return;
        }
        pthread_sigmask(SIG_SETMASK, &all, &old);
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_t t;
        int err = pthread_create(&t, &attr, thread_main, NULL); /* its error, not errno */
        if (err == 0) {
            thread_id = t;
            atomic_store(&thread_pid, (int)syscall(SYS_getpid));
            atomic_store(&thread_running, true);
            if (ML_HAVE(pthread_setname_np)) pthread_setname_np(t, "memlimit");
        } else {
            /* seccomp, RLIMIT_NPROC, a full pid table: said once, not retried (each try
             * is a clone); the slow path trims inline as without the thread */
            atomic_store(&create_failed, true);
            ml_log("cannot start the memlimit thread: %s; no kernel events or reclaim "
                   "callbacks in this process, trims run on the allocating thread",
                   strerrordesc_np(err));
        }
        pthread_attr_destroy(&attr);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    atomic_store(&thread_starting, false);
}

bool ml_reclaim_park(uint64_t timeout_ns) {
    atomic_fetch_add(&parked, 1); /* from here on no thread is started */
    /* not ours to park: none, this is it (a callback calling unshare), or a vfork
     * child, whose process never had it */
    if (!atomic_load(&thread_running) || on_reclaim_thread() ||
        atomic_load(&thread_pid) != (int)syscall(SYS_getpid))
        return true;
    while (atomic_load(&thread_starting)) /* a start in progress on another thread */
        sched_yield();
    if (!atomic_load(&thread_running)) return true;
    atomic_store(&park_ack, false);
    atomic_store(&park_req, true);
    ml_reclaim_wake();
    uint64_t deadline = ml_now_ns() + timeout_ns;
    while (!atomic_load(&park_ack)) {
        uint64_t now = ml_now_ns();
        if (now >= deadline) break;
        uint32_t s = atomic_load(&round_seq);
        if (!atomic_load(&park_ack)) futex_wait(&round_seq, s, deadline - now);
    }
    /* in a callback longer than the bound (one that waits for a lock this caller
     * holds): it stays, and the call gets the kernel's answer to a threaded process */
    if (atomic_exchange(&park_req, false) && !atomic_load(&park_ack)) return false;
    /* returned: the kernel counts it until it has reaped it (ESRCH then) */
    int tid = atomic_load(&thread_tid), pid = (int)syscall(SYS_getpid);
    for (int i = 0; tid > 0 && i < 20000 && syscall(SYS_tgkill, pid, tid, 0) == 0; i++) {
        struct timespec ts = {0, 10000};
        nanosleep(&ts, NULL);
    }
    return true;
}

void ml_reclaim_unpark(void) {
    if (atomic_fetch_sub(&parked, 1) == 1) ml_reclaim_ensure_thread();
}

uint64_t ml_reclaim_last_pass_ns(void) {
    return atomic_load_explicit(&last_pass_ns, memory_order_relaxed);
}

bool ml_reclaim_wait_round(uint64_t timeout_ns) {
    if (!ml_reclaim_running() || on_reclaim_thread()) return false;
    uint32_t start = atomic_load(&round_seq);
    ml_reclaim_wake();
    uint64_t deadline = ml_now_ns() + timeout_ns;
    /* the pass in progress may have begun before our wake: wait for two */
    for (;;) {
        uint32_t now_seq = atomic_load(&round_seq);
        if (now_seq - start >= 2) return true;
        uint64_t now = ml_now_ns();
        if (now >= deadline) return false;
        futex_wait(&round_seq, now_seq, deadline - now);
    }
}

uint64_t ml_reclaim_calls(void) {
    return atomic_load(&calls);
}
uint64_t ml_reclaim_bytes(void) {
    return atomic_load(&bytes);
}
uint64_t ml_reclaim_rounds(void) {
    return atomic_load(&rounds);
}

/* fork: the child has one thread; our thread and any call it was making are gone */
static void prepare(void) {
    pthread_mutex_lock(&table_lock); /* never interrupted while held: see lock_table */
}
static void parent(void) {
    pthread_mutex_unlock(&table_lock);
}
static void child(void) {
    /* this thread locked it in prepare: unlocking is defined, re-initialising a
     * locked mutex is not (ThreadSanitizer reports it as a double lock) */
    pthread_mutex_unlock(&table_lock);
    pthread_cond_init(&table_idle, NULL);
    /* written only where something changes: each page of R written here would be
     * copied for a child that usually just calls exec */
    for (int i = 0; i < ML_MAX_CALLBACKS; i++) {
        if (R.e[i].fn && !R.e[i].active) { /* its unregister was in progress */
            R.e[i].fn = NULL;
            R.count--;
        }
        if (R.e[i].busy || R.e[i].free_on_return) R.e[i].busy = R.e[i].free_on_return = false;
    }
    atomic_store(&thread_running, false);
    atomic_store(&thread_starting, false);
    atomic_store(&park_req, false);
    atomic_store(&parked, 0);   /* a park in another thread of the parent's */
    atomic_store(&wake_fd, -1); /* the parent's: the child's thread makes its own */
}

static __attribute__((constructor)) void reclaim_atfork(void) {
    pthread_atfork(prepare, parent, child);
}
