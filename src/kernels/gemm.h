/*
 * gemm.h — the matrix product every layer goes through.
 *
 *   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C     (row-major)
 *
 * op(X) is X or X^T (ta/tb non-zero). lda/ldb/ldc are row strides of the
 * stored matrices. beta == 0 means C is overwritten (its old contents, even
 * NaN, are ignored). Three implementations with the same contract:
 *   dn_gemm_naive     triple loop in double precision, the reference
 *   dn_gemm_portable  cache-blocked, packed, register-tiled; always built
 *   dn_gemm_cblas     OpenBLAS, when built with DN_HAVE_CBLAS
 * dn_gemm dispatches to the backend chosen by dn_gemm_set_backend.
 * None of them allocates: the portable kernel packs into fixed-size
 * thread-local buffers.
 */
#ifndef DN_GEMM_H
#define DN_GEMM_H

typedef enum { DN_GEMM_AUTO = 0, DN_GEMM_PORTABLE = 1, DN_GEMM_CBLAS = 2 } dn_gemm_backend;

void dn_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc);
void dn_gemm_naive(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc);
void dn_gemm_portable(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc);
/* Falls back to the portable kernel when built without BLAS. */
void dn_gemm_cblas(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc);

int dn_gemm_have_cblas(void);
/* Process-wide choice, like the thread count; AUTO prefers the portable
 * kernel when it is parallel-safe to call from inside our own threads. */
void dn_gemm_set_backend(dn_gemm_backend b);
dn_gemm_backend dn_gemm_get_backend(void);
const char *dn_gemm_backend_name(void);

/* Single-threaded portable kernel: for callers that already run one GEMM
 * per thread (batch split across cores). */
void dn_gemm_portable_st(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                         const float *B, int ldb, float beta, float *C, int ldc);

#endif
