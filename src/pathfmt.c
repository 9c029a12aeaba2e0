/* SPDX-License-Identifier: MIT */
#include "pathfmt.h"
#include <fcntl.h>
#include <unistd.h>
#include <time.h>
#include <sys/syscall.h>
#include <stdatomic.h>
#include "log.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

int ml_path_expand(char *out, size_t cap, const char *pattern, int pid, const char *ext) {
    if (cap) out[0] = '\0';
    if (!pattern) return EINVAL;
    char num[16];
    size_t nl = ml_fmt(num, sizeof num, "%d", pid), n = 0;
    for (const char *s = pattern; *s; s++) {
        bool is_pid = s[0] == '%' && s[1] == 'p';
        const char *piece = is_pid ? num : s;
        size_t k = is_pid ? nl : 1;
        if (n + k >= cap) goto too_long;
        memcpy(out + n, piece, k);
        n += k;
        s += is_pid;
    }
    if (ext) {
        size_t el = strlen(ext);
        if (n + 1 + el >= cap) goto too_long;
        out[n++] = '.';
        memcpy(out + n, ext, el);
        n += el;
    }
    out[n] = '\0';
    return 0;
too_long:
    if (cap) out[0] = '\0';
    return ENAMETOOLONG;
}

int ml_path_dir_check(char *path, size_t cap) {
    char *slash = strrchr(path, '/');
    /* the directory's length: "/" stays for a file at the root, "." is no slash */
    size_t n = slash && slash != path ? (size_t)(slash - path) : 1;
    if (n + 3 > cap) return ENAMETOOLONG;
    if (!slash) path[0] = '.';
    /* "DIR/.": a file named DIR fails with ENOTDIR, where DIR alone would pass */
    memcpy(path + n, "/.", 3);
    int saved = errno;
    int err = faccessat(AT_FDCWD, path, W_OK | X_OK, AT_EACCESS) == 0 ? 0 : errno;
    errno = saved;
    path[n] = '\0';
    return err;
}

uint64_t ml_random64(void) {
    uint64_t r = 0;
#ifdef SYS_getrandom
    if (syscall(SYS_getrandom, &r, sizeof r, 1 /* GRND_NONBLOCK */) == (long)sizeof r) return r;
#endif
    static _Atomic uint64_t calls;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    r = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 40) ^
        (uint64_t)(uintptr_t)&r ^ atomic_fetch_add(&calls, 1) * 0x9e3779b97f4a7c15ULL;
    r ^= r >> 31; /* splitmix64's finaliser: every input bit reaches every output bit */
    r *= 0xbf58476d1ce4e5b9ULL;
    return r ^ (r >> 29);
}
