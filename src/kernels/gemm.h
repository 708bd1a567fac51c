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

#include <stddef.h>

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

/* Many small products with the same A (the 16 products per chunk of tiles
 * of a Winograd convolution, where K is only the channel count): A is
 * packed once, in 4-row panels, and B is read in place, DN_GEMM_N4
 * columns at a time (three vectors), so nothing is packed per product.
 *   dn_gemm_pack4_size  floats of the packed A for M x K
 *   dn_gemm_pack4       Ap <- A [M, K] (row stride lda), rows past M zero
 *   dn_gemm_pack4_run   C [M, N] = Ap * B [K, N] (row strides ldb, ldc);
 *                       N must be a multiple of DN_GEMM_NPAD (16 with
 *                       AVX-512, else 8): the caller pads B's rows (their
 *                       extra columns are computed, and written to C's,
 *                       whose rows need room for them). Blocks of
 *                       DN_GEMM_N4 = 3 DN_GEMM_NPAD columns run fastest. */
#ifdef __AVX512F__
#define DN_GEMM_NPAD 16
#else
#define DN_GEMM_NPAD 8
#endif
#define DN_GEMM_N4 (3 * DN_GEMM_NPAD)

/* C [M, N] += A^T B for A [K, M] and B [K, N], both row-major (lda, ldb)
 * and read in place: the weight gradient's products over tiles, where K
 * (the tiles) is the long side and both operands arrive K-major. */
void dn_gemm_tn_acc(float *C, int ldc, int M, int N, int K, const float *A, int lda, const float *B,
                    int ldb);
/* C [M, N] = A B^T for A [M, K] and B [N, K], both row-major (lda, ldb)
 * and read in place, for N <= DN_GEMM_THIN: a thin dense layer's forward
 * (many inputs against a handful of weight rows), where packing A would
 * copy the whole input for a few products per element; and for M == 1 and
 * any N, a single input's dense layer. */
#define DN_GEMM_THIN 16
void dn_gemm_nt_thin(float *C, int ldc, int M, int N, int K, const float *A, int lda,
                     const float *B, int ldb);
/* C [M, N] += A^T B for A [K, M] and B [K, N] read in place, M <=
 * DN_GEMM_THIN: a thin dense layer's weight gradient over a long batch,
 * each element of B (the input) read once per group of units. */
void dn_gemm_tn_thin(float *C, int ldc, int M, int N, int K, const float *A, int lda,
                     const float *B, int ldb);
/* The same two with A (nt) or B (tn) given as rows of bytes (pixels),
 * rows[i] the i-th, converted to floats as they are read and the products
 * scaled by scale: a dense layer reading images without a float copy. */
void dn_gemm_nt_thin_px(float *C, int ldc, int M, int N, int K, const unsigned char *const *rows,
                        float scale, const float *B, int ldb);
void dn_gemm_tn_thin_px(float *C, int ldc, int M, int N, int K, const float *A, int lda,
                        const unsigned char *const *rows, float scale);
/* C [M, N] = A B for A [M, K] and B [K, N] read in place, K <=
 * DN_GEMM_THIN: a thin dense layer's input gradient (each row of C a sum
 * of K rows of B), one register of C at a time. */
void dn_gemm_nn_short(float *C, int ldc, int M, int N, int K, const float *A, int lda,
                      const float *B, int ldb);
size_t dn_gemm_pack4_size(int M, int K);
void dn_gemm_pack4(float *Ap, int M, int K, const float *A, int lda);
void dn_gemm_pack4_run(float *C, int ldc, int M, int N, int K, const float *Ap, const float *B,
                       int ldb);

#endif
