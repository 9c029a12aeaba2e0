/* SPDX-License-Identifier: MIT */
#include "sysio.h"
#include "profile.h"
#include "have.h"
#include "cold.h"
#include "profile_live.h"
#include "profile_regions.h"
#include "rawmem.h"
#include "fileio.h"
#include "fmath.h"
#include "log.h"
#include "siglock.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static bool prof_on; /* set once by a successful ml_prof_init */

bool ml_prof_enabled(void) {
    return prof_on;
}

#define MAX_DEPTH 48
#define NSTACKS   ML_PROF_NSTACKS /* distinct stacks; power of two */
#define NLIVE     (1u << 17)      /* live table slots; 3/4 may be used (48 GiB at 512 KiB) */
#define LIVE_MAX  (NLIVE / 4 * 3)
#define FILTER_LG 20         /* lg of the counters of live sampled blocks: free's quick "no" */
#define NREGIONS  (1u << 15) /* sampled mmap regions live at once (32 GiB of 1 MiB arenas) */

struct stack {
    uint64_t hash;
    uint32_t depth;
    uint64_t live_n, live_b, alloc_n, alloc_b; /* raw sample counts and sizes */
    uintptr_t pc[MAX_DEPTH];
};
static struct {
    uint64_t rate;
    struct stack *stacks;
    struct ml_prof_live live;       /* sampled heap blocks (profile_live.c) */
    struct ml_prof_regions regions; /* sampled mmap regions, apart from heap blocks */
    uintptr_t page;
    uint32_t nstacks; /* used stack entries */
    uint64_t samples, dropped;
    atomic_flag lock;
    int (*backtrace)(void **, int);
    uintptr_t self_lo, self_hi; /* our own code: frames there are not the caller's */
} P = {.lock = ATOMIC_FLAG_INIT};

/* live sampled regions: munmap's quick "no", read without the lock */
_Atomic uint32_t ml_prof_nregions;

/* lock returns the thread's signal mask, which unlock restores */
static uint64_t lock(void) {
    return ml_siglock(&P.lock);
}
static bool try_lock(uint64_t *mask) {
    return ml_siglock_try(&P.lock, mask);
}
static void unlock(uint64_t mask) {
    ml_sigunlock(&P.lock, mask);
}

/* live blocks' and regions' objects and bytes are their stack's live counts (under
 * the lock) */
static void stack_count(void *arg, uint32_t s, int64_t objects, int64_t bytes) {
    (void)arg;
    P.stacks[s].live_n += (uint64_t)objects;
    P.stacks[s].live_b += (uint64_t)bytes;
}

static int find_self(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    (void)arg;
    uintptr_t me = (uintptr_t)&find_self;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (me >= lo && me < hi) {
            P.self_lo = lo;
            P.self_hi = hi;
            return 1;
        }
    }
    return 0;
}

/* libunwind 1.6 (x86_64) keeps a pipe to validate addresses, made at its first unwind
 * at the lowest free descriptors. A program that closes descriptors it did not open
 * and reuses the numbers would have libunwind read from, write to or close its files.
 * So the first unwind is made here with the low numbers taken: the pipe lands near
 * the descriptor limit (at most 1024), where programs rarely reach. */
static void first_unwind_high(void) {
    static ML_COLD int held[1024];
    int n = 0, top = 1024;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)top) top = (int)rl.rlim_cur;
    top -= 4; /* the pipe's two, and room */
    int fd = ml_open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd >= 0) held[n++] = fd;
    while (fd >= 0 && fd < top - 1 && n < 1024) {
        fd = fcntl(held[0], F_DUPFD_CLOEXEC, 0); /* the lowest free number */
        if (fd >= 0) held[n++] = fd;
    }
    void *pcs[4];
    P.backtrace(pcs, 4);
    while (n)
        close(held[--n]);
}

