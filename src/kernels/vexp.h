/*
 * vexp.h — exp over an array of floats, eight at a time.
 *
 * x = n ln 2 + r with n = round(x / ln 2), |r| <= ln 2 / 2 (ln 2 split in
 * two parts so that n ln 2 is exact); exp(r) by its Taylor series to r^6
 * (the first term left out, r^7 / 7!, is below 1.3e-7 of the result);
 * 2^n put straight into the exponent bits (as two factors, so that n can
 * reach 128). Relative error below 2.5e-7 (about 2 ulp) for results from
 * FLT_MIN up; 0 where exp(x) < FLT_MIN (x < -87.336, no
 * subnormals), +inf where x > 88.723, NaN for NaN; exp(0) is exactly 1.
 */
#ifndef DN_VEXP_H
#define DN_VEXP_H

#include <stddef.h>

/* x[i] = exp(x[i]) for i < n. */
void dn_vexp(float *x, size_t n);

#endif
