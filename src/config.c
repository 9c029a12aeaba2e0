#include "config.h"
#include "fileio.h"
#include "log.h"

#include <signal.h>
#include <string.h>

const char *ml_parse_size(const char *s, struct ml_size *out) {
    static const char *const accepted =
        "a size like 512MiB, 1.5GiB, 2000MB or 1073741824 (B, KiB, MiB, GiB, TiB, KB, MB, GB, "
        "TB, K, M, G, T), a share like 80% (above 0, at most 100), or off";
    static const struct {
        const char *name;
        uint64_t mult;
    } units[] = {
        {"", 1},
        {"B", 1},
        {"K", 1ULL << 10},
        {"KiB", 1ULL << 10},
        {"KB", 1000ULL},
        {"M", 1ULL << 20},
        {"MiB", 1ULL << 20},
        {"MB", 1000000ULL},
        {"G", 1ULL << 30},
        {"GiB", 1ULL << 30},
        {"GB", 1000000000ULL},
        {"T", 1ULL << 40},
        {"TiB", 1ULL << 40},
        {"TB", 1000000000000ULL},
    };
    if (!s) return accepted;
    if (strcmp(s, "off") == 0) {
        *out = (struct ml_size){.kind = ML_SIZE_OFF};
        return NULL;
    }
    /* number: digits [ '.' digits ] */
    const char *p = s;
    uint64_t ip = 0, frac = 0, fscale = 1;
    if (*p < '0' || *p > '9') return accepted;
    for (; *p >= '0' && *p <= '9'; p++)
        if (__builtin_mul_overflow(ip, 10, &ip) || __builtin_add_overflow(ip, *p - '0', &ip))
            return accepted;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9') return accepted;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (fscale >= 1000000000000000000ULL) continue; /* digits past 1e-18 do not matter */
            frac = frac * 10 + (uint64_t)(*p - '0');
            fscale *= 10;
        }
    }
    if (strcmp(p, "%") == 0) {
        /* milli-percent, exact for up to three decimals */
        unsigned __int128 mp =
            (unsigned __int128)ip * 1000 + (unsigned __int128)frac * 1000 / fscale;
        if (mp == 0 || mp > 100000) return accepted;
        *out = (struct ml_size){.kind = ML_SIZE_PERCENT, .milli_percent = (uint32_t)mp};
        return NULL;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(p, units[i].name) != 0) continue;
        unsigned __int128 b = (unsigned __int128)ip * units[i].mult +
                              (unsigned __int128)frac * units[i].mult / fscale;
        /* limits are int64_t in the API (memlimit_set_limit) */
        if (b == 0 || b > (unsigned __int128)INT64_MAX) return accepted;
        *out = (struct ml_size){.kind = ML_SIZE_BYTES, .bytes = (uint64_t)b};
        return NULL;
    }
    return accepted;
}

uint64_t ml_size_resolve(const struct ml_size *sz, uint64_t base) {
    switch (sz->kind) {
    case ML_SIZE_BYTES:
        return sz->bytes;
    case ML_SIZE_PERCENT:
        return (uint64_t)((unsigned __int128)base * sz->milli_percent / 100000);
    default:
        return 0;
    }
}

const int ml_profile_signals[5] = {0, SIGUSR1, SIGUSR2, SIGPWR, SIGURG};

/* ---- the option table ---- */

enum opt_type { OPT_SIZE, OPT_CHOICE, OPT_PATH, OPT_COUNT };

struct option {
    const char *name;
    enum opt_type type;
    size_t offset;
    const char *choices; /* OPT_CHOICE: '|'-separated, stored as the index;
                            OPT_COUNT: the unit suffix that may follow the number;
                            OPT_PATH: a word that stands for the default (NULL) */
    uint32_t min, max;   /* OPT_COUNT */
};

