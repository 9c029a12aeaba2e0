/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "limitset.h"
#include "metrics.h"

static const struct memlimit_stats st = {
    .soft_limit = 100, .usage = 42, .level = MEMLIMIT_LEVEL_SOFT, .trims = 3, .failed_allocs = 7};

Test(metrics, format_has_every_metric_with_type_and_pid) {
    char buf[8192];
    struct ml_metrics_extra x = {.trim_cpu_ns = 1000250000};
    size_t n = ml_metrics_format(buf, sizeof buf, &st, &x, true, 1234);
    cr_assert_gt(n, 0);
    cr_expect_eq(strlen(buf), n);
    cr_expect(
        strstr(buf, "# TYPE memlimit_usage_bytes gauge\nmemlimit_usage_bytes{pid=\"1234\",scope="),
        "%s", buf);
    cr_expect(strstr(buf, "memlimit_limit_reached{pid=\"1234\",scope="));
    cr_expect(
        strstr(buf, "# TYPE memlimit_trims_total counter\nmemlimit_trims_total{pid=\"1234\"} 3\n"));
    cr_expect(strstr(buf, "memlimit_failed_allocations_total{pid=\"1234\"} 7\n"));
    /* CPU seconds with nine decimals, and without extras, zero */
    cr_expect(strstr(buf, "# TYPE memlimit_trim_cpu_seconds_total counter\n"
                          "memlimit_trim_cpu_seconds_total{pid=\"1234\"} 1.000250000\n"),
              "%s", buf);
    int samples = 0;
    for (char *p = buf; (p = strstr(p, "{pid=")); p++)
        samples++;
    cr_expect_eq(samples, 16); /* and memlimit_build_info */
    cr_assert_gt(ml_metrics_format(buf, sizeof buf, &st, NULL, true, 1234), 0);
    cr_expect(strstr(buf, "memlimit_trim_cpu_seconds_total{pid=\"1234\"} 0.000000000\n"), "%s",
              buf);
}

/* The figures that depend on the scope say which in their HELP text and a label, so
 * the cgroup-wide figure that every process of a container exports is told from
 * per-process ones; the rest carry no scope label. */
Test(metrics, scope_in_help_and_label) {
    static const char *const scoped[] = {"memlimit_usage_bytes", "memlimit_peak_usage_bytes",
                                         "memlimit_level", "memlimit_limit_reached"};
    const struct {
        enum ml_metrics_scope scope;
        const char *label, *help;
    } runs[] = {
        {ML_METRICS_SCOPE_PROCESS, "process", "(scope process: this process's resident "},
        {ML_METRICS_SCOPE_CGROUP, "cgroup", "(scope cgroup: the cgroup's working set"},
    };
    for (size_t r = 0; r < 2; r++) {
        char buf[8192], want[256];
        struct ml_metrics_extra x = {.scope = runs[r].scope};
        cr_assert_gt(ml_metrics_format(buf, sizeof buf, &st, &x, true, 7), 0);
        for (size_t i = 0; i < 4; i++) {
            snprintf(want, sizeof want, "%s{pid=\"7\",scope=\"%s\"} ", scoped[i], runs[r].label);
            cr_expect(strstr(buf, want), "no %s in:\n%s", want, buf);
            snprintf(want, sizeof want, "# HELP %s ", scoped[i]);
            const char *help = strstr(buf, want);
            cr_assert_not_null(help, "%s", want);
            const char *eol = strchr(help, '\n'), *says = strstr(help, runs[r].help);
            cr_expect(says && says < eol, "%s: HELP does not say %s: %.*s", scoped[i], runs[r].help,
                      (int)(eol - help), help);
        }
        /* the scope label on these four only */
        int n = 0;
        for (char *p = buf; (p = strstr(p, ",scope=\"")); p++)
            n++;
        cr_expect_eq(n, 4, "%s", buf);
        cr_expect(strstr(buf, "memlimit_samples_total{pid=\"7\"} "), "%s", buf);
        /* the old HELP that named scope process whatever was measured */
        cr_expect_null(strstr(buf, "scope process: RssAnon"), "%s", buf);
    }
    /* by default, the limiter's scope in force */
    char buf[8192];
    cr_assert_gt(ml_metrics_format(buf, sizeof buf, &st, NULL, false, 7), 0);
    cr_expect(strstr(buf, ml_limits_by_cgroup()
                              ? "memlimit_usage_bytes{pid=\"7\",scope=\"cgroup\"}"
                              : "memlimit_usage_bytes{pid=\"7\",scope=\"process\"}"),
              "%s", buf);
}

