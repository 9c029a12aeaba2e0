/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <string.h>

#include "config.h"
#include "decide.h"

#include <signal.h>
#include <stdio.h>

static uint64_t bytes_of(const char *s) {
    struct ml_size z = {0};
    const char *err = ml_parse_size(s, &z);
    cr_assert_null(err, "'%s' should parse", s);
    cr_assert_eq(z.kind, ML_SIZE_BYTES, "'%s' should be bytes", s);
    return z.bytes;
}

Test(config, sizes_exact) {
    cr_expect_eq(bytes_of("512MiB"), 512ULL << 20);
    cr_expect_eq(bytes_of("2750MiB"), 2750ULL << 20);
    cr_expect_eq(bytes_of("1.5GiB"), 3ULL << 29);
    cr_expect_eq(bytes_of("1073741824"), 1073741824ULL);
    cr_expect_eq(bytes_of("100B"), 100);
    cr_expect_eq(bytes_of("4KiB"), 4096);
    cr_expect_eq(bytes_of("4K"), 4096);
    cr_expect_eq(bytes_of("4KB"), 4000);
    cr_expect_eq(bytes_of("3M"), 3ULL << 20);
    cr_expect_eq(bytes_of("2MB"), 2000000);
    cr_expect_eq(bytes_of("2G"), 2ULL << 30);
    cr_expect_eq(bytes_of("2GB"), 2000000000ULL);
    cr_expect_eq(bytes_of("1T"), 1ULL << 40);
    cr_expect_eq(bytes_of("1TiB"), 1ULL << 40);
    cr_expect_eq(bytes_of("1TB"), 1000000000000ULL);
    cr_expect_eq(bytes_of("0.5KiB"), 512);
    cr_expect_eq(bytes_of("8388607TiB"), 8388607ULL << 40); /* just under INT64_MAX */
}

Test(config, percent_and_off) {
    struct ml_size z;
    cr_assert_null(ml_parse_size("80%", &z));
    cr_expect_eq(z.kind, ML_SIZE_PERCENT);
    cr_expect_eq(z.milli_percent, 80000);
    cr_expect_eq(ml_size_resolve(&z, 1000), 800);
    cr_assert_null(ml_parse_size("12.5%", &z));
    cr_expect_eq(ml_size_resolve(&z, 1 << 30), 1 << 27);
    cr_assert_null(ml_parse_size("100%", &z));
    cr_expect_eq(ml_size_resolve(&z, 12345), 12345);
    cr_assert_null(ml_parse_size("off", &z));
    cr_expect_eq(z.kind, ML_SIZE_OFF);
    cr_expect_eq(ml_size_resolve(&z, 1000), 0);
}

Test(config, rejects) {
    static const char *const bad[] = {
        "",
        "12XB",
        "-5MiB",
        "150%",
        "0%",
        "0",
        "0MiB",
        "5 MiB",
        " 5MiB",
        "5MiB ",
        "5mib",
        "5.MiB",
        ".5MiB",
        "5..5MiB",
        "MiB",
        "%",
        "1e9",
        "0x100",
        "8388608TiB" /* 2^63 */,
        "99999999999999999999",
        "9223372036854775808",
        "100.001%",
        "1.5.5GiB",
        "OFF",
        "5%%",
        "5iB",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ml_size z = {.kind = ML_SIZE_BYTES, .bytes = 77};
        const char *err = ml_parse_size(bad[i], &z);
        cr_expect_not_null(err, "'%s' must be rejected", bad[i]);
        cr_expect_eq(z.bytes, 77, "'%s' must leave the output alone", bad[i]);
    }
}

/* a fake environment for ml_config_load */
static const char *const *fake_env;
static const char *fake_get(const char *name, bool secure) {
    (void)secure;
    for (const char *const *e = fake_env; e && *e; e += 2)
        if (strcmp(e[0], name) == 0) return e[1];
    return NULL;
}
static char reports[8][512];
static int nreports;
static void collect(const char *line) {
    if (nreports < 8) strncpy(reports[nreports++], line, 511);
}