#define OFF(field) offsetof(struct ml_config, field)
static const struct option options[] = {
    {"MEMLIMIT", OPT_SIZE, OFF(soft), NULL, 0, 0},
    {"MEMLIMIT_HARD", OPT_SIZE, OFF(hard), NULL, 0, 0},
    {"MEMLIMIT_HARD_WAIT", OPT_COUNT, OFF(hard_wait_ms), "ms", 0, 1000},
    {"MEMLIMIT_SCOPE", OPT_CHOICE, OFF(scope), "process|cgroup", 0, 0},
    {"MEMLIMIT_EVENTS", OPT_CHOICE, OFF(events), "auto|on|off", 0, 0},
    {"MEMLIMIT_TRACE", OPT_CHOICE, OFF(trace), "0|1|2", 0, 0},
    {"MEMLIMIT_TRACE_INTERVAL", OPT_COUNT, OFF(trace_interval_ms), "ms", 10, 3600000},
    {"MEMLIMIT_LOG", OPT_PATH, OFF(log), "stderr", 0, 0},
    {"MEMLIMIT_REFRESH", OPT_COUNT, OFF(refresh_sec), "s", 1, 3600},
    {"MEMLIMIT_METRICS", OPT_PATH, OFF(metrics), NULL, 0, 0},
    {"MEMLIMIT_METRICS_INTERVAL", OPT_COUNT, OFF(metrics_interval_sec), "s", 1, 3600},
    {"MEMLIMIT_PROFILE", OPT_PATH, OFF(profile), NULL, 0, 0},
    {"MEMLIMIT_PROFILE_RATE", OPT_SIZE, OFF(profile_rate), NULL, 0, 0},
    {"MEMLIMIT_PROFILE_SIGNAL", OPT_CHOICE, OFF(profile_signal),
     "off|SIGUSR1|SIGUSR2|SIGPWR|SIGURG", 0, 0},
};

static int choice_index(const char *choices, const char *v) {
    size_t vl = strlen(v);
    int idx = 0;
    for (const char *c = choices; *c; idx++) {
        const char *bar = strchr(c, '|');
        size_t cl = bar ? (size_t)(bar - c) : strlen(c);
        if (cl == vl && strncmp(c, v, vl) == 0) return idx;
        if (!bar) break;
        c = bar + 1;
    }
    return -1;
}

static void reject(ml_report_fn report, const char *name, const char *value, const char *what) {
    char line[512];
    ml_fmt(line, sizeof line, "%s='%s' is not valid (expected %s); ignoring it", name, value, what);
    if (report) report(line);
}

int ml_config_load(struct ml_config *cfg, ml_getenv_fn get, ml_report_fn report) {
    *cfg = (struct ml_config){.scope = ML_SCOPE_PROCESS,
                              .refresh_sec = 10,
                              .hard_wait_ms = 5,
                              .trace_interval_ms = 1000,
                              .metrics_interval_sec = 5};
    int bad = 0;
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
        const struct option *o = &options[i];
        const char *v = get(o->name);
        if (!v) continue;
        void *field = (char *)cfg + o->offset;
        switch (o->type) {
        case OPT_SIZE: {
            const char *err = ml_parse_size(v, (struct ml_size *)field);
            if (err) {
                reject(report, o->name, v, err);
                bad++;
            }
            break;
        }
        case OPT_CHOICE: {
            int idx = choice_index(o->choices, v);
            if (idx < 0) {
                char what[128];
                ml_fmt(what, sizeof what, "one of %s", o->choices);
                reject(report, o->name, v, what);
                bad++;
            } else {
                *(int *)field = idx;
            }
            break;
        }
        case OPT_PATH:
            if (v[0] == '\0') {
                reject(report, o->name, v, o->choices ? "a file path or stderr" : "a file path");
                bad++;
            } else { /* choices: a word that means "the default" (stderr) */
                *(const char **)field = o->choices && strcmp(v, o->choices) == 0 ? NULL : v;
            }
            break;
        case OPT_COUNT: {
            /* "10" or "10" + unit, like "10s" or "5ms" */
            uint64_t x = 0;
            size_t l = strlen(v), ul = strlen(o->choices);
            char tmp[32];
            bool ok = l > 0 && l < sizeof tmp && v[0] >= '0' && v[0] <= '9';
            if (ok) {
                memcpy(tmp, v, l + 1);
                if (l > ul && strcmp(tmp + l - ul, o->choices) == 0) tmp[l - ul] = '\0';
                ok = ml_parse_u64(tmp, &x) && x >= o->min && x <= o->max && !strchr(tmp, ' ');
            }
            if (!ok) {
                char what[128];
                ml_fmt(what, sizeof what, "a whole number from %u to %u, like %u or %u%s", o->min,
                       o->max, o->max / 100, o->max / 100, o->choices);
                reject(report, o->name, v, what);
                bad++;
            } else {
                *(uint32_t *)field = (uint32_t)x;
            }
            break;
        }
        }
    }
    return bad;
}
