/* SPDX-License-Identifier: MIT */
/* /proc/self/cgroup lines, into buffers of every small size. */
#include "cgroup.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    char *s = fuzz_str(d, n);
    for (size_t cap = 1; cap <= 64; cap *= 4) {
        char *v1 = malloc(cap), *v2 = malloc(cap);
        v1[0] = v2[0] = '\0';
        ml_parse_proc_cgroup_line(s, v1, v2, cap);
        FUZZ_CHECK(strnlen(v1, cap) < cap && strnlen(v2, cap) < cap);
        free(v1), free(v2);
    }
    char v1[ML_PATH_MAX] = "", v2[ML_PATH_MAX] = "";
    ml_parse_proc_cgroup_line(s, v1, v2, sizeof v1);
    free(s);
    return 0;
}
