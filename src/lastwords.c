#include "lastwords.h"
#include "have.h"
#include "cold.h"
#include "cgroup.h"
#include "clock.h"
#include "dump.h"
#include "limiter.h"
#include "limitset.h"
#include "log.h"

#include <dlfcn.h>
#include <errno.h>
#ifdef __GLIBC__
#include <execinfo.h>
#endif
#include <stdatomic.h>
#include <string.h>

bool ml_lastwords_exceeds(uint64_t usage, size_t n, uint64_t limit) {
    if (!limit || limit == ML_NO_LIMIT) return false;
    return usage >= limit || n > limit - usage;
}

bool ml_lastwords_due(struct ml_lastwords_rate *r, uint64_t now, size_t n) {
    unsigned c = n ? 63u - (unsigned)__builtin_clzll((unsigned long long)n) : 0;
    if (now >= r->next_ns) {
        r->next_ns = now + 1000000000ULL;
        r->size_class = c;
        return true;
    }
    if (c <= r->size_class) return false;
    r->size_class = c;
    return true;
}

size_t ml_lastwords_frames(char *out, size_t cap, int max) {
    void *pc[32];
#ifdef __GLIBC__
    int n = backtrace(pc, 32);
#else /* musl has no backtrace(): the line goes out without frames */
    int n = 0;
#endif
    Dl_info me, in;
    size_t len = 0;
    out[0] = '\0';
    if (!ML_HAVE(dladdr) || !dladdr((void *)ml_lastwords_frames, &me)) return 0;
    int shown = 0;
    for (int i = 0; i < n && shown < max; i++) {
        /* a return address: the call is the byte before it */
        void *at = (char *)pc[i] - 1;
        if (!dladdr(at, &in)) in = (Dl_info){0};
        if (in.dli_fbase == me.dli_fbase) continue; /* our own frames */
        const char *obj = in.dli_fname ? strrchr(in.dli_fname, '/') : NULL;
        obj = obj ? obj + 1 : in.dli_fname ? in.dli_fname : "?";
        char f[160];
        if (in.dli_sname)
            ml_fmt(f, sizeof f, "%s+0x%llx (%s)", in.dli_sname,
                   (unsigned long long)((char *)pc[i] - (char *)in.dli_saddr), obj);
        else if (in.dli_fbase)
            ml_fmt(f, sizeof f, "%s+0x%llx", obj,
                   (unsigned long long)((char *)pc[i] - (char *)in.dli_fbase));
        else
            ml_fmt(f, sizeof f, "0x%llx", (unsigned long long)(uintptr_t)pc[i]);
        len += ml_fmt(out + len, cap - len, "%s%s", shown ? " <- " : "", f);
        shown++;
    }
    return len;
}

static struct ml_lastwords_rate rate;
static atomic_flag busy = ATOMIC_FLAG_INIT;        /* one thread says last words at a time */
static atomic_flag frames_busy = ATOMIC_FLAG_INIT; /* one thread fills `frames` */
static __thread bool tl_speaking __attribute__((tls_model("initial-exec"))); /* re-entry */

/* The line and the profile: cold, and out of line so that its buffers are not on the
 * stack of every large allocation's slow path */
static __attribute__((noinline, cold)) void speak(size_t n, uint64_t usage, uint64_t limit) {
    int saved = errno;
    tl_speaking = true; /* the unwinder and the profile may allocate */
    static ML_COLD char frames[640];
    bool own = !atomic_flag_test_and_set(&frames_busy);
    if (own) ml_lastwords_frames(frames, sizeof frames, 6);
    char a[24], b[24], c[24];
    ml_log("last words: allocating %s at %s passes the cgroup limit %s (level %s); the kernel "
           "may kill this process now; from %s",
           ml_fmt_bytes(a, n), ml_fmt_bytes(b, usage), ml_fmt_bytes(c, limit),
           ml_level_name(ml_core_level_of(usage)), own && frames[0] ? frames : "?");
    if (own) atomic_flag_clear(&frames_busy);
    ml_dump_critical_now();
    tl_speaking = false;
    errno = saved;
}

void ml_lastwords_check(size_t n) {
    if (n < ML_LASTWORDS_MIN || tl_speaking || !ml_core_ready()) return;
    uint64_t limit = ml_limits_cgroup();
    if (limit == ML_NO_LIMIT) return;
    /* a fresh figure (at most one /proc read a millisecond for the process): the
     * estimate is no bound here, since a sample settles the bytes handed out before it
     * even where they were not touched yet (a large block filled after the sample) */
    uint64_t usage = ml_core_usage_now();
    if (!ml_lastwords_exceeds(usage, n, limit)) return;
    if (atomic_flag_test_and_set(&busy)) return;
    bool due = ml_lastwords_due(&rate, ml_now_ns(), n);
    atomic_flag_clear(&busy);
    if (due) speak(n, usage, limit);
}

void ml_lastwords_forked(void) {
    /* held at the fork by a thread the child does not have: a child would never speak */
    atomic_flag_clear(&busy);
    atomic_flag_clear(&frames_busy);
}
