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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* this process's name as the kernel has it (unit-tests, or unit-tsan under TSan) */
static const char *comm(void) {
    static char name[32];
    FILE *f = fopen("/proc/self/comm", "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(name, sizeof name, f));
    fclose(f);
    name[strcspn(name, "\n")] = '\0';
    return name;
}

/* "memlimit[PID NAME]: " of this process, as the logger writes it */
static const char *pfx(void) {
    static char buf[64];
    snprintf(buf, sizeof buf, "memlimit[%d %s]: ", (int)getpid(), comm());
    return buf;
}

/* lines, each with this process's prefix: lines("first 1", "second 2", NULL) */
static const char *lines(const char *first, ...) {
    static char buf[1024];
    va_list ap;
    va_start(ap, first);
    buf[0] = '\0';
    for (const char *l = first; l; l = va_arg(ap, const char *))
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s\n", pfx(), l);
    va_end(ap);
    return buf;
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
    cr_expect(strstr(got, lines("first 1", "second 2", NULL)), "%s", got);
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
    cr_expect_str_eq(got, lines("kept", NULL));
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
    cr_expect(strstr(got, lines("one", "two", NULL)), "%s", got);
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
    cr_expect_str_eq(got, lines("while fd 2 is stderr", NULL));
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
    cr_expect_str_eq(got, lines("warning", "asked for 2", NULL));
}

/* Every line names the process: its pid (a fork child's own) and its program, read
 * from /proc/self/comm; a name that could break the line (']', control characters)
 * is shown with '?' for them. */
Test(log, lines_name_the_pid_and_the_program) {
    int err = capture_stderr();
    ml_log_init();
    ml_log("parent");
    char got[4096];
    drain(err, got, sizeof got);
    cr_expect_str_eq(got, lines("parent", NULL));
    char named[64];
    snprintf(named, sizeof named, " %s]: parent", comm());
    cr_expect(strstr(got, named) && strstr(comm(), "unit-"), "the program's name: %s", got);
    pid_t child = fork();
    if (child == 0) {
        ml_log("child");
        _exit(0);
    }
    cr_assert(child > 0);
    int st;
    waitpid(child, &st, 0);
    drain(err, got, sizeof got);
    char want[64];
    snprintf(want, sizeof want, "memlimit[%d %s]: child\n", (int)child, comm());
    cr_expect_str_eq(got, want, "the child's pid: %s", got);
    /* a name with ']' and a control character; a value with a newline */
    child = fork();
    if (child == 0) {
        prctl(PR_SET_NAME, "we]ird\tname");
        ml_log("a path with a\nnewline");
        _exit(0);
    }
    waitpid(child, &st, 0);
    drain(err, got, sizeof got);
    snprintf(want, sizeof want, "memlimit[%d we?ird?name]: a path with a?newline\n", (int)child);
    cr_expect_str_eq(got, want);
}

/* the "msg" of a JSON line, unescaped no further; NULL if the line is not
 * {"ts":N,"pid":N,"prog":"...",["t":N,]"msg":"..."}\n */
static const char *json_msg(const char *line, int pid, const char *prog, bool with_t) {
    static char msg[2048];
    char head[128];
    int n = snprintf(head, sizeof head, ",\"pid\":%d,\"prog\":\"%s\",", pid, prog);
    if (strncmp(line, "{\"ts\":", 6) != 0) return NULL;
    const char *p = line + 6;
    while ((*p >= '0' && *p <= '9') || *p == '.')
        p++;
    if (strncmp(p, head, (size_t)n) != 0) return NULL;
    p += n;
    if (with_t) {
        if (strncmp(p, "\"t\":", 4) != 0) return NULL;
        for (p += 4; (*p >= '0' && *p <= '9') || *p == '.'; p++)
            ;
        if (*p++ != ',') return NULL;
    }
    if (strncmp(p, "\"msg\":\"", 7) != 0) return NULL;
    p += 7;
    size_t len = strlen(p);
    if (len < 3 || strcmp(p + len - 3, "\"}\n") != 0) return NULL;
    snprintf(msg, sizeof msg, "%.*s", (int)(len - 3), p);
    return msg;
}

/* MEMLIMIT_LOG_FORMAT=json: one object per line with the same fields, the message
 * escaped (quotes, backslashes, control characters, bytes that are not UTF-8), cut
 * at a whole escape when it is too long, and always closed. */
Test(log, json_lines_are_escaped_and_closed) {
    int err = capture_stderr();
    ml_log_init();
    ml_log_set_json(true);
    char got[8192];
    ml_log("plain %d", 7);
    drain(err, got, sizeof got);
    const char *m = json_msg(got, (int)getpid(), comm(), false);
    cr_assert_not_null(m, "not the JSON line expected: %s", got);
    cr_expect_str_eq(m, "plain 7");
    /* quote, backslash, newline, tab, a control character, valid UTF-8 (é, €, 😀),
     * and invalid bytes: a lone continuation, a cut sequence, an overlong form */
    ml_log("q\"b\\n\nt\tc\x01 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \x80 \xe2\x82 \xc0\xaf end");
    drain(err, got, sizeof got);
    m = json_msg(got, (int)getpid(), comm(), false);
    cr_assert_not_null(m, "%s", got);
    cr_expect_str_eq(m, "q\\\"b\\\\n\\nt\\tc\\u0001 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \\ufffd "
                        "\\ufffd\\ufffd \\ufffd\\ufffd end");
    /* too long for the line: cut at a whole escape, still one closed object */
    static char big[3000];
    memset(big, '"', sizeof big - 1);
    ml_log("%s", big);
    drain(err, got, sizeof got);
    m = json_msg(got, (int)getpid(), comm(), false);
    cr_assert_not_null(m, "%s", got);
    cr_expect(strlen(got) <= 1024, "%zu", strlen(got));
    cr_expect(strlen(m) > 800 && strlen(m) % 2 == 0, "whole escapes: %zu", strlen(m));
    for (size_t i = 0; m[i]; i += 2)
        cr_assert(m[i] == '\\' && m[i + 1] == '"', "at %zu: %s", i, m);
    /* with MEMLIMIT_TRACE=2's clock: the "t" field; the notice for a log that cannot be
     * opened is JSON too */
    ml_log_set_clock(1);
    ml_log_set_dest("/nonexistent/dir/\"x\"");
    ml_log("timed");
    drain(err, got, sizeof got);
    char *second = strchr(got, '\n');
    cr_assert_not_null(second, "%s", got);
    char first[2048];
    snprintf(first, sizeof first, "%.*s", (int)(++second - got), got);
    m = json_msg(first, (int)getpid(), comm(), true);
    cr_assert_not_null(m, "%s", got);
    cr_expect_str_eq(m, "cannot open the log MEMLIMIT_LOG=/nonexistent/dir/\\\"x\\\": No such file "
                        "or directory; logging to stderr from now on");
    m = json_msg(second, (int)getpid(), comm(), true);
    cr_assert_not_null(m, "%s", second);
    cr_expect_str_eq(m, "timed");
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
