/*
 * vec.h — the vector types and helpers the hand-tiled kernels share
 * (gemm.c's thin kernels, conv1.c): TW-float vectors through the
 * compilers' vector extension, partial loads and stores, a lane sum.
 */
#ifndef DN_VEC_H
#define DN_VEC_H

#if defined(__AVX2__)
#include <immintrin.h>
#endif

/* PIN(v): keep vector v in a register. Without it the compiler folds v's
 * load into each multiply-add that uses it, and the loads, not the
 * multiplications, set the pace. */
#if defined(__GNUC__) && defined(__AVX512F__)
#define PIN(v) __asm__("" : "+v"(v))
#elif defined(__GNUC__) && defined(__AVX__)
#define PIN(v) __asm__("" : "+x"(v))
#else
#define PIN(v) ((void)0)
#endif

typedef float tv8 __attribute__((vector_size(32), aligned(4)));
/* Vectors of TW floats: 16 with AVX-512 (two 512-bit multiply-adds a
 * cycle on cores with two such units, the same rate as 256-bit ones
 * elsewhere, in half the instructions), else 8. */
#ifdef __AVX512F__
#define TW 16
#else
#define TW 8
#endif
typedef float tv __attribute__((vector_size(TW * 4), aligned(4)));

/* The lanes' sum as a tree: halves, quarters, pairs (by pointer: a vector
 * passed by value would change the ABI on targets without AVX). */
static inline float hsum8(const tv8 *p) {
    typedef float v4 __attribute__((vector_size(16)));
    tv8 v = *p;
    v4 q = __builtin_shufflevector(v, v, 0, 1, 2, 3) + __builtin_shufflevector(v, v, 4, 5, 6, 7);
    return (q[0] + q[2]) + (q[1] + q[3]);
}

static inline float hsum(const tv *p) {
#if TW == 16
    tv v = *p;
    tv8 h = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
            __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
    return hsum8(&h);
#else
    return hsum8(p);
#endif
}

/* The first n <= TW floats at p as a vector, zero past them; and the
 * first n lanes of v stored at p. */
static inline void load_part(tv *v, const float *p, int n) {
#if defined(__AVX512F__)
    *v = (tv)_mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), p);
#else
    tv z = {0};
    for (int j = 0; j < n; j++) z[j] = p[j];
    *v = z;
#endif
}

static inline void store_part(float *p, const tv *v, int n) {
#if defined(__AVX512F__)
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1), (__m512)*v);
#else
    for (int j = 0; j < n; j++) p[j] = (*v)[j];
#endif
}

#endif
