/* SPDX-License-Identifier: MIT */
/* The logger never blocks or kills its host and never writes into a descriptor that
 * is no longer the stderr it was given. Each test runs in its own process, so each
 * may point fd 2 where it likes. */
#include <criterion/criterion.h>
#include "usage.h"
#include "pathfmt.h"
#include "fileio.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* fd 2 becomes a pipe; returns its read end (non-blocking) */
static int capture_stderr(void) {
    int p[2];
    cr_assert_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    cr_assert_eq(dup2(p[1], 2), 2);
    close(p[1]);
    return p[0];
}

/* what is buffered in fd, NUL-terminated */
static size_t drain(int fd, char *buf, size_t cap) {
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    return n;
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static char dir[64];
static void make_dir(void) {
    strcpy(dir, "/tmp/memlimit-log-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}
static void remove_dir(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

/* A FIFO nobody reads: open(O_NONBLOCK) fails with ENXIO; the program goes on, and
 * says so once on stderr, where the lines go from then on. */
Test(log, fifo_without_reader_never_blocks, .timeout = 10) {
    make_dir();
    char path[128];
    snprintf(path, sizeof path, "%s/fifo", dir);
    cr_assert_eq(mkfifo(path, 0600), 0);
    int err = capture_stderr();
    ml_log_set_dest(path);
    errno = EDOM;
    ml_log("first %d", 1);
    cr_expect_eq(errno, EDOM);
    ml_log("second %d", 2);
    char got[4096];
    drain(err, got, sizeof got);
    cr_expect_eq(count(got, path), 1, "one notice naming the path:\n%s", got);
    cr_expect_eq(count(got, "stderr from now on"), 1, "%s", got);
    cr_expect(strstr(got, "memlimit: first 1\nmemlimit: second 2\n"), "%s", got);
    remove_dir();
}

/* A FIFO whose reader does not read: the line is dropped (EAGAIN), never waited for;
 * once there is room again, lines arrive. */
Test(log, full_fifo_drops_lines, .timeout = 10) {
    make_dir();
    char path[128];
    snprintf(path, sizeof path, "%s/fifo", dir);
    cr_assert_eq(mkfifo(path, 0600), 0);
    int rd = open(path, O_RDONLY | O_NONBLOCK), wr = open(path, O_WRONLY | O_NONBLOCK);
    cr_assert(rd >= 0 && wr >= 0);
    char block[4096];
    memset(block, 'x', sizeof block);
    while (write(wr, block, sizeof block) > 0)
        ;
    cr_assert_eq(errno, EAGAIN);
    int err = capture_stderr();
    ml_log_set_dest(path);
    errno = EDOM;
    ml_log("dropped");
    cr_expect_eq(errno, EDOM);
    char got[8192];
    drain(err, got, sizeof got);
    cr_expect_str_eq(got, "", "nothing on stderr for a full FIFO: %s", got);
    /* empty it: the next line arrives whole */
    static char sink[1 << 20];
    drain(rd, sink, sizeof sink);
    ml_log("kept");
    drain(rd, got, sizeof got);
    cr_expect_str_eq(got, "memlimit: kept\n");
    remove_dir();
}

Test(log, unopenable_destination_is_reported_once) {
    int err = capture_stderr();
    ml_log_set_dest("/nonexistent/dir/x");
    ml_log("one");
    ml_log("two");
    char got[4096];
    drain(err, got, sizeof got);
    cr_expect_eq(count(got, "\n"), 3, "a notice and two lines:\n%s", got);
    cr_expect_eq(count(got, "/nonexistent/dir/x"), 1, "%s", got);
    cr_expect_eq(count(got, "No such file or directory"), 1, "%s", got);
    cr_expect(strstr(got, "memlimit: one\nmemlimit: two\n"), "%s", got);
}

/* stderr a pipe whose reader is gone: the line is lost, the host is not (SIGPIPE,
 * default action: death), and no SIGPIPE is left pending for it either */
Test(log, stderr_without_reader_raises_no_sigpipe) {
    signal(SIGPIPE, SIG_DFL);
    int err = capture_stderr();
    close(err);
    errno = EDOM;
    ml_log("into a broken pipe");
    cr_expect_eq(errno, EDOM);
    sigset_t pending;
    sigpending(&pending);
    cr_expect_not(sigismember(&pending, SIGPIPE));
}

/* The program closed stderr and opened a data file, which got number 2: our lines
 * must not land in it. */
Test(log, fd2_reused_by_the_program_gets_nothing) {
    make_dir();
    char data[128];
    snprintf(data, sizeof data, "%s/data", dir);
    int err = capture_stderr();
    ml_log("while fd 2 is stderr");
    close(2);
    cr_assert_eq(open(data, O_RDWR | O_CREAT | O_TRUNC, 0600), 2);
    ml_log("after the program reused fd 2");
    struct stat st;
    cr_assert_eq(stat(data, &st), 0);
    cr_expect_eq(st.st_size, 0, "our line went into the program's file");
    char got[4096];
    drain(err, got, sizeof got);
    cr_expect_str_eq(got, "memlimit: while fd 2 is stderr\n");
    remove_dir();
}

/* fd 2 was not open at start: never written, whatever takes the number later */
Test(log, fd2_closed_at_start_is_never_written) {
    make_dir();
    char data[128];
    snprintf(data, sizeof data, "%s/data", dir);
    close(2);
    ml_log("while nothing is fd 2");
    cr_assert_eq(open(data, O_RDWR | O_CREAT | O_TRUNC, 0600), 2);
    ml_log("after the program opened fd 2");
    struct stat st;
    cr_assert_eq(stat(data, &st), 0);
    cr_expect_eq(st.st_size, 0, "our line went into the program's file");
    remove_dir();
}

/* ml_log_init fixes which file is stderr: a different file put at 2 later (by a
 * program that redirects its own stderr) gets nothing either */
Test(log, init_fixes_which_file_is_stderr) {
    int first = capture_stderr();
    ml_log_init();
    int second = capture_stderr();
    ml_log("to neither");
    char got[256];
    drain(first, got, sizeof got);
    cr_expect_str_eq(got, "");
    drain(second, got, sizeof got);
    cr_expect_str_eq(got, "");
}

/* informational lines only when asked for (tracing, an explicit log file);
 * warnings always */
Test(log, info_lines_only_when_verbose) {
    int err = capture_stderr();
    ml_log_init();
    errno = EDOM;
    ml_log_info("quiet %d", 1);
    cr_expect_eq(errno, EDOM);
    ml_log("warning");
    ml_log_set_verbose(true);
    ml_log_info("asked for %d", 2);
    ml_log_set_verbose(false);
    ml_log_info("quiet %d", 3);
    char got[256];
    drain(err, got, sizeof got);
    cr_expect_str_eq(got, "memlimit: warning\nmemlimit: asked for 2\n");
}

/* ---- the formatter (ml_fmt and friends) ---- */

Test(fmt, formatter) {
    char b[128];
    ml_fmt(b, sizeof b, "%s=%d %u %ld %llu %zu %x %c%%", "k", -42, 7u, -5L, 18446744073709551615ULL,
           (size_t)12, 255u, 'z');
    cr_expect_str_eq(b, "k=-42 7 -5 18446744073709551615 12 ff z%");
    char small[8];
    cr_expect_eq(ml_fmt(small, sizeof small, "%s", "truncated text"), 7);
    cr_expect_str_eq(small, "truncat");
    const char *volatile null_str = NULL; /* the formatter must not crash on it */
    ml_fmt(b, sizeof b, "%s", null_str);
    cr_expect_str_eq(b, "(null)");
}

Test(fmt, sizes_and_durations) {
    char b[24];
    cr_expect_str_eq(ml_fmt_bytes(b, 512), "512B");
    cr_expect_str_eq(ml_fmt_bytes(b, 1536), "1.5KiB");
    cr_expect_str_eq(ml_fmt_bytes(b, 483183820ULL), "460.8MiB");
    cr_expect_str_eq(ml_fmt_bytes(b, 3ULL << 29), "1.5GiB");
    cr_expect_str_eq(ml_fmt_ns(b, 850), "850ns");
    cr_expect_str_eq(ml_fmt_ns(b, 850000), "850us");
    cr_expect_str_eq(ml_fmt_ns(b, 1900000), "1.9ms");
    cr_expect_str_eq(ml_fmt_ns(b, 2300000000ULL), "2.3s");
}
