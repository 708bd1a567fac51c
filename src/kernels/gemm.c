/*
 * gemm.c — single-precision matrix products: a double-precision reference
 * and a portable cache-blocked kernel.
 *
 * The portable kernel follows the classic GotoBLAS layering:
 *   for each KC-deep slice of K:   pack op(B)[KC, NC] into NR-wide panels
 *     for each MC-tall block of M: pack op(A)[MC, KC] into MR-tall panels
 *       for each MR x NR tile:     micro-kernel, accumulators in registers
 * Packing makes the transposes free and the micro-kernel's loads
 * unit-stride, so the compiler vectorises it (MR x NR = 6 x 16 floats fill
 * twelve 256-bit registers on AVX2, 6 x 32 twelve 512-bit ones with
 * AVX-512). OpenMP splits the M blocks across
 * threads when the product is large enough to pay for it.
 */
#include "kernels/gemm.h"
#include "kernels/vec.h"

#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define SMALL_M 4 /* at most this many rows: gemm_small, no packing */
#define MR 6
/* NR columns of a tile are two vectors: 512-bit ones with AVX-512 (twice
 * the work per instruction, on cores with two 512-bit multiply-add units
 * twice the rate), else 256-bit ones. */
#ifdef __AVX512F__
#define NR 32
#else
#define NR 16
#endif
#ifndef KC
#define KC 256
#endif
#ifndef MC
#define MC 96 /* multiple of MR */
#endif
#ifndef NC
#define NC 512 /* multiple of NR; KC*NC floats = 512 KiB of B panels per thread */
#endif

/* ---------------------------------------------------------------- reference */

void dn_gemm_naive(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++) {
                double a = ta ? A[(long)k * lda + i] : A[(long)i * lda + k];
                double b = tb ? B[(long)j * ldb + k] : B[(long)k * ldb + j];
                s += a * b;
            }
            float *c = &C[(long)i * ldc + j];
            *c = (float)(alpha * s + (beta == 0.0f ? 0.0 : (double)beta * *c));
        }
}

/* ---------------------------------------------------------------- packing */

/* Packs one NR-wide panel of op(B)[k0:k0+kc, j:j+nr], zero-padded to NR. */
typedef float v8u __attribute__((vector_size(32), aligned(4)));

/* o[k] = (r[0][k], r[1][k], ..., r[7][k]): an 8x8 transpose in registers. */
static inline void transpose8_regs(const v8u r[8], v8u o[8]) {
#define LO(a, b) __builtin_shufflevector(a, b, 0, 8, 1, 9, 4, 12, 5, 13)
#define HI(a, b) __builtin_shufflevector(a, b, 2, 10, 3, 11, 6, 14, 7, 15)
#define Q0(a, b) __builtin_shufflevector(a, b, 0, 1, 8, 9, 4, 5, 12, 13)
#define Q1(a, b) __builtin_shufflevector(a, b, 2, 3, 10, 11, 6, 7, 14, 15)
#define H0(a, b) __builtin_shufflevector(a, b, 0, 1, 2, 3, 8, 9, 10, 11)
#define H1(a, b) __builtin_shufflevector(a, b, 4, 5, 6, 7, 12, 13, 14, 15)
    v8u t0 = LO(r[0], r[1]), t1 = HI(r[0], r[1]), t2 = LO(r[2], r[3]), t3 = HI(r[2], r[3]);
    v8u t4 = LO(r[4], r[5]), t5 = HI(r[4], r[5]), t6 = LO(r[6], r[7]), t7 = HI(r[6], r[7]);
    v8u u0 = Q0(t0, t2), u1 = Q1(t0, t2), u2 = Q0(t1, t3), u3 = Q1(t1, t3);
    v8u u4 = Q0(t4, t6), u5 = Q1(t4, t6), u6 = Q0(t5, t7), u7 = Q1(t5, t7);
    o[0] = H0(u0, u4), o[1] = H0(u1, u5), o[2] = H0(u2, u6), o[3] = H0(u3, u7);
    o[4] = H1(u0, u4), o[5] = H1(u1, u5), o[6] = H1(u2, u6), o[7] = H1(u3, u7);
#undef LO
#undef HI
#undef Q0
#undef Q1
#undef H0
#undef H1
}

/* dst[k * dstride + 0..8) = column k of the 8 rows src + i*ld, k < 8. */
static void transpose8(float *dst, int dstride, const float *src, long ld) {
    v8u r[8], o[8];
    for (int i = 0; i < 8; i++) r[i] = *(const v8u *)(src + i * ld);
    transpose8_regs(r, o);
    for (int k = 0; k < 8; k++) *(v8u *)(dst + k * dstride) = o[k];
}

static void pack_b_panel(int tb, const float *B, int ldb, int k0, int kc, int j, int nr,
                         float *dst) {
    int k = 0;
    /* op(B) = B^T with a whole panel: 8x8 blocks transposed in registers */
    if (tb && nr == NR)
        for (; k + 8 <= kc; k += 8) {
            const float *src = &B[(long)j * ldb + k0 + k];
            for (int q = 0; q < NR; q += 8)
                transpose8(dst + (long)k * NR + q, NR, src + (long)q * ldb, ldb);
        }
    for (; k < kc; k++) {
        long r = k0 + k;
        float *d = dst + (long)k * NR;
        if (!tb) {
            const float *src = &B[r * ldb + j];
            for (int jj = 0; jj < nr; jj++) d[jj] = src[jj];
        } else {
            for (int jj = 0; jj < nr; jj++) d[jj] = B[(long)(j + jj) * ldb + r];
        }
        for (int jj = nr; jj < NR; jj++) d[jj] = 0.0f;
    }
}