int ml_prof_init(uint64_t rate) {
    /* RTLD_LOCAL: libunwind's own _Unwind_* must not replace the C++ runtime's */
    if (!ML_HAVE(dlopen)) return ENOSYS; /* glibc before 2.34, without libdl */
    void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    if (!h) return ENOENT;
    P.backtrace = (int (*)(void **, int))dlsym(h, "unw_backtrace");
    if (!P.backtrace) return ENOENT;
    P.stacks = ml_raw_map(sizeof(struct stack) * NSTACKS, MAP_NORESERVE);
    P.live = (struct ml_prof_live){
        .slot = ml_raw_map(sizeof(struct ml_prof_block) * NLIVE, MAP_NORESERVE),
        .filter = ml_raw_map(1u << FILTER_LG, MAP_NORESERVE),
        .size = NLIVE,
        .max = LIVE_MAX,
        .filter_lg = FILTER_LG,
        .count = stack_count,
    };
    P.regions = (struct ml_prof_regions){
        .r = ml_raw_map(sizeof(struct ml_prof_region) * NREGIONS, MAP_NORESERVE),
        .cap = NREGIONS,
        .count = stack_count,
    };
    if (!P.stacks || !P.live.slot || !P.live.filter || !P.regions.r) return ENOMEM;
    atomic_store(&ml_prof_nregions, 0);
    long page = ml_page_size();
    P.page = page > 0 ? (uintptr_t)page : 4096;
    dl_iterate_phdr(find_self, NULL);
    first_unwind_high();
    P.rate = rate ? rate : 1;
    prof_on = true;
    return 0;
}

/* ---- sampling ---- */

/* tl_rng 0: not seeded yet (xorshift never reaches 0 from a seed that is not) */
static __thread uint64_t tl_gap, tl_ref, tl_rng;

void ml_prof_seed(uint64_t seed) {
    tl_rng = seed | 1;
}

static uint64_t next_gap(void) {
    if (!tl_rng) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        tl_rng = ((uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ULL ^ (uintptr_t)&tl_rng ^
                  0xD1B54A32D192ED03ULL) |
                 1;
    }
    /* xorshift64*, then an exponential with mean rate: each byte equally likely */
    tl_rng ^= tl_rng >> 12;
    tl_rng ^= tl_rng << 25;
    tl_rng ^= tl_rng >> 27;
    double u = (double)((tl_rng * 0x2545F4914F6CDD1DULL) >> 11) * 0x1.0p-53; /* [0, 1) */
    double g = -ml_ln(1.0 - u) * (double)P.rate;
    return g < 1.0 ? 1 : g > 1e15 ? (uint64_t)1e15 : (uint64_t)g;
}

static uint32_t stack_slot(const uintptr_t *pc, int depth) {
    uint64_t h = 14695981039346656037ULL;
    for (int i = 0; i < depth; i++)
        h = ml_prof_mix(h ^ pc[i]);
    h |= 1; /* 0 marks an empty slot */
    for (uint32_t i = 0, s = (uint32_t)h & (NSTACKS - 1); i < NSTACKS;
         i++, s = (s + 1) & (NSTACKS - 1)) {
        struct stack *e = &P.stacks[s];
        if (e->hash == 0) {
            if (P.nstacks >= NSTACKS * 7 / 8) return UINT32_MAX; /* full: keep probes short */
            e->hash = h;
            e->depth = (uint32_t)depth;
            memcpy(e->pc, pc, sizeof *pc * (size_t)depth);
            P.nstacks++;
            return s;
        }
        if (e->hash == h && e->depth == (uint32_t)depth &&
            memcmp(e->pc, pc, sizeof *pc * (size_t)depth) == 0)
            return s;
    }
    return UINT32_MAX;
}

/* ---- mmap regions (profile_regions.c), under the lock ---- */

static void regions_publish(void) {
    atomic_store_explicit(&ml_prof_nregions, P.regions.n, memory_order_release);
}

static uintptr_t page_up(uintptr_t n) {
    return (n + P.page - 1) & ~(P.page - 1);
}

/* ---- sampling a block or a region ---- */