Test(config, table_defaults) {
    static const char *const env[] = {NULL};
    fake_env = env;
    struct ml_config c;
    nreports = 0;
    cr_assert_eq(ml_config_load(&c, fake_get, collect), 0);
    cr_expect_eq(c.soft.kind, ML_SIZE_UNSET);
    cr_expect_eq(c.scope, ML_SCOPE_AUTO);
    cr_expect_eq(c.trace, 0);
    cr_expect_null(c.log);
    cr_expect_eq(c.refresh_sec, 10);
    cr_expect_eq(c.hard.kind, ML_SIZE_UNSET);
    cr_expect_eq(c.hard_wait_ms, 5);
    cr_expect_eq(nreports, 0);
}

Test(config, table_values) {
    static const char *const env[] = {"MEMLIMIT",
                                      "80%",
                                      "MEMLIMIT_SCOPE",
                                      "cgroup",
                                      "MEMLIMIT_TRACE",
                                      "1",
                                      "MEMLIMIT_LOG",
                                      "/tmp/x.log",
                                      "MEMLIMIT_REFRESH",
                                      "2s",
                                      "MEMLIMIT_HARD",
                                      "95%",
                                      "MEMLIMIT_HARD_WAIT",
                                      "20ms",
                                      NULL};
    fake_env = env;
    struct ml_config c;
    nreports = 0;
    cr_assert_eq(ml_config_load(&c, fake_get, collect), 0);
    cr_expect_eq(c.soft.kind, ML_SIZE_PERCENT);
    cr_expect_eq(c.scope, ML_SCOPE_CGROUP);
    cr_expect_eq(c.trace, 1);
    cr_expect_str_eq(c.log, "/tmp/x.log");
    cr_expect_eq(c.refresh_sec, 2);
    cr_expect_eq(c.hard.kind, ML_SIZE_PERCENT);
    cr_expect_eq(c.hard.milli_percent, 95000);
    cr_expect_eq(c.hard_wait_ms, 20);
}

Test(config, durations_take_their_own_unit_only) {
    static const char *const env[] = {"MEMLIMIT_HARD_WAIT", "5s", "MEMLIMIT_REFRESH", "10ms", NULL};
    fake_env = env;
    struct ml_config c;
    nreports = 0;
    cr_expect_eq(ml_config_load(&c, fake_get, collect), 2);
    cr_expect_eq(c.hard_wait_ms, 5);
    cr_expect_eq(c.refresh_sec, 10);
    cr_expect(strstr(reports[0], "MEMLIMIT_HARD_WAIT='5s'") != NULL, "%s", reports[0]);
}

Test(config, table_errors_are_one_line_each_and_keep_defaults) {
    static const char *const env[] = {"MEMLIMIT",
                                      "12XB",
                                      "MEMLIMIT_SCOPE",
                                      "everything",
                                      "MEMLIMIT_TRACE",
                                      "yes",
                                      "MEMLIMIT_LOG",
                                      "",
                                      "MEMLIMIT_REFRESH",
                                      "0",
                                      NULL};
    fake_env = env;
    struct ml_config c;
    nreports = 0;
    cr_assert_eq(ml_config_load(&c, fake_get, collect), 5);
    cr_assert_eq(nreports, 5);
    cr_expect_eq(c.soft.kind, ML_SIZE_UNSET);
    cr_expect_eq(c.scope, ML_SCOPE_AUTO);
    cr_expect_eq(c.trace, 0);
    cr_expect_null(c.log);
    cr_expect_eq(c.refresh_sec, 10);
    /* in the table's order: MEMLIMIT_LOG first (the limiter sends the rest there) */
    cr_expect(strstr(reports[0], "MEMLIMIT_LOG=''") != NULL, "%s", reports[0]);
    cr_expect(strstr(reports[1], "MEMLIMIT='12XB'") != NULL, "%s", reports[1]);
    cr_expect(strstr(reports[1], "MiB") != NULL, "names what is accepted: %s", reports[1]);
    cr_expect(strstr(reports[2], "process|cgroup") != NULL, "%s", reports[2]);
    for (int i = 0; i < nreports; i++)
        cr_expect(strchr(reports[i], '\n') == NULL, "one line: %s", reports[i]);
}

