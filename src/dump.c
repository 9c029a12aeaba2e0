/* SPDX-License-Identifier: MIT */
#include "dump.h"
#include "cold.h"
#include "log.h"
#include "pathfmt.h"
#include "profile.h"
#include "reclaim.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

enum { DUE_SOFT = 1, DUE_CRITICAL = 2, DUE_SIGNAL = 4 };
static _Atomic unsigned due, done; /* reasons pending, and written once */
static const struct ml_config *cfg;
static int pid0;                      /* the process that started: not a fork child */
static atomic_bool critical_now_done; /* ml_dump_critical_now wrote, or tried */

/* One profile file is named at a time: its path is built in static space (threads may
 * have small stacks, and the signal handler uses it), by the holder of this flag. */
static atomic_flag naming = ATOMIC_FLAG_INIT;
static ML_COLD char path_buf[PATH_MAX + 64];

static void info_line(const char *line) {
    ml_log_info("%s", line);
}

/* PATH with %p as the pid, then ".reason". Without %p a fork child adds ".PID", so
 * it never overwrites its parent's files. Allocation-free (the signal handler uses
 * it); the caller holds `naming`. */
static int name(const char *reason) {
    int pid = (int)getpid();
    if (strstr(cfg->profile, "%p") || pid == pid0)
        return ml_path_expand(path_buf, sizeof path_buf, cfg->profile, pid, reason);
    int err = ml_path_expand(path_buf, sizeof path_buf, cfg->profile, pid, NULL);
    size_t n = strlen(path_buf), cap = sizeof path_buf;
    if (!err && ml_fmt(path_buf + n, cap - n, ".%d.%s", pid, reason) + 1 >= cap - n)
        err = ENAMETOOLONG;
    return err;
}

/* The profile and its top sites: informational lines, only where the user asked for
 * lines (a trace, a log file). */
static void report(const char *reason, const char *path) {
    struct ml_prof_totals t;
    ml_prof_totals(&t);
    char a[24], b[24];
    ml_log_info("heap profile (%s) written to %s: %s live, %s allocated since start, %llu samples",
                reason, path, ml_fmt_bytes(a, t.live_bytes), ml_fmt_bytes(b, t.alloc_bytes),
                (unsigned long long)t.samples);
    if (t.samples || cfg->trace) ml_prof_top(10, info_line);
}

/* wait: at exit, where the file must be written; elsewhere a busy writer means the
 * reason stays due for the next pass. */
static bool write_one(const char *reason, bool wait) {
    if (atomic_flag_test_and_set_explicit(&naming, memory_order_acquire)) {
        if (!wait) return false;
        for (int i = 0; atomic_flag_test_and_set_explicit(&naming, memory_order_acquire); i++) {
            if (i > 100000) return false; /* a writer stuck for seconds: give up */
            sched_yield();
        }
    }
    int err = name(reason);
    if (!err) err = ml_prof_write(path_buf, false);
    if (err)
        ml_log("cannot write the heap profile %s: %s", path_buf[0] ? path_buf : cfg->profile,
               strerrordesc_np(err));
    else
        report(reason, path_buf);
    atomic_flag_clear_explicit(&naming, memory_order_release);
    return true;
}

void ml_dump_run_due(void) {
    if (!ml_prof_enabled()) return;
    unsigned d = atomic_exchange(&due, 0), left = 0;
    if (!d) return;
    if ((d & DUE_SIGNAL) && !write_one("signal", false)) left |= DUE_SIGNAL;
    if ((d & DUE_SOFT) && !write_one("soft", false)) left |= DUE_SOFT;
    if ((d & DUE_CRITICAL) && !write_one("critical", false)) left |= DUE_CRITICAL;
    if (left) atomic_fetch_or(&due, left);
}

void ml_dump_level(enum memlimit_level lv) {
    if (!ml_prof_enabled()) return;
    unsigned want = lv >= MEMLIMIT_LEVEL_CRITICAL ? DUE_SOFT | DUE_CRITICAL
                    : lv >= MEMLIMIT_LEVEL_SOFT   ? DUE_SOFT
                                                  : 0;
    unsigned had = atomic_load(&done);
    if (want & ~had) {
        atomic_fetch_or(&done, want);
        atomic_fetch_or(&due, want & ~had);
        ml_reclaim_wake();
    }
}

