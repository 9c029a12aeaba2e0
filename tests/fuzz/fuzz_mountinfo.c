/* SPDX-License-Identifier: MIT */
/* /proc/self/mountinfo lines: the fields returned lie inside the line. */
#include "cgroup.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    char *s = fuzz_str(d, n);
    size_t len = strlen(s);
    char *root, *mnt, *fs, *so;
    if (ml_parse_mountinfo_line(s, &root, &mnt, &fs, &so)) {
        char *f[4] = {root, mnt, fs, so};
        for (int i = 0; i < 4; i++) {
            FUZZ_CHECK(f[i] >= s && f[i] <= s + len);
            FUZZ_CHECK(f[i] + strlen(f[i]) <= s + len);
        }
    }
    free(s);
    return 0;
}
