#include "profile.h"
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

bool ml_prof_on;

#define MAX_DEPTH 48
#define NSTACKS   8192       /* distinct stacks; power of two */
#define NLIVE     (1u << 17) /* live table slots; 3/4 may be used (48 GiB at 512 KiB) */
#define LIVE_MAX  (NLIVE / 4 * 3)
#define FILTER_LG 20 /* lg of the counters of live sampled blocks: free's quick "no" */

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

static struct {
    uint64_t rate;
    struct stack *stacks;
    struct live *live;
    /* live sampled blocks per bucket of addresses, saturating (255 stays "maybe"):
     * written under the lock, read without it on every free */
    _Atomic uint8_t *filter;
    uint32_t nstacks, nlive; /* used stack entries; live slots used */
    uint64_t samples, dropped;
    atomic_flag lock;
    int (*backtrace)(void **, int);
    uintptr_t self_lo, self_hi; /* our own code: frames there are not the caller's */
} P = {.lock = ATOMIC_FLAG_INIT};

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

/* Memory straight from the kernel: never through the preload layer's mmap (src/
 * does not call into it), and async-signal-safe for the writers. */
static void *raw_map(size_t bytes, int flags) {
    flags |= MAP_PRIVATE | MAP_ANONYMOUS;
#ifdef __SANITIZE_THREAD__ /* TSan must see the mapping go, or takes its reuse for a race */
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, flags, -1, 0);
#else
    void *m = (void *)syscall(SYS_mmap, NULL, bytes, PROT_READ | PROT_WRITE, flags, -1, 0);
#endif
    return m == MAP_FAILED ? NULL : m;
}
static void raw_unmap(void *p, size_t bytes) {
#ifdef __SANITIZE_THREAD__
    munmap(p, bytes);
#else
    syscall(SYS_munmap, p, bytes);
#endif
}