/* The sampler formats into 4 KiB (src/periodic.c) and refuses a longer text: the
 * largest values and pid fit with room to spare */
Test(metrics, largest_text_fits_the_sampler_buffer) {
    struct memlimit_stats big;
    memset(&big, 0xff, sizeof big);
    big.level = MEMLIMIT_LEVEL_CRITICAL;
    struct ml_metrics_extra x = {.trim_cpu_ns = UINT64_MAX, .scope = ML_METRICS_SCOPE_CGROUP};
    char buf[8192];
    size_t n = ml_metrics_format(buf, sizeof buf, &big, &x, true, 2147483647);
    cr_expect(n > 0 && n < 3584, "%zu bytes", n);
}

Test(metrics, build_info_has_the_release) {
    char buf[8192], want[160];
    cr_assert_gt(ml_metrics_format(buf, sizeof buf, &st, NULL, false, 99), 0);
    snprintf(want, sizeof want,
             "# TYPE memlimit_build_info gauge\nmemlimit_build_info{pid=\"99\",version=\"%s\"} 1\n",
             memlimit_version());
    cr_expect(strstr(buf, want), "%s", buf);
}

Test(metrics, limit_reached_is_what_memlimit_reached_says) {
    /* CRITICAL from a kernel stall at moderate usage: the level is high, but
     * memlimit_reached() is false, and so is the gauge */
    struct memlimit_stats crit = st;
    crit.level = MEMLIMIT_LEVEL_CRITICAL;
    struct ml_metrics_extra x = {.scope = ML_METRICS_SCOPE_PROCESS};
    char buf[8192];
    cr_assert_gt(ml_metrics_format(buf, sizeof buf, &crit, &x, false, 1), 0);
    cr_expect(strstr(buf, "memlimit_limit_reached{pid=\"1\",scope=\"process\"} 0\n"), "%s", buf);
    cr_assert_gt(ml_metrics_format(buf, sizeof buf, &crit, &x, true, 1), 0);
    cr_expect(strstr(buf, "memlimit_limit_reached{pid=\"1\",scope=\"process\"} 1\n"));
}

Test(metrics, format_refuses_to_truncate) {
    char buf[256];
    cr_expect_eq(ml_metrics_format(buf, sizeof buf, &st, NULL, true, 1), 0);
}

Test(metrics, write_is_whole_and_names_by_pid) {
    char dir[] = "/tmp/memlimit-metrics-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[128], want[128];
    snprintf(path, sizeof path, "%s/m-%%p.prom", dir);
    snprintf(want, sizeof want, "%s/m-77.prom", dir);
    cr_assert_eq(ml_metrics_write(path, "a 1\n", 4, 77), 0);
    FILE *f = fopen(want, "r");
    cr_assert_not_null(f, "%s", want);
    char got[16] = "";
    cr_expect_not_null(fgets(got, sizeof got, f));
    fclose(f);
    cr_expect_str_eq(got, "a 1\n");
    /* a second write replaces it; nothing else is left in the directory */
    cr_assert_eq(ml_metrics_write(path, "a 2\n", 4, 77), 0);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 1 && grep -qx 'a 2' %s", dir, want);
    cr_expect_eq(system(cmd), 0, "one file, the new text");
    /* an unwritable place is an error value, not a crash */
    cr_expect_neq(ml_metrics_write("/nonexistent-dir/m.prom", "a 1\n", 4, 1), 0);
    unlink(want);
    rmdir(dir);
}

/* dir/ + components of 100 'a'..'z' until the path is about `len` long; returns the
 * directory made (static) */