Test(config, paths_are_copied_and_a_long_one_refused) {
    static char val[64], longer[5000];
    strcpy(val, "/tmp/m.prom");
    memset(longer, 'a', sizeof longer - 1);
    longer[0] = '/';
    const char *env[] = {
        "MEMLIMIT_METRICS", val, "MEMLIMIT_PROFILE", longer, "MEMORY_PRESSURE_WATCH",
        "/dev/null",        NULL};
    fake_env = env;
    struct ml_config c;
    nreports = 0;
    cr_assert_eq(ml_config_load(&c, fake_get, collect), 1);
    /* the program may write over its environment (a process title): ours stays */
    memset(val, 'x', sizeof val - 1);
    cr_expect_str_eq(c.metrics, "/tmp/m.prom");
    cr_expect_null(c.profile);
    cr_expect(strstr(reports[0], "MEMLIMIT_PROFILE=") && strstr(reports[0], "shorter than"), "%s",
              reports[0]);
    cr_expect_str_eq(c.pressure_watch, "/dev/null");
}

Test(config, operator_outputs) {
    static const char *const env[] = {"MEMLIMIT_TRACE",
                                      "2",
                                      "MEMLIMIT_TRACE_INTERVAL",
                                      "50ms",
                                      "MEMLIMIT_METRICS",
                                      "/m/%p.prom",
                                      "MEMLIMIT_METRICS_INTERVAL",
                                      "1",
                                      "MEMLIMIT_LOG",
                                      "stderr",
                                      NULL};
    fake_env = env;
    struct ml_config c;
    nreports = 0;
    cr_assert_eq(ml_config_load(&c, fake_get, collect), 0);
    cr_expect_eq(c.trace, 2);
    cr_expect_eq(c.trace_interval_ms, 50);
    cr_expect_str_eq(c.metrics, "/m/%p.prom");
    cr_expect_eq(c.metrics_interval_sec, 1);
    cr_expect_null(c.log, "stderr means the default");
    /* "stderr" is a file name for the metrics, and the intervals have bounds */
    static const char *const bad[] = {"MEMLIMIT_TRACE_INTERVAL",
                                      "5",
                                      "MEMLIMIT_METRICS_INTERVAL",
                                      "0",
                                      "MEMLIMIT_METRICS",
                                      "",
                                      NULL};
    fake_env = bad;
    nreports = 0;
    cr_assert_eq(ml_config_load(&c, fake_get, collect), 3);
    cr_expect_eq(c.trace_interval_ms, 1000);
    cr_expect_eq(c.metrics_interval_sec, 5);
    cr_expect_null(c.metrics);
    cr_expect(strstr(reports[1], "a file path)") != NULL, "no stderr for metrics: %s", reports[1]);
}

/* ---- configuration that cannot silently go wrong ---- */

static struct ml_config load(const char *const *env, int want_bad) {
    fake_env = env;
    struct ml_config c;
    nreports = 0;
    memset(reports, 0, sizeof reports);
    cr_expect_eq(ml_config_load(&c, fake_get, collect), want_bad, "%s", reports[0]);
    return c;
}

/* MEMLIMIT=512 is 512 bytes: surely a unit was forgotten */
Test(config, a_plain_number_below_1MiB_is_no_limit) {
    static const char *const small[] = {"MEMLIMIT", "512", "MEMLIMIT_HARD", "1000.5", NULL};
    struct ml_config c = load(small, 2);
    cr_expect_eq(c.soft.kind, ML_SIZE_UNSET);
    cr_expect_eq(c.hard.kind, ML_SIZE_UNSET);
    cr_expect(strstr(reports[0],
                     "MEMLIMIT='512' is not valid (a number without a unit is bytes, "
                     "and 512 bytes is below 1MiB: add a unit, like 512MiB, or a share, "
                     "like 80%); ignoring it"),
              "%s", reports[0]);
    cr_expect(strstr(reports[1], "MEMLIMIT_HARD='1000.5'") && strstr(reports[1], "add a unit"),
              "%s", reports[1]);
    /* 1 MiB and more as a plain number, or a small size with its unit, are taken */
    static const char *const fine[] = {"MEMLIMIT", "1048576", "MEMLIMIT_HARD", "512B", NULL};
    c = load(fine, 0);
    cr_expect_eq(c.soft.bytes, 1 << 20);
    cr_expect_eq(c.hard.bytes, 512);
}

