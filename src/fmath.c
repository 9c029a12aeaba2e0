/* SPDX-License-Identifier: MIT */
#include "fmath.h"

#include <stdint.h>
#include <string.h>

/* ln 2 split so that k * LN2_HI is exact for |k| < 2^21 (its low 21 bits are zero) */
#define LN2_HI 0x1.62e42fee00000p-1
#define LN2_LO 0x1.a39ef35793c76p-33
#define LOG2E  0x1.71547652b82fep+0

static uint64_t bits_of(double x) {
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}
static double of_bits(uint64_t b) {
    double x;
    memcpy(&x, &b, sizeof x);
    return x;
}

double ml_ln(double x) {
    uint64_t b = bits_of(x);
    if (x != x || b >> 63) return x == 0 ? -1.0 / 0.0 : 0.0 / 0.0; /* (-0 is 0) */
    if (x == 0) return -1.0 / 0.0;
    if (x == 1.0 / 0.0) return x;
    int e = 0;
    if (b >> 52 == 0) { /* subnormal: make it normal first */
        x *= 0x1p54;
        b = bits_of(x);
        e = -54;
    }
    /* x = 2^e * m with m in [sqrt(1/2), sqrt(2)): ln x = e ln 2 + ln m */
    e += (int)(b >> 52) - 1023;
    double m = of_bits((b & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);
    if (m > 1.41421356237309504880) {
        m *= 0.5;
        e++;
    }
    /* ln m = 2 atanh(s) = 2s (1 + z/3 + z^2/5 + ...), s = (m-1)/(m+1), z = s^2 <= 0.0295;
     * the terms to z^11/25 leave under 1e-19 relative */
    double f = m - 1.0, s = f / (2.0 + f), z = s * s;
    double p = 1.0 / 25;
    static const double inv_odd[] = {1.0 / 23, 1.0 / 21, 1.0 / 19, 1.0 / 17, 1.0 / 15, 1.0 / 13,
                                     1.0 / 11, 1.0 / 9,  1.0 / 7,  1.0 / 5,  1.0 / 3};
    for (unsigned i = 0; i < sizeof inv_odd / sizeof *inv_odd; i++)
        p = p * z + inv_odd[i];
    /* 2s = f - s f, exactly what f/(2+f)*2 means, with less rounding in the large part */
    double lnm = f - s * (f - 2.0 * z * p);
    return (double)e * LN2_LO + lnm + (double)e * LN2_HI;
}

double ml_exp(double x) {
    if (x != x) return x;
    if (x > 709.782712893383973096) return 1.0 / 0.0;
    if (x < -745.133219101941108420) return 0.0;
    /* x = k ln 2 + r with |r| <= ln 2 / 2: e^x = 2^k e^r */
    int k = (int)(x * LOG2E + (x < 0 ? -0.5 : 0.5));
    double r = (x - k * LN2_HI) - k * LN2_LO;
    /* e^r by its Taylor series to r^13/13!: under 1e-17 relative for |r| <= 0.35 */
    static const double inv[] = {1.0 / 13, 1.0 / 12, 1.0 / 11, 1.0 / 10, 1.0 / 9, 1.0 / 8, 1.0 / 7,
                                 1.0 / 6,  1.0 / 5,  1.0 / 4,  1.0 / 3,  1.0 / 2, 1.0};
    double p = 1.0;
    for (unsigned i = 0; i < sizeof inv / sizeof *inv; i++)
        p = 1.0 + p * r * inv[i];
    /* 2^k as a double, in two steps where k is outside the normal exponents */
    if (k > 1023) {
        p *= 2.0;
        k--;
    }
    if (k < -1022) {
        p *= 0x1p-60;
        k += 60;
    }
    return p * of_bits((uint64_t)(k + 1023) << 52);
}