static void on_signal(int sig) {
    (void)sig;
    int saved = errno;
    /* all async-signal-safe; if a writer is busy, the next pass writes it */
    bool written = false;
    if (!atomic_flag_test_and_set_explicit(&naming, memory_order_acquire)) {
        written = name("signal") == 0 && ml_prof_write(path_buf, true) != EBUSY;
        atomic_flag_clear_explicit(&naming, memory_order_release);
    }
    if (!written) {
        atomic_fetch_or(&due, DUE_SIGNAL);
        ml_reclaim_wake();
    }
    errno = saved;
}

int ml_dump_to(const char *path) {
    int err = ml_prof_write(path, false);
    if (!err) ml_prof_top(10, info_line);
    return err;
}

void ml_dump_critical_now(void) {
    if (!ml_prof_enabled() || !cfg || atomic_exchange(&critical_now_done, true)) return;
    atomic_fetch_or(&done, DUE_CRITICAL);
    atomic_fetch_and(&due, ~(unsigned)DUE_CRITICAL);
    if (!write_one("critical", false)) {
        /* another writer held the file names (a .soft profile at the same spike):
         * the thread, or the next chance, writes it */
        atomic_store(&critical_now_done, false);
        atomic_fetch_and(&done, ~(unsigned)DUE_CRITICAL);
        atomic_fetch_or(&due, DUE_CRITICAL);
        ml_reclaim_wake();
    }
}

void ml_dump_forked(void) {
    atomic_store(&critical_now_done, false);
    atomic_store(&done, 0); /* the child writes its own profiles */
    atomic_store(&due, 0);
    atomic_flag_clear(&naming);
}

static __attribute__((destructor)) void at_exit(void) {
    if (!ml_prof_enabled() || !cfg) return;
    ml_dump_run_due();
    write_one("exit", true);
}

/* A directory that is missing or that we may not write would fail only when the
 * first profile is due, often the moment it was wanted: said at start-up, in one
 * line. The profile stays on: the directory may appear, or be made writable. */
static void check_dir(void) {
    if (atomic_flag_test_and_set_explicit(&naming, memory_order_acquire)) return;
    int err = ml_path_expand(path_buf, sizeof path_buf, cfg->profile, pid0, NULL);
    if (!err && strlen(path_buf) >= PATH_MAX) err = ENAMETOOLONG;
    if (err) /* not the path itself: thousands of bytes would cut the line short */
        ml_log("MEMLIMIT_PROFILE: %d bytes (PATH_MAX) or longer once %%p is the pid; no profile "
               "can be written",
               PATH_MAX);
    else if ((err = ml_path_dir_check(path_buf, sizeof path_buf)))
        ml_log("MEMLIMIT_PROFILE=%s: directory %s: %s; profiles will be written there if it %s",
               cfg->profile, path_buf, strerrordesc_np(err),
               err == ENOENT                   ? "appears"
               : err == EACCES || err == EROFS ? "becomes writable"
                                               : "becomes a writable directory");
    atomic_flag_clear_explicit(&naming, memory_order_release);
}

void ml_dump_init(const struct ml_config *c) {
    cfg = c;
    pid0 = (int)getpid();
    /* the configuration takes only a size in bytes for it */
    uint64_t rate =
        c->profile_rate.kind == ML_SIZE_BYTES ? c->profile_rate.bytes : ML_PROFILE_RATE_DEFAULT;
    int err = ml_prof_init(rate);
    if (err) {
        ml_log("MEMLIMIT_PROFILE: cannot profile (%s); no heap profile",
               err == ENOENT   ? "libunwind.so.8 not found"
               : err == ENOSYS ? "this glibc keeps dlopen in libdl.so.2, which the program does "
                                 "not load: add it to LD_PRELOAD after libmemlimit.so"
                               : strerrordesc_np(err));
        return;
    }
    check_dir();
    int sig = ml_profile_signals[c->profile_signal];
    if (sig) {
        struct sigaction old, sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        /* never take a signal the program handles itself */
        if (sigaction(sig, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
            sigaction(sig, &sa, NULL);
        else
            ml_log("MEMLIMIT_PROFILE_SIGNAL: the program handles %s itself; not installed",
                   strsignal(sig));
    }
    if (c->trace) {
        char a[24];
        ml_log("heap profile: sampling every %s on average, to %s", ml_fmt_bytes(a, rate),
               c->profile);
    }
}
