/* SPDX-License-Identifier: MIT */
#include "profile.h"
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
/* linear probing with backward-shift deletion: no tombstones, so a freed block's slot
 * is free again and probes stay short however many blocks have come and gone */
struct live {
    uintptr_t p; /* 0 empty */
    uint32_t stack;
    uint64_t size;
};

/* A sampled mmap region, [lo, hi) in pages. Regions are kept apart from heap blocks,
 * sorted by address, since munmap and mremap act on ranges: a region may be unmapped
 * in part, or moved. They never overlap: a mapping the kernel hands out is not in use
 * (an overlapping record is stale: its munmap was not seen, e.g. a raw syscall). */
struct region {
    uintptr_t lo, hi;
    uint32_t stack;
};

static struct {
    uint64_t rate;
    struct stack *stacks;
    struct live *live;
    struct region *regions; /* sorted by lo; nregions used */
    uint32_t nregions;
    uintptr_t page;
    /* live sampled blocks per bucket of addresses, saturating (255 stays "maybe"):
     * written under the lock, read without it on every free */
    _Atomic uint8_t *filter;
    uint32_t nstacks, nlive; /* used stack entries; live slots used */
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
    static int held[1024];
    int n = 0, top = 1024;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)top) top = (int)rl.rlim_cur;
    top -= 4; /* the pipe's two, and room */
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
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
    void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    if (!h) return ENOENT;
    P.backtrace = (int (*)(void **, int))dlsym(h, "unw_backtrace");
    if (!P.backtrace) return ENOENT;
    P.stacks = ml_raw_map(sizeof(struct stack) * NSTACKS, MAP_NORESERVE);
    P.live = ml_raw_map(sizeof(struct live) * NLIVE, MAP_NORESERVE);
    P.filter = ml_raw_map(1u << FILTER_LG, MAP_NORESERVE);
    P.regions = ml_raw_map(sizeof(struct region) * NREGIONS, MAP_NORESERVE);
    if (!P.stacks || !P.live || !P.filter || !P.regions) return ENOMEM;
    P.nregions = 0;
    atomic_store(&ml_prof_nregions, 0);
    long page = sysconf(_SC_PAGESIZE);
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

