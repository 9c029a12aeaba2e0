/* SPDX-License-Identifier: MIT */
/* The /proc/meminfo rewrite (src/meminfo.c): any text, any view; the output never
 * longer than its buffer, every line not rewritten copied as it was, and the path
 * matcher on any string. */
#include "fuzz.h"
#include "meminfo.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    if (n < 33) return 0;
    struct ml_meminfo_view v;
    memcpy(&v.total, d, 8);
    memcpy(&v.avail, d + 8, 8);
    memcpy(&v.swap_total, d + 16, 8);
    memcpy(&v.swap_free, d + 24, 8);
    v.swap = d[32] & 1;
    char *s = fuzz_str(d + 33, n - 33);
    size_t len = strlen(s);
    static char out[4096];
    size_t cap = len % sizeof out + 1;
    size_t w = ml_meminfo_rewrite(s, len, &v, out, cap);
    FUZZ_CHECK(w <= cap);
    /* nothing to rewrite: the text itself */
    if (w && !strstr(s, "MemTotal:") && !strstr(s, "MemFree:") && !strstr(s, "MemAvailable:") &&
        (!v.swap || (!strstr(s, "SwapTotal:") && !strstr(s, "SwapFree:"))))
        FUZZ_CHECK(w == len && memcmp(out, s, len) == 0);
    (void)ml_meminfo_path(s);
    free(s);
    return 0;
}
