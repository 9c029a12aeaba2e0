/* SPDX-License-Identifier: MIT */
#include "sysio.h"
#include "log.h"
#include "cold.h"
#include "clock.h"
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef RWF_NOWAIT /* headers older than the kernels that have it */
#define RWF_NOWAIT 0x00000008
#endif

static const char *log_dest;    /* NULL means stderr */
static uint64_t clock_start_ns; /* 0: lines carry no time */
static atomic_bool verbose;
static atomic_bool dest_failed; /* the file could not be opened: stderr from now on */
static atomic_bool json;        /* MEMLIMIT_LOG_FORMAT=json: one JSON object per line */

/* The program's name in every line: /proc/self/comm (what ps and top show), read at
 * the first line a process writes (most never write one: no system call at start-up)
 * and again in a fork child, which the pid tells. Until then, or without /proc, the
 * name it was started under, copied at start-up: programs that set a process title
 * (redis, postgres, nginx) write over argv later. Only the holder of the line buffer
 * (below) writes prog_name; prog_pid is stored after it, so a reader that finds its
 * own pid there finds the name complete. */
static char prog_start[16], prog_name[16];
static _Atomic int prog_pid; /* the process prog_name was read in; 0: none */

/* what fd 2 was at start-up; lines from any thread read it, so atomics */
enum { ERR_UNKNOWN, ERR_OPEN, ERR_CLOSED };
static _Atomic int err_state;
static _Atomic uint64_t err_dev, err_ino;

void ml_log_init(void) {
    int saved = errno;
    if (!prog_start[0] && program_invocation_short_name)
        ml_fmt(prog_start, sizeof prog_start, "%s", program_invocation_short_name);
    struct stat st;
    if (fstat(2, &st) == 0) {
        atomic_store_explicit(&err_dev, (uint64_t)st.st_dev, memory_order_relaxed);
        atomic_store_explicit(&err_ino, (uint64_t)st.st_ino, memory_order_relaxed);
        atomic_store_explicit(&err_state, ERR_OPEN, memory_order_release);
    } else {
        atomic_store_explicit(&err_state, ERR_CLOSED, memory_order_release);
    }
    errno = saved;
}

void ml_log_set_clock(uint64_t start_ns) {
    clock_start_ns = start_ns;
}

void ml_log_set_json(bool on) {
    atomic_store(&json, on);
}

void ml_log_set_verbose(bool on) {
    atomic_store(&verbose, on);
}

void ml_log_set_dest(const char *dest) {
    if (atomic_load_explicit(&err_state, memory_order_acquire) == ERR_UNKNOWN) ml_log_init();
    const char *d = (dest && strcmp(dest, "stderr") != 0 && dest[0]) ? dest : NULL;
    /* a new place gets its own chance (and its own notice); the same one set again
     * (start-up sets it before and after reading the configuration) does not */
    if (!d || !log_dest || strcmp(d, log_dest) != 0) atomic_store(&dest_failed, false);
    log_dest = d;
}

/* Signal masks as the kernel takes them, 64 bits (every Linux port but MIPS): glibc's
 * sigset_t is 128 bytes, and this runs on small stacks. */
static int sig_mask(int how, const uint64_t *set, uint64_t *old) {
    return (int)syscall(SYS_rt_sigprocmask, how, set, old, sizeof *set);
}

/* The whole text, or nothing more: never waits (descriptors we open are O_NONBLOCK;
 * a full FIFO gives EAGAIN) and never retries except on EINTR. pipe_like: a pipe or
 * socket, whose reader can go away; the SIGPIPE that would then kill a host that
 * never chose to write there is blocked for the write and, if ours, taken back. */
/* A descriptor of the same pipe that never blocks, without touching the program's
 * own (its O_NONBLOCK flag is shared by every copy): a FIFO or pipe opened again
 * through /proc. -1 where that is not possible (a socket, no /proc). */
static __attribute__((noinline)) int reopen_nonblocking(int fd) {
    char path[32];
    ml_fmt(path, sizeof path, "/proc/self/fd/%d", fd);
    return ml_open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
}

