/* SPDX-License-Identifier: MIT */
/* Memory-limit discovery: which cgroup this process is in, where its hierarchy is
 * mounted, and the smallest limit on the way up to the mount's root, capped by
 * physical memory. A pure function of a filesystem root ("" for the real system),
 * so tests point it at fixture trees. No allocation; modest stack. */
#ifndef ML_CGROUP_H
#define ML_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

#define ML_PATH_MAX     512
#define ML_CG_MAX_FILES 24

#define ML_NO_LIMIT UINT64_MAX

struct ml_cg_file {
    char path[ML_PATH_MAX]; /* as read, with the root prefix */
    const char *kind;       /* "memory.max", "memory.high", "memory.limit_in_bytes", ... */
    uint64_t value;         /* ML_NO_LIMIT for max / the v1 sentinel */
};

struct ml_cgroup {
    int version;               /* 0 none found, 1 or 2 */
    char dir[ML_PATH_MAX];     /* this process's memory cgroup directory */
    char mount[ML_PATH_MAX];   /* mount point of its hierarchy */
    char v2dir[ML_PATH_MAX];   /* the unified (v2) cgroup directory, also on hybrid systems
                                  where it has memory.pressure but no memory controller;
                                  "" if none */
    uint64_t cgroup_limit;     /* smallest cgroup limit, ML_NO_LIMIT if none */
    uint64_t mem_total;        /* MemTotal, 0 if unreadable */
    char meminfo[ML_PATH_MAX]; /* where it was read */
    uint64_t limit;            /* effective: min(cgroup_limit, mem_total); ML_NO_LIMIT if neither */
    char source[ML_PATH_MAX];  /* the file that gave `limit` */
    const char *source_kind;   /* its kind, as text ("memory.max", "MemTotal"), or NULL */
    enum ml_limit_from { ML_FROM_NONE, ML_FROM_CGROUP, ML_FROM_MEMTOTAL } from; /* `limit`'s */
    int nfiles; /* every limit file read, leaf first */
    struct ml_cg_file files[ML_CG_MAX_FILES];
    bool hidden_ancestors;          /* v2: no limit seen, and the ancestors cannot be seen */
    char warning[ML_PATH_MAX + 96]; /* the first file with contents we could not parse */
};

/* Discovery's buffers, about 7.5 KiB: the library keeps one in static space for
 * whoever holds its sampler, so discovery fits on small thread stacks. */
struct ml_cg_work {
    char line[4096]; /* a line of /proc/self/mountinfo */
    char path[ML_PATH_MAX + 32];
    char dir[ML_PATH_MAX];
    char v1[ML_PATH_MAX], v2[ML_PATH_MAX]; /* our cgroup paths */
    char v1_root[ML_PATH_MAX], v1_mnt[ML_PATH_MAX], v2_root[ML_PATH_MAX], v2_mnt[ML_PATH_MAX];
};

/* Fills *out. Never fails: what cannot be read is simply not a limit. Uses about
 * 0.5 KiB of stack besides *work. */
void ml_cgroup_discover_in(const char *root, struct ml_cgroup *out, struct ml_cg_work *work);
/* The same with its work space on the stack (tools and tests). */
void ml_cgroup_discover(const char *root, struct ml_cgroup *out);

/* Re-reads the limit files discovery found (cheap: a few small reads) and recomputes
 * the limits; a moved process or a new ancestor limit needs ml_cgroup_discover.
 * Returns false (and *cg is half-updated) when a file can no longer be read: the
 * cgroup is gone, and the caller must discover again. Small stack (under 0.5 KiB). */
bool ml_cgroup_reread(struct ml_cgroup *cg);

/* Parsers, exposed for unit tests and fuzzing. */
/* A /proc/self/cgroup line; sets *v1_memory or *v2 when it is the memory or unified line. */
bool ml_parse_proc_cgroup_line(const char *line, char *v1_path, char *v2_path, size_t cap);
/* A mountinfo line: unescaped root and mount point, fstype and super options. */
bool ml_parse_mountinfo_line(char *line, char **root, char **mnt, char **fstype, char **superopts);
/* memory.max / limit_in_bytes contents: true with ML_NO_LIMIT for "max" or the v1 sentinel. */
bool ml_parse_limit_value(const char *text, uint64_t *out);

#pragma GCC visibility pop

#endif
