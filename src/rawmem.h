/* SPDX-License-Identifier: MIT */
/* Memory straight from the kernel, for the profile's tables and writers: never
 * through the preload layer's mmap (src/ does not call into it), allocation-free and
 * async-signal-safe (a signal handler writes profiles). */
#ifndef ML_RAWMEM_H
#define ML_RAWMEM_H

#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline void *ml_raw_map(size_t bytes, int flags) {
    flags |= MAP_PRIVATE | MAP_ANONYMOUS;
#ifdef __SANITIZE_THREAD__ /* TSan must see the mapping go, or takes its reuse for a race */
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, flags, -1, 0);
#else
    void *m = (void *)syscall(SYS_mmap, NULL, bytes, PROT_READ | PROT_WRITE, flags, -1, 0);
#endif
    return m == MAP_FAILED ? NULL : m;
}

/* a file, read-only (the caller may close fd at once) */
static inline void *ml_raw_map_file(int fd, size_t bytes) {
#ifdef __SANITIZE_THREAD__
    void *m = mmap(NULL, bytes, PROT_READ, MAP_PRIVATE, fd, 0);
#else
    void *m = (void *)syscall(SYS_mmap, NULL, bytes, PROT_READ, MAP_PRIVATE, fd, 0);
#endif
    return m == MAP_FAILED ? NULL : m;
}

static inline void ml_raw_unmap(void *p, size_t bytes) {
#ifdef __SANITIZE_THREAD__
    munmap(p, bytes);
#else
    syscall(SYS_munmap, p, bytes);
#endif
}

#endif
