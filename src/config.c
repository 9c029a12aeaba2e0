/* SPDX-License-Identifier: MIT */
#include "config.h"
#include "fileio.h"
#include "log.h"

#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

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

/* OPT_LIMIT: a size, a share (80%) or off, where a plain number below 1 MiB is refused
 * (MEMLIMIT=512 is 512 bytes: surely meant with a unit); OPT_BYTES: a size only;
 * OPT_SIGNAL: a choice of signal names, with or without "SIG", in any case */
enum opt_type { OPT_LIMIT, OPT_BYTES, OPT_CHOICE, OPT_SIGNAL, OPT_PATH, OPT_TEXT, OPT_COUNT };

struct option {
    const char *name;
    enum opt_type type;
    size_t offset;
    const char *choices; /* OPT_CHOICE, OPT_SIGNAL: '|'-separated, stored as the index;
                            OPT_COUNT: the unit suffix that may follow the number;
                            OPT_PATH: a word that stands for the default (NULL) */
    uint32_t min, max;   /* OPT_COUNT */
    const char *def;     /* the default, as a user would write it; NULL: none */
    int store;           /* OPT_PATH, OPT_TEXT: which of cfg->store keeps the copy */
};

#define OFF(field) offsetof(struct ml_config, field)
/* MEMLIMIT_LOG and MEMLIMIT_LOG_FORMAT first: the limiter sends the lines about later
 * options there, in that format */
static const struct option options[] = {
    {"MEMLIMIT_LOG", OPT_PATH, OFF(log), "stderr", 0, 0, NULL, 0},
    {"MEMLIMIT_LOG_FORMAT", OPT_CHOICE, OFF(log_format), "text|json", 0, 0, "text", 0},
    {"MEMLIMIT", OPT_LIMIT, OFF(soft), NULL, 0, 0, NULL, 0},
    {"MEMLIMIT_HARD", OPT_LIMIT, OFF(hard), NULL, 0, 0, NULL, 0},
    {"MEMLIMIT_HARD_WAIT", OPT_COUNT, OFF(hard_wait_ms), "ms", 0, 1000, "5", 0},
    {"MEMLIMIT_SCOPE", OPT_CHOICE, OFF(scope), "auto|process|cgroup", 0, 0, "auto", 0},
    {"MEMLIMIT_EVENTS", OPT_CHOICE, OFF(events), "auto|on|off", 0, 0, "auto", 0},
    {"MEMLIMIT_THP", OPT_CHOICE, OFF(thp), "auto|keep|never", 0, 0, "auto", 0},
    {"MEMLIMIT_MEMINFO", OPT_CHOICE, OFF(meminfo), "container|host", 0, 0, "container", 0},
    {"MEMLIMIT_GC", OPT_CHOICE, OFF(gc), "on|off", 0, 0, "on", 0},
    {"MEMLIMIT_TRACE", OPT_CHOICE, OFF(trace), "0|1|2", 0, 0, "0", 0},
    {"MEMLIMIT_TRACE_INTERVAL", OPT_COUNT, OFF(trace_interval_ms), "ms", 10, 3600000, "1000", 0},
    {"MEMLIMIT_REFRESH", OPT_COUNT, OFF(refresh_sec), "s", 1, 3600, "10", 0},
    {"MEMLIMIT_GIVE_UP", OPT_COUNT, OFF(give_up_sec), "s", 0, 86400, "0", 0},
    {"MEMLIMIT_METRICS", OPT_PATH, OFF(metrics), NULL, 0, 0, NULL, 1},
    {"MEMLIMIT_METRICS_INTERVAL", OPT_COUNT, OFF(metrics_interval_sec), "s", 1, 3600, "5", 0},
    {"MEMLIMIT_PROFILE", OPT_PATH, OFF(profile), NULL, 0, 0, NULL, 2},
    {"MEMLIMIT_PROFILE_RATE", OPT_BYTES, OFF(profile_rate), NULL, 0, 0, NULL, 0},
    {"MEMLIMIT_PROFILE_SIGNAL", OPT_SIGNAL, OFF(profile_signal),
     "off|SIGUSR1|SIGUSR2|SIGPWR|SIGURG", 0, 0, "off", 0},
    /* systemd's memory-pressure protocol (sd_event_add_memory_pressure) */
    {"MEMORY_PRESSURE_WATCH", OPT_PATH, OFF(pressure_watch), NULL, 0, 0, NULL, 3},
    {"MEMORY_PRESSURE_WRITE", OPT_TEXT, OFF(pressure_write), NULL, 0, 0, NULL, 4},
};
#define NOPTIONS (sizeof options / sizeof options[0])

