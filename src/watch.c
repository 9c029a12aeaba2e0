/* SPDX-License-Identifier: MIT */
#include "watch.h"
#include "cold.h"
#include "clock.h"
#include "events.h"
#include "log.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* fds[0] is one eventfd that lives as long as the process (the slow path writes its
 * wakes to it, so we never close it); on cgroup v1 the kernel signals it when usage
 * crosses a threshold: the moderate and soft watermarks and 97% of the cgroup limit.
 * Thresholds are only added: a changed limit adds its own, a stale one costs a
 * spurious wake. Besides it: PSI triggers (or systemd's watch) and, on cgroup v2,
 * memory.events. Each source is optional; a failure is one trace line. */
#define ML_MAX_THRESHOLDS 24
#define ML_MAX_SOURCES    4

/* the triggers: "some" wakes and re-reads; "full" (every task stalled) may mean CRITICAL.
 * Windows of 2 s, the unprivileged minimum; one trigger per descriptor. */
static const char psi_some[] = "some 100000 2000000", psi_full[] = "full 100000 2000000";

enum src_kind { SRC_PSI, SRC_WATCH, SRC_MEMEV };
struct source {
    int fd;
    uint64_t ino; /* still ours? (the application may close it and reuse the number) */
    short events;
    enum src_kind kind;
    bool full; /* a "full" trigger */
    struct ml_memory_events ev;
    char what[ML_PATH_MAX + 48];
};

static struct {
    bool failed, v1_failed;
    int efd;
    uint64_t efd_ino; /* taken at its creation: its identity when the number is reused */
    pid_t pid;        /* whose sources these are: a fork child makes its own */
    int n;
    uint64_t at[ML_MAX_THRESHOLDS];
    bool all_armed; /* every mark of the last view has its threshold */
    bool sources_done;
    int nsrc;
    uint64_t next_memev_log_ns; /* memory.events can change 100 times a second */
    /* from the configuration */
    enum ml_events mode;
    bool trace;
    /* systemd's memory-pressure protocol, read at start (getenv is not for threads) */
    bool watch_set;
    long watch_write_len; /* -1: $MEMORY_PRESSURE_WRITE is not base64 */
} E = {.efd = -1};

/* E's buffers, apart: E shares the page that start-up touches anyway */
static ML_COLD struct {
    struct source src[ML_MAX_SOURCES];
    char watch[ML_PATH_MAX];
    unsigned char watch_write[128];
} EB;

static void events_log(const char *fmt, const char *a, int err) {
    if (!E.trace && E.mode != ML_EVENTS_ON) return;
    char msg[ML_PATH_MAX + 160];
    ml_fmt(msg, sizeof msg, fmt, a);
    ml_log("events: %s%s%s", msg, err ? ": " : "", err ? strerrordesc_np(err) : "");
}

static void events_fail(const char *what, int err) {
    E.failed = true;
    events_log("%s; sampling on allocation and every half second only", what, err);
}

void ml_watch_init(const struct ml_config *cfg) {
    E.mode = cfg->events;
    E.trace = cfg->trace > 0;
    const char *w = cfg->pressure_watch;
    if (E.mode == ML_EVENTS_OFF || !w || !w[0]) return;
    E.watch_set = true;
    ml_fmt(EB.watch, sizeof EB.watch, "%s", w);
    const char *wr = cfg->pressure_write;
    E.watch_write_len = wr ? ml_base64_decode(wr, EB.watch_write, sizeof EB.watch_write) : 0;
}

static struct source *add_source(int fd, short events, enum src_kind kind, bool full,
                                 const char *what) {
    struct stat st;
    if (E.nsrc == ML_MAX_SOURCES || fstat(fd, &st) != 0) {
        close(fd);
        return NULL;
    }
    struct source *s = &EB.src[E.nsrc++];
    memset(s, 0, sizeof *s);
    s->fd = fd;
    s->ino = (uint64_t)st.st_ino;
    s->events = events;
    s->kind = kind;
    s->full = full;
    ml_fmt(s->what, sizeof s->what, "%s", what);
    events_log("watching %s", what, 0);
    return s;
}

static void open_psi(const char *path) {
    const char *trig[2] = {psi_some, psi_full};
    for (int i = 0; i < 2; i++) {
        int fd = ml_events_psi_open(path, trig[i], strlen(trig[i]) + 1);
        char what[ML_PATH_MAX + 48];
        ml_fmt(what, sizeof what, "PSI '%s' on %s", trig[i], path);
        if (fd < 0)
            events_log("cannot set %s", what, -fd);
        else
            add_source(fd, POLLPRI, SRC_PSI, i == 1, what);
    }
}

void ml_watch_plan(int version, const char *v2dir, const char *root, const char *watch,
                   struct ml_watch_plan *out) {
    memset(out, 0, sizeof *out);
    out->memory_events = version == 2;
    out->v1_thresholds = version == 1;
    if (watch && strcmp(watch, "/dev/null") == 0) {
        out->psi = ML_WATCH_PSI_NONE;
    } else if (watch && watch[0]) {
        out->psi = ML_WATCH_PSI_SYSTEMD;
        ml_fmt(out->psi_path, sizeof out->psi_path, "%s", watch);
    } else {
        /* the cgroup's own pressure (cgroup2 has memory.pressure in every group, also
         * on hybrid systems), else the whole machine's */
        out->psi = ML_WATCH_PSI_OURS;
        ml_events_psi_path(out->psi_path, sizeof out->psi_path, v2dir, root);
        out->psi_exists = access(out->psi_path, F_OK) == 0;
    }
}

/* Once per process: the sources other than the v1 thresholds, as planned. */
static void open_sources(int version, const char *dir, const char *v2dir) {
    E.sources_done = true;
    char what[ML_PATH_MAX + 48];
    struct ml_watch_plan plan;
    ml_watch_plan(version, v2dir, "", E.watch_set ? EB.watch : NULL, &plan);
    if (plan.psi == ML_WATCH_PSI_NONE) {
        events_log("%s", "$MEMORY_PRESSURE_WATCH=/dev/null: no pressure watch", 0);
    } else if (plan.psi == ML_WATCH_PSI_SYSTEMD) {
        bool full = false;
        if (E.watch_write_len < 0) {
            events_log("%s", "$MEMORY_PRESSURE_WRITE is not base64; ignoring the watch", 0);
        } else {
            short ev = 0;
            int fd = ml_events_watch_open(EB.watch, EB.watch_write, (size_t)E.watch_write_len, &ev);
            ml_fmt(what, sizeof what, "$MEMORY_PRESSURE_WATCH %s", EB.watch);
            if (fd < 0) {
                events_log("cannot open %s", what, -fd);
            } else {
                ml_psi_trigger_valid((const char *)EB.watch_write, (size_t)E.watch_write_len,
                                     &full);
                add_source(fd, ev, SRC_WATCH, full, what);
            }
        }
        if (E.nsrc == 0) { /* fall back to our own triggers */
            E.watch_set = false;
            ml_watch_plan(version, v2dir, "", NULL, &plan);
        }
    }
    if (plan.psi == ML_WATCH_PSI_OURS) open_psi(plan.psi_path);
    if (plan.memory_events) {
        struct ml_memory_events ev;
        int fd = ml_events_memevents_open(dir, &ev);
        ml_fmt(what, sizeof what, "%s/memory.events", dir);
        if (fd < 0) {
            events_log("cannot watch %s", what, -fd);
        } else {
            struct source *src = add_source(fd, POLLPRI, SRC_MEMEV, false, what);
            if (src) src->ev = ev;
        }
    }
}

static void drop_source(int i, bool close_it, const char *why) {
    struct source *s = &EB.src[i];
    char msg[ML_PATH_MAX + 128];
    ml_fmt(msg, sizeof msg, "%s dropped: %s", s->what, why);
    events_log("%s", msg, 0);
    if (close_it) close(s->fd);
    s->fd = -1;
}

int ml_watch_arm(const struct ml_watch_view *v, struct pollfd *fds, int cap, bool lost,
                 uint64_t *ino) {
    if (E.mode == ML_EVENTS_OFF || E.failed) return 0;
    if (lost) {
        events_fail("the event descriptor was closed by the application", 0);
        return 0;
    }
    pid_t pid = getpid();
    if (E.efd >= 0 && E.pid != pid) {
        /* a fork child: the inherited descriptors carry the parent's thresholds and
         * triggers. Make our own; the inherited ones are left open, since after fork
         * the child may have closed them and reused their numbers for its own files. */
        E.efd = -1;
        E.n = 0;
        E.nsrc = 0;
        E.sources_done = false;
        E.v1_failed = false;
        E.all_armed = false;
    }
    int version = v->version;
    const char *dir = v->dir;
    if (E.efd < 0) {
        struct stat st;
        if ((E.efd = ml_events_eventfd()) < 0 || fstat(E.efd, &st) != 0) {
            int err = errno;
            if (E.efd >= 0) close(E.efd);
            E.efd = -1;
            events_fail("cannot create an eventfd", err);
            return 0;
        }
        E.efd_ino = (uint64_t)st.st_ino;
        E.pid = pid;
    }
    if (!E.sources_done) open_sources(version, dir, v->v2dir);
    if (version == 1 && !E.v1_failed) {
        /* One new threshold per pass: the kernel registers each with a wait for an
         * RCU grace period (tens of milliseconds seen here), and a young process
         * arms them when it first reaches the moderate level, when the thread has
         * work to do between them. Until all are armed the thread looks on its own
         * (ml_watch_thresholds_armed). */
        const uint64_t *want = v->marks;
        bool armed_one = false;
        E.all_armed = true;
        /* soft, critical, then moderate: a young process arms them at moderate, and
         * the crossings still ahead of it are the soft and critical ones */
        static const int order[] = {1, 2, 0};
        for (int j = 0; j < 3; j++) {
            int i = order[j];
            if (!want[i]) continue;
            bool have = false;
            for (int k = 0; k < E.n && !have; k++)
                have = E.at[k] == want[i];
            if (have) continue;
            if (E.n == ML_MAX_THRESHOLDS) break; /* the limit changed many times: keep these */
            if (armed_one) {
                E.all_armed = false;
                break;
            }
            armed_one = true;
            int err = ml_events_v1_threshold(dir, E.efd, want[i]);
            if (err) {
                E.v1_failed = true; /* thresholds already registered still work */
                events_log("cannot register a usage threshold in %s", dir, err);
                break;
            }
            E.at[E.n++] = want[i];
            if (E.trace) {
                char a[24];
                ml_log("events: cgroup v1 usage threshold at %s on %s", ml_fmt_bytes(a, want[i]),
                       dir);
            }
        }
    }
    int n = 0;
    *ino = E.efd_ino;
    fds[n++] = (struct pollfd){.fd = E.efd, .events = POLLIN};
    for (int i = 0; i < E.nsrc && n < cap; i++)
        if (EB.src[i].fd >= 0)
            fds[n++] = (struct pollfd){.fd = EB.src[i].fd, .events = EB.src[i].events};
    return n;
}

bool ml_watch_thresholds_armed(void) {
    return E.mode != ML_EVENTS_OFF && !E.failed && E.efd >= 0 && E.n > 0 && E.all_armed &&
           !E.v1_failed && E.pid == getpid();
}

unsigned ml_watch_fired(const struct pollfd *fds, int n) {
    uint64_t now = ml_now_ns();
    bool any = false, stall = false;
    for (int k = 1; k < n; k++) {
        short rev = fds[k].revents;
        if (!rev) continue;
        int i = 0;
        while (i < E.nsrc && EB.src[i].fd != fds[k].fd)
            i++;
        if (i == E.nsrc) continue;
        struct source *s = &EB.src[i];
        struct stat st;
        if ((rev & POLLNVAL) || fstat(s->fd, &st) != 0 || (uint64_t)st.st_ino != s->ino) {
            drop_source(i, false, "its descriptor was closed by the application");
            continue;
        }
        if (s->kind == SRC_MEMEV) {
            struct ml_memory_events ev;
            if (ml_events_memevents_read(s->fd, &ev) != 0) {
                drop_source(i, true, "it cannot be read any more");
                continue;
            }
            unsigned d = ml_memory_events_diff(&s->ev, &ev);
            s->ev = ev;
            if (!d) continue;
            any = true;
            stall |= (d & (ML_MEMEV_MAX | ML_MEMEV_OOM)) != 0;
            if (E.trace && now >= E.next_memev_log_ns) { /* it can change 100 times a second */
                E.next_memev_log_ns = now + 1000000000ULL;
                ml_log("events: %s: high %llu max %llu oom %llu oom_kill %llu", s->what,
                       (unsigned long long)ev.high, (unsigned long long)ev.max,
                       (unsigned long long)ev.oom, (unsigned long long)ev.oom_kill);
            }
            continue;
        }
        bool fifo = s->kind == SRC_WATCH && S_ISFIFO(st.st_mode);
        if (s->kind == SRC_WATCH && (rev & POLLIN)) { /* FIFO or socket: drain */
            char buf[256];
            while (read(s->fd, buf, sizeof buf) > 0) {
            }
        }
        if (fifo && (rev & POLLHUP)) {
            /* the writer closed: a FIFO stays hung up until reopened, and the next
             * writer is welcome */
            short ev;
            int fd = ml_events_watch_open(EB.watch, NULL, 0, &ev);
            if (fd < 0 || fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) {
                if (fd >= 0) close(fd);
                drop_source(i, true, "it cannot be reopened");
                continue;
            }
            close(s->fd);
            s->fd = fd;
            s->ino = (uint64_t)st.st_ino;
            if (!(rev & POLLIN)) continue;
        } else if (rev & (POLLERR | POLLHUP)) { /* the cgroup went away, a peer closed */
            drop_source(i, true, rev & POLLERR ? "the kernel reported an error" : "hang-up");
            continue;
        }
        any = true;
        stall |= s->full;
        if (E.trace) ml_log("events: pressure from %s", s->what);
    }
    return (any ? ML_WATCH_ANY : 0u) | (any && stall ? ML_WATCH_STALL : 0u);
}