/* MEMLIMIT_PROFILE_RATE is a size in bytes: its error offers neither a share nor off,
 * and a plain number of bytes is fine there */
Test(config, profile_rate_error_matches_its_type) {
    static const char *const bad[] = {"MEMLIMIT_PROFILE_RATE", "80%", NULL};
    struct ml_config c = load(bad, 1);
    cr_expect_eq(c.profile_rate.kind, ML_SIZE_UNSET);
    cr_expect(
        strstr(reports[0], "MEMLIMIT_PROFILE_RATE='80%' is not valid (expected a size in bytes"),
        "%s", reports[0]);
    cr_expect_null(strstr(reports[0], "share"), "%s", reports[0]);
    cr_expect_null(strstr(reports[0], "off"), "%s", reports[0]);
    static const char *const off[] = {"MEMLIMIT_PROFILE_RATE", "off", NULL};
    load(off, 1);
    static const char *const plain[] = {"MEMLIMIT_PROFILE_RATE", "4096", NULL};
    c = load(plain, 0);
    cr_expect_eq(c.profile_rate.bytes, 4096);
}

/* every option's error names it and what it takes, in one line; only the limits
 * mention shares and off */
Test(config, every_error_names_its_option_and_type) {
    static const char *const names[] = {
        "MEMLIMIT_LOG",          "MEMLIMIT_LOG_FORMAT",   "MEMLIMIT",
        "MEMLIMIT_HARD",         "MEMLIMIT_HARD_WAIT",    "MEMLIMIT_SCOPE",
        "MEMLIMIT_EVENTS",       "MEMLIMIT_TRACE",        "MEMLIMIT_TRACE_INTERVAL",
        "MEMLIMIT_REFRESH",      "MEMLIMIT_METRICS",      "MEMLIMIT_METRICS_INTERVAL",
        "MEMLIMIT_PROFILE",      "MEMLIMIT_PROFILE_RATE", "MEMLIMIT_PROFILE_SIGNAL",
        "MEMORY_PRESSURE_WATCH", "MEMORY_PRESSURE_WRITE"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *env[] = {names[i], "", NULL};
        load(env, 1);
        char want[64];
        snprintf(want, sizeof want, "%s='' is not valid (", names[i]);
        cr_expect(strstr(reports[0], want) == reports[0], "%s", reports[0]);
        bool limit = strcmp(names[i], "MEMLIMIT") == 0 || strcmp(names[i], "MEMLIMIT_HARD") == 0;
        cr_expect_eq(strstr(reports[0], "share like") != NULL, limit, "%s", reports[0]);
        cr_expect(strchr(reports[0], '\n') == NULL, "%s", reports[0]);
    }
}

/* MEMLIMIT_PROFILE_SIGNAL: USR2 or SIGUSR2, in any case */
Test(config, signal_names_with_or_without_sig) {
    static const char *const forms[] = {"SIGUSR2", "USR2", "usr2", "SigUsr2"};
    for (size_t i = 0; i < 4; i++) {
        const char *env[] = {"MEMLIMIT_PROFILE_SIGNAL", forms[i], NULL};
        struct ml_config c = load(env, 0);
        cr_expect_eq(ml_profile_signals[c.profile_signal], SIGUSR2, "%s", forms[i]);
    }
    static const char *const pwr[] = {"MEMLIMIT_PROFILE_SIGNAL", "PWR", NULL};
    cr_expect_eq(ml_profile_signals[load(pwr, 0).profile_signal], SIGPWR);
    static const char *const off[] = {"MEMLIMIT_PROFILE_SIGNAL", "off", NULL};
    cr_expect_eq(load(off, 0).profile_signal, 0);
    static const char *const bad[] = {"MEMLIMIT_PROFILE_SIGNAL", "TERM", NULL};
    load(bad, 1);
    cr_expect(strstr(reports[0],
                     "expected one of off, SIGUSR1, SIGUSR2, SIGPWR, SIGURG (SIGUSR2 or "
                     "USR2)"),
              "%s", reports[0]);
}

