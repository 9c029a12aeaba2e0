/* SPDX-License-Identifier: MIT */
/* memlimit-show: what libmemlimit would decide in this place, without running
 * anything. Built from the library's own core (src/), so the answer is the
 * library's: the same configuration table, discovery and derivation. The allocator
 * is the one this process finds, so run it with the LD_PRELOAD the command would
 * have (memlimit-run --show does, adding an allocator the command links).
 * usage: memlimit-show [--json] [--root DIR]   (DIR: read /proc and /sys under it)
 *        memlimit-show --check   (exit 2, with one line each, if a MEMLIMIT_* value is bad) */
#include "cgroup.h"
#include "config.h"
#include "decide.h"
#include "watch.h"
#include "log.h"
#include "trim.h"
#include "preflight.h"
#include "usage.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_WARN 16
static char warnings[MAX_WARN][600];
static int nwarn;

static void add_warning(const char *line) {
    if (nwarn < MAX_WARN) snprintf(warnings[nwarn++], sizeof warnings[0], "%s", line);
}

static const char *get(const char *name, bool secure) {
    (void)secure; /* a tool, not a preloaded library: it runs as its user */
    return getenv(name);
}

static const char *get_plain(const char *name) {
    return getenv(name);
}

static void *lookup(const char *name, bool glibc) {
    (void)glibc; /* the default version is the one this program links */
    return dlsym(RTLD_DEFAULT, name);
}

