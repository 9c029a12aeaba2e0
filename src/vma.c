/* SPDX-License-Identifier: MIT */
#include "vma.h"
#include "fileio.h"

#include <string.h>

static const char *hex(const char *p, uintptr_t *out) {
    uintptr_t v = 0;
    const char *s = p;
    for (;; p++) {
        unsigned d = *p >= '0' && *p <= '9'   ? (unsigned)(*p - '0')
                     : *p >= 'a' && *p <= 'f' ? (unsigned)(*p - 'a' + 10)
                                              : 16u;
        if (d == 16) break;
        v = v * 16 + d;
    }
    *out = v;
    return p == s ? NULL : p;
}

void ml_vma_scan_init(struct ml_vma_scan *s, const void *addr) {
    s->addr = (uintptr_t)addr;
    s->state = 0;
    s->counts = true;
}

/* "start-end perms offset dev inode [path]" */
static bool header(const char *line, uintptr_t *lo, uintptr_t *hi, const char **perms,
                   uintptr_t *inode) {
    const char *p = hex(line, lo);
    if (!p || *p != '-' || !(p = hex(p + 1, hi)) || *p != ' ') return false;
    *perms = p + 1;
    if (strlen(*perms) < 5 || (*perms)[4] != ' ') return false;
    p = *perms + 5;
    uintptr_t skip;
    if (!(p = hex(p, &skip)) || *p != ' ') return false; /* offset */
    p++;
    while (*p && *p != ' ') /* dev, major:minor */
        p++;
    if (*p != ' ') return false;
    p++;
    uintptr_t ino = 0;
    for (; *p >= '0' && *p <= '9'; p++)
        ino = ino * 10 + (uintptr_t)(*p - '0');
    *inode = ino;
    return true;
}

static bool has_flag(const char *flags, const char *f) {
    for (const char *p = flags; (p = strstr(p, f)); p += 2)
        if ((p == flags || p[-1] == ' ') && (p[2] == ' ' || p[2] == '\0')) return true;
    return false;
}

bool ml_vma_scan_line(struct ml_vma_scan *s, const char *line) {
    if (s->state == 2) return false;
    uintptr_t lo, hi, inode;
    const char *perms;
    if (s->state == 0) {
        if (!header(line, &lo, &hi, &perms, &inode) || s->addr < lo || s->addr >= hi) return true;
        s->state = 1;
        bool none = perms[0] == '-' && perms[1] == '-' && perms[2] == '-';
        /* shared (shmem), file-backed, or no access: never what mmap counts */
        s->counts = perms[3] == 'p' && inode == 0 && !none;
        if (!s->counts) s->state = 2;
        return s->state != 2;
    }
    if (strncmp(line, "VmFlags:", 8) == 0) {
        /* nr: MAP_NORESERVE, ht: hugetlb */
        if (has_flag(line + 8, "nr") || has_flag(line + 8, "ht")) s->counts = false;
        s->state = 2;
        return false;
    }
    if (header(line, &lo, &hi, &perms, &inode)) s->state = 2; /* the next mapping: no flags */
    return s->state != 2;
}

static bool scan_cb(char *line, void *arg) {
    return ml_vma_scan_line(arg, line);
}

bool ml_vma_counts(const void *addr) {
    char buf[512];
    struct ml_vma_scan s;
    ml_vma_scan_init(&s, addr);
    if (ml_for_each_line("/proc/self/smaps", buf, sizeof buf, scan_cb, &s) != 0) return true;
    return s.counts;
}
