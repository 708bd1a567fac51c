/*
 * gemm.h — the matrix product every layer goes through.
 *
 *   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C     (row-major)
 *
 * op(X) is X or X^T (ta/tb non-zero). lda/ldb/ldc are row strides of the
 * stored matrices. beta == 0 means C is overwritten (its old contents, even
 * NaN, are ignored). Two implementations with the same contract:
 *   dn_gemm_naive     triple loop in double precision, the reference
 *   dn_gemm_portable  cache-blocked, packed, register-tiled
 * dn_gemm is the portable kernel. Neither allocates: the portable kernel
 * packs into fixed-size thread-local buffers. (OpenBLAS is not linked into
 * the library; the GEMM test and the benchmark compare against it when it
 * is installed, see bench/refblas.h.)
 */
#ifndef DN_GEMM_H
#define DN_GEMM_H

void dn_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc);
void dn_gemm_naive(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc);
void dn_gemm_portable(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc);
/* Single-threaded portable kernel: for callers that already run one GEMM
 * per thread (batch split across cores). */
void dn_gemm_portable_st(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                         const float *B, int ldb, float beta, float *C, int ldc);

#endif