static void json_str(const char *s) {
    putchar('"');
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void json_bytes(uint64_t v) {
    if (v == ML_NO_LIMIT)
        printf("null");
    else
        printf("%llu", (unsigned long long)v);
}

static const char *human(char buf[24], uint64_t v) {
    if (v == ML_NO_LIMIT) return "max (no limit)";
    return ml_fmt_bytes(buf, v);
}

/* The event sources the library would use, as the watch plans them. */
static void describe_sources(char *out, size_t cap, const struct ml_cgroup *cg, const char *root,
                             const struct ml_config *cfg) {
    struct ml_watch_plan plan;
    char psi[ML_PATH_MAX + 64];
    ml_watch_plan(cg->version, cg->v2dir, root, cfg->pressure_watch, &plan);
    if (plan.psi == ML_WATCH_PSI_NONE)
        ml_fmt(psi, sizeof psi, "no PSI ($MEMORY_PRESSURE_WATCH=/dev/null)");
    else if (plan.psi == ML_WATCH_PSI_SYSTEMD)
        ml_fmt(psi, sizeof psi, "systemd's $MEMORY_PRESSURE_WATCH %s", plan.psi_path);
    else if (plan.psi_exists)
        ml_fmt(psi, sizeof psi, "PSI triggers on %s", plan.psi_path);
    else
        ml_fmt(psi, sizeof psi, "no PSI (no %s)", plan.psi_path);
    ml_fmt(out, cap, "%s%s",
           plan.v1_thresholds   ? "cgroup v1 usage thresholds, "
           : plan.memory_events ? "memory.events, "
                                : "",
           psi);
}

int main(int argc, char **argv) {
    int json = 0, check = 0;
    const char *root = "";
    if (argc == 4 && strcmp(argv[1], "--preload-check") == 0) { /* memlimit-run, before exec */
        char msg[8400];
        if (ml_preflight(argv[2], argv[3], msg, sizeof msg) == 0) return 0;
        fprintf(stderr, "memlimit-run: %s\n", msg);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--check") == 0)
            check = 1;
        else if (strcmp(argv[i], "--root") == 0 && i + 1 < argc)
            root = argv[++i];
        else {
            fprintf(stderr,
                    "memlimit-show: unknown argument '%s' (usage: memlimit-show [--json] "
                    "[--root DIR] | --check | --preload-check LIB CMD)\n",
                    argv[i]);
            return 2;
        }
    }
    struct ml_config cfg;
    int bad = ml_config_load(&cfg, get, add_warning);
    if (check) {
        for (int i = 0; i < nwarn; i++) {
            char *tail = strstr(warnings[i], "; ignoring it"); /* not here: we refuse */
            if (tail) *tail = '\0';
            fprintf(stderr, "memlimit-run: %s\n", warnings[i]);
        }
        return bad ? 2 : 0;
    }
    static struct ml_cgroup cg;
    ml_cgroup_discover(root, &cg);
    if (cg.warning[0]) add_warning(cg.warning);
    uint64_t soft = ml_decide_soft(&cfg, cg.limit, cg.cgroup_limit),
             hard = ml_decide_hard(&cfg, cg.limit);
    char hard_warning[256];
    if (ml_decide_hard_warning(soft, hard, hard_warning, sizeof hard_warning))
        add_warning(hard_warning);
    char soft_desc[ML_PATH_MAX + 256];
    ml_describe_soft(soft_desc, sizeof soft_desc, &cfg, &cg, soft);
    ml_trim_init(lookup);
    const char *alloc = ml_trim_allocator_name();
    unsigned arenas = 0;
    if ((soft || hard) && ml_trim_cap_arenas(ml_decide_arenas(), get_plain))
        arenas = ml_decide_arenas();
    bool by_cgroup = ml_decide_by_cgroup(cfg.scope, &cg, cfg.soft.kind == ML_SIZE_BYTES);
    const char *scope = ml_scope_name(cfg.scope, by_cgroup);
    char usage_dir[ML_PATH_MAX];
    ml_usage_dir(&cg, usage_dir, sizeof usage_dir);
    char sources[3 * ML_PATH_MAX + 160];
    describe_sources(sources, sizeof sources, &cg, root, &cfg);
    /* memory.high is one of the limit files on v2; say which, if any */
    uint64_t high = ML_NO_LIMIT;
    for (int i = 0; i < cg.nfiles; i++)
        if (strcmp(cg.files[i].kind, "memory.high") == 0 && cg.files[i].value < high)
            high = cg.files[i].value;

    /* what sysconf, sysinfo and /proc/meminfo would report (preload/meminfo.c) */
    bool container = cfg.meminfo == ML_MEMINFO_CONTAINER && cg.cgroup_limit != ML_NO_LIMIT;
    uint64_t view_total = container && cg.mem_total && cg.cgroup_limit > cg.mem_total
                              ? cg.mem_total
                              : cg.cgroup_limit;

    if (json) {
        printf("{\"cgroup\": {\"version\": %d, \"dir\": ", cg.version);
        json_str(cg.dir);
        printf(", \"mount\": ");
        json_str(cg.mount);
        printf(", \"files\": [");
        for (int i = 0; i < cg.nfiles; i++) {
            printf("%s{\"path\": ", i ? ", " : "");
            json_str(cg.files[i].path);
            printf(", \"kind\": ");
            json_str(cg.files[i].kind);
            printf(", \"bytes\": ");
            json_bytes(cg.files[i].value);
            printf("}");
        }
        printf("], \"memory_high\": ");
        json_bytes(high);
        printf(", \"cgroup_limit\": ");
        json_bytes(cg.cgroup_limit);
        printf("},\n \"mem_total\": %llu, \"limit\": ", (unsigned long long)cg.mem_total);
        json_bytes(cg.limit);
        printf(", \"limit_source\": ");
        json_str(cg.limit == ML_NO_LIMIT ? "" : cg.source);
        printf(", \"limit_kind\": ");
        json_str(cg.source_kind ? cg.source_kind : "");
        printf(",\n \"soft\": %llu, \"soft_description\": ", (unsigned long long)soft);
        json_str(soft_desc);
        printf(", \"hard\": %llu, \"scope\": \"%s\", \"allocator\": \"%s\", \"arenas_cap\": %u,\n",
               (unsigned long long)hard, scope, alloc, arenas);
        printf(" \"meminfo\": \"%s\", \"meminfo_total\": %llu,\n", container ? "container" : "host",
               (unsigned long long)(container ? view_total : cg.mem_total));
        printf(" \"events\": \"%s\", \"event_sources\": ", cfg.events == ML_EVENTS_OFF  ? "off"
                                                           : cfg.events == ML_EVENTS_ON ? "on"
                                                                                        : "auto");
        json_str(sources);
        printf(",");
        printf(" \"trace\": %d, \"log\": ", cfg.trace);
        json_str(cfg.log ? cfg.log : "stderr");
        printf(", \"refresh_sec\": %u, \"metrics\": ", cfg.refresh_sec);
        if (cfg.metrics)
            json_str(cfg.metrics);
        else
            printf("null");
        printf(", \"warnings\": [");
        for (int i = 0; i < nwarn; i++) {
            if (i) printf(", ");
            json_str(warnings[i]);
        }
        printf("]}\n");
        return 0;
    }

    char a[24], b[24];
    if (cg.version)
        printf("cgroup:           v%d %s (hierarchy mounted at %s)\n", cg.version, cg.dir,
               cg.mount);
    else
        printf("cgroup:           none with a memory controller found\n");
    if (cg.nfiles) printf("limit files read (this cgroup first, then each ancestor):\n");
    for (int i = 0; i < cg.nfiles; i++)
        printf("  %-26s %-15s %s\n", cg.files[i].kind, human(a, cg.files[i].value),
               cg.files[i].path);
    if (cg.version == 2) printf("memory.high:      %s\n", human(a, high));
    printf("physical memory:  %s (MemTotal)\n", cg.mem_total ? ml_fmt_bytes(a, cg.mem_total) : "?");
    if (cg.limit == ML_NO_LIMIT)
        printf("effective limit:  none\n");
    else
        printf("effective limit:  %s (%s at %s)\n", ml_fmt_bytes(a, cg.limit),
               cg.source_kind ? cg.source_kind : "?", cg.source);
    printf("soft limit:       %s\n",
           strncmp(soft_desc, "soft ", 5) == 0 ? soft_desc + 5 : soft_desc);
    if (hard)
        printf("hard limit:       %s (MEMLIMIT_HARD; allocations past it fail with ENOMEM)\n",
               ml_fmt_bytes(b, hard));
    else
        printf("hard limit:       off\n");
    if (by_cgroup)
        printf("scope:            %s (the working set of %s: its charge less inactive file "
               "cache)\n",
               scope, usage_dir);
    else
        printf("scope:            %s (this process's resident anonymous memory)\n", scope);
    if (arenas)
        printf("allocator:        %s (arenas would be capped at %u)\n", alloc, arenas);
    else
        printf("allocator:        %s\n", alloc);
    if (container)
        printf("memory view:      container: sysconf, sysinfo and /proc/meminfo report %s total "
               "(the machine: %s; MEMLIMIT_MEMINFO=host shows the machine's)\n",
               ml_fmt_bytes(a, view_total), ml_fmt_bytes(b, cg.mem_total));
    else
        printf("memory view:      host: %s total (%s)\n", ml_fmt_bytes(a, cg.mem_total),
               cfg.meminfo == ML_MEMINFO_HOST ? "MEMLIMIT_MEMINFO=host" : "no cgroup limit");
    printf("kernel events:    %s%s%s\n",
           cfg.events == ML_EVENTS_OFF ? "off (the memlimit thread still looks)"
           : soft || hard              ? "on (the memlimit thread runs: a limit is in force)"
           : cfg.events == ML_EVENTS_ON || cfg.scope == ML_SCOPE_CGROUP
               ? "on (memlimit thread from the start)"
               : "auto: once a limit is in force or a callback is registered",
           cfg.events == ML_EVENTS_OFF ? "" : "; ", cfg.events == ML_EVENTS_OFF ? "" : sources);
    printf("trace:            %d, to %s; limits re-read every %u s\n", cfg.trace,
           cfg.log ? cfg.log : "stderr", cfg.refresh_sec);
    if (cfg.metrics)
        printf("metrics:          %s every %u s\n", cfg.metrics, cfg.metrics_interval_sec);
    for (int i = 0; i < nwarn; i++)
        printf("warning:          %s\n", warnings[i]);
    return 0;
}
