/* SPDX-License-Identifier: MIT */
/* A small allocator with tcmalloc's locking shape, for t_deadlock: one heap lock,
 * held while it maps more memory with mmap (through the PLT, so a preloaded
 * library's mmap runs inside it), and a MallocExtension_ReleaseFreeMemory that takes
 * the same lock (so memlimit trims it as it trims tcmalloc). Real tcmalloc has this
 * shape too, but hitting its window takes luck; here every growth is inside it.
 * Blocks are carved from 8 MiB mappings, never reused, or get a mapping of their own
 * when large; freed large mappings are kept (a page heap) until the trim unmaps them,
 * so trims free memory and memlimit keeps trimming. Enough for a short test. */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define CHUNK  ((size_t)8 << 20)
#define GROW   ((size_t)64 << 20)

static pthread_mutex_t heap = PTHREAD_MUTEX_INITIALIZER;
static char *cur, *end;
static struct {
    void *base;
    size_t len;
} kept[64]; /* freed large mappings, under the heap lock */
static int nkept;

struct hdr {
    size_t size, map; /* map: the mapping's length when the block has its own */
    size_t pad[2];    /* 32 bytes keep blocks 16-aligned */
};

static void *carve(size_t n, size_t align) {
    if (align < 16) align = 16;
    size_t need = n + sizeof(struct hdr) + align;
    if (need < n) return NULL;
    pthread_mutex_lock(&heap);
    char *base;
    size_t map = 0;
    if (need > CHUNK / 2) {
        /* its own mapping, made under the lock like tcmalloc's heap growth, and in a
         * larger step than the request (as a page heap grows): the request passes
         * memlimit's hard-limit check in malloc, the mapping may not in mmap */
        size_t len = need < GROW ? GROW : need;
        usleep(1000); /* a page heap's bookkeeping: the window a trim falls into */
        base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        map = len;
    } else {
        if (!cur || (size_t)(end - cur) < need) {
            cur = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (cur == MAP_FAILED) cur = NULL;
            end = cur ? cur + CHUNK : NULL;
        }
        base = cur ? cur : MAP_FAILED;
        if (cur) cur += need;
    }
    pthread_mutex_unlock(&heap);
    if (base == MAP_FAILED || !base) {
        errno = ENOMEM;
        return NULL;
    }
    uintptr_t p = ((uintptr_t)base + sizeof(struct hdr) + align - 1) & ~(uintptr_t)(align - 1);
    struct hdr *h = (struct hdr *)p - 1;
    h->size = n;
    h->map = map ? map : 0;
    h->pad[0] = map ? (uintptr_t)base : 0;
    return (void *)p;
}

EXPORT void *malloc(size_t n) {
    return carve(n, 16);
}
EXPORT void free(void *p) {
    if (!p) return;
    struct hdr *h = (struct hdr *)p - 1;
    if (!h->map) return;
    pthread_mutex_lock(&heap);
    if (nkept < 64) {
        kept[nkept].base = (void *)h->pad[0];
        kept[nkept++].len = h->map;
        h = NULL;
    }
    pthread_mutex_unlock(&heap);
    if (h) munmap((void *)h->pad[0], h->map);
}
EXPORT void *calloc(size_t a, size_t b) {
    size_t n;
    if (__builtin_mul_overflow(a, b, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    return carve(n, 16); /* fresh mappings are zero */
}
EXPORT size_t malloc_usable_size(void *p) {
    return p ? ((struct hdr *)p - 1)->size : 0;
}
EXPORT void *realloc(void *p, size_t n) {
    void *q = carve(n, 16);
    if (q && p) {
        size_t o = malloc_usable_size(p);
        memcpy(q, p, o < n ? o : n);
        free(p);
    }
    return q;
}
EXPORT void *memalign(size_t al, size_t n) {
    return carve(n, al);
}
EXPORT void *aligned_alloc(size_t al, size_t n) {
    return carve(n, al);
}
EXPORT int posix_memalign(void **out, size_t al, size_t n) {
    void *p = carve(n, al);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
/* what memlimit calls to trim "tcmalloc": takes the heap lock, as tcmalloc's does */
EXPORT void MallocExtension_ReleaseFreeMemory(void) {
    pthread_mutex_lock(&heap);
    while (nkept) {
        nkept--;
        munmap(kept[nkept].base, kept[nkept].len);
    }
    pthread_mutex_unlock(&heap);
}
