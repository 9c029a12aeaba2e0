/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "fileio.h"
#include "pressure.h"
#include "usage.h"

#define FIX "tests/fixtures/pressure/"

static char *slurp(const char *name, char *buf, size_t cap) {
    char path[256];
    snprintf(path, sizeof path, FIX "%s", name);
    cr_assert_geq(ml_read_file(path, buf, cap), 0, "cannot read %s", path);
    return buf;
}

Test(pressure, psi_lines_from_fixtures_and_the_real_kernel) {
    char text[512];
    struct ml_psi_line l;
    slurp("v2-memory.pressure", text, sizeof text);
    char *nl = strchr(text, '\n');
    cr_assert(nl);
    *nl = '\0';
    cr_assert(ml_parse_psi_line(text, &l));
    cr_expect(!l.full);
    cr_expect_eq(l.avg10, 152);
    cr_expect_eq(l.avg60, 48);
    cr_expect_eq(l.avg300, 10);
    cr_expect_eq(l.total, 2918263);
    cr_assert(ml_parse_psi_line(nl + 1, &l)); /* "full ...\n" */
    cr_expect(l.full);
    cr_expect_eq(l.avg10, 81);
    cr_expect_eq(l.total, 1729002);
    /* this machine's own file, line by line */
    char real[512];
    if (ml_read_file("/proc/pressure/memory", real, sizeof real) > 0) {
        char *save, *line = strtok_r(real, "\n", &save);
        int n = 0;
        for (; line; line = strtok_r(NULL, "\n", &save), n++)
            cr_expect(ml_parse_psi_line(line, &l), "real line rejected: %s", line);
        cr_expect_eq(n, 2);
    }
}