/* Packs op(A)[i0:i0+mc, k0:k0+kc] as MR-tall panels, zero-padded. Whole
 * panels of a row-major A go 8 columns at a time through a register
 * transpose, whose 8-float stores run 2 floats past each 6-float group
 * (overwritten by the next group; dst has 8 floats of slack). */
static void pack_a(int ta, const float *A, int lda, int i0, int mc, int k0, int kc, float *dst) {
    for (int ip = 0; ip < mc; ip += MR) {
        int mr = mc - ip < MR ? mc - ip : MR, k = 0;
        if (!ta && mr == MR) {
            const float *a = A + (long)(i0 + ip) * lda + k0;
            for (; k + 8 <= kc; k += 8) {
                v8u r[8], o[8];
                for (int i = 0; i < 8; i++)
                    r[i] = *(const v8u *)(a + (i < MR ? i : MR - 1) * (long)lda + k);
                transpose8_regs(r, o);
                for (int kk = 0; kk < 8; kk++) *(v8u *)(dst + (long)(k + kk) * MR) = o[kk];
            }
        }
        if (ta && mr == MR) /* op(A) = A^T: each k's MR values are contiguous */
            for (; k < kc; k++) {
                const float *a = A + (long)(k0 + k) * lda + i0 + ip;
                float *d = dst + (long)k * MR;
                for (int i = 0; i < MR; i++) d[i] = a[i];
            }
        for (; k < kc; k++) {
            float *d = dst + (long)k * MR;
            for (int i = 0; i < mr; i++) {
                long r = i0 + ip + i, c = k0 + k;
                d[i] = ta ? A[c * lda + r] : A[r * lda + c];
            }
            for (int i = mr; i < MR; i++) d[i] = 0.0f;
        }
        dst += (long)kc * MR;
    }
}

/* ---------------------------------------------------------------- micro-kernel */

/* acc[MR][NR] = sum_k Ap[k][:] x Bp[k][:]; then C tile = alpha*acc + beta*C.
 * `first` says whether this is the first K slice (beta applies) or a later
 * one (accumulate with beta = 1). */
static void micro_kernel(int kc, const float *restrict Ap, const float *restrict Bp, long bs,
                         float *restrict C, int ldc, int mr, int nr, float alpha, float beta) {
    /* NR / 2-float vectors (GCC/Clang vector extension): one AVX register
     * each, split into smaller registers by the compiler on narrower
     * targets. */
    typedef float v8 __attribute__((vector_size(NR * 2), aligned(4)));
    enum { H = NR / 2 };
    v8 acc[MR][2];
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = (v8){0};
    /* the tile of C is needed after the loop: ask for it now (rows of a
     * wide C are too far apart for the hardware prefetcher) */
    for (int i = 0; i < mr; i++) {
        __builtin_prefetch(C + (long)i * ldc, 1);
        __builtin_prefetch(C + (long)i * ldc + nr - 1, 1);
    }
    for (int k = 0; k < kc; k++) {
        v8 b0 = *(const v8 *)(Bp + k * bs), b1 = *(const v8 *)(Bp + k * bs + H);
        PIN(b0);
        PIN(b1);
        const float *a = Ap + k * MR;
        for (int i = 0; i < MR; i++) {
            acc[i][0] += a[i] * b0;
            acc[i][1] += a[i] * b1;
        }
    }
    if (mr == MR && nr == NR) { /* a whole tile: straight from the registers */
        v8 va = (v8){0} + alpha;
        for (int i = 0; i < MR; i++) {
            v8 *c = (v8 *)(C + (long)i * ldc);
            if (beta == 0.0f) {
                c[0] = va * acc[i][0];
                c[1] = va * acc[i][1];
            } else if (beta == 1.0f) {
                c[0] += va * acc[i][0];
                c[1] += va * acc[i][1];
            } else {
                c[0] = va * acc[i][0] + beta * c[0];
                c[1] = va * acc[i][1] + beta * c[1];
            }
        }
        return;
    }
    float out[MR][NR];
    for (int i = 0; i < MR; i++) {
        *(v8 *)&out[i][0] = acc[i][0];
        *(v8 *)&out[i][H] = acc[i][1];
    }
    for (int i = 0; i < mr; i++) {
        float *c = C + (long)i * ldc;
        if (beta == 0.0f)
            for (int j = 0; j < nr; j++) c[j] = alpha * out[i][j];
        else if (beta == 1.0f)
            for (int j = 0; j < nr; j++) c[j] += alpha * out[i][j];
        else
            for (int j = 0; j < nr; j++) c[j] = alpha * out[i][j] + beta * c[j];
    }
}

/* One MC x NC block of C for one KC slice, with A already packed. B is
 * either packed (Bp, panels of NR columns) or, when direct is set, read in
 * place from op(B) = B rows at stride ldb starting at column j0, with only
 * a partial last panel packed (into pb). */
typedef struct bsrc {
    const float *Bp;   /* packed panels, or NULL */
    const float *B;    /* direct: &B[k0 * ldb + j0] */
    int ldb;           /* direct: row stride */
    float *pb;         /* direct: room for one packed panel */
    const float *Borg; /* direct: B itself, for the partial panel */
    int k0, j0;
} bsrc;

