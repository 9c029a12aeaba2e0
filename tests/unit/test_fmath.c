/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fmath.h"

/* The library's exp and log against libm (which the tests may link; the library must
 * not). Errors are counted in units in the last place of libm's result. */

static int64_t ordered(double x) {
    int64_t i;
    memcpy(&i, &x, sizeof i);
    return i < 0 ? INT64_MIN - i : i; /* doubles as integers, in their numeric order */
}
static uint64_t ulps(double a, double b) {
    if (a == b) return 0; /* (+0 and -0 too) */
    int64_t x = ordered(a), y = ordered(b);
    return x > y ? (uint64_t)x - (uint64_t)y : (uint64_t)y - (uint64_t)x;
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t next(void) {
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1DULL;
}
/* uniform on [0, 1) on the 2^-53 grid, as the profile draws it */
static double unit(void) {
    return (double)(next() >> 11) * 0x1.0p-53;
}

#define MAX_ULPS 2

static uint64_t worst_ln, worst_exp;
static void check_ln(double x) {
    uint64_t d = ulps(ml_ln(x), log(x));
    if (d > worst_ln) worst_ln = d;
    cr_expect_leq(d, MAX_ULPS, "ml_ln(%a) = %a, log = %a: %llu ulps", x, ml_ln(x), log(x),
                  (unsigned long long)d);
}
static void check_exp(double x) {
    uint64_t d = ulps(ml_exp(x), exp(x));
    if (d > worst_exp) worst_exp = d;
    cr_expect_leq(d, MAX_ULPS, "ml_exp(%a) = %a, exp = %a: %llu ulps", x, ml_exp(x), exp(x),
                  (unsigned long long)d);
}

Test(fmath, ln_matches_libm) {
    /* what the profile takes the log of: 1 - u, u on the 2^-53 grid, so (2^-53, 1] */
    for (int i = 0; i < 1000000; i++)
        check_ln(1.0 - unit());
    /* around 1 (the logarithm's zero), around the split at sqrt(2), powers of two */
    for (int k = 1; k < 100000; k++) {
        check_ln(1.0 + k * 0x1p-52);
        check_ln(1.0 - k * 0x1p-53);
        check_ln(nextafter(M_SQRT2, k & 1 ? 2.0 : 1.0) + (k >> 1) * 0x1p-52);
    }
    for (int e = -1074; e <= 1023; e++)
        check_ln(ldexp(1.0, e));
    /* any positive finite double: random bits */
    for (int i = 0; i < 1000000; i++) {
        uint64_t b = next() >> 1;
        double x;
        memcpy(&x, &b, sizeof x);
        if (isfinite(x) && x > 0) check_ln(x);
    }
    cr_expect(isinf(ml_ln(0.0)) && ml_ln(0.0) < 0);
    cr_expect(isinf(ml_ln(-0.0)) && ml_ln(-0.0) < 0);
    cr_expect(isnan(ml_ln(-1.0)));
    cr_expect(isnan(ml_ln(NAN)));
    cr_expect(isinf(ml_ln(INFINITY)) && ml_ln(INFINITY) > 0);
    cr_expect_eq(ml_ln(1.0), 0.0);
    printf("fmath: ml_ln within %llu ulps of libm\n", (unsigned long long)worst_ln);
}

Test(fmath, exp_matches_libm) {
    /* what the profile takes exp of: -avg/rate, from a byte in 1 TiB to 1 TiB in a
     * byte, and the whole range where the result is a (sub)normal */
    for (int i = 0; i < 1000000; i++)
        check_exp(-ldexp(1.0 + unit(), (int)(next() % 81) - 40));
    for (int i = 0; i < 1000000; i++)
        check_exp(-745.0 + unit() * (709.78 + 745.0));
    for (int k = -1000; k <= 1000; k++)
        check_exp(k * 0x1p-30);
    for (int k = -1075; k <= 1023; k++) /* multiples of ln 2: the reduction's edges */
        check_exp(k * M_LN2);
    cr_expect_eq(ml_exp(0.0), 1.0);
    cr_expect(isinf(ml_exp(710.0)) && ml_exp(710.0) > 0);
    cr_expect(isinf(ml_exp(INFINITY)));
    cr_expect_eq(ml_exp(-746.0), 0.0);
    cr_expect_eq(ml_exp(-INFINITY), 0.0);
    cr_expect(isnan(ml_exp(NAN)));
    printf("fmath: ml_exp within %llu ulps of libm\n", (unsigned long long)worst_exp);
}

/* What the profile computes with them: the exponential gap -rate ln(1-u), and
 * pprof's inverse sampling probability 1/(1 - e^(-avg/rate)). */
Test(fmath, profile_quantities) {
    double worst_gap = 0, worst_scale = 0;
    for (int i = 0; i < 1000000; i++) {
        double u = unit(), rate = 512 * 1024;
        double ours = -ml_ln(1.0 - u) * rate, theirs = -log(1.0 - u) * rate;
        double rel = theirs ? fabs(ours - theirs) / theirs : fabs(ours);
        if (rel > worst_gap) worst_gap = rel;
        double avg = ldexp(1.0 + unit(), (int)(next() % 40)); /* 1 B .. 1 TiB */
        double p1 = 1.0 - ml_exp(-avg / rate), p2 = 1.0 - exp(-avg / rate);
        double r2 = fabs(1.0 / p1 - 1.0 / p2) / (1.0 / p2);
        if (r2 > worst_scale) worst_scale = r2;
    }
    cr_expect_lt(worst_gap, 1e-15, "gap: %g relative", worst_gap);
    cr_expect_lt(worst_scale, 1e-9, "scale: %g relative", worst_scale);
    printf("fmath: gap within %.2g, scale within %.2g of libm's (relative)\n", worst_gap,
           worst_scale);
}
