/* SPDX-License-Identifier: MIT */
/* The container's memory for programs that size themselves from the machine's
 * (MEMLIMIT_MEMINFO, src/meminfo.h): sysconf(_SC_PHYS_PAGES, _SC_AVPHYS_PAGES),
 * get_phys_pages, get_avphys_pages and sysinfo report the cgroup limit and the room
 * under it; a read-only open of /proc/meminfo (open, open64, openat, openat64, fopen,
 * fopen64) gets a memfd holding the kernel's text with MemTotal, MemFree and
 * MemAvailable made the container's (SwapTotal and SwapFree too, where the cgroup
 * limits swap). Every other name or path is one comparison and
 * a forward; opens that are not plain reads (O_PATH, O_DIRECTORY, O_CREAT, writes)
 * go to the kernel, which answers them as it would. */
#include "../src/limiter.h"
#include "../src/meminfo.h"
#include "next.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define COLD   __attribute__((noinline, cold))

#ifdef open64 /* musl's <fcntl.h> makes these names for the plain ones */
#undef open64
#undef openat64
#undef fopen64
#endif

/* The next definition of a name, found once (dlsym: its first call may allocate). */
typedef long (*sysconf_fn)(int);
typedef int (*sysinfo_fn)(struct sysinfo *);
typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef FILE *(*fopen_fn)(const char *, const char *);
#define NEXT(type, name)                                                                           \
    static _Atomic(type) next_##name;                                                              \
    type fn = atomic_load_explicit(&next_##name, memory_order_relaxed);                            \
    if (__builtin_expect(!fn, 0)) {                                                                \
        fn = (type)ml_next_sym(#name);                                                             \
        atomic_store_explicit(&next_##name, fn, memory_order_relaxed);                             \
    }

/* ---- sysconf, sysinfo ---- */

static COLD bool view_now(struct ml_meminfo_view *v) {
    /* the machine's total, without our own sysconf or sysinfo: the kernel's */
    struct sysinfo si;
    uint64_t host = 0, swap = 0, unit;
    if (syscall(SYS_sysinfo, &si) == 0) {
        unit = si.mem_unit ? si.mem_unit : 1;
        host = (uint64_t)si.totalram * unit, swap = (uint64_t)si.totalswap * unit;
    }
    return ml_core_container_memory(host, swap, v);
}

static COLD long sysconf_view(int name, sysconf_fn fn) {
    struct ml_meminfo_view v;
    if (!view_now(&v)) return fn ? fn(name) : -1;
    long page = fn ? fn(_SC_PAGESIZE) : 4096;
    if (page <= 0) page = 4096;
    return (long)((name == _SC_PHYS_PAGES ? v.total : v.avail) / (uint64_t)page);
}

EXPORT long sysconf(int name) {
    NEXT(sysconf_fn, sysconf)
    if (__builtin_expect(name != _SC_PHYS_PAGES && name != _SC_AVPHYS_PAGES, 1))
        return fn ? fn(name) : (errno = EINVAL, -1L);
    return sysconf_view(name, fn);
}

EXPORT long get_phys_pages(void) {
    return sysconf(_SC_PHYS_PAGES);
}

EXPORT long get_avphys_pages(void) {
    return sysconf(_SC_AVPHYS_PAGES);
}

EXPORT int sysinfo(struct sysinfo *info) {
    NEXT(sysinfo_fn, sysinfo)
    int r = fn ? fn(info) : (int)syscall(SYS_sysinfo, info);
    if (r != 0 || !info) return r;
    struct ml_meminfo_view v;
    int saved = errno;
    uint64_t unit = info->mem_unit ? info->mem_unit : 1;
    if (ml_core_container_memory((uint64_t)info->totalram * unit, (uint64_t)info->totalswap * unit,
                                 &v)) {
        /* in the call's own unit; what must stay within totalram does */
        info->totalram = (unsigned long)(v.total / unit);
        info->freeram = (unsigned long)(v.avail / unit);
        if (v.swap) {
            info->totalswap = (unsigned long)(v.swap_total / unit);
            info->freeswap = (unsigned long)(v.swap_free / unit);
        }
        if (info->sharedram > info->totalram) info->sharedram = info->totalram;
        if (info->bufferram > info->totalram - info->freeram)
            info->bufferram = info->totalram - info->freeram;
    }
    errno = saved;
    return r;
}

/* ---- /proc/meminfo ---- */

/* a plain read: anything else goes to the kernel as it is */
static bool plain_read(int flags) {
    return (flags & O_ACCMODE) == O_RDONLY &&
           !(flags & (O_PATH | O_DIRECTORY | O_CREAT | O_TRUNC | O_TMPFILE));
}

/* A memfd with the rewritten text, or -1 (the caller then opens the real file). The
 * text goes through a mapping of our own, not the heap: no allocation. */
static COLD int meminfo_fd(int flags) {
    struct ml_meminfo_view v;
    if (!view_now(&v)) return -1;
    int saved = errno, fd = -1;
    enum { CAP = 64 << 10 };
    char *buf = (char *)syscall(SYS_mmap, NULL, (size_t)CAP, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) goto out;
    int in = (int)syscall(SYS_openat, AT_FDCWD, "/proc/meminfo", O_RDONLY | O_CLOEXEC);
    ssize_t n = 0, r;
    while (in >= 0 && n < CAP / 2 && (r = read(in, buf + n, (size_t)(CAP / 2 - n))) > 0)
        n += r;
    if (in >= 0) close(in);
    size_t len = n > 0 ? ml_meminfo_rewrite(buf, (size_t)n, &v, buf + CAP / 2, CAP / 2) : 0;
    if (len) {
        unsigned mf = (flags & O_CLOEXEC) ? 1u /* MFD_CLOEXEC */ : 0u;
        fd = (int)syscall(SYS_memfd_create, "meminfo", mf);
        if (fd >= 0 &&
            (write(fd, buf + CAP / 2, len) != (ssize_t)len || lseek(fd, 0, SEEK_SET) != 0)) {
            close(fd);
            fd = -1;
        }
        if (fd >= 0 && (flags & O_NONBLOCK)) fcntl(fd, F_SETFL, O_NONBLOCK);
    }
    syscall(SYS_munmap, buf, (size_t)CAP);
out:
    errno = saved;
    return fd;
}

static inline bool is_meminfo(const char *path, int flags) {
    return __builtin_expect(ml_meminfo_path(path), 0) && plain_read(flags);
}

/* The opens take their mode as a plain third (fourth) argument: open is variadic, but
 * on the x86_64 and aarch64 Linux ABIs a variadic int arrives in the same register as
 * a named one, and reading it when O_CREAT is not set reads a register, not memory.
 * This keeps the path of every other file a check of two bytes and a tail call (the
 * va_list a variadic definition sets up cost 25 instructions). The names are bound
 * with asm labels: <fcntl.h> declares the variadic prototypes. */
#define LIKELY_OTHER(path) __builtin_expect(!(path) || (path)[0] != '/' || (path)[1] != 'p', 1)

EXPORT int ml_open(const char *path, int flags, mode_t mode) __asm__("open");
EXPORT int ml_open64(const char *path, int flags, mode_t mode) __asm__("open64");
EXPORT int ml_openat(int dirfd, const char *path, int flags, mode_t mode) __asm__("openat");
EXPORT int ml_openat64(int dirfd, const char *path, int flags, mode_t mode) __asm__("openat64");

static COLD int open_meminfo(const char *path, int flags, mode_t mode, open_fn fn) {
    if (is_meminfo(path, flags)) {
        int fd = meminfo_fd(flags);
        if (fd >= 0) return fd;
    }
    return fn ? fn(path, flags, mode) : (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

static COLD int openat_meminfo(int dirfd, const char *path, int flags, mode_t mode, openat_fn fn) {
    if (is_meminfo(path, flags)) { /* an absolute path: dirfd does not matter */
        int fd = meminfo_fd(flags);
        if (fd >= 0) return fd;
    }
    return fn ? fn(dirfd, path, flags, mode) : (int)syscall(SYS_openat, dirfd, path, flags, mode);
}

int ml_open(const char *path, int flags, mode_t mode) {
    NEXT(open_fn, open)
    if (LIKELY_OTHER(path) && fn) return fn(path, flags, mode);
    return open_meminfo(path, flags, mode, fn);
}

int ml_open64(const char *path, int flags, mode_t mode) {
    NEXT(open_fn, open64)
    if (LIKELY_OTHER(path) && fn) return fn(path, flags, mode);
    return open_meminfo(path, flags, mode, fn);
}

int ml_openat(int dirfd, const char *path, int flags, mode_t mode) {
    NEXT(openat_fn, openat)
    if (LIKELY_OTHER(path) && fn) return fn(dirfd, path, flags, mode);
    return openat_meminfo(dirfd, path, flags, mode, fn);
}

int ml_openat64(int dirfd, const char *path, int flags, mode_t mode) {
    NEXT(openat_fn, openat64)
    if (LIKELY_OTHER(path) && fn) return fn(dirfd, path, flags, mode);
    return openat_meminfo(dirfd, path, flags, mode, fn);
}

/* fopen's modes that only read: "r", with "b", "e", "m", "c" after it, never "+" */
static bool read_mode(const char *m) {
    if (!m || m[0] != 'r') return false;
    return !strchr(m, '+');
}

static COLD FILE *meminfo_file(const char *mode) {
    int fd = meminfo_fd(strchr(mode, 'e') ? O_CLOEXEC : 0);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "r");
    if (!f) {
        int saved = errno;
        close(fd);
        errno = saved;
    }
    return f;
}

/* the meminfo file, or NULL: then the caller's next fopen */
static inline FILE *fopen_meminfo(const char *path, const char *mode) {
    if (__builtin_expect(!ml_meminfo_path(path), 1) || !read_mode(mode)) return NULL;
    return meminfo_file(mode);
}

EXPORT FILE *fopen(const char *path, const char *mode) {
    FILE *f = fopen_meminfo(path, mode);
    if (f) return f;
    NEXT(fopen_fn, fopen)
    return fn ? fn(path, mode) : NULL;
}

EXPORT FILE *fopen64(const char *path, const char *mode) {
    FILE *f = fopen_meminfo(path, mode);
    if (f) return f;
    NEXT(fopen_fn, fopen64)
    return fn ? fn(path, mode) : NULL;
}