static void block_kernel(const float *Ap, bsrc b, int mc, int nc, int kc, float *C, int ldc,
                         float alpha, float beta) {
    for (int jp = 0; jp < nc; jp += NR) {
        int nr = nc - jp < NR ? nc - jp : NR;
        const float *bp;
        long bs;
        if (!b.B) {
            bp = b.Bp + (long)jp * kc, bs = NR;
        } else if (nr == NR) {
            bp = b.B + jp, bs = b.ldb;
        } else {
            pack_b_panel(0, b.Borg, b.ldb, b.k0, kc, b.j0 + jp, nr, b.pb);
            bp = b.pb, bs = NR;
        }
        for (int ip = 0; ip < mc; ip += MR) {
            int mr = mc - ip < MR ? mc - ip : MR;
            micro_kernel(kc, Ap + (long)ip * kc, bp, bs, C + (long)ip * ldc + jp, ldc, mr, nr,
                         alpha, beta);
        }
    }
}

/* Products with very few rows of C (single-image inference, the output
 * layer's backward) are dominated by packing; these loops read A and B in
 * place instead: dot products when op(B) = B^T (both rows contiguous),
 * row updates otherwise. */
/* Dot product with 32 independent partial sums in four vector registers
 * (a fixed order, so the result is reproducible): four chains hide the
 * latency of the fused multiply-adds. */
static float dot(const float *a, const float *b, int n) {
    typedef float v8 __attribute__((vector_size(32), aligned(4)));
    v8 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    int k = 0;
    for (; k + 32 <= n; k += 32) {
        s0 += *(const v8 *)(a + k) * *(const v8 *)(b + k);
        s1 += *(const v8 *)(a + k + 8) * *(const v8 *)(b + k + 8);
        s2 += *(const v8 *)(a + k + 16) * *(const v8 *)(b + k + 16);
        s3 += *(const v8 *)(a + k + 24) * *(const v8 *)(b + k + 24);
    }
    for (; k + 8 <= n; k += 8) s0 += *(const v8 *)(a + k) * *(const v8 *)(b + k);
    v8 acc = (s0 + s1) + (s2 + s3);
    float s = 0.0f;
    for (int j = 0; j < 8; j++) s += acc[j];
    for (; k < n; k++) s += a[k] * b[k];
    return s;
}

static void gemm_small(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                       const float *B, int ldb, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++) {
        float *c = C + (long)i * ldc;
        if (tb) {
            for (int j = 0; j < N; j++) {
                const float *b = B + (long)j * ldb;
                float acc = 0.0f;
                if (!ta) {
                    acc = dot(A + (long)i * lda, b, K);
                } else {
                    for (int k = 0; k < K; k++) acc += A[(long)k * lda + i] * b[k];
                }
                c[j] = alpha * acc + (beta == 0.0f ? 0.0f : beta * c[j]);
            }
        } else {
            if (beta == 0.0f)
                for (int j = 0; j < N; j++) c[j] = 0.0f;
            else if (beta != 1.0f)
                for (int j = 0; j < N; j++) c[j] *= beta;
            for (int k = 0; k < K; k++) {
                float a = alpha * (ta ? A[(long)k * lda + i] : A[(long)i * lda + k]);
                const float *b = B + (long)k * ldb;
                for (int j = 0; j < N; j++) c[j] += a * b[j];
            }
        }
    }
}

