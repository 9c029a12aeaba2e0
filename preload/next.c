/* SPDX-License-Identifier: MIT */
#include "next.h"
#include "../src/have.h"
#include "../src/cold.h"

#include "../src/objsym.h"
#include "../src/siglock.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- bootstrap arena: dlsym may call calloc before we know the allocator ---- */

ML_COLD char ml_boot_arena[ML_BOOT_SIZE] __attribute__((aligned(4096)));
static _Atomic size_t boot_used;

void *ml_boot_alloc(size_t size, size_t align) {
    if (align < 16) align = 16;
    if (size > ML_BOOT_SIZE || align > 4096) goto fail;
    for (;;) {
        size_t used = atomic_load(&boot_used);
        size_t start = (used + 16 + align - 1) & ~(align - 1); /* 16-byte size header before */
        size_t end = start + ((size + 15) & ~(size_t)15);
        if (end > ML_BOOT_SIZE) goto fail;
        if (atomic_compare_exchange_weak(&boot_used, &used, end)) {
            *(size_t *)(ml_boot_arena + start - 16) = size;
            return ml_boot_arena + start; /* static storage: already zeroed */
        }
    }
fail:
    errno = ENOMEM;
    return NULL;
}

size_t ml_boot_size(const void *p) {
    return *(const size_t *)((const char *)p - 16);
}

/* ---- stubs used until resolution: the first call of any entry point resolves
 * the allocator; calls made by dlsym during resolution get the bootstrap arena ---- */

