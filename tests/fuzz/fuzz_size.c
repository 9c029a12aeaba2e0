/* SPDX-License-Identifier: MIT */
/* MEMLIMIT and MEMLIMIT_HARD values: ml_parse_size, then resolving it. */
#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    char *s = fuzz_str(d, n);
    struct ml_size sz;
    const char *err = ml_parse_size(s, &sz);
    if (!err && sz.kind == ML_SIZE_PERCENT) {
        FUZZ_CHECK(sz.milli_percent > 0 && sz.milli_percent <= 100000);
        FUZZ_CHECK(ml_size_resolve(&sz, 1ULL << 30) <= 1ULL << 30);
    }
    if (!err) (void)ml_size_resolve(&sz, UINT64_MAX);
    free(s);
    return 0;
}
