/* SPDX-License-Identifier: MIT */
/* cgroup v2 memory.events: two readings from one input (its two halves), and the
 * difference between them. */
#include "fuzz.h"
#include "pressure.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    char *a = fuzz_str(d, n / 2), *b = fuzz_str(d + n / 2, n - n / 2);
    struct ml_memory_events x, y;
    int ra = ml_parse_memory_events(a, &x), rb = ml_parse_memory_events(b, &y);
    FUZZ_CHECK(ra >= -1 && ra <= 6 && rb >= -1 && rb <= 6);
    if (ra > 0 && rb > 0) FUZZ_CHECK((ml_memory_events_diff(&x, &y) & ~7u) == 0);
    free(a), free(b);
    return 0;
}