static void write_iov(int fd, struct iovec *iov, int cnt, bool pipe_like) {
    static const uint64_t pipe_bit = 1ULL << (SIGPIPE - 1);
    uint64_t old = 0, pending = 0;
    bool masked = pipe_like && sig_mask(SIG_BLOCK, &pipe_bit, &old) == 0;
    bool was_pending =
        masked && syscall(SYS_rt_sigpending, &pending, sizeof pending) == 0 && (pending & pipe_bit);
    bool broke = false, nowait = pipe_like;
    int wfd = fd, own = -1;
    while (cnt) {
        /* A pipe whose reader stopped reading (the program's own stderr, say) must not
         * block us: RWF_NOWAIT (pipes made by pipe(); this machine's 6.18 kernel has it) drops what
         * does not fit. Where the kernel refuses it (a FIFO, an older kernel), the same pipe opened
         * again non-blocking; a plain write only where neither works. */
        ssize_t w = nowait ? (ssize_t)syscall(SYS_pwritev2, wfd, iov, cnt, -1L, -1L, RWF_NOWAIT)
                           : writev(wfd, iov, cnt);
        if (w < 0 && nowait && (errno == EOPNOTSUPP || errno == EINVAL || errno == ENOSYS)) {
            nowait = false;
            if ((own = reopen_nonblocking(fd)) >= 0) wfd = own;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            broke = w < 0 && errno == EPIPE;
            break;
        }
        size_t done = (size_t)w;
        for (; cnt && done >= iov->iov_len; iov++, cnt--)
            done -= iov->iov_len;
        if (cnt) {
            iov->iov_base = (char *)iov->iov_base + done;
            iov->iov_len -= done;
        }
    }
    if (own >= 0) close(own);
    if (masked) {
        if (broke && !was_pending) {
            static const struct timespec zero;
            syscall(SYS_rt_sigtimedwait, &pipe_bit, NULL, &zero, sizeof pipe_bit);
        }
        sig_mask(SIG_SETMASK, &old, NULL);
    }
}

/* not inlined: its struct stat need not sit under the writes below */
static __attribute__((noinline)) bool is_pipe_like(int fd) {
    struct stat st;
    return fstat(fd, &st) != 0 || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode);
}

/* fd 2 only while it is the file it was at start-up (a closed fd 2 then: never).
 * Between the check and the write another thread could still swap it; that window
 * is a few instructions, where before it was the whole life of the process. */