static void gemm_blocked(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                         const float *B, int ldb, float beta, float *C, int ldc, int parallel) {
    if (M <= 0 || N <= 0) return;
    if (M <= SMALL_M && K > 0 && alpha != 0.0f) {
        gemm_small(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    if (K <= 0 || alpha == 0.0f) {
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                float *c = &C[(long)i * ldc + j];
                *c = beta == 0.0f ? 0.0f : beta * *c;
            }
        return;
    }
    /* Thread-local so that concurrent callers (server workers, batch-split
     * training threads) never share packing space; no heap in the kernel. */
    static _Thread_local float bpack[KC * NC] __attribute__((aligned(64)));
    int threads = 1;
#ifdef _OPENMP
    if (omp_in_parallel()) parallel = 0; /* already one of a team: stay sequential */
    if (parallel) threads = omp_get_max_threads();
#endif
    /* Blocks of rows of about equal size, as many as a multiple of the
     * threads (1,000 rows on 2 threads: 12 of 84, not 10 of 96 and one of
     * 40); and slices of K of about equal depth (784: 4 of 196, not 3 of
     * 256 and one of 16, which would cost a pass over C for little work). */
    int mcb = MC, nb = (M + MC - 1) / MC;
    if (threads > 1 && nb > 1) {
        nb = (nb + threads - 1) / threads * threads;
        mcb = ((M + nb - 1) / nb + MR - 1) / MR * MR;
    }
    int ks = (K + KC - 1) / KC, kcb = (K + ks - 1) / ks;
    for (int j0 = 0; j0 < N; j0 += NC) {
        int nc = N - j0 < NC ? N - j0 : NC;
        for (int k0 = 0; k0 < K; k0 += kcb) {
            int kc = K - k0 < kcb ? K - k0 : kcb;
            float b_eff = k0 == 0 ? beta : 1.0f;
            int npan = (nc + NR - 1) / NR, nblocks = (M + mcb - 1) / mcb;
            float *bp = bpack; /* the calling thread's buffer, shared by the team */
            /* With one block of rows each packed value of B would serve at
             * most MC rows: then B is read in place (rows of NR floats). */
            /* (B's rows must be close together for that: far-apart rows of a
             * wide B cost a TLB miss each, and then packing is cheaper) */
            int direct = !tb && M <= MC && ldb <= 1024;
            if (!direct && !tb) {
                /* row by row, so that each row of B is read in one sweep */
                int full = nc / NR;
#pragma omp parallel for schedule(static) if (parallel && kc > 8)
                for (int k = 0; k < kc; k++) {
                    const float *src = B + (long)(k0 + k) * ldb + j0;
                    for (int pn = 0; pn < full; pn++) {
                        float *d = bp + (long)pn * NR * kc + (long)k * NR;
                        for (int jj = 0; jj < NR; jj++) d[jj] = src[pn * NR + jj];
                    }
                }
                if (full < npan)
                    pack_b_panel(0, B, ldb, k0, kc, j0 + full * NR, nc - full * NR,
                                 bp + (long)full * NR * kc);
            } else if (!direct) {
#pragma omp parallel for schedule(static) if (parallel && npan > 1)
                for (int pn = 0; pn < npan; pn++) {
                    int j = pn * NR, nr = nc - j < NR ? nc - j : NR;
                    pack_b_panel(tb, B, ldb, k0, kc, j0 + j, nr, bp + (long)pn * NR * kc);
                }
            }
            /* With fewer row blocks than threads, the column panels are
             * split too; each C element is still computed by one task in
             * the same order, so results do not depend on the split. */
            int groups = parallel && nblocks < threads ? (threads < npan ? threads : npan) : 1;
            int tasks = nblocks * groups;
#pragma omp parallel for schedule(static) if (parallel && tasks > 1)
            for (int t = 0; t < tasks; t++) {
                static _Thread_local float apack[MC * KC + 8] __attribute__((aligned(64)));
                int blk = t / groups, g = t % groups;
                int plo = npan * g / groups, phi = npan * (g + 1) / groups;
                if (plo == phi) continue;
                int i0 = blk * mcb, mc = M - i0 < mcb ? M - i0 : mcb;
                int jlo = plo * NR, jw = (phi * NR < nc ? phi * NR : nc) - jlo;
                static _Thread_local float ppack[KC * NR] __attribute__((aligned(64)));
                pack_a(ta, A, lda, i0, mc, k0, kc, apack);
                bsrc src = {.Bp = bp + (long)jlo * kc};
                if (direct)
                    src = (bsrc){NULL, B + (long)k0 * ldb + j0 + jlo, ldb, ppack, B, k0, j0 + jlo};
                block_kernel(apack, src, mc, jw, kc, C + (long)i0 * ldc + j0 + jlo, ldc, alpha,
                             b_eff);
            }
        }
    }
}

void dn_gemm_portable_st(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                         const float *B, int ldb, float beta, float *C, int ldc) {
    gemm_blocked(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, 0);
}

void dn_gemm_portable(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc) {
    /* threads only pay off when there are several M blocks of real work */
    int parallel = (double)M * N * K > 2e6;
    gemm_blocked(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, parallel);
}

void dn_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc) {
    dn_gemm_portable(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* ---------------------------------------------------------------- prepacked A */

size_t dn_gemm_pack4_size(int M, int K) {
    return (size_t)(M + 3) / 4 * 4 * (size_t)K;
}

void dn_gemm_pack4(float *Ap, int M, int K, const float *A, int lda) {
    for (int i0 = 0; i0 < M; i0 += 4)
        for (int k = 0; k < K; k++, Ap += 4)
            for (int i = 0; i < 4; i++) Ap[i] = i0 + i < M ? A[(long)(i0 + i) * lda + k] : 0.0f;
}

/* A 4 x NV V tile of C over all of K (V = DN_GEMM_NPAD floats, a vector:
 * 16 with AVX-512, else 8): 4 NV accumulators, NV B vectors and four
 * broadcasts per k; NV = 3 for whole blocks of DN_GEMM_N4 columns, 1 or 2
 * for the last. Rows past mr are not written. */
static inline __attribute__((always_inline)) void micro_pack4(int NV, int K,
                                                              const float *restrict Ap,
                                                              const float *restrict B, int ldb,
                                                              float *restrict C, int ldc, int mr) {
    enum { V = DN_GEMM_NPAD };
    typedef float v8 __attribute__((vector_size(V * 4), aligned(4)));
    v8 acc[4][3] = {{{0}}};
    for (int k = 0; k < K; k++) {
        const float *b = B + (long)k * ldb, *a = Ap + 4 * k;
        v8 b0 = *(const v8 *)b, b1 = NV > 1 ? *(const v8 *)(b + V) : b0;
        v8 b2 = NV > 2 ? *(const v8 *)(b + 2 * V) : b0;
        PIN(b0);
        PIN(b1);
        PIN(b2);
        /* scalar times vector: one broadcast per row, reused NV times */
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) {
            acc[i][0] += a[i] * b0;
            if (NV > 1) acc[i][1] += a[i] * b1;
            if (NV > 2) acc[i][2] += a[i] * b2;
        }
    }
    for (int i = 0; i < mr; i++) {
        v8 *r = (v8 *)(C + (long)i * ldc);
        for (int q = 0; q < NV; q++) r[q] = acc[i][q];
    }
}

void dn_gemm_pack4_run(float *C, int ldc, int M, int N, int K, const float *Ap, const float *B,
                       int ldb) {
    /* a column block of B (K x DN_GEMM_N4 floats) stays in L1 across the
     * rows of A */
    int j = 0;
    for (; j + DN_GEMM_N4 <= N; j += DN_GEMM_N4)
        for (int i0 = 0; i0 < M; i0 += 4)
            micro_pack4(3, K, Ap + (long)i0 * K, B + j, ldb, C + (long)i0 * ldc + j, ldc,
                        M - i0 < 4 ? M - i0 : 4);
    int rest = (N - j) / DN_GEMM_NPAD; /* 0, 1 or 2 vectors more */
    for (int i0 = 0; i0 < M && rest; i0 += 4) {
        int mr = M - i0 < 4 ? M - i0 : 4;
        if (rest == 2)
            micro_pack4(2, K, Ap + (long)i0 * K, B + j, ldb, C + (long)i0 * ldc + j, ldc, mr);
        else
            micro_pack4(1, K, Ap + (long)i0 * K, B + j, ldb, C + (long)i0 * ldc + j, ldc, mr);
    }
}

/* ---------------------------------------------------------------- A B^T, thin */

/* The thin kernels keep R rows x U units of accumulators in registers:
 * with 32 vector registers (AVX-512, NEON) four rows of A at a time, with
 * 16 two. U is at most THIN_U; a product with N units goes in groups of
 * about equal size (10 = 5 + 5, 16 = 4 x 4), so no group is mostly
 * padding. */
#if defined(__AVX512F__) || defined(__aarch64__)
#define THIN_R 4
#else
#define THIN_R 2
#endif
#define THIN_U 5
#define THIN_PF 2 /* blocks of rows ahead */
/* A vector of TW pixels (bytes) as floats: one widening and one
 * conversion (gcc 12 makes the generic form below 16 byte loads). */
#if defined(__AVX512F__)
#define LOAD_PX(p)                                                                                 \
    (tv) _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(p))))