static void rm_tree(const char *dir) {
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

static const char *deep_dir(const char *base, size_t len) {
    static char p[4096];
    size_t n = (size_t)snprintf(p, sizeof p, "%s", base);
    for (char c = 'a'; n + 101 < len; c = c == 'z' ? 'a' : c + 1) {
        p[n++] = '/';
        memset(p + n, c, 100);
        n += 100;
        p[n] = '\0';
        cr_assert(mkdir(p, 0700) == 0 || errno == EEXIST, "%s", p);
    }
    return p;
}

static int count_files(const char *dir) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "exit $(find '%s' -type f | wc -l)", dir);
    return WEXITSTATUS(system(cmd));
}

/* A long path is written where it says, up to PATH_MAX, never cut short (a cut name
 * used to land in a parent directory) */
Test(metrics, long_paths_are_whole) {
    char base[] = "/tmp/memlimit-metrics-XXXXXX";
    cr_assert_not_null(mkdtemp(base));
    size_t lens[] = {700, 4096 - 32};
    for (int i = 0; i < 2; i++) {
        char path[4200], want[4200];
        const char *d = deep_dir(base, lens[i]);
        snprintf(path, sizeof path, "%s/m-%%p.prom", d);
        snprintf(want, sizeof want, "%s/m-1234567.prom", d);
        cr_expect_eq(ml_metrics_write(path, "a 1\n", 4, 1234567), 0, "%zu", strlen(want));
        struct stat st;
        cr_expect_eq(stat(want, &st), 0, "not at the %zu-character path", strlen(want));
        cr_expect_eq(count_files(base), i + 1, "a file went elsewhere");
    }
    rm_tree(base);
}

/* Longer than PATH_MAX once "%p" is the pid: refused, nothing written anywhere */
Test(metrics, too_long_a_path_is_refused) {
    char base[] = "/tmp/memlimit-metrics-XXXXXX";
    cr_assert_not_null(mkdtemp(base));
    const char *d = deep_dir(base, 350);
    char path[4096];
    size_t n = (size_t)snprintf(path, sizeof path, "%s/", d);
    while (n + 4 < 2000)
        n += (size_t)snprintf(path + n, sizeof path - n, "x%%p");
    cr_expect_eq(ml_metrics_write(path, "a 1\n", 4, 1234567), ENAMETOOLONG);
    cr_expect_eq(count_files(base), 0, "something was written");
    rm_tree(base);
}

/* A shared directory (mode 1777) where another user made the temporary names we
 * could pick: our text never goes into their files, and the file we leave is ours */
Test(metrics, never_writes_into_a_file_someone_else_made) {
    char dir[] = "/tmp/memlimit-metrics-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(chmod(dir, 01777), 0);
    const char *names[] = {".m.prom.tmp.77", ".m.prom.tmp.78", ".m.prom.tmp", ".m.prom.tmp.0"};
    ino_t inos[4];
    for (int i = 0; i < 4; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0666);
        cr_assert_geq(fd, 0);
        cr_assert_eq(write(fd, "decoy\n", 6), 6);
        fchmod(fd, 0666);
        if (geteuid() == 0) cr_assert_eq(fchown(fd, 65534, 65534), 0); /* nobody */
        struct stat st;
        fstat(fd, &st);
        inos[i] = st.st_ino;
        close(fd);
    }
    char path[128];
    snprintf(path, sizeof path, "%s/m.prom", dir);
    for (int round = 0; round < 3; round++)
        cr_expect_eq(ml_metrics_write(path, "secret 1\n", 9, 77), 0);
    for (int i = 0; i < 4; i++) {
        char p[128], got[16] = "";
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        FILE *f = fopen(p, "r");
        cr_expect_not_null(f, "%s is gone", names[i]);
        if (!f) continue;
        cr_expect_not_null(fgets(got, sizeof got, f));
        fclose(f);
        cr_expect_str_eq(got, "decoy\n", "%s", names[i]);
    }
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    for (int i = 0; i < 4; i++)
        cr_expect_neq(st.st_ino, inos[i], "the metrics file is %s", names[i]);
    cr_expect_eq(st.st_uid, geteuid());
    cr_expect_eq(count_files(dir), 5, "expected the 4 decoys and the metrics file, nothing else");
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}
