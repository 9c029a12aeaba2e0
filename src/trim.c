#include "trim.h"

#include <stddef.h>

static enum ml_allocator alloc_kind = ML_ALLOC_OTHER;
static int (*glibc_trim)(size_t);
static int (*je_mallctl)(const char *, void *, size_t *, void *, size_t);
static void (*tc_release)(void);
static void (*mi_collect)(bool);

static const char *const names[] = {"glibc", "jemalloc", "tcmalloc", "mimalloc", "unknown"};

void ml_trim_init(ml_lookup_fn lookup) {
    /* the allocator's own entry points, found in the object that serves malloc */
    if ((je_mallctl = (int (*)(const char *, void *, size_t *, void *, size_t))lookup("mallctl")))
        alloc_kind = ML_ALLOC_JEMALLOC;
    else if ((tc_release = (void (*)(void))lookup("MallocExtension_ReleaseFreeMemory")))
        alloc_kind = ML_ALLOC_TCMALLOC;
    else if ((mi_collect = (void (*)(bool))lookup("mi_collect")))
        alloc_kind = ML_ALLOC_MIMALLOC;
    else if ((glibc_trim = (int (*)(size_t))lookup("malloc_trim")))
        alloc_kind = ML_ALLOC_GLIBC;
    else
        alloc_kind = ML_ALLOC_OTHER;
}

enum ml_allocator ml_trim_allocator(void) { return alloc_kind; }
const char *ml_trim_allocator_name(void) { return names[alloc_kind]; }

bool ml_trim_now(void) {
    switch (alloc_kind) {
    case ML_ALLOC_GLIBC:
        glibc_trim(0);
        return true;
    case ML_ALLOC_JEMALLOC:
        /* MALLCTL_ARENAS_ALL is 4096 */
        return je_mallctl("arena.4096.purge", NULL, NULL, NULL, 0) == 0;
    case ML_ALLOC_TCMALLOC:
        tc_release();
        return true;
    case ML_ALLOC_MIMALLOC:
        mi_collect(true);
        return true;
    default:
        return false;
    }
}

void ml_trim_policy_update(struct ml_trim_policy *p, uint64_t now, uint64_t took_ns,
                           bool productive) {
    uint64_t wait = took_ns * ML_TRIM_DUTY_FACTOR;
    if (wait < ML_TRIM_MIN_INTERVAL_NS) wait = ML_TRIM_MIN_INTERVAL_NS;
    if (productive) {
        p->backoff_ns = 0;
    } else {
        p->backoff_ns = p->backoff_ns ? p->backoff_ns * 2 : ML_TRIM_FIRST_BACKOFF_NS;
        if (p->backoff_ns > ML_TRIM_MAX_BACKOFF_NS) p->backoff_ns = ML_TRIM_MAX_BACKOFF_NS;
        if (wait < p->backoff_ns) wait = p->backoff_ns;
    }
    p->next_ok_ns = now + wait;
}