#elif defined(__AVX2__)
#define LOAD_PX(p)                                                                                 \
    (tv) _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p))))
#else
typedef unsigned char tb __attribute__((vector_size(TW), aligned(1)));
#define LOAD_PX(p) __builtin_convertvector(*(const tb *)(p), tv)
#endif

/* Element k of a row of pixels (px = 1) or of floats. */
#define ELEM(px, row, k)                                                                           \
    ((px) ? (float)((const unsigned char *)(row))[k] : ((const float *)(row))[k])

/* C[0..rows) x [0..U) = scale A[r] . B[u] for R <= THIN_R rows of A (a[r];
 * rows past `rows` repeat the last, their sums dropped) and U <= 10 rows of
 * B; the rows of A are floats, or bytes when px is 1 (then scale applies,
 * else it is 1). Each step loads R + U vectors for R U multiply-adds.
 * Inlined with constant R, U and px, the loops unroll and the accumulators
 * stay in registers. */
static inline __attribute__((always_inline)) void
thin_block(int R, int U, int px, int rows, int K, const void *const a[THIN_R],
           const void *const *pf, const float *B, int ldb, float *C, int ldc, float scale) {
    tv acc[THIN_R][10] = {{{0}}};
    const int KW = K & ~(TW - 1);
    for (int k = 0; k < KW; k += TW) {
        tv x[THIN_R];
        if (pf && (k & (px ? 63 : 15)) == 0) /* a cache line at a time */
#pragma GCC unroll 4
            for (int r = 0; r < R; r++)
                __builtin_prefetch(px ? (const void *)((const unsigned char *)pf[r] + k)
                                      : (const void *)((const float *)pf[r] + k));
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            x[r] = px ? LOAD_PX((const unsigned char *)a[r] + k)
                      : *(const tv *)((const float *)a[r] + k);
#pragma GCC unroll 10
        for (int u = 0; u < U; u++) {
            tv w = *(const tv *)(B + (long)u * ldb + k);
            PIN(w); /* one load, not one per row */
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) acc[r][u] += x[r] * w;
        }
    }
    for (int r = 0; r < rows; r++)
        for (int u = 0; u < U; u++) {
            float s = hsum(&acc[r][u]);
            for (int k = KW; k < K; k++) s += ELEM(px, a[r], k) * B[(long)u * ldb + k];
            C[(long)r * ldc + u] = px ? s * scale : s;
        }
}

/* c[0..N) = a . B[j] for one row a: eight rows of B at a time, 9 loads per
 * 8 multiply-adds (a single input's dense layer, where streaming the
 * weights is the whole cost), in TW-float vectors. */
static void thin_row(float *c, int N, int K, const float *a, const float *B, int ldb) {
    const int KW = K & ~(TW - 1);
    for (int j0 = 0; j0 < N; j0 += 8) {
        int nj = N - j0 < 8 ? N - j0 : 8;
        const float *b[8];
        for (int q = 0; q < 8; q++) b[q] = B + (long)(j0 + (q < nj ? q : 0)) * ldb;
        tv z = {0}, s0 = z, s1 = z, s2 = z, s3 = z, s4 = z, s5 = z, s6 = z, s7 = z;
        for (int k = 0; k < KW; k += TW) {
            tv x = *(const tv *)(a + k);
            s0 += x * *(const tv *)(b[0] + k), s1 += x * *(const tv *)(b[1] + k);
            s2 += x * *(const tv *)(b[2] + k), s3 += x * *(const tv *)(b[3] + k);
            s4 += x * *(const tv *)(b[4] + k), s5 += x * *(const tv *)(b[5] + k);
            s6 += x * *(const tv *)(b[6] + k), s7 += x * *(const tv *)(b[7] + k);
        }
        tv acc[8] = {s0, s1, s2, s3, s4, s5, s6, s7};
        for (int q = 0; q < nj; q++) {
            float s = hsum(&acc[q]);
            for (int k = KW; k < K; k++) s += a[k] * b[q][k];
            c[j0 + q] = s;
        }
    }
}

