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
        /* C++: an allocator's own operator new and delete (jemalloc, tcmalloc) bypass
         * our malloc and free, so their blocks could be neither sampled nor matched.
         * While profiling, new goes to the C++ runtime's (which calls our malloc) and
         * delete to our free: the same heap, without the sized fast paths. Only if the
         * runtime's operator new is there for every variant. */
        bool all = true;
        for (int v = 0; v < NEW_COUNT && all; v++)
            all = ml_cxx_runtime_new(v) != NULL;
        if (all) {
            for (int v = 0; v < NEW_COUNT; v++)
                ml_next.new_fn[v] = NULL;
            for (int v = 0; v < DEL_COUNT; v++)
                ml_next.delete_fn[v] = NULL;
        }
    }
}
