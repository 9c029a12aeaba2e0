/* SPDX-License-Identifier: MIT */
/* Runtime garbage at pressure (see rtgc.h). */
#include "rtgc.h"
#include "clock.h"
#include "fmt.h"
#include "log.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

/* CPython's C API, by name: the library does not link against Python */
typedef int (*pending_fn)(int (*)(void *), void *);
typedef long (*collect_fn)(void); /* PyGC_Collect returns Py_ssize_t */
typedef int (*initialized_fn)(void);

enum { UNKNOWN, NONE, PYTHON };
static _Atomic int kind; /* set once, on the memlimit thread (ml_rtgc_find) */
static pending_fn add_pending;
static collect_fn gc_collect;
static initialized_fn is_initialized;
/* Who queues the call matters: CPython up to 3.11 (and 3.12, whose code we have not
 * run) decides whether to wake its eval loop for a pending call by asking whether
 * the calling thread can run it, so from any thread but the main one the call waits
 * for some other event (a GIL switch, a signal, exit). The memlimit thread therefore
 * only asks (`wanted`); the main thread queues the call in its next allocation slow
 * path (ml_rtgc_poll), and the memlimit thread queues it itself only when the main
 * thread has not allocated for ML_RTGC_HANDOVER_NS. */
static _Atomic bool wanted;
static _Atomic uint64_t wanted_ns;
static _Atomic bool pending;
static _Atomic uint64_t last_ns, took_ns, collections;
static bool trace;

bool ml_rtgc_due(bool is_pending, uint64_t last, uint64_t took, uint64_t now, unsigned duty) {
    if (is_pending) return false;
    if (!last) return true;
    uint64_t wait = took * duty;
    if (wait < ML_RTGC_EVERY_NS) wait = ML_RTGC_EVERY_NS;
    return now >= last && now - last >= wait;
}

/* On the interpreter's main thread, with the GIL held (Py_AddPendingCall's contract) */
static int collect(void *arg) {
    (void)arg;
    uint64_t t0 = ml_now_ns();
    long n = gc_collect();
    uint64_t k = atomic_fetch_add(&collections, 1) + 1, t1 = ml_now_ns();
    atomic_store(&took_ns, t1 - t0);
    atomic_store(&last_ns, t1);
    atomic_store(&pending, false);
    if (trace) {
        char t[24];
        ml_log("python gc #%llu collected %ld objects in %s", (unsigned long long)k, n,
               ml_fmt_ns(t, t1 - t0));
    }
    return 0;
}

void ml_rtgc_find(bool enabled, bool tracing) {
    trace = tracing;
    if (atomic_load(&kind) != UNKNOWN) return;
    if (!enabled) {
        atomic_store(&kind, NONE);
        return;
    }
    add_pending = (pending_fn)dlsym(RTLD_DEFAULT, "Py_AddPendingCall");
    gc_collect = (collect_fn)dlsym(RTLD_DEFAULT, "PyGC_Collect");
    is_initialized = (initialized_fn)dlsym(RTLD_DEFAULT, "Py_IsInitialized");
    atomic_store(&kind, add_pending && gc_collect && is_initialized ? PYTHON : NONE);
}

/* queues the collection; false where the interpreter cannot take it now */
static bool queue(void) {
    if (!is_initialized()) return false; /* not yet, or finalizing */
    if (atomic_exchange(&pending, true)) return false; /* one at a time, whoever queues */
    if (add_pending(collect, NULL) != 0) { /* its queue is full: later */
        atomic_store(&pending, false);
        return false;
    }
    return true;
}

bool ml_rtgc_request(uint64_t now, unsigned duty) {
    if (atomic_load(&kind) != PYTHON) return false;
    if (atomic_load(&wanted)) { /* the main thread has not come by: queue it from here */
        if (now - atomic_load(&wanted_ns) >= ML_RTGC_HANDOVER_NS && atomic_exchange(&wanted, false))
            return queue();
        return false;
    }
    if (!ml_rtgc_due(atomic_load(&pending), atomic_load(&last_ns), atomic_load(&took_ns), now,
                     duty))
        return false;
    atomic_store(&wanted_ns, now);
    atomic_store(&wanted, true);
    return true;
}

/* this thread is the process's main thread: 1, 0, or -1 not yet known */
static __thread signed char tl_main = -1;

void ml_rtgc_poll(unsigned duty, uint64_t now) {
    if (__builtin_expect(atomic_load_explicit(&kind, memory_order_relaxed) != PYTHON, 1)) return;
    bool asked = atomic_load_explicit(&wanted, memory_order_relaxed);
    if (!asked && !duty) return;
    if (tl_main < 0) tl_main = syscall(SYS_gettid) == getpid();
    if (!tl_main) return;
    if (asked) {
        if (atomic_exchange(&wanted, false)) queue();
    } else if (ml_rtgc_due(atomic_load(&pending), atomic_load(&last_ns), atomic_load(&took_ns), now,
                           duty)) {
        queue();
    }
}

uint64_t ml_rtgc_collections(void) {
    return atomic_load(&collections);
}

void ml_rtgc_forked(void) {
    tl_main = -1; /* the forking thread is the child's main thread */
    /* a call queued in the parent is in the child's copy of the interpreter's queue
     * and runs there; what was only wanted is the parent's */
    atomic_store(&wanted, false);
}