/* Rows of bytes are widened and converted as they are loaded, once per
 * group of units, so they go in tiles of fewer rows and more units: 2 x
 * 10 with 32 registers (3% faster than 4 x 5 on the tutorial network). */
#if THIN_R == 4
#define PX_R 2
#define PX_U 10
#else
#define PX_R THIN_R
#define PX_U THIN_U
#endif

/* One group of U <= UM units, U made a constant (at most UM, so that no
 * case holds more accumulators than registers). */
#define THIN_CASE(u)                                                                               \
    case u:                                                                                        \
        thin_block(R, u < UM ? u : UM, px, nr, K, a, p, b, ldb, c, ldc, scale);                    \
        break
static inline __attribute__((always_inline)) void
thin_group(int R, int UM, int U, int px, int nr, int K, const void *const a[THIN_R],
           const void *const *p, const float *b, int ldb, float *c, int ldc, float scale) {
    switch (U) {
        THIN_CASE(1);
        THIN_CASE(2);
        THIN_CASE(3);
        THIN_CASE(4);
        THIN_CASE(5);
        THIN_CASE(6);
        THIN_CASE(7);
        THIN_CASE(8);
        THIN_CASE(9);
    default:
        thin_block(R, UM, px, nr, K, a, p, b, ldb, c, ldc, scale);
        break;
    }
}
#undef THIN_CASE

/* The rows of A in groups of R against groups of B's rows: row i of A is
 * A + i lda (floats), or rows[i] (bytes, px = 1). */
static inline __attribute__((always_inline)) void nt_thin(int px, float *C, int ldc, int M, int N,
                                                          int K, const float *A, int lda,
                                                          const unsigned char *const *rows,
                                                          float scale, const float *B, int ldb) {
    const int R = px ? PX_R : THIN_R, UM = px ? PX_U : THIN_U;
    int groups = (N + UM - 1) / UM, size = (N + groups - 1) / groups;
#define ROW(i) (px ? (const void *)rows[i] : (const void *)(A + (long)(i)*lda))
    /* R rows of A stay in L1 across the groups of B */
    for (int i = 0; i < M; i += R) {
        int nr = M - i < R ? M - i : R;
        const void *a[THIN_R];
        for (int r = 0; r < R; r++) a[r] = ROW(i + (r < nr ? r : nr - 1));
        float *c = C + (long)i * ldc;
        /* the first group streams these rows from memory: it prefetches the
         * rows THIN_PF blocks ahead, within A */
        const void *ahead[THIN_R];
        int far = i + THIN_PF * R;
        for (int r = 0; r < R; r++) ahead[r] = ROW(far + r < M ? far + r : M - 1);
        for (int j0 = 0; j0 < N; j0 += size) {
            int U = N - j0 < size ? N - j0 : size;
            const void *const *p = j0 == 0 && far < M ? ahead : NULL;
            thin_group(R, UM, U, px, nr, K, a, p, B + (long)j0 * ldb, ldb, c + j0, ldc, scale);
        }
    }
#undef ROW
}

/* C[i][0..N) = sum_k A[i][k] v[k] for N <= TW: one vector of C per row
 * of A, from K vectors v (B's rows or columns as vectors). */
static void rows_by_vectors(float *C, int ldc, int M, int N, int K, const float *A, int lda,
                            const tv *v) {
    for (int i = 0; i < M; i++) {
        const float *a = A + (long)i * lda;
        tv acc = {0};
        for (int k = 0; k < K; k++) acc += a[k] * v[k];
        store_part(C + (long)i * ldc, &acc, N);
    }
}

/* C = A B^T for K <= DN_GEMM_THIN and N <= TW (a 10-to-10 layer): B
 * transposed into K vectors. */
static void nt_small(float *C, int ldc, int M, int N, int K, const float *A, int lda,
                     const float *B, int ldb) {
    tv bt[DN_GEMM_THIN];
    for (int k = 0; k < K; k++) {
        tv z = {0};
        for (int j = 0; j < N; j++) z[j] = B[(long)j * ldb + k];
        bt[k] = z;
    }
    rows_by_vectors(C, ldc, M, N, K, A, lda, bt);
}

void dn_gemm_nt_thin(float *C, int ldc, int M, int N, int K, const float *A, int lda,
                     const float *B, int ldb) {
    if (K <= DN_GEMM_THIN && N <= TW && M > 1)
        nt_small(C, ldc, M, N, K, A, lda, B, ldb);
    else if (M == 1)
        thin_row(C, N, K, A, B, ldb);
    else
        nt_thin(0, C, ldc, M, N, K, A, lda, NULL, 1.0f, B, ldb);
}

void dn_gemm_nt_thin_px(float *C, int ldc, int M, int N, int K, const unsigned char *const *rows,
                        float scale, const float *B, int ldb) {
    nt_thin(1, C, ldc, M, N, K, NULL, 0, rows, scale, B, ldb);
}

/* C[0..U) x [0..V TW) += sum_k A[k][0..U) B[k][0..V TW) for U <= THIN_TU
 * units: each step loads V vectors of B and broadcasts U values of A for
 * V U multiply-adds, so every element of B is read once per group. */