static void write_stderr(struct iovec *iov, int cnt) {
    if (atomic_load_explicit(&err_state, memory_order_acquire) == ERR_UNKNOWN) ml_log_init();
    if (atomic_load_explicit(&err_state, memory_order_acquire) != ERR_OPEN) return;
    struct stat st;
    if (fstat(2, &st) != 0 ||
        (uint64_t)st.st_dev != atomic_load_explicit(&err_dev, memory_order_relaxed) ||
        (uint64_t)st.st_ino != atomic_load_explicit(&err_ino, memory_order_relaxed))
        return;
    write_iov(2, iov, cnt, S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
}

/* ---- one line: the prefix (text or JSON), the message, the newline ---- */

/* The program's name for a line of process pid. owner: this thread holds the line
 * buffer, and may read /proc/self/comm when the name is not this process's yet. */
static const char *prog_for(int pid, bool owner) {
    if (atomic_load_explicit(&prog_pid, memory_order_acquire) == pid) return prog_name;
    if (!owner) return prog_start;
    char comm[32]; /* at most 15 bytes and a newline */
    ssize_t n = ml_read_file("/proc/self/comm", comm, sizeof comm);
    if (n > 0 && comm[n - 1] == '\n') comm[--n] = '\0';
    ml_fmt(prog_name, sizeof prog_name, "%s", n > 0 ? comm : prog_start);
    atomic_store_explicit(&prog_pid, pid, memory_order_release);
    return prog_name;
}

/* How many bytes of s (n in all) from i form one unit of a JSON string, and what they
 * become: a valid UTF-8 sequence as it is, '"' and '\' with a backslash, control
 * characters as \n, \t or \u00XX, a byte that is not valid UTF-8 as \ufffd. Writes
 * the unit to out unless out is NULL; returns its length there. Reads the whole unit
 * before writing, so out may overlap it (see json_in_place). */
static size_t json_unit(const unsigned char *s, size_t n, size_t i, size_t *in, char *out) {
    unsigned char c = s[i];
    size_t len = 1;
    if (c >= 0x80) { /* the length of a valid sequence, or 0 */
        size_t need = c >= 0xc2 && c <= 0xdf   ? 2
                      : c >= 0xe0 && c <= 0xef ? 3
                      : c >= 0xf0 && c <= 0xf4 ? 4
                                               : 0;
        if (need && i + need <= n) {
            unsigned char c1 = s[i + 1];
            bool ok = (c != 0xe0 || c1 >= 0xa0) && (c != 0xed || c1 < 0xa0) &&
                      (c != 0xf0 || c1 >= 0x90) && (c != 0xf4 || c1 < 0x90);
            for (size_t k = 1; k < need; k++)
                ok = ok && (s[i + k] & 0xc0) == 0x80;
            len = ok ? need : 0;
        } else {
            len = 0;
        }
        *in = len ? len : 1;
        if (!len) { /* not UTF-8: the replacement character */
            if (out) memcpy(out, "\\ufffd", 6);
            return 6;
        }
        unsigned char seq[4];
        memcpy(seq, s + i, len);
        if (out) memcpy(out, seq, len);
        return len;
    }
    *in = 1;
    const char *esc = c == '"'    ? "\\\""
                      : c == '\\' ? "\\\\"
                      : c == '\n' ? "\\n"
                      : c == '\t' ? "\\t"
                      : c == '\r' ? "\\r"
                                  : NULL;
    if (esc) {
        if (out) memcpy(out, esc, 2);
        return 2;
    }
    if (c < 0x20 || c == 0x7f) {
        if (out) {
            memcpy(out, "\\u00", 4);
            out[4] = "0123456789abcdef"[c >> 4];
            out[5] = "0123456789abcdef"[c & 15];
        }
        return 6;
    }
    if (out) out[0] = (char)c;
    return 1;
}

/* Escapes the n bytes at line + at, in place, for a JSON string that must end before
 * line + room; returns the escaped length. What does not fit is cut at a unit. The
 * text is first moved to the end of the room and escaped forwards from `at`: the
 * output never catches up with input not yet read as long as the whole output fits,
 * so no second buffer is needed (threads' stacks are small). */
static size_t json_in_place(char *line, size_t at, size_t n, size_t room) {
    const unsigned char *src = (const unsigned char *)line + at;
    size_t fit = 0, out = 0, in;
    while (fit < n) { /* how much fits, at unit boundaries */
        size_t u = json_unit(src, n, fit, &in, NULL);
        if (at + out + u > room) break;
        out += u;
        fit += in;
    }
    size_t from = room - fit;
    memmove(line + from, line + at, fit);
    src = (const unsigned char *)line + from;
    size_t o = at;
    for (size_t i = 0; i < fit; i += in)
        o += json_unit(src, fit, i, &in, line + o);
    return o - at;
}

/* A JSON string of s, as much as fits in cap (NUL-terminated); returns its length. */
static size_t json_str(char *out, size_t cap, const char *s) {
    size_t n = 0, in;
    const unsigned char *u = (const unsigned char *)s;
    size_t len = strlen(s);
    char tmp[6];
    for (size_t i = 0; i < len; i += in) {
        size_t k = json_unit(u, len, i, &in, tmp);
        if (n + k + 1 > cap) break;
        memcpy(out + n, tmp, k);
        n += k;
    }
    out[n] = '\0';
    return n;
}

/* "S.mmm" from nanoseconds */
static size_t put_secs(char *out, size_t cap, uint64_t ns) {
    uint64_t ms = ns / 1000000;
    return ml_fmt(out, cap, "%llu.%c%c%c", (unsigned long long)(ms / 1000),
                  (char)('0' + ms % 1000 / 100), (char)('0' + ms % 100 / 10),
                  (char)('0' + ms % 10));
}

/* The whole line into line (cap bytes, at least 128), newline included; returns its
 * length. Text: "memlimit[PID NAME]: [t=S.mmm ]message". JSON: {"ts":UNIX.mmm,
 * "pid":PID,"prog":"NAME"[,"t":S.mmm],"msg":"message"}. owner: see prog_for. */
static size_t build_line(char *line, size_t cap, bool owner, const char *fmt, va_list ap) {
    int pid = (int)getpid();
    const char *prog = prog_for(pid, owner);
    bool as_json = atomic_load_explicit(&json, memory_order_relaxed);
    uint64_t since = 0;
    if (clock_start_ns) {
        uint64_t now = ml_clock_ns(CLOCK_MONOTONIC);
        since = now > clock_start_ns ? now - clock_start_ns : 0;
    }
    size_t n;
    if (as_json) {
        char name[6 * sizeof prog_name];
        json_str(name, sizeof name, prog);
        n = ml_fmt(line, cap, "{\"ts\":");
        n += put_secs(line + n, cap - n, ml_clock_ns(CLOCK_REALTIME));
        n += ml_fmt(line + n, cap - n, ",\"pid\":%d,\"prog\":\"%s\"", pid, name);
        if (clock_start_ns) {
            n += ml_fmt(line + n, cap - n, ",\"t\":");
            n += put_secs(line + n, cap - n, since);
        }
        n += ml_fmt(line + n, cap - n, ",\"msg\":\"");
        size_t room = cap - 4; /* "}\n" and the NUL after the closing quote */
        size_t m = n < room ? ml_vfmt(line + n, room - n, fmt, ap) : 0;
        n += json_in_place(line, n, m, room);
        line[n++] = '"';
        line[n++] = '}';
    } else {
        /* one line, whatever the name holds: no control characters, no ']' */
        n = ml_fmt(line, cap, "memlimit[%d ", pid);
        for (const char *c = prog; *c && n + 1 < cap; c++)
            line[n++] = (unsigned char)*c < 0x20 || *c == 0x7f || *c == ']' ? '?' : *c;
        n += ml_fmt(line + n, cap - n, "]: ");
        if (clock_start_ns) {
            n += ml_fmt(line + n, cap - n, "t=");
            n += put_secs(line + n, cap - n, since);
            n += ml_fmt(line + n, cap - n, " ");
        }
        size_t start = n;
        n += ml_vfmt(line + n, cap - n - 1, fmt, ap);
        for (size_t i = start; i < n; i++) /* a newline in a value must not start a line */
            if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f) line[i] = '?';
    }
    line[n++] = '\n';
    return n;
}

