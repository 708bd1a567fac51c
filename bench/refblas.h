/*
 * refblas.h — OpenBLAS as a reference for the GEMM test and the benchmark
 * only (the library does not link it). ref_sgemm has dn_gemm's contract;
 * ref_blas_available() says whether this build has it (DN_HAVE_CBLAS, set
 * by the Makefile when pkg-config finds openblas).
 */
#ifndef DN_REFBLAS_H
#define DN_REFBLAS_H

#ifdef DN_HAVE_CBLAS
#include <cblas.h>
void openblas_set_num_threads(int num_threads);
#endif

static inline int ref_blas_available(void) {
#ifdef DN_HAVE_CBLAS
    return 1;
#else
    return 0;
#endif
}

static inline void ref_blas_threads(int n) {
#ifdef DN_HAVE_CBLAS
    openblas_set_num_threads(n);
#else
    (void)n;
#endif
}

static inline void ref_sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A,
                             int lda, const float *B, int ldb, float beta, float *C, int ldc) {
#ifdef DN_HAVE_CBLAS
    if (M <= 0 || N <= 0) return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N,
                K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
    (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)alpha, (void)A, (void)lda, (void)B;
    (void)ldb, (void)beta, (void)C, (void)ldc;
#endif
}

#endif