#if defined(__AVX512F__) || defined(__aarch64__)
#define THIN_TU 10
#else
#define THIN_TU 5
#endif
#define TN_PF 8 /* rows ahead */
/* Row k of B is B + k ldb (floats), or rows[k] + j (bytes, px = 1, with
 * the sums scaled by scale). */
static inline __attribute__((always_inline)) void
thin_tn_block(int U, int V, int px, int K, const float *A, int lda, const float *B, int ldb,
              const unsigned char *const *rows, int j, float *C, int ldc, float scale) {
    tv acc[THIN_TU][2] = {{{0}}};
    for (int k = 0; k < K; k++) {
        const float *a = A + (long)k * lda;
        tv b0, b1;
        if (px) {
            const unsigned char *b = rows[k] + j;
            if (k + TN_PF < K) __builtin_prefetch(rows[k + TN_PF] + j);
            b0 = LOAD_PX(b);
            b1 = V > 1 ? LOAD_PX(b + TW) : b0;
        } else {
            const float *b = B + (long)k * ldb;
            __builtin_prefetch(b + (long)TN_PF * ldb); /* rows a page apart: no hardware prefetch */
            b0 = *(const tv *)b;
            b1 = V > 1 ? *(const tv *)(b + TW) : b0;
        }
#pragma GCC unroll 10
        for (int u = 0; u < U; u++) {
            acc[u][0] += a[u] * b0;
            if (V > 1) acc[u][1] += a[u] * b1;
        }
    }
    for (int u = 0; u < U; u++) {
        tv *c = (tv *)(C + (long)u * ldc);
        c[0] += px ? acc[u][0] * scale : acc[u][0];
        if (V > 1) c[1] += px ? acc[u][1] * scale : acc[u][1];
    }
}

/* One group of U units over V vectors of columns, U made a constant. */
#define TN_ARGS px, K, a, lda, b, ldb, rows, j, c, ldc, scale
static inline __attribute__((always_inline)) void
tn_group(int U, int V, int px, int K, const float *a, int lda, const float *b, int ldb,
         const unsigned char *const *rows, int j, float *c, int ldc, float scale) {
    /* clang-format off */
    switch (U) { /* a constant U, so that each case unrolls */
    case 1: thin_tn_block(1, V, TN_ARGS); break;
    case 2: thin_tn_block(2, V, TN_ARGS); break;
    case 3: thin_tn_block(3, V, TN_ARGS); break;
    case 4: thin_tn_block(4, V, TN_ARGS); break;
#if THIN_TU > 5
    case 5: thin_tn_block(5, V, TN_ARGS); break;
    case 6: thin_tn_block(6, V, TN_ARGS); break;
    case 7: thin_tn_block(7, V, TN_ARGS); break;
    case 8: thin_tn_block(8, V, TN_ARGS); break;
    case 9: thin_tn_block(9, V, TN_ARGS); break;
#endif
    default: thin_tn_block(THIN_TU, V, TN_ARGS); break;
    }
    /* clang-format on */
}
#undef TN_ARGS

static inline __attribute__((always_inline)) void
tn_thin(int px, float *C, int ldc, int M, int N, int K, const float *A, int lda, const float *B,
        int ldb, const unsigned char *const *rows, float scale) {
    int groups = (M + THIN_TU - 1) / THIN_TU, size = (M + groups - 1) / groups;
    int wide = N / (2 * TW) * (2 * TW), j = wide;
    for (int i0 = 0; i0 < M; i0 += size) {
        int U = M - i0 < size ? M - i0 : size;
        const float *a = A + i0;
        float *c = C + (long)i0 * ldc;
        for (int jb = 0; jb < wide; jb += 2 * TW)
            tn_group(U, 2, px, K, a, lda, px ? NULL : B + jb, ldb, rows, jb, c + jb, ldc, scale);
        if (wide + TW <= N)
            tn_group(U, 1, px, K, a, lda, px ? NULL : B + wide, ldb, rows, wide, c + wide, ldc,
                     scale);
    }
    if (wide + TW <= N) j += TW;
    /* columns past the last whole vector: all M units at once */
    float acc[DN_GEMM_THIN];
    for (; j < N; j++) {
        for (int i = 0; i < M; i++) acc[i] = 0.0f;
        for (int k = 0; k < K; k++) {
            float b = px ? (float)rows[k][j] : B[(long)k * ldb + j];
            for (int i = 0; i < M; i++) acc[i] += A[(long)k * lda + i] * b;
        }
        for (int i = 0; i < M; i++) C[(long)i * ldc + j] += px ? acc[i] * scale : acc[i];
    }
}

/* C += A^T B for N < TW: one vector of C per unit, each row of B one
 * vector. */
static void tn_small(float *C, int ldc, int M, int N, int K, const float *A, int lda,
                     const float *B, int ldb) {
    tv acc[DN_GEMM_THIN] = {{0}};
    for (int k = 0; k < K; k++) {
        const float *a = A + (long)k * lda;
        tv b;
        load_part(&b, B + (long)k * ldb, N);
        for (int i = 0; i < M; i++) acc[i] += a[i] * b;
    }
    for (int i = 0; i < M; i++) {
        tv c;
        load_part(&c, C + (long)i * ldc, N);
        c += acc[i];
        store_part(C + (long)i * ldc, &c, N);
    }
}

void dn_gemm_tn_thin(float *C, int ldc, int M, int N, int K, const float *A, int lda,
                     const float *B, int ldb) {
    if (N < TW) {
        tn_small(C, ldc, M, N, K, A, lda, B, ldb);
        return;
    }
    tn_thin(0, C, ldc, M, N, K, A, lda, B, ldb, NULL, 1.0f);
}