static void record(void *p, size_t n) {
    void *raw[MAX_DEPTH + 8];
    int got = P.backtrace(raw, MAX_DEPTH + 8);
    uintptr_t pc[MAX_DEPTH];
    int depth = 0, i = 0;
    while (i < got && (uintptr_t)raw[i] >= P.self_lo && (uintptr_t)raw[i] < P.self_hi)
        i++; /* our own frames: the stack starts at malloc's (or mmap's) caller */
    for (; i < got && depth < MAX_DEPTH; i++)
        pc[depth++] = (uintptr_t)raw[i];
    uint64_t mask = lock();
    P.samples++;
    uint32_t s = stack_slot(pc, depth);
    if ((uintptr_t)p & 1) { /* ML_PROF_REGION: a mapping, in whole pages */
        uintptr_t lo = (uintptr_t)p & ~(uintptr_t)1, hi = lo + page_up(n);
        if (s == UINT32_MAX || hi < lo || !ml_prof_regions_insert(&P.regions, lo, hi, s)) {
            P.dropped++;
        } else {
            P.stacks[s].alloc_n++;
            P.stacks[s].alloc_b += hi - lo;
        }
        regions_publish();
        unlock(mask);
        return;
    }
    /* an address we still hold may be handed out again (a free we did not see: C++
     * delete of jemalloc or tcmalloc): the put forgets the old block */
    if (s == UINT32_MAX || !ml_prof_live_put(&P.live, (uintptr_t)p, s, n)) {
        P.dropped++;
    } else {
        P.stacks[s].alloc_n++;
        P.stacks[s].alloc_b += n;
    }
    unlock(mask);
}

/* [a, a+len) as munmap takes it: page-aligned start, length rounded up; false where
 * munmap would fail (EINVAL), so nothing is forgotten for a call that did nothing */
static bool page_range(const void *a, size_t len, uintptr_t *lo, uintptr_t *hi) {
    *lo = (uintptr_t)a;
    if (!len || (*lo & (P.page - 1))) return false;
    *hi = *lo + page_up(len);
    if (*hi < *lo) *hi = UINTPTR_MAX & ~(P.page - 1);
    return true;
}

void ml_prof_unmap(const void *a, size_t len) {
    uintptr_t lo, hi;
    if (!prof_on || !page_range(a, len, &lo, &hi)) return;
    uint64_t mask = lock();
    ml_prof_regions_cut(&P.regions, lo, hi, NULL, 0);
    regions_publish();
    unlock(mask);
}

void ml_prof_move_begin(struct ml_prof_move *m, const void *old, size_t len) {
    m->n = 0;
    if (!prof_on || !page_range(old, len, &m->old_lo, &m->old_hi)) return;
    uint64_t mask = lock();
    m->n = ml_prof_regions_cut(&P.regions, m->old_lo, m->old_hi, m->r, ML_PROF_MOVE_MAX);
    regions_publish();
    unlock(mask);
}

void ml_prof_move_end(struct ml_prof_move *m, const void *to, size_t len) {
    if (!m->n) return;
    uintptr_t base = (uintptr_t)to, end = base + page_up(len);
    uint64_t mask = lock();
    for (uint32_t k = 0; k < m->n; k++) {
        struct ml_prof_region g = m->r[k];
        uintptr_t lo = base + (g.lo - m->old_lo), hi = base + (g.hi - m->old_lo);
        if (g.hi == m->old_hi || hi > end) hi = end; /* the part at the end follows its size */
        /* the cut counted a whole region as gone, the insert counts it again:
         * a move keeps the count of objects (a part moved alone is one more) */
        if (lo < hi) ml_prof_regions_insert(&P.regions, lo, hi, g.stack);
    }
    regions_publish();
    unlock(mask);
}

size_t ml_prof_account(void *p, size_t n, size_t left) {
    if (!tl_gap) tl_gap = next_gap();
    uint64_t used = tl_ref > left ? tl_ref - left : 0; /* taken from the budget since issued */
    tl_gap = used < tl_gap ? tl_gap - used : 0;
    tl_ref = 0;
    if (p) {
        if (n >= tl_gap) { /* the next sampled byte is in this block */
            record(p, n);
            tl_gap = next_gap();
        } else {
            tl_gap -= n;
        }
    }
    return tl_gap ? (size_t)tl_gap : 1;
}

void ml_prof_issued(size_t budget) {
    tl_ref = budget;
}

/* A zero count is exact: each recorded block counted in its bucket until removed.
 * A free that races with nothing of its own (the block's record happened before its
 * malloc returned) sees at least that block's count. */
bool ml_prof_maybe_sampled(const void *p) {
    return ml_prof_live_maybe(&P.live, p);
}

/* apart, so that free's test runs without saving registers first */
static __attribute__((noinline)) void forget_sampled(void *p) {
    uint64_t mask = lock();
    ml_prof_live_take(&P.live, (uintptr_t)p, NULL);
    unlock(mask);
}

void ml_prof_forget(void *p) {
    if (ml_prof_maybe_sampled(p)) forget_sampled(p); /* else the common case: no lock */
}

