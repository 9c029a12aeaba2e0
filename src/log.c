/* SPDX-License-Identifier: MIT */
#include "log.h"

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

/* what fd 2 was at start-up; lines from any thread read it, so atomics */
enum { ERR_UNKNOWN, ERR_OPEN, ERR_CLOSED };
static _Atomic int err_state;
static _Atomic uint64_t err_dev, err_ino;

void ml_log_init(void) {
    int saved = errno;
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

static size_t put_u64(char *out, uint64_t v, unsigned base) {
    char tmp[24];
    size_t n = 0;
    do {
        unsigned d = (unsigned)(v % base);
        tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

size_t ml_vfmt(char *buf, size_t cap, const char *fmt, va_list ap) {
    size_t len = 0;
    if (cap == 0) return 0;
        /* the argument is evaluated exactly once, whether or not it fits */
#define PUT(c)                                                                                     \
    do {                                                                                           \
        char put_c_ = (c);                                                                         \
        if (len + 1 < cap) buf[len++] = put_c_;                                                    \
    } while (0)
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            PUT(*f);
            continue;
        }
        f++;
        int lng = 0;
        bool size_mod = false;
        while (*f == 'l') {
            lng++;
            f++;
        }
        if (*f == 'z') {
            size_mod = true;
            f++;
        }
        char num[24];
        size_t n = 0;
        switch (*f) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s) s = "(null)";
            while (*s)
                PUT(*s++);
            continue;
        }
        case 'c':
            PUT((char)va_arg(ap, int));
            continue;
        case 'd':
        case 'i': {
            int64_t v = size_mod ? (int64_t)va_arg(ap, ssize_t)
                        : lng    ? (int64_t)va_arg(ap, long long)
                                 : (int64_t)va_arg(ap, int);
            if (lng == 1 && !size_mod) v = (int64_t)(long)v;
            uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            if (v < 0) PUT('-');
            n = put_u64(num, u, 10);
            break;
        }
        case 'u':
        case 'x': {
            uint64_t v = size_mod ? (uint64_t)va_arg(ap, size_t)
                         : lng    ? (uint64_t)va_arg(ap, unsigned long long)
                                  : (uint64_t)va_arg(ap, unsigned);
            n = put_u64(num, v, *f == 'x' ? 16 : 10);
            break;
        }
        case '%':
            PUT('%');
            continue;
        case '\0':
            f--;
            continue;
        default:
            PUT('%');
            PUT(*f);
            continue;
        }
        for (size_t i = 0; i < n; i++)
            PUT(num[i]);
    }
#undef PUT
    buf[len] = '\0';
    return len;
}

size_t ml_fmt(char *buf, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t n = ml_vfmt(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

/* value/unit with one decimal, rounded to nearest. */
static const char *fmt_scaled(char *buf, uint64_t v, uint64_t unit, const char *suffix) {
    uint64_t tenths = (v / unit) * 10 + ((v % unit) * 10 + unit / 2) / unit;
    if (unit == 1) tenths = v * 10;
    ml_fmt(buf, 24, "%llu.%llu%s", (unsigned long long)(tenths / 10),
           (unsigned long long)(tenths % 10), suffix);
    return buf;
}

const char *ml_fmt_bytes(char *buf, uint64_t b) {
    static const char *const sfx[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (b < 1024) {
        ml_fmt(buf, 24, "%lluB", (unsigned long long)b);
        return buf;
    }
    int i = 0;
    uint64_t unit = 1024;
    while (i < 5 && b / unit >= 1024) {
        unit *= 1024;
        i++;
    }
    return fmt_scaled(buf, b, unit, sfx[i]);
}

const char *ml_fmt_ns(char *buf, uint64_t ns) {
    if (ns < 1000) {
        ml_fmt(buf, 24, "%lluns", (unsigned long long)ns);
        return buf;
    }
    if (ns < 1000000) {
        ml_fmt(buf, 24, "%lluus", (unsigned long long)(ns / 1000));
        return buf;
    }
    if (ns < 1000000000ULL) return fmt_scaled(buf, ns, 1000000, "ms");
    return fmt_scaled(buf, ns, 1000000000ULL, "s");
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
    return open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
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

/* Once: the destination, why it failed, and where the lines go now. Pieces, not a
 * buffer: the path can be 4 KiB long and the stack is small. */
static __attribute__((noinline, cold)) void report_dest(int err) {
    const char *hint = err == ENXIO   ? " (a FIFO with no reader)"
                       : err == ELOOP ? " (a symbolic link, not followed)"
                                      : "";
    const char *why = strerrordesc_np(err); /* NULL for a number it does not know */
    const char *parts[] = {"memlimit: cannot open the log MEMLIMIT_LOG=",
                           log_dest,
                           ": ",
                           why ? why : "unknown error",
                           hint,
                           "; logging to stderr from now on\n"};
    struct iovec iov[6];
    for (int i = 0; i < 6; i++)
        iov[i] = (struct iovec){(void *)parts[i], strlen(parts[i])};
    write_stderr(iov, 6);
}

static void write_dest(char *line, size_t n) {
    struct iovec iov = {line, n};
    if (!log_dest || atomic_load(&dest_failed)) {
        write_stderr(&iov, 1);
        return;
    }
    int fd =
        open(log_dest,
             O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0600);
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

static __attribute__((noinline)) void vlog_into(char *line, size_t cap, const char *fmt,
                                                va_list ap) {
    size_t n = ml_fmt(line, cap, "memlimit: ");
    if (clock_start_ns) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
        uint64_t ms = now > clock_start_ns ? (now - clock_start_ns) / 1000000 : 0;
        n += ml_fmt(line + n, cap - n, "t=%llu.%c%c%c ", (unsigned long long)(ms / 1000),
                    (char)('0' + ms % 1000 / 100), (char)('0' + ms % 100 / 10),
                    (char)('0' + ms % 10));
    }
    n += ml_vfmt(line + n, cap - n - 1, fmt, ap);
    line[n++] = '\n';
    write_dest(line, n);
}

/* A line is formatted in static space, not on the stack of whichever thread logs
 * (threads with 16 KiB stacks, signal handlers on small alternate stacks). Its owner
 * is a pid, so a fork child never finds it held by a thread it does not have. A
 * second logger at the same moment (another thread, or a signal handler on this one)
 * formats into a short buffer of its own instead of waiting. */
static _Atomic int line_owner;
static char line_buf[1024];

static bool take_line(void) {
    int me = (int)getpid(), owner = 0;
    if (atomic_compare_exchange_strong(&line_owner, &owner, me)) return true;
    return owner != me && atomic_compare_exchange_strong(&line_owner, &owner, me);
}

static void vlog(const char *fmt, va_list ap) {
    if (take_line()) {
        vlog_into(line_buf, sizeof line_buf, fmt, ap);
        atomic_store(&line_owner, 0);
        return;
    }
    char line[256];
    vlog_into(line, sizeof line, fmt, ap);
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
