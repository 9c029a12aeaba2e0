/* SPDX-License-Identifier: MIT */
#include <dlfcn.h>
#include <string.h>

#include "bridge.h"
#include "_cgo_export.h"

static bool (*p_reached)(void);
static enum memlimit_level (*p_level)(void);
static int64_t (*p_set_limit)(int64_t);
static int (*p_stats)(struct memlimit_stats *);
static int (*p_register)(memlimit_reclaim_fn, void *, int);
static int (*p_unregister)(int);

int ml_go_resolve(void) {
    /* the global scope: LD_PRELOAD, or the executable's own link */
    p_reached = (bool (*)(void))dlsym(RTLD_DEFAULT, "memlimit_reached");
    p_level = (enum memlimit_level(*)(void))dlsym(RTLD_DEFAULT, "memlimit_level");
    p_set_limit = (int64_t(*)(int64_t))dlsym(RTLD_DEFAULT, "memlimit_set_limit");
    p_stats = (int (*)(struct memlimit_stats *))dlsym(RTLD_DEFAULT, "memlimit_stats");
    p_register = (int (*)(memlimit_reclaim_fn, void *, int))dlsym(RTLD_DEFAULT, "memlimit_register");
    p_unregister = (int (*)(int))dlsym(RTLD_DEFAULT, "memlimit_unregister");
    if (!p_reached || !p_level || !p_set_limit || !p_stats || !p_register || !p_unregister)
        return 0;
    return 1;
}

const int32_t *ml_go_level_word(void) {
#if defined(__x86_64__)
    /* memlimit_level is a relaxed atomic load of a 32-bit word and a return. When its
     * code is exactly that, `[endbr64] mov disp32(%rip),%eax; ret`, loading that word
     * is calling it, and Go can do so with sync/atomic for a fraction of a call. Any
     * other code (another compiler, flags or version): NULL, and Go calls it. */
    const unsigned char *p = (const unsigned char *)p_level;
    if (!p) return NULL;
    if (p[0] == 0xf3 && p[1] == 0x0f && p[2] == 0x1e && p[3] == 0xfa) p += 4;
    if (p[0] == 0x8b && p[1] == 0x05 && p[6] == 0xc3) {
        int32_t disp;
        memcpy(&disp, p + 2, sizeof disp);
        const unsigned char *word = p + 6 + disp;
        if (((uintptr_t)word & 3) == 0) return (const int32_t *)word;
    }
#endif
    return NULL;
}

bool ml_go_reached(void) { return p_reached(); }
int ml_go_level(void) { return (int)p_level(); }
int64_t ml_go_set_limit(int64_t bytes) { return p_set_limit(bytes); }
int ml_go_stats(struct memlimit_stats *out) { return p_stats(out); }

/* Runs on the memlimit thread; the Go runtime attaches it on the way in. */
static size_t trampoline(enum memlimit_level level, size_t want, void *arg) {
    return goMemlimitReclaim((int)level, want, (uintptr_t)arg);
}

int ml_go_register(uintptr_t handle, int priority) {
    return p_register(trampoline, (void *)handle, priority);
}
int ml_go_unregister(int handle) { return p_unregister(handle); }
