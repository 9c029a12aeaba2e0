/* SPDX-License-Identifier: MIT */
/* Start-up: resolve the allocator and start the core from our constructor, which
 * is the first point where the C library is fully initialised. Allocations made
 * before it (other libraries' constructors) are forwarded but not yet accounted. */
#include "../src/limiter.h"
#include "../src/log.h"
#include "../src/profile.h"
#include "budget.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

/* One line when the program's malloc is not ours (we come after its allocator). */
static void served_before(void) {
    const char *malloc_by, *mmap_by;
    if (!ml_next_served_before(&malloc_by, &mmap_by)) return;
    /* an allocator in the executable (clang's ASan runtime) cannot be put after us */
    const char *fix = malloc_by[0] ? " (put libmemlimit.so first in LD_PRELOAD)" : "";
    const char *by = malloc_by[0] ? malloc_by : "the program itself";
    if (!mmap_by)
        ml_log("malloc is served by %s, which comes before libmemlimit.so in the lookup order: "
               "allocations are not accounted%s; mmap, the limits and kernel events are still "
               "watched",
               by, fix);
    else
        ml_log("malloc is served by %s, which comes before libmemlimit.so in the lookup order: "
               "allocations are not accounted, nor is mmap (served by %s)%s; only the memlimit "
               "thread, where it runs, watches the limits",
               by, mmap_by[0] ? mmap_by : "the program itself", fix);
}

static __attribute__((constructor)) void memlimit_init(void) {
    ml_resolve();
    pthread_atfork(NULL, NULL, ml_next_forked);
    /* the free that matches the program's malloc (ours, or the one that comes before
     * us): bound through the GOT, whichever object that is */
    ml_prof_set_deps(&(struct ml_prof_deps){.free = free});
    ml_core_init(ml_next_lookup);
    /* after the core read MEMLIMIT_LOG; a constructor runs once per process */
    served_before();
    if (ml_prof_enabled()) {
        ml_alloc_check_every_block();
        ml_next_cxx_through_runtime();
        ml_mmap_profile_start();
    }
}
