/* SPDX-License-Identifier: MIT */
/* Shared by the libFuzzer targets: the input as a NUL-terminated string, and a
 * check that aborts (a crash libFuzzer records) when an invariant breaks. */
#ifndef ML_FUZZ_H
#define ML_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX 65536

/* a fresh heap copy each time, so ASan sees any read past the terminator */
static inline char *fuzz_str(const uint8_t *d, size_t n) {
    if (n > FUZZ_MAX) n = FUZZ_MAX;
    char *s = malloc(n + 1);
    memcpy(s, d, n);
    s[n] = '\0';
    return s;
}

#define FUZZ_CHECK(c)                                                                              \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "invariant broken: %s (%s:%d)\n", #c, __FILE__, __LINE__);             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
