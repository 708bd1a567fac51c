/*
 * vexp.c — exp over an array of floats (see vexp.h for the method and its
 * accuracy). Written with the compiler's vector extensions, so it runs as
 * eight-float vectors wherever they exist and as plain code elsewhere.
 */
#include "kernels/vexp.h"

#include <string.h>

typedef float v8f __attribute__((vector_size(32), aligned(4)));
typedef int v8i __attribute__((vector_size(32), aligned(4)));

#define EXP_LO (-87.33654f) /* exp below this is under FLT_MIN: 0 */
#define EXP_HI 88.72284f    /* exp above this is over FLT_MAX: +inf */

/* m ? a : b, lane by lane (a macro: vectors passed by value to a function
 * would change the ABI where the target has no 32-byte registers) */
#define PICK(m, a, b) ((v8f)(((v8i)(a) & (m)) | ((v8i)(b) & ~(m))))

/* out[0..7] = exp(in[0..7]) */
static inline void exp8(const float *in, float *out) {
    v8f x;
    memcpy(&x, in, sizeof x);
    const v8f lo = (v8f){0} + EXP_LO, hi = (v8f){0} + EXP_HI;
    v8i under = x<lo, over = x> hi, nan = x != x;
    v8f c = PICK(under, lo, PICK(over, hi, x));
    c = PICK(nan, (v8f){0}, c);
    /* n = round(c / ln 2): adding 1.5 * 2^23 leaves n in the low bits */
    const v8f shifter = (v8f){0} + 12582912.0f;
    v8f t = c * 1.44269504088896341f + shifter, n = t - shifter;
    v8i ni = (v8i)t - 0x4B400000;
    v8f r = c - n * 0.693145751953125f;  /* ln 2, high part: n * it is exact */
    r = r - n * 1.42860682030941723e-6f; /* and the rest */
    v8f p = (v8f){0} + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    /* 2^n as two factors, each a normal float for n in [-126, 128] */
    v8i half = ni >> 1;
    v8f y = p * (v8f)((half + 127) << 23) * (v8f)((ni - half + 127) << 23);
    const v8f inf = (v8f){0} + __builtin_inff();
    y = PICK(under, (v8f){0}, PICK(over, inf, y));
    y = PICK(nan, x, y);
    memcpy(out, &y, sizeof y);
}

void dn_vexp(float *x, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) exp8(x + i, x + i);
    if (i < n) {
        float t[8] = {0};
        memcpy(t, x + i, sizeof(float) * (n - i));
        exp8(t, t);
        memcpy(x + i, t, sizeof(float) * (n - i));
    }
}
