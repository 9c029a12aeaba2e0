/* SPDX-License-Identifier: MIT */
#include "sysio.h"
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

ssize_t ml_read_file(const char *path, char *buf, size_t cap) {
    return ml_read_file_err(path, buf, cap, NULL);
}

ssize_t ml_read_file_err(const char *path, char *buf, size_t cap, int *err) {
    int saved = errno;
    ssize_t total = -1;
    int fd = ml_open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 && err) *err = errno;
    if (fd >= 0) {
        size_t len = 0;
        for (;;) {
            if (len + 1 >= cap) { /* does not fit: refuse rather than parse half */
                if (err) *err = EFBIG;
                len = (size_t)-1;
                break;
            }
            ssize_t r = read(fd, buf + len, cap - 1 - len);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) {
                if (err) *err = errno;
                len = (size_t)-1;
                break;
            }
            if (r == 0) break;
            len += (size_t)r;
        }
        close(fd);
        if (len != (size_t)-1) {
            buf[len] = '\0';
            total = (ssize_t)len;
        }
    }
    errno = saved;
    return total;
}

int ml_for_each_line(const char *path, char *buf, size_t cap, bool (*fn)(char *line, void *arg),
                     void *arg) {
    int saved = errno;
    int fd = ml_open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        errno = saved;
        return -e;
    }
    size_t len = 0;
    bool skipping = false, go = true;
    while (go) {
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            if (len && !skipping) { /* last line without newline */
                buf[len] = '\0';
                fn(buf, arg);
            }
            break;
        }
        len += (size_t)r;
        size_t start = 0;
        for (size_t i = 0; i < len && go; i++) {
            if (buf[i] != '\n') continue;
            buf[i] = '\0';
            if (!skipping) go = fn(buf + start, arg);
            skipping = false;
            start = i + 1;
        }
        if (!go) break;
        memmove(buf, buf + start, len - start);
        len -= start;
        if (len == cap - 1) { /* over-long line: drop it up to its newline */
            skipping = true;
            len = 0;
        }
    }
    close(fd);
    errno = saved;
    return 0;
}

struct key_find {
    const char *key;
    uint64_t *out;
    bool found;
};

static bool key_line(char *line, void *arg) {
    struct key_find *k = arg;
    k->found = ml_find_key_u64(line, k->key, k->out);
    return !k->found;
}

int ml_file_key_u64(const char *path, const char *key, uint64_t *out, int *err) {
    /* memory.stat and meminfo lines are short: a longer one is skipped, never cut */
    char buf[256];
    struct key_find k = {.key = key, .out = out};
    int r = ml_for_each_line(path, buf, sizeof buf, key_line, &k);
    if (r < 0) {
        if (err) *err = -r;
        return -1;
    }
    return k.found ? 1 : 0;
}

bool ml_parse_u64(const char *s, uint64_t *out) {
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s < '0' || *s > '9') return false;
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (__builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
            return false;
    }
    while (*s == ' ' || *s == '\t' || *s == '\n')
        s++;
    if (*s) return false;
    *out = v;
    return true;
}

bool ml_find_key_u64(const char *text, const char *key, uint64_t *out) {
    size_t kl = strlen(key);
    for (const char *p = text; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t ll = eol ? (size_t)(eol - p) : strlen(p);
        if (ll > kl && strncmp(p, key, kl) == 0 &&
            (p[kl] == ' ' || p[kl] == ':' || p[kl] == '\t')) {
            const char *v = p + kl + 1;
            while (v < p + ll && (*v == ' ' || *v == '\t'))
                v++;
            uint64_t x = 0;
            bool any = false;
            for (; v < p + ll && *v >= '0' && *v <= '9'; v++) {
                if (__builtin_mul_overflow(x, 10, &x) ||
                    __builtin_add_overflow(x, (uint64_t)(*v - '0'), &x))
                    return false;
                any = true;
            }
            if (!any) return false;
            *out = x;
            return true;
        }
        p = eol ? eol + 1 : NULL;
    }
    return false;
}
