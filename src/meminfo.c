/* SPDX-License-Identifier: MIT */
/* The container's view of memory (see meminfo.h). */
#include "meminfo.h"

#include <string.h>

struct ml_meminfo_view ml_meminfo_view(uint64_t limit, uint64_t working_set, uint64_t host_total) {
    struct ml_meminfo_view v;
    v.total = host_total && limit > host_total ? host_total : limit;
    v.avail = working_set < v.total ? v.total - working_set : 0;
    v.swap = false, v.swap_total = v.swap_free = 0;
    return v;
}

void ml_meminfo_swap(struct ml_meminfo_view *v, uint64_t limit, uint64_t used, uint64_t host_swap) {
    v->swap = limit != UINT64_MAX;
    if (!v->swap) return;
    v->swap_total = limit < host_swap ? limit : host_swap;
    v->swap_free = used < v->swap_total ? v->swap_total - used : 0;
}

/* "MemTotal:       23509820 kB\n": the kernel's show_val_kb(), the name and colon
 * padded to 16 columns, then the number right-aligned in 8 (wider if it needs). */
static size_t line(char *out, size_t cap, const char *name, uint64_t kb) {
    char num[24];
    int d = 0;
    do
        num[d++] = (char)('0' + kb % 10);
    while ((kb /= 10) && d < (int)sizeof num);
    size_t nl = strlen(name);
    size_t pad = (nl + 1 < 16 ? 16 - (nl + 1) : 0) + ((size_t)d < 8 ? 8 - (size_t)d : 0);
    size_t len = nl + 1 + pad + (size_t)d + 4;
    if (len > cap) return 0;
    char *p = out;
    memcpy(p, name, nl), p += nl;
    *p++ = ':';
    memset(p, ' ', pad), p += pad;
    while (d)
        *p++ = num[--d];
    memcpy(p, " kB\n", 4);
    return len;
}

size_t ml_meminfo_rewrite(const char *in, size_t n, const struct ml_meminfo_view *v, char *out,
                          size_t cap) {
    static const char *const names[] = {"MemTotal", "MemFree", "MemAvailable", "SwapTotal",
                                        "SwapFree"};
    const uint64_t kb[] = {v->total >> 10, v->avail >> 10, v->avail >> 10, v->swap_total >> 10,
                           v->swap_free >> 10};
    const int nnames = v->swap ? 5 : 3;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        const char *eol = memchr(in + i, '\n', n - i);
        size_t len = eol ? (size_t)(eol - (in + i)) + 1 : n - i, w = 0;
        for (int k = 0; k < nnames && !w; k++) {
            size_t nl = strlen(names[k]);
            if (len > nl && memcmp(in + i, names[k], nl) == 0 && in[i + nl] == ':') {
                w = line(out + o, cap - o, names[k], kb[k]);
                if (!w) return 0;
            }
        }
        if (!w) {
            if (len > cap - o) return 0;
            memcpy(out + o, in + i, len);
            w = len;
        }
        o += w;
        i += len;
    }
    return o;
}

bool ml_meminfo_path(const char *p) {
    if (!p || p[0] != '/' || p[1] != 'p') return false; /* every other path: two loads */
    static const char *const spellings[] = {"/proc/meminfo", "/proc/self/../meminfo",
                                            "/proc//meminfo", "/proc/./meminfo"};
    for (size_t i = 0; i < sizeof spellings / sizeof *spellings; i++)
        if (strcmp(p, spellings[i]) == 0) return true;
    return false;
}
