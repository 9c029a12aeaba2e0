/* SPDX-License-Identifier: MIT */
/* exp and natural log for the heap profile, without libm: linking libm made every
 * preloaded process load libm.so.6 (~0.6 ms of CPU per exec) for two calls on the
 * profile's slow path. Accurate to a few units in the last place over the whole
 * double range (tests/unit/test_fmath.c checks them against libm). */
#ifndef ML_FMATH_H
#define ML_FMATH_H

/* internal: never exported, and called without the PLT/GOT */
#pragma GCC visibility push(hidden)

/* ln(x): -inf at 0, NaN below 0 and for NaN, +inf at +inf. */
double ml_ln(double x);
/* e^x: 0 below about -745, +inf above about 709.78, NaN for NaN. */
double ml_exp(double x);

#pragma GCC visibility pop

#endif