bool ml_prof_realloc_begin(void *p, struct ml_prof_held *h) {
    if (!ml_prof_maybe_sampled(p)) return false;
    uint64_t mask = lock();
    struct ml_prof_block b;
    bool had = ml_prof_live_take(&P.live, (uintptr_t)p, &b);
    if (had) *h = (struct ml_prof_held){.stack = b.stack, .size = b.size};
    unlock(mask);
    return had;
}

void ml_prof_realloc_end(void *old, void *q, size_t n, const struct ml_prof_held *h) {
    if (!q) {
        if (!h || n == 0) return; /* freed by realloc(p, 0), or nothing was sampled */
        q = old, n = h->size;     /* failed: the old block is still there */
    } else if (!h && !ml_prof_maybe_sampled(q)) {
        return; /* the common case: nothing sampled, no lock */
    }
    uint64_t mask = lock();
    /* not counted as an allocation: a realloc is the same object. An entry there was
     * sampled during the realloc (its growth): the whole block now */
    if (!ml_prof_live_resize(&P.live, (uintptr_t)q, n) && h &&
        !ml_prof_live_put(&P.live, (uintptr_t)q, h->stack, n))
        P.dropped++;
    unlock(mask);
}

/* ---- estimates: what pprof computes from a heap_v2 profile ---- */

void ml_prof_scale(uint64_t n, uint64_t b, double *on, double *ob) {
    if (!n || !b) {
        *on = *ob = 0;
        return;
    }
    double avg = (double)b / (double)n, p = 1.0 - ml_exp(-avg / (double)P.rate);
    *on = (double)n / p;
    *ob = (double)b / p;
}

void ml_prof_totals(struct ml_prof_totals *out) {
    memset(out, 0, sizeof *out);
    if (!prof_on) return;
    uint64_t mask = lock();
    double ln = 0, lb = 0, an = 0, ab = 0;
    for (uint32_t i = 0; i < NSTACKS; i++) {
        struct stack *e = &P.stacks[i];
        if (!e->hash) continue;
        double a, b;
        ml_prof_scale(e->live_n, e->live_b, &a, &b);
        ln += a, lb += b;
        ml_prof_scale(e->alloc_n, e->alloc_b, &a, &b);
        an += a, ab += b;
    }
    out->samples = P.samples;
    out->dropped = P.dropped;
    unlock(mask);
    out->live_objects = (uint64_t)ln, out->live_bytes = (uint64_t)lb;
    out->alloc_objects = (uint64_t)an, out->alloc_bytes = (uint64_t)ab;
}

/* ---- what the writers (profile_out.c) read ---- */

uint64_t ml_prof_rate(void) {
    return P.rate;
}

static struct ml_prof_stack view(const struct stack *e) {
    return (struct ml_prof_stack){.live_n = e->live_n,
                                  .live_b = e->live_b,
                                  .alloc_n = e->alloc_n,
                                  .alloc_b = e->alloc_b,
                                  .depth = e->depth,
                                  .pc = e->pc};
}

int ml_prof_each(bool try_only, void (*begin)(const struct ml_prof_stack *total, void *arg),
                 void (*fn)(const struct ml_prof_stack *s, void *arg), void *arg) {
    uint64_t mask;
    if (!try_only)
        mask = lock();
    else if (!try_lock(&mask))
        return EBUSY;
    struct ml_prof_stack t = {0};
    for (uint32_t i = 0; i < NSTACKS; i++) {
        struct stack *e = &P.stacks[i];
        if (!e->hash) continue;
        t.live_n += e->live_n, t.live_b += e->live_b;
        t.alloc_n += e->alloc_n, t.alloc_b += e->alloc_b;
    }
    if (begin) begin(&t, arg);
    for (uint32_t i = 0; i < NSTACKS; i++) {
        if (!P.stacks[i].hash) continue;
        struct ml_prof_stack v = view(&P.stacks[i]);
        fn(&v, arg);
    }
    unlock(mask);
    return 0;
}

/* prepare and the parent's or child's release run on the forking thread, with the
 * lock held in between: the mask can wait in a static */
static uint64_t fork_mask;
void ml_prof_atfork_prepare(void) {
    if (prof_on) fork_mask = lock();
}
void ml_prof_atfork_release(void) {
    if (prof_on) unlock(fork_mask);
}