Test(config, log_format) {
    static const char *const json[] = {"MEMLIMIT_LOG_FORMAT", "json", NULL};
    cr_expect_eq(load(json, 0).log_format, ML_LOG_JSON);
    static const char *const none[] = {NULL};
    cr_expect_eq(load(none, 0).log_format, ML_LOG_TEXT);
    static const char *const bad[] = {"MEMLIMIT_LOG_FORMAT", "xml", NULL};
    cr_expect_eq(load(bad, 1).log_format, ML_LOG_TEXT);
    cr_expect(strstr(reports[0], "expected one of text|json"), "%s", reports[0]);
}

Test(config, edit_distance) {
    cr_expect_eq(ml_edit_distance("kitten", 6, "sitting", 7), 3);
    cr_expect_eq(ml_edit_distance("", 0, "abc", 3), 3);
    cr_expect_eq(ml_edit_distance("abc", 3, "abc", 3), 0);
    cr_expect_eq(ml_edit_distance("MEMLIMIT_TRCE", 13, "MEMLIMIT_TRACE", 14), 1);
}

/* unknown MEMLIMIT_* names: one line each, with the nearest option */
Test(config, unknown_names_are_reported_with_the_nearest) {
    char *env[] = {"MEMLIMIT_TRCE=1",
                   "MEMLIMIT=80%",
                   "PATH=/bin",
                   "MEMLIMIT_HARDWAIT=3",
                   "MEMLIMIT_PRELOAD=/x.so",
                   "MEMLIMIT_LOG_FORMAT=json",
                   "MEMLIMIT_PROFILESIGNAL",
                   "MEMLIMITX=1",
                   "MEMLIMIT_=1",
                   "MEMLIMIT_SCOPE=cgroup",
                   NULL};
    nreports = 0;
    cr_expect_eq(ml_config_check_names(env, collect), 4);
    cr_assert_eq(nreports, 4);
    cr_expect_str_eq(reports[0], "MEMLIMIT_TRCE is not a memlimit variable (did you mean "
                                 "MEMLIMIT_TRACE?); ignoring it");
    cr_expect(strstr(reports[1], "MEMLIMIT_HARDWAIT is not") &&
                  strstr(reports[1], "MEMLIMIT_HARD_WAIT?"),
              "%s", reports[1]);
    cr_expect(strstr(reports[2], "MEMLIMIT_PROFILESIGNAL is not") &&
                  strstr(reports[2], "MEMLIMIT_PROFILE_SIGNAL?"),
              "%s", reports[2]);
    cr_expect(strstr(reports[3], "MEMLIMIT_ is not"), "%s", reports[3]);
    char *known[] = {"MEMLIMIT_TRACE=1", "MEMLIMIT_REQUIRE_CGROUP=1", NULL};
    nreports = 0;
    cr_expect_eq(ml_config_check_names(known, collect), 0);
    cr_expect_eq(nreports, 0);
}

/* a hard limit at or below the soft limit is said, in one line */
Test(config, hard_at_or_below_soft_is_warned) {
    char w[256];
    cr_expect(ml_decide_hard_warning(100 << 20, 100 << 20, w, sizeof w));
    cr_expect(strstr(w, "the hard limit 100.0MiB (MEMLIMIT_HARD) is at the soft limit 100.0MiB"),
              "%s", w);
    cr_expect(ml_decide_hard_warning(461ULL << 20, 409ULL << 20, w, sizeof w));
    cr_expect(strstr(w, "409.0MiB (MEMLIMIT_HARD) is below the soft limit 461.0MiB"), "%s", w);
    cr_expect(strchr(w, '\n') == NULL);
    cr_expect_not(ml_decide_hard_warning(100 << 20, 101 << 20, w, sizeof w));
    cr_expect_not(ml_decide_hard_warning(0, 10 << 20, w, sizeof w),
                  "no soft limit: nothing to say");
    cr_expect_not(ml_decide_hard_warning(10 << 20, 0, w, sizeof w), "no hard limit");
}
