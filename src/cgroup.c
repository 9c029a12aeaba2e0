/* SPDX-License-Identifier: MIT */
#include "cgroup.h"
#include "fileio.h"
#include "log.h"

#include <string.h>
#include <unistd.h>

/* cgroup v1 reports "no limit" as LONG_MAX rounded down to a page (of any size);
 * nothing real is within 2^62 of it. */
#define V1_UNLIMITED (1ULL << 62)

bool ml_parse_limit_value(const char *text, uint64_t *out) {
    const char *p = text;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncmp(p, "max", 3) == 0) {
        p += 3;
        while (*p == ' ' || *p == '\n' || *p == '\t')
            p++;
        if (*p) return false;
        *out = ML_NO_LIMIT;
        return true;
    }
    uint64_t v;
    if (!ml_parse_u64(p, &v)) return false;
    *out = v >= V1_UNLIMITED ? ML_NO_LIMIT : v;
    return true;
}

static void copy_str(char *dst, const char *src, size_t cap) {
    if (dst == src) return; /* ml_cgroup_reread keeps an entry where it was */
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static bool has_token(const char *list, const char *tok) {
    size_t tl = strlen(tok);
    for (const char *p = list; *p;) {
        const char *c = strchr(p, ',');
        size_t l = c ? (size_t)(c - p) : strlen(p);
        if (l == tl && strncmp(p, tok, tl) == 0) return true;
        if (!c) break;
        p = c + 1;
    }
    return false;
}

bool ml_parse_proc_cgroup_line(const char *line, char *v1_path, char *v2_path, size_t cap) {
    /* hierarchy-ID:controller-list:path ; the path may contain ':' and spaces */
    const char *c1 = strchr(line, ':');
    if (!c1 || c1 == line) return false;
    for (const char *d = line; d < c1; d++)
        if (*d < '0' || *d > '9') return false;
    const char *c2 = strchr(c1 + 1, ':');
    if (!c2 || c2[1] != '/') return false;
    const char *path = c2 + 1;
    size_t cl = (size_t)(c2 - c1 - 1);
    if (c1 - line == 1 && line[0] == '0' && cl == 0) {
        copy_str(v2_path, path, cap);
        return true;
    }
    char ctl[256];
    if (cl == 0 || cl >= sizeof ctl) return false;
    memcpy(ctl, c1 + 1, cl);
    ctl[cl] = '\0';
    if (!has_token(ctl, "memory")) return false;
    copy_str(v1_path, path, cap);
    return true;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static void unescape(char *s) {
    char *w = s;
    for (char *r = s; *r;) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 4;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

static char *next_field(char **p) {
    while (**p == ' ')
        (*p)++;
    if (!**p) return NULL;
    char *f = *p;
    while (**p && **p != ' ')
        (*p)++;
    if (**p) *(*p)++ = '\0';
    return f;
}

bool ml_parse_mountinfo_line(char *line, char **root, char **mnt, char **fstype, char **superopts) {
    /* id parent major:minor root mountpoint options [optional...] - fstype source superopts */
    char *p = line, *f[5];
    for (int i = 0; i < 5; i++)
        if (!(f[i] = next_field(&p))) return false;
    if (!next_field(&p)) return false; /* mount options */
    char *sep;
    while ((sep = next_field(&p)) && strcmp(sep, "-") != 0) {
    }
    if (!sep) return false;
    char *fs = next_field(&p), *src = next_field(&p), *so = next_field(&p);
    if (!fs || !src || !so) return false;
    unescape(f[3]);
    unescape(f[4]);
    *root = f[3];
    *mnt = f[4];
    *fstype = fs;
    *superopts = so;
    return true;
}

struct cg_scan {
    const char *v1_path, *v2_path;
    char *v1_root, *v1_mnt, *v2_root, *v2_mnt; /* ML_PATH_MAX each, in the work space */
    size_t v1_match, v2_match; /* length of the mount root matched against the path, +1 */
    bool v2_found;
};

static size_t root_match(const char *mroot, const char *path) {
    size_t l = strlen(mroot);
    if (strcmp(mroot, "/") == 0) return 1;
    if (strncmp(path, mroot, l) == 0 && (path[l] == '/' || path[l] == '\0')) return l + 1;
    return 0;
}

static bool scan_mount(char *line, void *arg) {
    struct cg_scan *s = arg;
    char *root, *mnt, *fs, *so;
    if (!ml_parse_mountinfo_line(line, &root, &mnt, &fs, &so)) return true;
    if (strcmp(fs, "cgroup") == 0 && s->v1_path[0] && has_token(so, "memory")) {
        size_t m = root_match(root, s->v1_path);
        if (!s->v1_mnt[0] || m > s->v1_match) { /* prefer the mount that contains our path */
            copy_str(s->v1_root, root, ML_PATH_MAX);
            copy_str(s->v1_mnt, mnt, ML_PATH_MAX);
            s->v1_match = m;
        }
    } else if (strcmp(fs, "cgroup2") == 0 && s->v2_path[0]) {
        /* as for v1: after `unshare -C` and a fresh mount, the old mount's root lies
         * outside our namespace ("/.."); the first of the best matches wins */
        size_t m = root_match(root, s->v2_path);
        if (!s->v2_found || m > s->v2_match) {
            copy_str(s->v2_root, root, ML_PATH_MAX);
            copy_str(s->v2_mnt, mnt, ML_PATH_MAX);
            s->v2_match = m;
            s->v2_found = true;
        }
    }
    return true;
}

struct cg_lines {
    char *v1, *v2; /* ML_PATH_MAX each, in the work space */
};

static bool scan_cgroup_line(char *line, void *arg) {
    struct cg_lines *l = arg;
    ml_parse_proc_cgroup_line(line, l->v1, l->v2, ML_PATH_MAX);
    return true;
}

/* dir = root + mount point + (path relative to the mount's root) */
static void join_dir(char *out, const char *root, const char *mnt, const char *mroot,
                     const char *path) {
    const char *rel = path;
    size_t m = root_match(mroot, path);
    if (m > 1)
        rel = path + m - 1;
    else if (m == 0)
        rel = ""; /* our cgroup is outside what is mounted (namespaces): use the mount itself */
    if (strcmp(rel, "/") == 0) rel = "";
    if (strcmp(mnt, "/") == 0 && rel[0]) mnt = "";
    ml_fmt(out, ML_PATH_MAX, "%s%s%s", root, mnt, rel);
}

static void add_limit(struct ml_cgroup *cg, const char *path, const char *kind, const char *text) {
    uint64_t v;
    if (!ml_parse_limit_value(text, &v)) {
        if (!cg->warning[0]) {
            char shown[48];
            size_t n = 0;
            for (const char *t = text; *t && *t != '\n' && n < sizeof shown - 1; t++)
                shown[n++] = (*t >= 32 && *t < 127) ? *t : '?';
            shown[n] = '\0';
            ml_fmt(cg->warning, sizeof cg->warning, "ignoring %s: unparsable contents '%s'", path,
                   shown);
        }
        return;
    }
    if (cg->nfiles < ML_CG_MAX_FILES) {
        struct ml_cg_file *f = &cg->files[cg->nfiles++];
        copy_str(f->path, path, sizeof f->path);
        f->kind = kind;
        f->value = v;
    }
    if (v < cg->cgroup_limit) {
        cg->cgroup_limit = v;
        copy_str(cg->source, path, sizeof cg->source);
        cg->source_kind = kind;
    }
}

static void read_limit(struct ml_cgroup *cg, struct ml_cg_work *w, const char *dir,
                       const char *file) {
    char buf[64];
    ml_fmt(w->path, sizeof w->path, "%s/%s", dir, file);
    if (ml_read_file(w->path, buf, sizeof buf) >= 0) add_limit(cg, w->path, file, buf);
}

static void add_hierarchical(struct ml_cgroup *cg, const char *path, const char *kind, uint64_t v) {
    char num[24];
    ml_fmt(num, sizeof num, "%llu", (unsigned long long)v);
    add_limit(cg, path, kind, num);
}

/* Reads the limit files in dir and each ancestor up to and including mount. */
static void walk_up(struct ml_cgroup *cg, struct ml_cg_work *w, int version) {
    char *dir = w->dir;
    copy_str(dir, cg->dir, sizeof w->dir);
    size_t mlen = strlen(cg->mount);
    for (int depth = 0; depth < 64; depth++) {
        if (version == 2) {
            read_limit(cg, w, dir, "memory.max");
            read_limit(cg, w, dir, "memory.high");
        } else {
            read_limit(cg, w, dir, "memory.limit_in_bytes");
        }
        size_t dl = strlen(dir);
        if (dl <= mlen) break;
        char *slash = strrchr(dir, '/');
        if (!slash || (size_t)(slash - dir) < mlen) break;
        *slash = '\0';
    }
    if (version == 1) {
        /* the kernel's own min over ancestors, including ones not mounted here */
        uint64_t v;
        ml_fmt(w->path, sizeof w->path, "%s/memory.stat", cg->dir);
        if (ml_file_key_u64(w->path, "hierarchical_memory_limit", &v, NULL) > 0)
            add_hierarchical(cg, w->path, "hierarchical_memory_limit", v);
    }
}

/* the effective limit: the cgroup's, capped by physical memory */
static void take_memtotal(struct ml_cgroup *cg) {
    cg->limit = cg->cgroup_limit;
    cg->from = cg->limit != ML_NO_LIMIT ? ML_FROM_CGROUP : ML_FROM_NONE;
    if (cg->mem_total && cg->mem_total < cg->limit) {
        cg->limit = cg->mem_total;
        copy_str(cg->source, cg->meminfo, sizeof cg->source);
        cg->source_kind = "MemTotal";
        cg->from = ML_FROM_MEMTOTAL;
    }
}

void ml_cgroup_discover_in(const char *root, struct ml_cgroup *cg, struct ml_cg_work *w) {
    memset(cg, 0, sizeof *cg);
    cg->cgroup_limit = ML_NO_LIMIT;
    cg->limit = ML_NO_LIMIT;
    if (!root) root = "";

    struct cg_lines lines = {.v1 = w->v1, .v2 = w->v2};
    lines.v1[0] = lines.v2[0] = '\0';
    ml_fmt(w->path, sizeof w->path, "%s/proc/self/cgroup", root);
    ml_for_each_line(w->path, w->line, sizeof w->line, scan_cgroup_line, &lines);

    if (lines.v1[0] || lines.v2[0]) {
        struct cg_scan scan = {.v1_path = lines.v1,
                               .v2_path = lines.v2,
                               .v1_root = w->v1_root,
                               .v1_mnt = w->v1_mnt,
                               .v2_root = w->v2_root,
                               .v2_mnt = w->v2_mnt};
        scan.v1_root[0] = scan.v1_mnt[0] = scan.v2_root[0] = scan.v2_mnt[0] = '\0';
        ml_fmt(w->path, sizeof w->path, "%s/proc/self/mountinfo", root);
        ml_for_each_line(w->path, w->line, sizeof w->line, scan_mount, &scan);
        bool v2_outside = scan.v2_found && scan.v2_match == 0 && !strncmp(scan.v2_root, "/..", 3);
        /* the memory controller lives on v1 when a v1 memory hierarchy is mounted (hybrid) */
        if (scan.v1_mnt[0]) {
            cg->version = 1;
            join_dir(cg->dir, root, scan.v1_mnt, scan.v1_root, lines.v1);
            ml_fmt(cg->mount, sizeof cg->mount, "%s%s", root, scan.v1_mnt);
        } else if (v2_outside) {
            /* a cgroup namespace whose cgroup2 mount starts above its root ("/../.."):
             * our cgroup is somewhere below the mount, under names we cannot see,
             * and the mount's own root is another cgroup (before: its limit read) */
            ml_fmt(cg->warning, sizeof cg->warning,
                   "cannot locate this process's cgroup: the cgroup2 mount at %s starts "
                   "outside its cgroup namespace (root %s); no cgroup limit is read: set "
                   "MEMLIMIT, or mount cgroup2 in the namespace",
                   scan.v2_mnt, scan.v2_root);
        } else if (scan.v2_found) {
            cg->version = 2;
            join_dir(cg->dir, root, scan.v2_mnt, scan.v2_root, lines.v2);
            ml_fmt(cg->mount, sizeof cg->mount, "%s%s", root, scan.v2_mnt);
        }
        if (scan.v2_found && !v2_outside)
            join_dir(cg->v2dir, root, scan.v2_mnt, scan.v2_root, lines.v2);
        if (cg->version) walk_up(cg, w, cg->version);
        /* v2 at the top of its mount with no limit, where that top is not the root
         * cgroup (which has no memory.max): a cgroup namespace or a bind mount hides
         * the ancestors, and a limit there cannot be seen (v1's memory.stat gives
         * the kernel's own minimum over all of them) */
        if (cg->version == 2 && cg->cgroup_limit == ML_NO_LIMIT && !strcmp(cg->dir, cg->mount)) {
            ml_fmt(w->path, sizeof w->path, "%s/memory.max", cg->dir);
            cg->hidden_ancestors = access(w->path, F_OK) == 0;
        }
    }

    uint64_t kb;
    ml_fmt(w->path, sizeof w->path, "%s/proc/meminfo", root);
    if (ml_file_key_u64(w->path, "MemTotal", &kb, NULL) > 0 && kb < (UINT64_MAX >> 10)) {
        cg->mem_total = kb << 10;
        copy_str(cg->meminfo, w->path, sizeof cg->meminfo);
    }
    take_memtotal(cg);
}

void ml_cgroup_discover(const char *root, struct ml_cgroup *cg) {
    struct ml_cg_work w;
    ml_cgroup_discover_in(root, cg, &w);
}

bool ml_cgroup_reread(struct ml_cgroup *cg) {
    /* the files are re-read in place: entry i moves to k <= i, so nothing is copied
     * aside (this runs on application threads, whose stacks may be small) */
    int n = cg->nfiles;
    cg->nfiles = 0;
    cg->cgroup_limit = ML_NO_LIMIT;
    cg->source[0] = '\0';
    cg->source_kind = NULL;
    for (int i = 0; i < n; i++) {
        struct ml_cg_file *f = &cg->files[i];
        const char *kind = f->kind;
        if (strcmp(kind, "hierarchical_memory_limit") == 0) {
            uint64_t v;
            int r = ml_file_key_u64(f->path, kind, &v, NULL);
            if (r < 0) return false;
            if (r == 0) continue; /* no such line any more */
            add_hierarchical(cg, f->path, kind, v);
        } else {
            char buf[64];
            if (ml_read_file(f->path, buf, sizeof buf) < 0) return false;
            add_limit(cg, f->path, kind, buf);
        }
    }
    take_memtotal(cg);
    return true;
}
