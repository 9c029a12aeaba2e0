/* SPDX-License-Identifier: MIT */
/* The subset of Criterion's API our unit tests use, for the ThreadSanitizer build
 * only: Criterion cannot start under TSan (its boxfort arena mmap fails with EAGAIN,
 * Snaipe/Criterion#274). Each test runs in a forked child, as under Criterion; a
 * failed cr_expect marks the test failed, a failed cr_assert ends it. */
#ifndef SHIM_CRITERION_H
#define SHIM_CRITERION_H

#include <stdbool.h>
#include <stdio.h> /* Criterion's header brings these */
#include <stdlib.h>
#include <string.h>

struct shim_opts {
    int unused;
    void (*init)(void);
    void (*fini)(void);
    double timeout;
};
void shim_register(const char *suite, const char *name, void (*fn)(void), struct shim_opts o);
void shim_suite(const char *suite, struct shim_opts o);
void shim_fail(bool fatal, const char *what, const char *file, int line);

#define SHIM_CAT(a, b) a##_##b
#define Test(suite, name, ...)                                                                     \
    static void SHIM_CAT(suite, name)(void);                                                       \
    __attribute__((constructor)) static void SHIM_CAT(reg_##suite, name)(void) {                   \
        shim_register(#suite, #name, SHIM_CAT(suite, name), (struct shim_opts){0, ##__VA_ARGS__}); \
    }                                                                                              \
    static void SHIM_CAT(suite, name)(void)
#define TestSuite(suite, ...)                                                                      \
    __attribute__((constructor)) static void reg_suite_##suite(void) {                             \
        shim_suite(#suite, (struct shim_opts){0, ##__VA_ARGS__});                                  \
    }

#define SHIM_CHECK(fatal, c, what)                                                                 \
    do {                                                                                           \
        if (!(c)) shim_fail(fatal, what, __FILE__, __LINE__);                                      \
    } while (0)
#define cr_expect(c, ...)           SHIM_CHECK(false, (c), #c)
#define cr_assert(c, ...)           SHIM_CHECK(true, (c), #c)
#define cr_expect_not(c, ...)       SHIM_CHECK(false, !(c), "!" #c)
#define cr_assert_not(c, ...)       SHIM_CHECK(true, !(c), "!" #c)
#define cr_expect_eq(a, b, ...)     SHIM_CHECK(false, (a) == (b), #a " == " #b)
#define cr_assert_eq(a, b, ...)     SHIM_CHECK(true, (a) == (b), #a " == " #b)
#define cr_expect_neq(a, b, ...)    SHIM_CHECK(false, (a) != (b), #a " != " #b)
#define cr_assert_neq(a, b, ...)    SHIM_CHECK(true, (a) != (b), #a " != " #b)
#define cr_expect_gt(a, b, ...)     SHIM_CHECK(false, (a) > (b), #a " > " #b)
#define cr_assert_gt(a, b, ...)     SHIM_CHECK(true, (a) > (b), #a " > " #b)
#define cr_expect_geq(a, b, ...)    SHIM_CHECK(false, (a) >= (b), #a " >= " #b)
#define cr_assert_geq(a, b, ...)    SHIM_CHECK(true, (a) >= (b), #a " >= " #b)
#define cr_expect_lt(a, b, ...)     SHIM_CHECK(false, (a) < (b), #a " < " #b)
#define cr_expect_leq(a, b, ...)    SHIM_CHECK(false, (a) <= (b), #a " <= " #b)
#define cr_expect_null(p, ...)      SHIM_CHECK(false, (p) == NULL, #p " == NULL")
#define cr_assert_null(p, ...)      SHIM_CHECK(true, (p) == NULL, #p " == NULL")
#define cr_expect_not_null(p, ...)  SHIM_CHECK(false, (p) != NULL, #p " != NULL")
#define cr_assert_not_null(p, ...)  SHIM_CHECK(true, (p) != NULL, #p " != NULL")
#define cr_expect_str_eq(a, b, ...) SHIM_CHECK(false, strcmp((a), (b)) == 0, #a " streq " #b)
#define cr_assert_str_eq(a, b, ...) SHIM_CHECK(true, strcmp((a), (b)) == 0, #a " streq " #b)

#endif