static void *stub_malloc(size_t n) {
    return ml_resolve() ? ml_next.malloc(n) : ml_boot_alloc(n, 16);
}
static void *stub_calloc(size_t a, size_t b) {
    size_t n;
    if (__builtin_mul_overflow(a, b, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    return ml_resolve() ? ml_next.calloc(a, b) : ml_boot_alloc(n, 16);
}
static void *stub_realloc(void *p, size_t n) {
    if (ml_resolve() && !ml_is_boot(p)) return ml_next.realloc(p, n);
    void *q = ml_boot_alloc(n, 16); /* only reached with p NULL or from the arena */
    if (q && p) memcpy(q, p, ml_boot_size(p) < n ? ml_boot_size(p) : n);
    return q;
}
static void *stub_memalign(size_t al, size_t n) {
    return ml_resolve() ? ml_next.memalign(al, n) : ml_boot_alloc(n, al);
}
static void *stub_aligned_alloc(size_t al, size_t n) {
    return ml_resolve() ? ml_next.aligned_alloc(al, n) : ml_boot_alloc(n, al);
}
static int stub_posix_memalign(void **out, size_t al, size_t n) {
    if (ml_resolve()) return ml_next.posix_memalign(out, al, n);
    void *p = ml_boot_alloc(n, al);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
static void *stub_valloc(size_t n) {
    if (!ml_resolve()) return ml_boot_alloc(n, 4096);
    return ml_next.valloc ? ml_next.valloc(n) : ml_next.memalign(4096, n);
}
static void *stub_pvalloc(size_t n) {
    if (!ml_resolve()) return ml_boot_alloc(n, 4096);
    return ml_next.pvalloc ? ml_next.pvalloc(n) : ml_next.memalign(4096, n);
}

static void stub_free(void *p) {
    if (!p || ml_is_boot(p)) return;
    if (ml_resolve()) ml_next.free(p);
}
static size_t stub_usable(void *p) {
    if (!p) return 0;
    if (ml_is_boot(p)) return ml_boot_size(p);
    return ml_resolve() ? ml_next.malloc_usable_size(p) : 0;
}
static void *raw_mmap(void *a, size_t l, int pr, int fl, int fd, off_t o) {
    return (void *)syscall(SYS_mmap, a, l, pr, fl, fd, o);
}
static int raw_munmap(void *a, size_t l) {
    return (int)syscall(SYS_munmap, a, l);
}
static void *raw_mremap(void *o, size_t ol, size_t nl, int fl, ...) {
    return (void *)syscall(SYS_mremap, o, ol, nl, fl, NULL);
}

struct ml_next ml_next = {
    .malloc = stub_malloc,
    .calloc = stub_calloc,
    .realloc = stub_realloc,
    .posix_memalign = stub_posix_memalign,
    .aligned_alloc = stub_aligned_alloc,
    .memalign = stub_memalign,
    .valloc = stub_valloc,
    .pvalloc = stub_pvalloc,
    .free = stub_free,
    .malloc_usable_size = stub_usable,
    .mmap = raw_mmap,
    .munmap = raw_munmap,
    .mremap = raw_mremap,
};

/* ---- resolution ---- */

#define ML_CXX_NAME(V, sym, ...) [V] = sym,
static const char *const new_names[NEW_COUNT] = {ML_CXX_NEW(ML_CXX_NAME)};
static const char *const delete_names[DEL_COUNT] = {ML_CXX_DELETE(ML_CXX_NAME)};
#undef ML_CXX_NAME

/* ---- loaded objects, by address: dl_iterate_phdr's PT_LOAD segments. dladdr would
 * answer too, but it scans the object's whole symbol table (most of a preloaded
 * program's start-up went there). ---- */

struct obj {
    uintptr_t lo, hi;         /* from its lowest PT_LOAD segment to the end of its highest */
    uintptr_t addr;           /* dlpi_addr */
    const char *name;         /* "" for the program */
    int index;                /* in load order, which is the lookup order of start-up objects */
    struct ml_objsym_obj sym; /* its symbol tables */
};

struct find_arg {
    uintptr_t p;
    int index;
    struct obj *out;
};

static void span(const struct dl_phdr_info *info, uintptr_t *lo, uintptr_t *hi) {
    *lo = UINTPTR_MAX, *hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t s = info->dlpi_addr + ph->p_vaddr;
        if (s < *lo) *lo = s;
        if (s + ph->p_memsz > *hi) *hi = s + ph->p_memsz;
    }
}

static int find_cb(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    struct find_arg *f = arg;
    int index = f->index++;
    uintptr_t lo, hi;
    span(info, &lo, &hi); /* the dynamic linker reserves the gaps: no other object there */
    if (f->p < lo || f->p >= hi) return 0;
    *f->out = (struct obj){lo,
                           hi,
                           info->dlpi_addr,
                           info->dlpi_name ? info->dlpi_name : "",
                           index,
                           ml_objsym_open(info)};
    return 1;
}

/* The object that contains p; false (and *o empty) if none. */
static bool obj_of(const void *p, struct obj *o) {
    *o = (struct obj){0};
    struct find_arg f = {(uintptr_t)p, 0, o};
    return p && dl_iterate_phdr(find_cb, &f) == 1;
}

static bool in_obj(const void *p, const struct obj *o) {
    return (uintptr_t)p - o->lo < o->hi - o->lo;
}

/* ---- which object serves malloc ---- */

static struct obj self_obj;       /* libmemlimit.so */
static struct obj next_obj;       /* the object that serves malloc; empty if unknown */
static void *next_scope;          /* where its symbols are found: RTLD_NEXT or RTLD_DEFAULT */
static bool served_before;        /* it comes before us */
static const char *base_version;  /* the C library's oldest symbol version, e.g. GLIBC_2.2.5 */
static _Atomic int resolve_state; /* 0 new, 1 resolving, 2 done */
static __thread bool tl_resolving TLS_IE;

/* A program's reference to malloc is versioned (malloc@GLIBC_2.2.5 on x86_64); other
 * glibc ports start at another version. Probed with __libc_start_main: only the C
 * library defines it, at its base version on every port (its newer GLIBC_2.34 is not
 * in the list). malloc could not tell: an object without version information matches
 * any version. */
#ifndef __GLIBC__ /* musl: no symbol versions (base_version stays NULL) */
static void *dlvsym(void *scope, const char *name, const char *version) {
    (void)scope, (void)name, (void)version;
    return NULL;
}
#endif

/* dlsym and dlvsym on RTLD_DEFAULT or RTLD_NEXT; where glibc before 2.34 keeps them in
 * libdl.so.2 and the program has not loaded it, the same walk over the objects loaded
 * at start-up (the only ones there then: nothing can dlopen without libdl) */
static void *scope_sym(void *scope, const char *name, const char *version) {
    if (ML_HAVE(dlsym)) return version ? dlvsym(scope, name, version) : dlsym(scope, name);
    return ml_objsym_scope(name, version, scope == RTLD_NEXT ? self_obj.addr : 0);
}

/* name as object o itself defines it (NULL if it does not): from its hash table, or
 * where only the dynamic linker can tell (an IFUNC), from scope if that finds o's */
static void *obj_sym(const struct obj *o, void *scope, const char *name, const char *version) {
    void *p = NULL;
    switch (ml_objsym(&o->sym, name, version, &p)) {
    case ML_OBJSYM_FOUND:
        return p;
    case ML_OBJSYM_ABSENT:
        return NULL;
    default:
        p = scope_sym(scope, name, version);
    }
    return in_obj(p, o) ? p : NULL;
}

void *ml_next_sym(const char *name) {
    return scope_sym(RTLD_NEXT, name, NULL);
}

static void find_base_version(void) {
    static const char *const candidates[] = {
        "GLIBC_2.2.5", "GLIBC_2.17", "GLIBC_2.0",  "GLIBC_2.2",  "GLIBC_2.3", "GLIBC_2.4",
        "GLIBC_2.18",  "GLIBC_2.27", "GLIBC_2.29", "GLIBC_2.35", "GLIBC_2.36"};
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++)
        if (scope_sym(RTLD_DEFAULT, "__libc_start_main", candidates[i])) {
            base_version = candidates[i];
            return;
        }
}

/* malloc as the dynamic linker binds the program's versioned reference, searching
 * scope: the first object with either a definition at the base version (dlsym skips
 * non-default versions, and libc_malloc_debug has nothing else) or a definition
 * without a version (jemalloc's, which dlvsym skips in turn). */
/* A non-PIE executable that takes malloc's address gets a "canonical" PLT entry: its
 * dynamic symbol table then gives malloc an address inside the executable, an
 * undefined symbol that only jumps to the real one (ours; node does this). Such an
 * address is not a definition. Asked only when the address is in the executable. */
static bool real_definition(void *p, const struct obj *o) {
    if (!p || o->index != 0) return p != NULL;
    void *def = NULL; /* the executable's own table skips its undefined symbols */
    enum ml_objsym_result r = ml_objsym(&o->sym, "malloc", NULL, &def);
    return r == ML_OBJSYM_ASK || (r == ML_OBJSYM_FOUND && def == p);
}

static void *find_malloc(void *scope, struct obj *o) {
    void *v = base_version ? scope_sym(scope, "malloc", base_version) : NULL;
    void *u = scope_sym(scope, "malloc", NULL);
    struct obj ov, ou;
    bool hv = obj_of(v, &ov) && real_definition(v, &ov);
    bool hu = obj_of(u, &ou) && real_definition(u, &ou);
    if (hv && (!hu || ov.index <= ou.index)) {
        *o = ov;
        return v;
    }
    *o = ou;
    return hu ? u : NULL;
}

/* name as the object that serves malloc defines it, at the base version, the version
 * it was added in (aligned_alloc@GLIBC_2.16: again the only one libc_malloc_debug has)
 * or without one; NULL if that object has none (never another object's). C++ names
 * (c_name false) are never glibc-versioned. */
static void *from_next(const char *name, bool c_name) {
    void *p;
    if (c_name && base_version) {
        /* aligned_alloc first at the version it was added in, on ports older than it */
        bool aligned = !strcmp(name, "aligned_alloc");
        if (aligned && (p = obj_sym(&next_obj, next_scope, name, "GLIBC_2.16"))) return p;
        if ((p = obj_sym(&next_obj, next_scope, name, base_version))) return p;
    }
    return obj_sym(&next_obj, next_scope, name, NULL);
}

void *ml_next_lookup(const char *name, bool glibc) {
    return next_obj.hi ? from_next(name, glibc) : NULL;
}

bool ml_next_served_before(const char **malloc_by, const char **mmap_by) {
    if (!served_before) return false;
    /* Only when we are in the program's own lookup scope (preloaded or linked): the
     * main program's handle sees start-up and RTLD_GLOBAL objects. Loaded with
     * dlopen RTLD_LOCAL we never interpose, by design: nothing to say. */
    if (ML_HAVE(dlopen)) { /* (without libdl, nothing could have loaded us so) */
        void *h = dlopen(NULL, RTLD_LAZY);
        void *api = h ? dlsym(h, "memlimit_reached") : NULL;
        if (h) dlclose(h);
        if (!in_obj(api, &self_obj)) return false;
    }
    *malloc_by = next_obj.name;
    struct obj o;
    void *mm = scope_sym(RTLD_DEFAULT, "mmap", NULL);
    *mmap_by = !obj_of(mm, &o) || in_obj(mm, &self_obj) ? NULL : o.name;
    return true;
}

bool ml_next_allocator_span(uintptr_t *lo, uintptr_t *hi) {
    *lo = *hi = 0;
    /* before us, our malloc is never called: nothing of its heap is sampled twice */
    if (!next_obj.hi || served_before) return false;
    /* the C library maps its heap with its own internal mmap, never through ours, and
     * holds much else that maps memory for the program */
    void *libc = scope_sym(RTLD_DEFAULT, "__libc_start_main", base_version);
    if (in_obj(libc, &next_obj)) return false;
    *lo = next_obj.lo, *hi = next_obj.hi;
    return true;
}

/* built from the next allocator's own primitives */
static void *via_memalign(size_t al, size_t n) {
    void *p = NULL;
    int e = ml_next.posix_memalign(&p, al, n);
    if (e) {
        errno = e;
        return NULL;
    }
    return p;
}
static int via_posix_memalign(void **out, size_t al, size_t n) {
    int saved = errno;
    void *p = ml_next.memalign(al, n);
    if (!p) {
        int e = errno;
        errno = saved;
        return e ? e : ENOMEM;
    }
    *out = p;
    return 0;
}

static size_t no_usable_size(void *p) {
    (void)p;
    return 0;
}

bool ml_resolve(void) {
    if (likely(atomic_load_explicit(&resolve_state, memory_order_acquire) == 2)) return true;
    if (tl_resolving) return false; /* dlsym is allocating: bootstrap arena */
    int expect = 0;
    if (!atomic_compare_exchange_strong(&resolve_state, &expect, 1)) {
        /* another thread resolves; this only happens before our constructor ran */
        while (atomic_load_explicit(&resolve_state, memory_order_acquire) != 2)
            sched_yield();
        return true;
    }
    tl_resolving = true;
    int saved = errno;
    struct ml_next n = ml_next;
    struct obj def;
    obj_of((void *)ml_resolve, &self_obj);
    find_base_version();
    /* Normally the program's malloc is ours and we forward to the next object that
     * defines it. When an object before us serves it (preloaded first, or the program's
     * own), our malloc is never called, but what binds to us (pvalloc, which jemalloc
     * lacks) must still reach that allocator, and the trimmer must trim it. */
    void *m = find_malloc(RTLD_DEFAULT, &def);
    if (m && !in_obj(m, &self_obj)) {
        next_obj = def;
        next_scope = RTLD_DEFAULT;
        served_before = true;
    } else {
        next_scope = RTLD_NEXT;
        m = find_malloc(RTLD_NEXT, &next_obj);
    }
    if (m) {
        n.malloc = m;
        n.free = from_next("free", true);
        n.calloc = from_next("calloc", true);
        n.realloc = from_next("realloc", true);
        n.posix_memalign = from_next("posix_memalign", true);
        n.aligned_alloc = from_next("aligned_alloc", true);
        n.memalign = from_next("memalign", true);
        n.valloc = from_next("valloc", true);
        n.pvalloc = from_next("pvalloc", true);
        n.malloc_usable_size = from_next("malloc_usable_size", true);
        /* the other 18 C++ names only where the allocator has the two basic ones (each
         * failed lookup formats an error message: most of resolution's cost); a
         * missing one goes to the C++ runtime's new and to free, as before */
        n.new_fn[0] = from_next(new_names[0], false);
        n.delete_fn[0] = from_next(delete_names[0], false);
        if (n.new_fn[0] || n.delete_fn[0]) {
            for (int i = 1; i < NEW_COUNT; i++)
                n.new_fn[i] = from_next(new_names[i], false);
            for (int i = 1; i < DEL_COUNT; i++)
                n.delete_fn[i] = from_next(delete_names[i], false);
        }
    }
#ifdef __GLIBC__ /* (musl has no such names: its malloc is found through RTLD_NEXT) */
    if (!n.malloc || !n.free || !n.calloc || !n.realloc) {
        /* nothing after us (linked after libc?): glibc's own names */
        extern void *__libc_malloc(size_t), *__libc_calloc(size_t, size_t),
            *__libc_realloc(void *, size_t), *__libc_memalign(size_t, size_t),
            *__libc_valloc(size_t), *__libc_pvalloc(size_t);
        extern void __libc_free(void *);
        n = (struct ml_next){.malloc = __libc_malloc,
                             .free = __libc_free,
                             .calloc = __libc_calloc,
                             .realloc = __libc_realloc,
                             .memalign = __libc_memalign,
                             .valloc = __libc_valloc,
                             .pvalloc = __libc_pvalloc};
        void *u = scope_sym(RTLD_DEFAULT, "malloc_usable_size", NULL);
        if (!in_obj(u, &self_obj)) n.malloc_usable_size = (size_t(*)(void *))u;
        next_obj = (struct obj){0};
        served_before = false;
    }
#endif
    if (!n.memalign && n.aligned_alloc) n.memalign = n.aligned_alloc;
    if (!n.memalign && n.posix_memalign) n.memalign = via_memalign;
    if (!n.posix_memalign) n.posix_memalign = via_posix_memalign;
    if (!n.aligned_alloc) n.aligned_alloc = n.memalign;
    /* (stub_usable would call itself) */
    if (!n.malloc_usable_size) n.malloc_usable_size = no_usable_size;
    void *mm = scope_sym(RTLD_NEXT, "mmap", NULL), *mu = scope_sym(RTLD_NEXT, "munmap", NULL),
         *mr = scope_sym(RTLD_NEXT, "mremap", NULL);
    n.mmap = mm ? (void *(*)(void *, size_t, int, int, int, off_t))mm : raw_mmap;
    n.munmap = mu ? (int (*)(void *, size_t))mu : raw_munmap;
    n.mremap = mr ? (void *(*)(void *, size_t, size_t, int, ...))mr : raw_mremap;
    ml_next = n;
    errno = saved;
    tl_resolving = false;
    atomic_store_explicit(&resolve_state, 2, memory_order_release);
    return true;
}

/* ---- the C++ runtime's operator new, for allocators without one ---- */

/* Loaded objects, a window of 32 at a time (dl_iterate_phdr's callback must not
 * dlopen, so names are collected first). */
struct find_ctx {
    uintptr_t self_addr;
    int skip, seen, count;
    char names[32][256];
    uintptr_t addrs[32];
};

static int collect(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    struct find_ctx *c = arg;
    if (!info->dlpi_name || !info->dlpi_name[0]) return 0;
    if (c->seen++ < c->skip) return 0;
    size_t l = strlen(info->dlpi_name);
    if (info->dlpi_addr == c->self_addr || l >= sizeof c->names[0]) return 0;
    memcpy(c->names[c->count], info->dlpi_name, l + 1);
    c->addrs[c->count++] = info->dlpi_addr;
    return c->count == 32; /* window full: stop */
}

static void *find_runtime_new(int variant) {
    if (!ML_HAVE(dlopen)) return NULL; /* glibc before 2.34 without libdl */
    /* usually the next object has it (libstdc++ behind glibc) */
    void *s = dlsym(RTLD_NEXT, new_names[variant]);
    if (s && !in_obj(s, &next_obj)) return s;
    /* Otherwise look in every loaded object but ours and the allocator's, each by its
     * own handle: the runtime may be loaded RTLD_LOCAL (a C program dlopening a C++
     * plugin), where the global scope cannot see it, and RTLD_NEXT may find the
     * allocator. */
    static ML_COLD struct find_ctx c;
    void *p = NULL;
    for (int skip = 0; !p;) {
        memset(&c, 0, sizeof c);
        c.self_addr = self_obj.addr;
        c.skip = skip;
        dl_iterate_phdr(collect, &c);
        for (int i = 0; i < c.count && !p; i++) {
            if (next_obj.hi && c.addrs[i] == next_obj.addr) continue;
            void *h = dlopen(c.names[i], RTLD_NOLOAD | RTLD_LAZY);
            if (!h) continue;
            s = dlsym(h, new_names[variant]);
            if (s && !in_obj(s, &self_obj) && !in_obj(s, &next_obj)) p = s;
            dlclose(h);
        }
        if (c.count < 32) break; /* every object seen */
        skip = c.seen;
    }
    return p;
}

/* The search is one at a time, with every signal blocked: a handler calling new on
 * this thread would otherwise spin forever on the lock its own thread holds. */
static atomic_flag runtime_busy = ATOMIC_FLAG_INIT;

void *ml_cxx_runtime_new(int variant) {
    static void *cache[NEW_COUNT];
    void *p = __atomic_load_n(&cache[variant], __ATOMIC_ACQUIRE);
    if (p) return p;
    uint64_t saved = ml_siglock(&runtime_busy);
    p = __atomic_load_n(&cache[variant], __ATOMIC_ACQUIRE); /* found while we waited? */
    if (!p && (p = find_runtime_new(variant)))
        __atomic_store_n(&cache[variant], p, __ATOMIC_RELEASE);
    ml_sigunlock(&runtime_busy, saved);
    return p;
}

void ml_next_forked(void) {
    /* a search that another thread was making at the fork is not finished in the
     * child: left held, the flag would keep the child's first new spinning for ever.
     * The cache holds only complete answers; the child searches again. */
    atomic_flag_clear(&runtime_busy);
}

void ml_next_cxx_through_runtime(void) {
    /* C++: an allocator's own operator new and delete (jemalloc, tcmalloc) bypass our
     * malloc and free, so their blocks could be neither sampled nor matched. While
     * profiling, new goes to the C++ runtime's (which calls our malloc) and delete to
     * our free: the same heap, without the sized fast paths. Only if the runtime's
     * operator new is there for every variant. */
    for (int v = 0; v < NEW_COUNT; v++)
        if (!ml_cxx_runtime_new(v)) return;
    for (int v = 0; v < NEW_COUNT; v++)
        ml_next.new_fn[v] = NULL;
    for (int v = 0; v < DEL_COUNT; v++)
        ml_next.delete_fn[v] = NULL;
}