/* ASCII, in any case: the names are ASCII, and strncasecmp would read the locale's
 * table (a page fault at every start-up, for the default "off") */
static bool ascii_caseeq(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z') x += 'a' - 'A';
        if (y >= 'A' && y <= 'Z') y += 'a' - 'A';
        if (x != y) return false;
        if (!x) return true;
    }
    return true;
}

/* signal: v may leave out the "SIG" of a choice and be in any case (USR2, sigusr2) */
static int choice_index(const char *choices, const char *v, bool signal) {
    if (signal && ascii_caseeq(v, "SIG", 3)) v += 3;
    size_t vl = strlen(v);
    int idx = 0;
    for (const char *c = choices; *c; idx++) {
        const char *bar = strchr(c, '|');
        size_t cl = bar ? (size_t)(bar - c) : strlen(c);
        const char *cn = c;
        if (signal && strncmp(cn, "SIG", 3) == 0) {
            cn += 3;
            cl -= 3;
        }
        if (cl == vl && (signal ? ascii_caseeq(cn, v, vl) : strncmp(cn, v, vl) == 0)) return idx;
        if (!bar) break;
        c = bar + 1;
    }
    return -1;
}

/* "a|b|c" as "a, b, c" */
static void list_choices(char *out, size_t cap, const char *choices) {
    size_t n = 0;
    for (const char *c = choices; *c && n + 3 < cap; c++) {
        if (*c == '|') {
            out[n++] = ',';
            out[n++] = ' ';
        } else {
            out[n++] = *c;
        }
    }
    out[n] = '\0';
}

static void reject(ml_report_fn report, const char *name, const char *value, const char *what) {
    char line[512], shown[128];
    /* a long value is shown cut, so the line still says what is accepted */
    size_t l = strlen(value);
    ml_fmt(shown, sizeof shown, "%s", value);
    if (l >= sizeof shown) memcpy(shown + sizeof shown - 4, "...", 4);
    ml_fmt(line, sizeof line, "%s='%s' is not valid (%s); ignoring it", name, shown, what);
    if (report) report(line);
}

/* A plain number: digits, perhaps with a decimal point, and no unit. */
static bool plain_number(const char *v) {
    return v[strspn(v, "0123456789.")] == '\0';
}

/* One value into its field; false (and the field untouched) if it is not valid, with
 * why, and what is accepted, in *what. */
static bool set(struct ml_config *cfg, const struct option *o, const char *v, char *what,
                size_t cap) {
    void *field = (char *)cfg + o->offset;
    switch (o->type) {
    case OPT_LIMIT:
    case OPT_BYTES: {
        struct ml_size sz;
        const char *err = ml_parse_size(v, &sz);
        if (o->type == OPT_BYTES && (err || sz.kind != ML_SIZE_BYTES)) {
            ml_fmt(what, cap,
                   "expected a size in bytes like 512KiB, 64KiB or 65536 (B, KiB, MiB, GiB, TiB, "
                   "KB, MB, GB, TB, K, M, G, T)");
            return false;
        }
        if (err) {
            ml_fmt(what, cap, "expected %s", err);
            return false;
        }
        if (o->type == OPT_LIMIT && sz.kind == ML_SIZE_BYTES && sz.bytes < (1u << 20) &&
            plain_number(v)) {
            ml_fmt(what, cap,
                   "a number without a unit is bytes, and %s bytes is below 1MiB: add a unit, "
                   "like 512MiB, or a share, like 80%%",
                   v);
            return false;
        }
        *(struct ml_size *)field = sz;
        return true;
    }
    case OPT_CHOICE:
    case OPT_SIGNAL: {
        int idx = choice_index(o->choices, v, o->type == OPT_SIGNAL);
        if (idx < 0) {
            if (o->type == OPT_SIGNAL) {
                char list[96];
                list_choices(list, sizeof list, o->choices);
                ml_fmt(what, cap, "expected one of %s (SIGUSR2 or USR2)", list);
            } else {
                ml_fmt(what, cap, "expected one of %s", o->choices);
            }
            return false;
        }
        *(int *)field = idx;
        return true;
    }
    case OPT_PATH:
    case OPT_TEXT: {
        size_t l = strlen(v);
        if (l == 0 || l >= sizeof cfg->store[0]) {
            ml_fmt(what, cap, "expected %s%s", o->type == OPT_TEXT ? "a value" : "a file path",
                   o->choices ? " or stderr" : "");
            if (l)
                ml_fmt(what + strlen(what), cap - strlen(what), " shorter than %u bytes",
                       (unsigned)sizeof cfg->store[0]);
            return false;
        }
        /* choices: a word that means "the default" (stderr) */
        if (o->choices && strcmp(v, o->choices) == 0) {
            *(const char **)field = NULL;
        } else {
            memcpy(cfg->store[o->store], v, l + 1);
            *(const char **)field = cfg->store[o->store];
        }
        return true;
    }
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
            ml_fmt(what, cap, "expected a whole number from %u to %u, like %u or %u%s", o->min,
                   o->max, o->max / 100, o->max / 100, o->choices);
            return false;
        }
        *(uint32_t *)field = (uint32_t)x;
        return true;
    }
    }
    return false;
}