static struct ml_prof_deps deps;
void ml_prof_set_deps(const struct ml_prof_deps *d) {
    deps = *d;
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
    P.stacks = raw_map(sizeof(struct stack) * NSTACKS, MAP_NORESERVE);
    P.live = raw_map(sizeof(struct live) * NLIVE, MAP_NORESERVE);
    P.filter = raw_map(1u << FILTER_LG, MAP_NORESERVE);
    if (!P.stacks || !P.live || !P.filter) return ENOMEM;
    dl_iterate_phdr(find_self, NULL);
    first_unwind_high();
    P.rate = rate ? rate : 1;
    ml_prof_on = true;
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

static void record(void *p, size_t n) {
    void *raw[MAX_DEPTH + 8];
    int got = P.backtrace(raw, MAX_DEPTH + 8);
    uintptr_t pc[MAX_DEPTH];
    int depth = 0, i = 0;
    while (i < got && (uintptr_t)raw[i] >= P.self_lo && (uintptr_t)raw[i] < P.self_hi)
        i++; /* our own frames: the stack starts at malloc's caller */
    for (; i < got && depth < MAX_DEPTH; i++)
        pc[depth++] = (uintptr_t)raw[i];
    uint64_t mask = lock();
    P.samples++;
    uint32_t s = stack_slot(pc, depth);
    uint32_t slot = live_find((uintptr_t)p);
    struct live *l = &P.live[slot];
    if (l->p) {
        /* the allocator handed out an address we still hold (a free we did not see:
         * C++ delete of jemalloc or tcmalloc); the old block is gone */
        struct stack *old = &P.stacks[l->stack];
        old->live_n--;
        old->live_b -= l->size;
    }
    if (s == UINT32_MAX || (!l->p && P.nlive >= LIVE_MAX)) {
        if (l->p) {
            filter_sub(p);
            live_remove(slot);
        }
        P.dropped++;
        unlock(mask);
        return;
    }
    if (!l->p) { /* (a replaced entry keeps its count: same address, same bucket) */
        P.nlive++;
        filter_add(p);
    }
    *l = (struct live){.p = (uintptr_t)p, .stack = s, .size = n};
    struct stack *e = &P.stacks[s];
    e->alloc_n++;
    e->alloc_b += n;
    e->live_n++;
    e->live_b += n;
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
    struct live *l = &P.live[slot];
    if (l->p) {
        struct stack *e = &P.stacks[l->stack];
        e->live_n--;
        e->live_b -= l->size;
        filter_sub(p);
        live_remove(slot);
    }
    unlock(mask);
}

void ml_prof_forget(void *p) {
    if (ml_prof_maybe_sampled(p)) forget_sampled(p); /* else the common case: no lock */
}

/* ---- estimates: what pprof computes from a heap_v2 profile ---- */

static void scale(uint64_t n, uint64_t b, double *on, double *ob) {
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
    if (!ml_prof_on) return;
    uint64_t mask = lock();
    double ln = 0, lb = 0, an = 0, ab = 0;
    for (uint32_t i = 0; i < NSTACKS; i++) {
        struct stack *e = &P.stacks[i];
        if (!e->hash) continue;
        double a, b;
        scale(e->live_n, e->live_b, &a, &b);
        ln += a, lb += b;
        scale(e->alloc_n, e->alloc_b, &a, &b);
        an += a, ab += b;
    }
    out->samples = P.samples;
    out->dropped = P.dropped;
    unlock(mask);
    out->live_objects = (uint64_t)ln, out->live_bytes = (uint64_t)lb;
    out->alloc_objects = (uint64_t)an, out->alloc_bytes = (uint64_t)ab;
}

/* ---- output ---- */

/* Each write owns its buffer, descriptor and temporary name: writers run at once (a
 * signal handler, the memlimit thread, memlimit_profile_dump, the exit profile), and
 * the signal handler's stack may be small. So the state is mapped (raw_map), never
 * malloc'd or static. */
struct out {
    int fd, err;
    dev_t dev; /* the file we opened: a descriptor the program closed and reused */
    ino_t ino; /* is not ours any more, and nothing more is written to it */
    size_t n;
    char tmp[4096 + 64];
    char buf[64 << 10];
};

static __attribute__((noinline)) bool same_file(int fd, dev_t dev, ino_t ino) {
    struct stat st;
    return fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

static void flush(struct out *o) {
    size_t off = 0;
    if (o->n && !o->err && !same_file(o->fd, o->dev, o->ino)) o->err = EBADF;
    while (off < o->n && !o->err) {
        ssize_t w = write(o->fd, o->buf + off, o->n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)
            o->err = w < 0 ? errno : EIO;
        else
            off += (size_t)w;
    }
    o->n = 0;
}
static void put(struct out *o, const char *s, size_t len) {
    while (len) {
        if (o->n == sizeof o->buf) flush(o);
        size_t k = sizeof o->buf - o->n < len ? sizeof o->buf - o->n : len;
        memcpy(o->buf + o->n, s, k);
        o->n += k, s += k, len -= k;
    }
}
static void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* formats straight into the buffer (no line buffer on a signal handler's stack);
 * every format here is shorter than 160 bytes */
static void putf(struct out *o, const char *fmt, ...) {
    if (sizeof o->buf - o->n < 160) flush(o);
    va_list ap;
    va_start(ap, fmt);
    o->n += ml_vfmt(o->buf + o->n, sizeof o->buf - o->n, fmt, ap);
    va_end(ap);
}

/* /proc/self/maps straight into the buffer; the descriptor is checked like ours */
static void put_maps(struct out *o) {
    int maps = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (maps < 0) return;
    struct stat st;
    if (fstat(maps, &st) != 0) {
        close(maps);
        return;
    }
    for (;;) {
        if (o->n == sizeof o->buf) flush(o);
        if (o->err || !same_file(maps, st.st_dev, st.st_ino)) break;
        ssize_t r = read(maps, o->buf + o->n, sizeof o->buf - o->n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        o->n += (size_t)r;
    }
    if (same_file(maps, st.st_dev, st.st_ino)) close(maps);
}

/* 64 unpredictable bits for the temporary's name: getrandom(2) by syscall (old glibc
 * has no wrapper), without blocking; failing that (kernel < 3.17, no entropy yet),
 * the clock and addresses, which O_EXCL makes safe if not secret */
static uint64_t random_bits(void) {
    uint64_t r = 0;
#ifdef SYS_getrandom
    if (syscall(SYS_getrandom, &r, sizeof r, 1 /* GRND_NONBLOCK */) == (long)sizeof r) return r;
#endif
    static _Atomic uint64_t count;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return mix((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uintptr_t)&r ^
               atomic_fetch_add_explicit(&count, 1, memory_order_relaxed) * 0x9E3779B97F4A7C15ULL);
}

/* The temporary beside path, dot-named, with a random part, created with O_EXCL: a
 * name someone else made (a file they own, a symlink) is never opened, only skipped */
static int open_tmp(struct out *o, const char *path) {
    const char *slash = strrchr(path, '/');
    size_t dl = slash ? (size_t)(slash - path) + 1 : 0;
    if (strlen(path) + 48 >= sizeof o->tmp) return ENAMETOOLONG;
    memcpy(o->tmp, path, dl);
    for (int tries = 0; tries < 8; tries++) {
        size_t n =
            dl + ml_fmt(o->tmp + dl, sizeof o->tmp - dl, ".%s.%d.", path + dl, (int)getpid());
        uint64_t r = random_bits();
        for (int k = 0; k < 16; k++, r >>= 4)
            o->tmp[n++] = "0123456789abcdef"[r & 15];
        memcpy(o->tmp + n, ".tmp", 5);
        o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (o->fd >= 0) {
            struct stat st;
            if (fstat(o->fd, &st) != 0) {
                int e = errno;
                close(o->fd);
                unlink(o->tmp);
                return e;
            }
            o->dev = st.st_dev, o->ino = st.st_ino;
            return 0;
        }
        if (errno != EEXIST) return errno;
    }
    return EEXIST;
}

static int write_locked_part(struct out *o, bool try_only) {
    uint64_t mask;
    if (!try_only)
        mask = lock();
    else if (!try_lock(&mask))
        return EBUSY;
    uint64_t tn = 0, tb = 0, an = 0, ab = 0;
    for (uint32_t i = 0; i < NSTACKS; i++) {
        struct stack *e = &P.stacks[i];
        if (e->hash) tn += e->live_n, tb += e->live_b, an += e->alloc_n, ab += e->alloc_b;
    }
    /* gperftools' heap profile, v2 sampling: pprof scales each line by
     * 1/(1-exp(-avg/rate)), as we sampled */
    putf(o, "heap profile: %llu: %llu [%llu: %llu] @ heap_v2/%llu\n", (unsigned long long)tn,
         (unsigned long long)tb, (unsigned long long)an, (unsigned long long)ab,
         (unsigned long long)P.rate);
    for (uint32_t i = 0; i < NSTACKS; i++) {
        struct stack *e = &P.stacks[i];
        if (!e->hash || !e->alloc_n) continue;
        putf(o, "%llu: %llu [%llu: %llu] @", (unsigned long long)e->live_n,
             (unsigned long long)e->live_b, (unsigned long long)e->alloc_n,
             (unsigned long long)e->alloc_b);
        for (uint32_t k = 0; k < e->depth; k++)
            putf(o, " 0x%llx", (unsigned long long)e->pc[k]);
        put(o, "\n", 1);
    }
    unlock(mask);
    return 0;
}

int ml_prof_write(const char *path, bool try_only) {
    if (!ml_prof_on) return ENOTSUP;
    int saved = errno;
    struct out *o = raw_map(sizeof *o, 0);
    if (!o) return ENOMEM;
    o->err = 0, o->n = 0;
    int err = open_tmp(o, path);
    if (err) {
        raw_unmap(o, sizeof *o);
        return err;
    }
    err = write_locked_part(o, try_only);
    if (!err) {
        /* the mapped objects, so pprof symbolises offline */
        put(o, "\nMAPPED_LIBRARIES:\n", 19);
        put_maps(o);
        flush(o);
        err = o->err;
    }
    /* a descriptor that is no longer ours (the program closed it and reused the
     * number) is left alone */
    if (same_file(o->fd, o->dev, o->ino)) {
        if (close(o->fd) != 0 && !err) err = errno;
    } else if (!err) {
        err = EBADF;
    }
    if (!err && rename(o->tmp, path) != 0) err = errno;
    if (err) unlink(o->tmp);
    raw_unmap(o, sizeof *o);
    if (!err) errno = saved;
    return err;
}

/* ---- the top sites, symbolised here ---- */

static bool is_allocator_frame(const char *name) {
    /* operator new and friends: the caller of those is the site */
    return name && (strncmp(name, "_Znw", 4) == 0 || strncmp(name, "_Zna", 4) == 0 ||
                    strcmp(name, "malloc") == 0 || strcmp(name, "calloc") == 0 ||
                    strcmp(name, "realloc") == 0);
}

static uintptr_t site_of(const struct stack *e) {
    for (uint32_t k = 0; k < e->depth; k++) {
        Dl_info di;
        if (dladdr((void *)(e->pc[k] - 1), &di) && is_allocator_frame(di.dli_sname)) continue;
        return e->pc[k];
    }
    return e->depth ? e->pc[0] : 0;
}

void ml_prof_top(int n, void (*line)(const char *text)) {
    if (!ml_prof_on || n <= 0) return;
    enum { TOP = 10 };
    if (n > TOP) n = TOP;
    struct {
        uintptr_t site;
        double bytes, objs;
    } top[TOP + 1];
    int ntop = 0;
    double total = 0;
    /* stacks are copied under the lock into scratch space of this call (calls run at
     * once: memlimit_profile_dump, the memlimit thread); dladdr runs outside it */
    struct site {
        uintptr_t site;
        double bytes, objs;
    };
    struct scratch {
        struct site sites[1024];
        struct {
            uint64_t n, b;
        } counts[NSTACKS];
        const struct stack *snap[NSTACKS];
    } *m = raw_map(sizeof *m, 0);
    if (!m) return;
    struct site *sites = m->sites;
    int nsites = 0;
    uint64_t mask = lock();
    int ns = 0;
    for (uint32_t i = 0; i < NSTACKS; i++)
        if (P.stacks[i].hash && P.stacks[i].live_n) {
            m->snap[ns] = &P.stacks[i];
            m->counts[ns].n = P.stacks[i].live_n;
            m->counts[ns].b = P.stacks[i].live_b;
            ns++;
        }
    unlock(mask);
    for (int i = 0; i < ns; i++) {
        uintptr_t site =
            site_of(m->snap[i]); /* stacks are never removed: the pointer stays valid */
        double o, b;
        scale(m->counts[i].n, m->counts[i].b, &o, &b);
        total += b;
        int k = 0;
        while (k < nsites && sites[k].site != site)
            k++;
        if (k == nsites) {
            if (nsites == (int)(sizeof m->sites / sizeof m->sites[0])) continue;
            sites[nsites].site = site;
            sites[nsites].bytes = sites[nsites].objs = 0;
            nsites++;
        }
        sites[k].bytes += b;
        sites[k].objs += o;
    }
    for (int k = 0; k < nsites; k++) { /* insertion into the top n */
        int j = ntop < n ? ntop++ : n;
        if (j == n && sites[k].bytes <= top[n - 1].bytes) continue;
        if (j == n) j = n - 1;
        while (j > 0 && top[j - 1].bytes < sites[k].bytes) {
            top[j] = top[j - 1];
            j--;
        }
        top[j].site = sites[k].site;
        top[j].bytes = sites[k].bytes;
        top[j].objs = sites[k].objs;
    }
    char text[600], a[24], name[400];
    ml_fmt(text, sizeof text, "profile: %s live in sampled blocks (estimated), top %d sites:",
           ml_fmt_bytes(a, (uint64_t)total), ntop);
    line(text);
    /* its result is the program's malloc's: only with the matching free from deps */
    char *(*demangle)(const char *, char *, size_t *, int *) =
        deps.free ? (char *(*)(const char *, char *, size_t *, int *))dlsym(RTLD_DEFAULT,
                                                                            "__cxa_demangle")
                  : NULL;
    for (int k = 0; k < ntop; k++) {
        Dl_info di;
        uintptr_t pc = top[k].site;
        if (dladdr((void *)(pc - 1), &di) && di.dli_sname) {
            int st = -1;
            char *d = demangle && di.dli_sname[0] == '_' && di.dli_sname[1] == 'Z'
                          ? demangle(di.dli_sname, NULL, NULL, &st)
                          : NULL;
            const char *base = di.dli_fname ? strrchr(di.dli_fname, '/') : NULL;
            ml_fmt(name, sizeof name, "%s+0x%llx (%s)", d && st == 0 ? d : di.dli_sname,
                   (unsigned long long)(pc - (uintptr_t)di.dli_saddr),
                   base           ? base + 1
                   : di.dli_fname ? di.dli_fname
                                  : "?");
            if (d) deps.free(d);
        } else if (dladdr((void *)(pc - 1), &di) && di.dli_fname) {
            const char *base = strrchr(di.dli_fname, '/');
            ml_fmt(name, sizeof name, "%s+0x%llx", base ? base + 1 : di.dli_fname,
                   (unsigned long long)(pc - (uintptr_t)di.dli_fbase));
        } else {
            ml_fmt(name, sizeof name, "0x%llx", (unsigned long long)pc);
        }
        unsigned tenths = total > 0 ? (unsigned)(1000.0 * top[k].bytes / total + 0.5) : 0;
        ml_fmt(text, sizeof text, "profile: %d. %s (%u.%u%%, %llu objects) in %s", k + 1,
               ml_fmt_bytes(a, (uint64_t)top[k].bytes), tenths / 10, tenths % 10,
               (unsigned long long)(top[k].objs + 0.5), name);
        line(text);
    }
    raw_unmap(m, sizeof *m);
}

/* prepare and the parent's or child's release run on the forking thread, with the
 * lock held in between: the mask can wait in a static */
static uint64_t fork_mask;
void ml_prof_atfork_prepare(void) {
    if (ml_prof_on) fork_mask = lock();
}
void ml_prof_atfork_release(void) {
    if (ml_prof_on) unlock(fork_mask);
}
