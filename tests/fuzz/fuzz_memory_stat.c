/* SPDX-License-Identifier: MIT */
/* memory.stat, statm and limit files: the key scanner and the number parsers. */
#include "cgroup.h"
#include "fileio.h"
#include "fuzz.h"
#include "usage.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    char *s = fuzz_str(d, n);
    uint64_t v;
    FUZZ_CHECK(ml_working_set(1ULL << 40, s, 1) <= 1ULL << 40);
    FUZZ_CHECK(ml_working_set(1ULL << 40, s, 2) <= 1ULL << 40);
    ml_find_key_u64(s, "total_inactive_file", &v);
    ml_find_key_u64(s, "MemTotal", &v);
    ml_find_key_u64(s, "", &v);
    (void)ml_parse_statm(s, 4096);
    ml_parse_u64(s, &v);
    ml_parse_limit_value(s, &v);
    free(s);
    return 0;
}