int ml_config_load(struct ml_config *cfg, ml_getenv_fn get, ml_report_fn report) {
    /* not the 20 KiB path store, read only through the pointers set with it: touching
     * it would cost every process five pages */
    memset(cfg, 0, offsetof(struct ml_config, store));
    char what[200];
    for (size_t i = 0; i < NOPTIONS; i++)
        if (options[i].def) set(cfg, &options[i], options[i].def, what, sizeof what);
    int bad = 0;
    for (size_t i = 0; i < NOPTIONS; i++) {
        const struct option *o = &options[i];
        const char *v = get(o->name, o->type == OPT_PATH || o->type == OPT_TEXT);
        if (!v) continue;
        if (!set(cfg, o, v, what, sizeof what)) {
            reject(report, o->name, v, what);
            bad++;
        }
    }
    return bad;
}

/* ---- names nobody reads ---- */

/* MEMLIMIT_* names that memlimit's own tools read, not the library: the bindings'
 * tests and builds, the test runners */
static const char *const tool_names[] = {"MEMLIMIT_PRELOAD",        "MEMLIMIT_LIB_DIR",
                                         "MEMLIMIT_TEST_CHILD",     "MEMLIMIT_TEST_REEXEC",
                                         "MEMLIMIT_REQUIRE_CGROUP", "MEMLIMIT_REQUIRE_REAL"};

#define NAME_MAX_CMP 64 /* longer names are compared by their first 64 bytes */

unsigned ml_edit_distance(const char *a, size_t al, const char *b, size_t bl) {
    if (al > NAME_MAX_CMP) al = NAME_MAX_CMP;
    if (bl > NAME_MAX_CMP) bl = NAME_MAX_CMP;
    unsigned char row[NAME_MAX_CMP + 1]; /* Levenshtein, one row and a diagonal */
    for (size_t j = 0; j <= bl; j++)
        row[j] = (unsigned char)j;
    for (size_t i = 1; i <= al; i++) {
        unsigned char diag = row[0];
        row[0] = (unsigned char)i;
        for (size_t j = 1; j <= bl; j++) {
            unsigned char up = row[j];
            unsigned best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1u < best) best = up + 1u;
            if (row[j - 1] + 1u < best) best = row[j - 1] + 1u;
            row[j] = (unsigned char)best;
            diag = up;
        }
    }
    return row[bl];
}

int ml_config_check_names(char *const *env, ml_report_fn report) {
    int unknown = 0;
    for (char *const *e = env; e && *e; e++) {
        const char *v = *e, *eq = strchr(v, '=');
        size_t nl = eq ? (size_t)(eq - v) : strlen(v);
        if (nl < 9 || strncmp(v, "MEMLIMIT_", 9) != 0) continue;
        const char *nearest = NULL;
        unsigned best = ~0u;
        bool known = false;
        for (size_t i = 0; i < NOPTIONS && !known; i++)
            known = strlen(options[i].name) == nl && strncmp(options[i].name, v, nl) == 0;
        for (size_t i = 0; i < sizeof tool_names / sizeof tool_names[0] && !known; i++)
            known = strlen(tool_names[i]) == nl && strncmp(tool_names[i], v, nl) == 0;
        if (known) continue; /* the edit distances only for a name nobody reads */
        for (size_t i = 0; i < NOPTIONS; i++) {
            const char *o = options[i].name;
            unsigned d = ml_edit_distance(v, nl, o, strlen(o));
            if (strncmp(o, "MEMLIMIT", 8) == 0 && d < best) {
                best = d;
                nearest = o;
            }
        }
        unknown++;
        char name[101], line[256];
        size_t shown = nl < sizeof name - 1 ? nl : sizeof name - 1;
        memcpy(name, v, shown);
        name[shown] = '\0';
        ml_fmt(line, sizeof line, "%s is not a memlimit variable (did you mean %s?); ignoring it",
               name, nearest);
        if (report) report(line);
    }
    return unknown;
}