static size_t make_line(char *line, size_t cap, bool owner, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t n = build_line(line, cap, owner, fmt, ap);
    va_end(ap);
    return n;
}

/* Once: the destination, why it failed, and where the lines go now. In a buffer of
 * its own (the caller may hold the line buffer), large enough for a path of
 * PATH_MAX bytes. */
static __attribute__((noinline, cold)) void report_dest(int err) {
    static atomic_flag busy = ATOMIC_FLAG_INIT;
    static ML_COLD char notice[6144];
    if (atomic_flag_test_and_set(&busy)) return;
    const char *hint = err == ENXIO   ? " (a FIFO with no reader)"
                       : err == ELOOP ? " (a symbolic link, not followed)"
                                      : "";
    const char *why = strerrordesc_np(err); /* NULL for a number it does not know */
    size_t n = make_line(notice, sizeof notice, false,
                         "cannot open the log MEMLIMIT_LOG=%s: %s%s; logging to stderr from now on",
                         log_dest, why ? why : "unknown error", hint);
    struct iovec iov = {notice, n};
    write_stderr(&iov, 1);
    atomic_flag_clear(&busy);
}

static void write_dest(char *line, size_t n) {
    struct iovec iov = {line, n};
    if (!log_dest || atomic_load(&dest_failed)) {
        write_stderr(&iov, 1);
        return;
    }
    int fd = ml_open(log_dest,
                     O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK,
                     0600);
    if (fd >= 0) {
        write_iov(fd, &iov, 1, is_pipe_like(fd));
        close(fd);
        return;
    }
    int e = errno;
    /* out of descriptors (or interrupted): this line only, the file may work again */
    if (e != EMFILE && e != ENFILE && e != EINTR && !atomic_exchange(&dest_failed, true))
        report_dest(e);
    write_stderr(&iov, 1); /* never lose a line silently */
}

/* A line is formatted in static space, not on the stack of whichever thread logs
 * (threads with 16 KiB stacks, signal handlers on small alternate stacks). Its owner
 * is a pid, so a fork child never finds it held by a thread it does not have. A
 * second logger at the same moment (another thread, or a signal handler on this one)
 * formats into a short buffer of its own instead of waiting. */
static _Atomic int line_owner;
static ML_COLD char line_buf[1024];

static bool take_line(void) {
    int me = (int)getpid(), owner = 0;
    if (atomic_compare_exchange_strong(&line_owner, &owner, me)) return true;
    return owner != me && atomic_compare_exchange_strong(&line_owner, &owner, me);
}

static __attribute__((noinline)) void vlog_into(char *line, size_t cap, bool owner, const char *fmt,
                                                va_list ap) {
    write_dest(line, build_line(line, cap, owner, fmt, ap));
}

static void vlog(const char *fmt, va_list ap) {
    if (take_line()) {
        vlog_into(line_buf, sizeof line_buf, true, fmt, ap);
        atomic_store(&line_owner, 0);
        return;
    }
    char line[256];
    vlog_into(line, sizeof line, false, fmt, ap);
}

void ml_log(const char *fmt, ...) {
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
    errno = saved;
}

void ml_log_info(const char *fmt, ...) {
    if (!atomic_load_explicit(&verbose, memory_order_relaxed)) return;
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
    errno = saved;
}
