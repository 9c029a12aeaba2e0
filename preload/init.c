/* Start-up: resolve the allocator and start the core from our constructor, which
 * is the first point where the C library is fully initialised. Allocations made
 * before it (other libraries' constructors) are forwarded but not yet accounted. */
#include "../src/limiter.h"
#include "../src/profile.h"
#include "budget.h"

#include <stdint.h>

static __attribute__((constructor)) void memlimit_init(void) {
    ml_resolve();
    ml_core_init(ml_next_lookup);
    /* a sampled block can be anywhere: every free and realloc looks (a bit test) */
    if (ml_prof_on) {
        ml_special_base = 0;
        ml_special_size = UINTPTR_MAX;
    }
}
