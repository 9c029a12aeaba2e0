/* SPDX-License-Identifier: MIT */
/* The core's own opens, straight to the kernel: libmemlimit.so exports open, openat
 * and sysconf (the container's /proc/meminfo and sysconf, preload/meminfo.c), so a
 * plain call from here would come back to those interposers, whose first call looks
 * up the next definition with dlsym, which may allocate: never from the sampler or
 * from inside mmap. */
#ifndef ML_SYSIO_H
#define ML_SYSIO_H

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline int ml_openat(int dir, const char *path, int flags, ...) {
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        __builtin_va_list ap;
        __builtin_va_start(ap, flags);
        mode = (mode_t) __builtin_va_arg(ap, int);
        __builtin_va_end(ap);
    }
    return (int)syscall(SYS_openat, dir, path, flags, mode);
}

#define ml_open(...) ml_openat(AT_FDCWD, __VA_ARGS__)

/* the page size, without sysconf */
static inline long ml_page_size(void) {
    return getpagesize();
}

#endif
