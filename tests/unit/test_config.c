/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <string.h>

#include "config.h"

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
    cr_expect_eq(c.scope, ML_SCOPE_PROCESS);
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
    cr_expect_eq(c.scope, ML_SCOPE_PROCESS);
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