static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint32_t stack_slot(const uintptr_t *pc, int depth) {
    uint64_t h = 14695981039346656037ULL;
    for (int i = 0; i < depth; i++)
        h = mix(h ^ pc[i]);
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

/* Fibonacci hashing: two instructions, on every free while profiling */
static inline uint32_t filter_slot(const void *p) {
    return (uint32_t)(((uintptr_t)p * 0x9E3779B97F4A7C15ULL) >> (64 - FILTER_LG));
}
/* Under the lock, so a load and a store suffice (no read-modify-write). */
static void filter_add(const void *p) {
    _Atomic uint8_t *c = &P.filter[filter_slot(p)];
    uint8_t v = atomic_load_explicit(c, memory_order_relaxed);
    if (v != UINT8_MAX) atomic_store_explicit(c, (uint8_t)(v + 1), memory_order_release);
}
static void filter_sub(const void *p) {
    _Atomic uint8_t *c = &P.filter[filter_slot(p)];
    uint8_t v = atomic_load_explicit(c, memory_order_relaxed);
    if (v != UINT8_MAX && v) atomic_store_explicit(c, (uint8_t)(v - 1), memory_order_release);
}

static uint32_t live_index(uintptr_t p) {
    return (uint32_t)mix(p) & (NLIVE - 1);
}

/* Empties slot i, moving later entries of its probe run back so that none is left
 * behind a gap. Under the lock. */
static void live_remove(uint32_t i) {
    for (uint32_t j = i;;) {
        j = (j + 1) & (NLIVE - 1);
        if (P.live[j].p == 0) break;
        /* the entry at j may fill the gap unless its home lies in (i, j] */
        uint32_t home = live_index(P.live[j].p);
        if (((j - home) & (NLIVE - 1)) >= ((j - i) & (NLIVE - 1))) {
            P.live[i] = P.live[j];
            i = j;
        }
    }
    P.live[i].p = 0;
    P.nlive--;
}

/* The slot holding p, or the empty slot that ends its probe run. Under the lock;
 * never loops: at most LIVE_MAX of NLIVE slots are used. */
static uint32_t live_find(uintptr_t p) {
    uint32_t slot = live_index(p);
    while (P.live[slot].p != p && P.live[slot].p != 0)
        slot = (slot + 1) & (NLIVE - 1);
    return slot;
}

/* A live block is gone (freed, or its address handed out again): its stack's counts,
 * its filter bucket and its slot. Under the lock. */
static void live_drop(uint32_t slot, const void *p) {
    struct live *l = &P.live[slot];
    struct stack *e = &P.stacks[l->stack];
    e->live_n--;
    e->live_b -= l->size;
    filter_sub(p);
    live_remove(slot);
}

/* ---- mmap regions: under the lock ---- */

static void regions_publish(void) {
    atomic_store_explicit(&ml_prof_nregions, P.nregions, memory_order_release);
}

/* The first region that ends after a (regions are disjoint: their ends are sorted). */
static uint32_t region_after(uintptr_t a) {
    uint32_t lo = 0, hi = P.nregions;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (P.regions[mid].hi <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Takes [a, b) out of the regions: one wholly inside goes, one cut at an end shrinks,
 * one that holds the whole range becomes two (the part above is forgotten when the
 * table is full). Each region is one object of its stack, its bytes its size. With
 * out, the parts taken are copied there (at most cap; the rest are forgotten). */
static uint32_t region_cut(uintptr_t a, uintptr_t b, struct ml_prof_region *out, uint32_t cap) {
    uint32_t i = region_after(a), end = i, nout = 0;
    while (end < P.nregions && P.regions[end].lo < b)
        end++;
    if (i == end) return 0;
    struct region *r = &P.regions[i];
    if (end - i == 1 && r->lo < a && r->hi > b) { /* a hole in the middle */
        struct stack *e = &P.stacks[r->stack];
        if (out && cap) out[nout++] = (struct ml_prof_region){a, b, r->stack};
        e->live_b -= b - a;
        if (P.nregions < NREGIONS) {
            memmove(r + 2, r + 1, sizeof *r * (P.nregions - i - 1));
            r[1] = (struct region){.lo = b, .hi = r->hi, .stack = r->stack};
            P.nregions++;
            e->live_n++;
        } else {
            e->live_b -= r->hi - b;
        }
        r->hi = a;
        return nout;
    }
    uint32_t w = i;
    for (uint32_t k = i; k < end; k++) {
        struct region g = P.regions[k];
        struct stack *e = &P.stacks[g.stack];
        uintptr_t lo = g.lo > a ? g.lo : a, hi = g.hi < b ? g.hi : b;
        if (out && nout < cap) out[nout++] = (struct ml_prof_region){lo, hi, g.stack};
        e->live_b -= hi - lo;
        if (g.lo < a) { /* the first may keep its start */
            g.hi = a;
            P.regions[w++] = g;
        } else if (g.hi > b) { /* the last its end */
            g.lo = b;
            P.regions[w++] = g;
        } else {
            e->live_n--;
        }
    }
    memmove(&P.regions[w], &P.regions[end], sizeof *P.regions * (P.nregions - end));
    P.nregions -= end - w;
    return nout;
}

/* [lo, hi) is mapped afresh: whatever was recorded there is gone. False if full. */
static bool region_insert(uintptr_t lo, uintptr_t hi, uint32_t s) {
    region_cut(lo, hi, NULL, 0);
    if (P.nregions >= NREGIONS) return false;
    uint32_t i = region_after(lo);
    memmove(&P.regions[i + 1], &P.regions[i], sizeof *P.regions * (P.nregions - i));
    P.regions[i] = (struct region){.lo = lo, .hi = hi, .stack = s};
    P.nregions++;
    P.stacks[s].live_n++;
    P.stacks[s].live_b += hi - lo;
    return true;
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
        if (s == UINT32_MAX || hi < lo || !region_insert(lo, hi, s)) {
            P.dropped++;
        } else {
            P.stacks[s].alloc_n++;
            P.stacks[s].alloc_b += hi - lo;
        }
        regions_publish();
        unlock(mask);
        return;
    }
    uint32_t slot = live_find((uintptr_t)p);
    if (P.live[slot].p) {
        /* the allocator handed out an address we still hold (a free we did not see:
         * C++ delete of jemalloc or tcmalloc); the old block is gone */
        live_drop(slot, p);
        slot = live_find((uintptr_t)p);
    }
    if (s == UINT32_MAX || P.nlive >= LIVE_MAX) {
        P.dropped++;
        unlock(mask);
        return;
    }
    P.nlive++;
    filter_add(p);
    P.live[slot] = (struct live){.p = (uintptr_t)p, .stack = s, .size = n};
    struct stack *e = &P.stacks[s];
    e->alloc_n++;
    e->alloc_b += n;
    e->live_n++;
    e->live_b += n;
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
    region_cut(lo, hi, NULL, 0);
    regions_publish();
    unlock(mask);
}

void ml_prof_move_begin(struct ml_prof_move *m, const void *old, size_t len) {
    m->n = 0;
    if (!prof_on || !page_range(old, len, &m->old_lo, &m->old_hi)) return;
    uint64_t mask = lock();
    m->n = region_cut(m->old_lo, m->old_hi, m->r, ML_PROF_MOVE_MAX);
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
        /* region_cut counted a whole region as gone, region_insert counts it again:
         * a move keeps the count of objects (a part moved alone is one more) */
        if (lo < hi) region_insert(lo, hi, g.stack);
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
    return atomic_load_explicit(&P.filter[filter_slot(p)], memory_order_acquire) != 0;
}

/* apart, so that free's test runs without saving registers first */
static __attribute__((noinline)) void forget_sampled(void *p) {
    uint64_t mask = lock();
    uint32_t slot = live_find((uintptr_t)p);
    if (P.live[slot].p) live_drop(slot, p);
    unlock(mask);
}

void ml_prof_forget(void *p) {
    if (ml_prof_maybe_sampled(p)) forget_sampled(p); /* else the common case: no lock */
}

bool ml_prof_realloc_begin(void *p, struct ml_prof_held *h) {
    if (!ml_prof_maybe_sampled(p)) return false;
    uint64_t mask = lock();
    uint32_t slot = live_find((uintptr_t)p);
    bool had = P.live[slot].p != 0;
    if (had) {
        h->stack = P.live[slot].stack;
        h->size = P.live[slot].size;
        live_drop(slot, p);
    }
    unlock(mask);
    return had;
}

/* A live entry for p of n bytes on stack s, not counted as an allocation (a realloc
 * is the same object). Under the lock. */
static void live_put(void *p, size_t n, uint32_t s) {
    uint32_t slot = live_find((uintptr_t)p);
    struct live *l = &P.live[slot];
    if (l->p) { /* sampled during the realloc (its growth): the whole block now */
        P.stacks[l->stack].live_b += n - l->size;
        l->size = n;
        return;
    }
    if (s == UINT32_MAX || P.nlive >= LIVE_MAX) {
        P.dropped++;
        return;
    }
    P.nlive++;
    filter_add(p);
    *l = (struct live){.p = (uintptr_t)p, .stack = s, .size = n};
    P.stacks[s].live_n++;
    P.stacks[s].live_b += n;
}

void ml_prof_realloc_end(void *old, void *q, size_t n, const struct ml_prof_held *h) {
    if (!q) {
        if (!h || n == 0) return; /* freed by realloc(p, 0), or nothing was sampled */
        q = old, n = h->size;     /* failed: the old block is still there */
    } else if (!h && !ml_prof_maybe_sampled(q)) {
        return; /* the common case: nothing sampled, no lock */
    }
    uint64_t mask = lock();
    live_put(q, n, h ? h->stack : UINT32_MAX);
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