Test(pressure, psi_malformed_lines) {
    struct ml_psi_line l = {.total = 7};
    const char *bad[] = {
        "",
        "some",
        "some avg10=0.00 avg60=0.00 avg300=0.00",           /* no total */
        "half avg10=0.00 avg60=0.00 avg300=0.00 total=1",   /* unknown kind */
        "some avg10=0.0 avg60=0.00 avg300=0.00 total=1",    /* one decimal */
        "some avg10=100.01 avg60=0.00 avg300=0.00 total=1", /* over 100% */
        "some avg10=101.00 avg60=0.00 avg300=0.00 total=1",
        "some avg10=-1.00 avg60=0.00 avg300=0.00 total=1",
        "some avg60=0.00 avg10=0.00 avg300=0.00 total=1", /* order */
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=",
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=99999999999999999999999", /* overflow */
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=1 extra",
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=1\n\n",
        "some  avg10=0.00 avg60=0.00 avg300=0.00 total=1",
        "SOME avg10=0.00 avg60=0.00 avg300=0.00 total=1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_not(ml_parse_psi_line(bad[i], &l), "accepted: '%s'", bad[i]);
    cr_expect_not(ml_parse_psi_line(NULL, &l));
    cr_expect_eq(l.total, 7, "a rejected line must leave the output alone");
    cr_expect(ml_parse_psi_line("full avg10=100.00 avg60=0.00 avg300=0.00 total=0\n", &l));
    cr_expect_eq(l.avg10, 10000);
}

Test(pressure, memory_events_fixture_and_diff) {
    char a[256], b[256];
    struct ml_memory_events before, after;
    cr_assert_eq(ml_parse_memory_events(slurp("v2-memory.events", a, sizeof a), &before), 6);
    cr_expect_eq(before.max, 17);
    cr_expect_eq(before.high, 0);
    cr_assert_eq(ml_parse_memory_events(slurp("v2-memory.events.after", b, sizeof b), &after), 6);
    cr_expect_eq(after.oom_kill, 1);
    cr_expect_eq(ml_memory_events_diff(&before, &after),
                 ML_MEMEV_HIGH | ML_MEMEV_MAX | ML_MEMEV_OOM);
    cr_expect_eq(ml_memory_events_diff(&before, &before), 0);
    struct ml_memory_events only_max = before;
    only_max.max++;
    cr_expect_eq(ml_memory_events_diff(&before, &only_max), ML_MEMEV_MAX);
    /* an older kernel (no oom_group_kill) and a newer one (an unknown key) */
    cr_expect_eq(ml_parse_memory_events("low 0\nhigh 1\nmax 2\noom 3\noom_kill 4\n", &after), 5);
    cr_expect_eq(after.oom_kill, 4);
    cr_expect_eq(ml_parse_memory_events("low 0\nhigh 1\nsock_throttled 9\nmax 2\n", &after), 3);
    cr_expect_eq(after.max, 2);
    cr_expect_eq(ml_parse_memory_events("", &after), 0);
}

Test(pressure, memory_events_malformed) {
    struct ml_memory_events e = {.max = 5};
    const char *bad[] = {
        "max\n",
        "max  3\n",
        "max 3 4\n",
        "max -3\n",
        "max 3x\n",
        "max 99999999999999999999999\n",
        "high 1\n\nmax 2\n", /* empty line */
        "High 1\n",
        " max 1\n",
        "max\t1\n",
        "low 0\nhigh 0\nmax 0\noom 0\noom_kill",
        "max 1\noom 0\nmax 2\n", /* a repeated key (found by fuzz_memory_events) */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(ml_parse_memory_events(bad[i], &e), -1, "accepted: '%s'", bad[i]);
    cr_expect_eq(ml_parse_memory_events(NULL, &e), -1);
    cr_expect_eq(e.max, 5, "a rejected text must leave the output alone");
}

Test(pressure, memory_stat_fixtures_and_malformed) {
    char s[4096];
    /* the real v1 file copied from this machine: total_inactive_file, not inactive_file */
    slurp("v1-memory.stat", s, sizeof s);
    uint64_t total, own;
    cr_assert(ml_find_key_u64(s, "total_inactive_file", &total));
    cr_assert(ml_find_key_u64(s, "inactive_file", &own));
    cr_expect_eq(ml_working_set(total + (1u << 30), s, 1), 1u << 30);
    /* v2 layout */
    slurp("v2-memory.stat", s, sizeof s);
    cr_expect_eq(ml_working_set(157286400, s, 2), 157286400 - 31457280);
    cr_expect_eq(ml_working_set(1000, s, 2), 0, "inactive file above usage: never negative");
    /* malformed inactive_file: no adjustment, never a wrong one */
    cr_expect_eq(ml_working_set(5000, "inactive_file abc\n", 2), 5000);
    cr_expect_eq(ml_working_set(5000, "inactive_file 99999999999999999999999\n", 2), 5000);
    cr_expect_eq(ml_working_set(5000, "inactive_file\n", 2), 5000);
    cr_expect_eq(ml_working_set(5000, "xinactive_file 100\n", 2), 5000);
    cr_expect_eq(ml_working_set(5000, "", 2), 5000);
    cr_expect_eq(ml_working_set(5000, "inactive_file 100", 2), 4900, "last line without newline");
}

Test(pressure, triggers) {
    bool full = true;
    cr_expect(ml_psi_trigger_valid("some 150000 2000000", 19, &full));
    cr_expect(!full);
    cr_expect(ml_psi_trigger_valid("full 100000 4000000\n", 20, &full));
    cr_expect(full);
    const char *nul = "some 200000 2000000"; /* systemd writes the terminating NUL too */
    cr_expect(ml_psi_trigger_valid(nul, strlen(nul) + 1, NULL));
    const char *bad[] = {"some 150000 1000000", /* not a multiple of 2 s */
                         "some 0 2000000",
                         "some 3000000 2000000",
                         "some 1 12000000",
                         "some 1 400000",
                         "half 1 2000000",
                         "some 1  2000000",
                         "some 1 2000000 x",
                         "some 1",
                         ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_not(ml_psi_trigger_valid(bad[i], strlen(bad[i]), NULL), "accepted: '%s'", bad[i]);
}

Test(pressure, base64) {
    unsigned char out[64];
    /* "some 200000 2000000" as systemd puts it in $MEMORY_PRESSURE_WRITE, with its NUL */
    long n = ml_base64_decode("c29tZSAyMDAwMDAgMjAwMDAwMAA=", out, sizeof out);
    cr_assert_eq(n, 20);
    cr_expect_str_eq((char *)out, "some 200000 2000000");
    cr_expect_eq(ml_base64_decode("Zm9vYg==", out, sizeof out), 4);
    cr_expect_eq(ml_base64_decode("Zm9vYg", out, sizeof out), 4);
    cr_expect_eq(memcmp(out, "foob", 4), 0);
    cr_expect_eq(ml_base64_decode("", out, sizeof out), 0);
    cr_expect_eq(ml_base64_decode("Zm9v YmFy", out, sizeof out), -1);
    cr_expect_eq(ml_base64_decode("Zm9vY", out, sizeof out), -1);
    cr_expect_eq(ml_base64_decode("Zm9vYh==", out, sizeof out), -1, "non-zero padding bits");
    cr_expect_eq(ml_base64_decode("Zg===", out, sizeof out), -1);
    cr_expect_eq(ml_base64_decode("Zm9vYmFy", out, 5), -1, "does not fit");
    cr_expect_eq(ml_base64_decode(NULL, out, sizeof out), -1);
}