void dn_gemm_tn_thin_px(float *C, int ldc, int M, int N, int K, const float *A, int lda,
                        const unsigned char *const *rows, float scale) {
    tn_thin(1, C, ldc, M, N, K, A, lda, NULL, 0, rows, scale);
}

void dn_gemm_nn_short(float *C, int ldc, int M, int N, int K, const float *A, int lda,
                      const float *B, int ldb) {
    if (N <= TW && K <= DN_GEMM_THIN) { /* B's rows as vectors */
        tv b[DN_GEMM_THIN];
        for (int k = 0; k < K; k++) load_part(&b[k], B + (long)k * ldb, N);
        rows_by_vectors(C, ldc, M, N, K, A, lda, b);
        return;
    }
    for (int i = 0; i < M; i++) {
        const float *a = A + (long)i * lda;
        float *c = C + (long)i * ldc;
        int j = 0;
        for (; j + 8 <= N; j += 8) {
            tv8 acc = {0};
            for (int k = 0; k < K; k++) acc += a[k] * *(const tv8 *)(B + (long)k * ldb + j);
            *(tv8 *)(c + j) = acc;
        }
        for (; j < N; j++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) acc += a[k] * B[(long)k * ldb + j];
            c[j] = acc;
        }
    }
}

/* ---------------------------------------------------------------- A^T B */

/* C[0..mr) x [0..16) += sum_k A[k][0..mr) B[k][0..16): 8 accumulators,
 * two B vectors and four broadcasts per k. */
static void micro_tn_4x16(int K, const float *restrict A, int lda, const float *restrict B, int ldb,
                          float *restrict C, int ldc, int mr) {
    typedef float v8 __attribute__((vector_size(32), aligned(4)));
    v8 z = {0}, c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
    int i1 = mr > 1, i2 = mr > 2 ? 2 : 0, i3 = mr > 3 ? 3 : 0; /* rows past mr repeat row 0 */
    for (int k = 0; k < K; k++) {
        const float *a = A + (long)k * lda, *b = B + (long)k * ldb;
        v8 b0 = *(const v8 *)b, b1 = *(const v8 *)(b + 8);
        PIN(b0);
        PIN(b1);
        c00 += a[0] * b0, c01 += a[0] * b1;
        c10 += a[i1] * b0, c11 += a[i1] * b1;
        c20 += a[i2] * b0, c21 += a[i2] * b1;
        c30 += a[i3] * b0, c31 += a[i3] * b1;
    }
    v8 acc[4][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}};
    for (int i = 0; i < mr; i++) {
        v8 *r = (v8 *)(C + (long)i * ldc);
        r[0] += acc[i][0];
        r[1] += acc[i][1];
    }
}

#ifdef __AVX512F__
/* C[0..8) x [0..32) += sum_k A[k][0..8) B[k][0..32) in 512-bit vectors: 16
 * accumulators, two B vectors and eight broadcasts per k, twice the
 * products per load of the kernel above. Each element of C sums its
 * products in the same order as there, so the two agree bit for bit. */
static void micro_tn_8x32(int K, const float *restrict A, int lda, const float *restrict B, int ldb,
                          float *restrict C, int ldc) {
    typedef float v16 __attribute__((vector_size(64), aligned(4)));
    v16 acc[8][2];
    for (int i = 0; i < 8; i++) acc[i][0] = acc[i][1] = (v16){0};
    for (int k = 0; k < K; k++) {
        const float *a = A + (long)k * lda, *b = B + (long)k * ldb;
        v16 b0 = *(const v16 *)b, b1 = *(const v16 *)(b + 16);
        PIN(b0);
        PIN(b1);
        for (int i = 0; i < 8; i++) {
            acc[i][0] += a[i] * b0;
            acc[i][1] += a[i] * b1;
        }
    }
    for (int i = 0; i < 8; i++) {
        v16 *r = (v16 *)(C + (long)i * ldc);
        r[0] += acc[i][0];
        r[1] += acc[i][1];
    }
}
#endif

void dn_gemm_tn_acc(float *C, int ldc, int M, int N, int K, const float *A, int lda, const float *B,
                    int ldb) {
    int j = 0;
#ifdef __AVX512F__
    for (; j + 32 <= N; j += 32) {
        int i0 = 0;
        for (; i0 + 8 <= M; i0 += 8)
            micro_tn_8x32(K, A + i0, lda, B + j, ldb, C + (long)i0 * ldc + j, ldc);
        for (; i0 < M; i0 += 4) /* the last rows, in two blocks of 16 columns */
            for (int h = 0; h < 32; h += 16)
                micro_tn_4x16(K, A + i0, lda, B + j + h, ldb, C + (long)i0 * ldc + j + h, ldc,
                              M - i0 < 4 ? M - i0 : 4);
    }
#endif
    for (; j + 16 <= N; j += 16)
        for (int i0 = 0; i0 < M; i0 += 4)
            micro_tn_4x16(K, A + i0, lda, B + j, ldb, C + (long)i0 * ldc + j, ldc,
                          M - i0 < 4 ? M - i0 : 4);
    for (; j < N; j++) /* columns past the last whole block */
        for (int i = 0; i < M; i++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) acc += A[(long)k * lda + i] * B[(long)k * ldb + j];
            C[(long)i * ldc + j] += acc;
        }
}
