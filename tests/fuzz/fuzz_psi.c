/* SPDX-License-Identifier: MIT */
/* PSI lines, PSI trigger strings (by length, not NUL) and systemd's base64. */
#include "fuzz.h"
#include "pressure.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    char *s = fuzz_str(d, n);
    struct ml_psi_line l;
    if (ml_parse_psi_line(s, &l))
        FUZZ_CHECK(l.avg10 <= 10000 && l.avg60 <= 10000 && l.avg300 <= 10000);
    bool full;
    char *t = malloc(n ? n : 1); /* exactly n bytes: no terminator to lean on */
    memcpy(t, d, n);
    ml_psi_trigger_valid(t, n, &full);
    free(t);
    unsigned char out[128];
    for (size_t cap = 0; cap <= sizeof out; cap += 32) {
        long r = ml_base64_decode(s, out, cap);
        FUZZ_CHECK(r >= -1 && r <= (long)cap);
    }
    free(s);
    return 0;
}
