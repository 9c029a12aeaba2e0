/* SPDX-License-Identifier: MIT */
/* Configuration: one declarative table of environment variables (config.c),
 * each parsed exactly once at start-up. A bad value yields one line naming the
 * variable, the value and what is accepted, and the option keeps its default. */
#ifndef ML_CONFIG_H
#define ML_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

enum ml_size_kind { ML_SIZE_UNSET, ML_SIZE_OFF, ML_SIZE_BYTES, ML_SIZE_PERCENT };

struct ml_size {
    enum ml_size_kind kind;
    uint64_t bytes;         /* ML_SIZE_BYTES */
    uint32_t milli_percent; /* ML_SIZE_PERCENT: 80% is 80000 */
};

/* MEMLIMIT_SCOPE; the order of its choices in the option table */
enum ml_scope { ML_SCOPE_AUTO, ML_SCOPE_PROCESS, ML_SCOPE_CGROUP };
enum ml_events { ML_EVENTS_AUTO, ML_EVENTS_ON, ML_EVENTS_OFF };
/* MEMLIMIT_THP, in its choices' order */
enum ml_thp { ML_THP_AUTO, ML_THP_KEEP, ML_THP_NEVER };
enum ml_log_format { ML_LOG_TEXT, ML_LOG_JSON };
/* MEMLIMIT_MEMINFO, in its choices' order */
enum ml_meminfo { ML_MEMINFO_CONTAINER, ML_MEMINFO_HOST };
/* MEMLIMIT_GC, in its choices' order */
enum ml_gc { ML_GC_ON, ML_GC_OFF };

#define ML_CONFIG_PATH_MAX 4096 /* PATH_MAX */

struct ml_config {
    struct ml_size soft;           /* MEMLIMIT */
    struct ml_size hard;           /* MEMLIMIT_HARD */
    uint32_t hard_wait_ms;         /* MEMLIMIT_HARD_WAIT: how long an allocation at the hard limit
                                      waits for a CRITICAL round before it fails */
    enum ml_scope scope;           /* MEMLIMIT_SCOPE */
    enum ml_events events;         /* MEMLIMIT_EVENTS: kernel events wake the memlimit thread */
    enum ml_thp thp;               /* MEMLIMIT_THP: transparent huge pages for this process */
    enum ml_meminfo meminfo;       /* MEMLIMIT_MEMINFO: what sysconf and /proc/meminfo say */
    enum ml_gc gc;                 /* MEMLIMIT_GC: the interpreter's garbage collected at soft */
    int trace;                     /* MEMLIMIT_TRACE: 0 off, 1 events, 2 events and samples */
    uint32_t trace_interval_ms;    /* MEMLIMIT_TRACE_INTERVAL: between sample lines */
    const char *log;               /* MEMLIMIT_LOG: NULL for stderr */
    enum ml_log_format log_format; /* MEMLIMIT_LOG_FORMAT: text or json */
    uint32_t refresh_sec;          /* MEMLIMIT_REFRESH: how often limits are re-read */
    uint32_t give_up_sec;          /* MEMLIMIT_GIVE_UP: exit after this long above soft; 0 off */
    const char *metrics;           /* MEMLIMIT_METRICS: Prometheus text file, NULL for none */
    uint32_t metrics_interval_sec; /* MEMLIMIT_METRICS_INTERVAL */
    const char *profile;           /* MEMLIMIT_PROFILE: heap profile path prefix, NULL for none */
    struct ml_size profile_rate;   /* MEMLIMIT_PROFILE_RATE: mean bytes between samples */
    int profile_signal;            /* MEMLIMIT_PROFILE_SIGNAL: index into ml_profile_signals */
    const char *pressure_watch;    /* systemd's $MEMORY_PRESSURE_WATCH, NULL if unset */
    const char *pressure_write;    /* systemd's $MEMORY_PRESSURE_WRITE (base64), NULL if unset */
    /* Where the strings above live (last: loading clears only what comes before): copied
     * at load, because programs that set their
     * process title (redis, postgres, nginx) write over the environment strings. */
    char store[5][ML_CONFIG_PATH_MAX];
};

/* MEMLIMIT_PROFILE_SIGNAL's choices as signal numbers (0 for off) */
extern const int ml_profile_signals[5];
#define ML_PROFILE_RATE_DEFAULT (512u << 10)

/* Sizes: "512MiB", "1.5GiB", "1073741824", "80%", "off". On error returns a static
 * description of what is accepted and leaves *out alone. */
const char *ml_parse_size(const char *s, struct ml_size *out);

/* Bytes a size means given the detected limit (percentages); 0 if unset or off. */
uint64_t ml_size_resolve(const struct ml_size *sz, uint64_t base);

/* secure: the value names a file or is passed to one; in secure-execution mode
 * (setuid) the getter returns NULL for it. */
typedef const char *(*ml_getenv_fn)(const char *name, bool secure);
typedef void (*ml_report_fn)(const char *line);

/* Defaults (each in its row of the table), then every variable of the table that is
 * set, each read once, MEMLIMIT_LOG first (so report can send later lines there: cfg
 * is filled in place). Each rejected value is reported as one line (without prefix or
 * newline). Returns the number rejected. */
int ml_config_load(struct ml_config *cfg, ml_getenv_fn get, ml_report_fn report);

/* Each MEMLIMIT_* name in env ("NAME=VALUE" strings, NULL-terminated, like environ)
 * that is not an option of the table (nor one of the few names memlimit's own tools
 * and tests read) is reported as one line with the option nearest to it by edit
 * distance: MEMLIMIT_TRCE, did you mean MEMLIMIT_TRACE? Allocation-free. Returns how
 * many were reported. */
int ml_config_check_names(char *const *env, ml_report_fn report);
/* Levenshtein distance of a[0..al) and b[0..bl), each cut to 64 bytes. */
unsigned ml_edit_distance(const char *a, size_t al, const char *b, size_t bl);

#pragma GCC visibility pop

#endif
