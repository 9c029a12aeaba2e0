/* SPDX-License-Identifier: MIT */
/* CHECK for the workload programs (C and C++): counts, and prints each failure as
 * "FAIL file:line: message" without stopping, so one run reports every failure. */
#ifndef ML_TEST_CHECK_H
#define ML_TEST_CHECK_H

#include <stdio.h>

static int checks, failures;
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                            \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
        }                                                                                          \
    } while (0)

#endif
