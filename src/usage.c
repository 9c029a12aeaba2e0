/* SPDX-License-Identifier: MIT */
#include "sysio.h"
#include "usage.h"
#include "fileio.h"
#include "log.h"

#include <string.h>
#include <unistd.h>

uint64_t ml_parse_statm(const char *text, uint64_t page) {
    /* size resident shared text lib data dt, in pages */
    uint64_t f[3];
    const char *p = text;
    for (int i = 0; i < 3; i++) {
        while (*p == ' ')
            p++;
        if (*p < '0' || *p > '9') return 0;
        uint64_t v = 0;
        for (; *p >= '0' && *p <= '9'; p++)
            v = v * 10 + (uint64_t)(*p - '0');
        f[i] = v;
    }
    return f[1] > f[2] ? (f[1] - f[2]) * page : 0;
}

uint64_t ml_usage_process(int *err) {
    static uint64_t page;
    char buf[128];
    if (!page) page = (uint64_t)ml_page_size();
    if (ml_read_file_err("/proc/self/statm", buf, sizeof buf, err) < 0) return 0;
    return ml_parse_statm(buf, page);
}

uint64_t ml_working_set(uint64_t usage, const char *stat, int version) {
    uint64_t inactive = 0;
    ml_find_key_u64(stat, version == 1 ? "total_inactive_file" : "inactive_file", &inactive);
    return usage > inactive ? usage - inactive : 0;
}

uint64_t ml_usage_cgroup_charge(const char *dir, int version, int *err) {
    char path[ML_PATH_MAX + 32], buf[64];
    uint64_t usage;
    if (version == 0) return 0;
    ml_fmt(path, sizeof path, "%s/%s", dir,
           version == 1 ? "memory.usage_in_bytes" : "memory.current");
    if (ml_read_file_err(path, buf, sizeof buf, err) < 0 || !ml_parse_u64(buf, &usage)) return 0;
    return usage;
}

/* a cgroup file's number ("max" and the v1 sentinel are ML_NO_LIMIT) */
static bool read_value(const char *dir, const char *name, uint64_t *out) {
    char path[ML_PATH_MAX + 32], buf[64];
    ml_fmt(path, sizeof path, "%s/%s", dir, name);
    return ml_read_file_err(path, buf, sizeof buf, NULL) >= 0 && ml_parse_limit_value(buf, out);
}

bool ml_usage_cgroup_swap(const char *dir, int version, uint64_t *limit, uint64_t *used) {
    uint64_t a, b, c, d;
    if (version == 2) {
        if (!read_value(dir, "memory.swap.max", &a) || !read_value(dir, "memory.swap.current", &b))
            return false;
        *limit = a, *used = b == ML_NO_LIMIT ? 0 : b;
        return true;
    }
    if (version != 1 || !read_value(dir, "memory.memsw.limit_in_bytes", &a) ||
        !read_value(dir, "memory.limit_in_bytes", &b) ||
        !read_value(dir, "memory.memsw.usage_in_bytes", &c) ||
        !read_value(dir, "memory.usage_in_bytes", &d))
        return false;
    /* the two are read one after the other: never below 0 */
    *limit = a == ML_NO_LIMIT ? ML_NO_LIMIT : b == ML_NO_LIMIT || a <= b ? 0 : a - b;
    *used = c > d ? c - d : 0;
    return true;
}

uint64_t ml_usage_cgroup_inactive(const char *dir, int version) {
    char path[ML_PATH_MAX + 32];
    uint64_t inactive = 0;
    if (version == 0) return 0;
    /* read in small pieces: this runs on application threads */
    ml_fmt(path, sizeof path, "%s/memory.stat", dir);
    ml_file_key_u64(path, version == 1 ? "total_inactive_file" : "inactive_file", &inactive, NULL);
    return inactive;
}

void ml_usage_dir(const struct ml_cgroup *cg, char *out, size_t cap) {
    const char *src = cg->from == ML_FROM_CGROUP ? cg->source : "";
    const char *slash = strrchr(src, '/');
    size_t n = slash ? (size_t)(slash - src) : 0;
    if (!n || n >= cap) {
        ml_fmt(out, cap, "%s", cg->dir);
        return;
    }
    memcpy(out, src, n);
    out[n] = '\0';
}
