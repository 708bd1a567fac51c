/*
 * test_gemm.c — the portable GEMM against the naive double-precision
 * reference, on odd shapes, every transpose combination, alpha/beta variants
 * and strided (lda > cols) operands; OpenBLAS (when installed) against the
 * same reference, which checks the reference itself; im2col convolution
 * against the direct loop.
 */
#include "check.h"
#include "refblas.h"
#include "internal.h"
#include "kernels/gemm.h"
#include "kernels/conv1.h"
#include "kernels/im2col.h"

#include <string.h>

typedef void (*gemm_fn)(int, int, int, int, int, float, const float *, int, const float *, int,
                        float, float *, int);

static void fill(float *p, size_t n, dn_rng *r) {
    for (size_t i = 0; i < n; i++) p[i] = (float)(dn_rng_uniform(r) * 2 - 1);
}

static double compare(gemm_fn fn, int ta, int tb, int M, int N, int K, float alpha, float beta,
                      dn_rng *r) {
    int pad = 3, lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    size_t asz = (size_t)(ta ? K : M) * lda, bsz = (size_t)(tb ? N : K) * ldb,
           csz = (size_t)M * ldc;
    float *A = malloc(asz * 4 + 4), *B = malloc(bsz * 4 + 4), *C1 = malloc(csz * 4 + 4),
          *C2 = malloc(csz * 4 + 4);
    fill(A, asz, r);
    fill(B, bsz, r);
    fill(C1, csz, r);
    memcpy(C2, C1, csz * 4);
    if (beta == 0.0f) /* beta == 0 must ignore garbage (even NaN) in C */
        for (size_t i = 0; i < csz; i++) C1[i] = NAN;
    fn(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C1, ldc);
    dn_gemm_naive(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C2, ldc);
    double worst = 0.0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double d = fabs((double)C1[(size_t)i * ldc + j] - C2[(size_t)i * ldc + j]);
            if (!(d <= worst)) worst = isnan(d) ? INFINITY : d;
        }
    free(A);
    free(B);
    free(C1);
    free(C2);
    return worst;
}

static void test_gemm(const char *name, gemm_fn fn) {
    static const int shapes[][3] = {{1, 1, 1},    {2, 3, 4},     {7, 13, 5},     {17, 33, 29},
                                    {6, 16, 256}, {97, 15, 300}, {64, 128, 784}, {130, 70, 513},
                                    {5, 600, 3},  {200, 1, 40},  {1, 200, 40},   {0, 5, 5}};
    dn_rng r;
    dn_rng_seed(&r, 42);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int v = 0; v < 3; v++) {
                    float alpha = v == 2 ? 0.5f : 1.0f, beta = v == 0   ? 0.0f
                                                               : v == 1 ? 1.0f
                                                                        : -0.7f;
                    int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
                    double err = compare(fn, ta, tb, M, N, K, alpha, beta, &r);
                    CHECK_MSG(err < 1e-4 * (K > 1 ? sqrt((double)K) : 1) + 1e-5,
                              "%s M=%d N=%d K=%d ta=%d tb=%d alpha=%g beta=%g err=%g", name, M, N,
                              K, ta, tb, alpha, beta, err);
                }
}

/* A deliberately wrong kernel must be caught: the comparison is not vacuous. */
static void broken_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                        const float *B, int ldb, float beta, float *C, int ldc) {
    dn_gemm_portable(ta, tb, M, N, K > 1 ? K - 1 : K, alpha, A, lda, B, ldb, beta, C, ldc);
}

static void test_conv_im2col(void) {
    dn_rng r;
    dn_rng_seed(&r, 7);
    static const int cases[][6] = {/* C H W OC k s, p derived */ {1, 28, 28, 6, 5, 1},
                                   {3, 9, 7, 4, 3, 2},
                                   {2, 5, 5, 3, 1, 1},
                                   {4, 12, 12, 8, 3, 1}};
    for (int c = 0; c < 4; c++)
        for (int p = 0; p < 2; p++) {
            int C = cases[c][0], H = cases[c][1], W = cases[c][2], OC = cases[c][3],
                k = cases[c][4], s = cases[c][5];
            int pad = p ? k / 2 : 0, OH = (H + 2 * pad - k) / s + 1, OW = (W + 2 * pad - k) / s + 1;
            float *x = malloc(sizeof(float) * C * H * W),
                  *w = malloc(sizeof(float) * OC * C * k * k);
            float *b = malloc(sizeof(float) * OC),
                  *col = malloc(sizeof(float) * C * k * k * OH * OW);
            float *y1 = malloc(sizeof(float) * OC * OH * OW),
                  *y2 = malloc(sizeof(float) * OC * OH * OW);
            fill(x, (size_t)C * H * W, &r);
            fill(w, (size_t)OC * C * k * k, &r);
            fill(b, (size_t)OC, &r);
            dn_conv_naive(x, C, H, W, w, b, OC, k, s, pad, y1);
            dn_im2col(x, C, H, W, k, s, pad, col);
            dn_gemm_portable(0, 0, OC, OH * OW, C * k * k, 1.0f, w, C * k * k, col, OH * OW, 0.0f,
                             y2, OH * OW);
            double worst = 0;
            for (int o = 0; o < OC; o++)
                for (int q = 0; q < OH * OW; q++)
                    worst = fmax(worst, fabs(y2[o * OH * OW + q] + b[o] - y1[o * OH * OW + q]));
            CHECK_MSG(worst < 1e-4, "conv case %d pad %d: %g", c, pad, worst);
            free(x), free(w), free(b), free(col), free(y1), free(y2);
        }
}

/* The prepacked product against the reference, with M not a multiple of 4
 * and strided rows; rows of C past M must stay untouched. */
/* The largest |C - R| over M x N (row stride ldc). */
static double worst_diff(const float *C, const float *R, int M, int N, int ldc) {
    double worst = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) worst = fmax(worst, fabs(C[i * ldc + j] - R[i * ldc + j]));
    return worst;
}

static void test_pack4(void) {
    dn_rng r;
    dn_rng_seed(&r, 3);
    enum { W = DN_GEMM_N4, P = DN_GEMM_NPAD }; /* N a multiple of P; blocks of W */
    static const int shapes[][3] = {{1, W, 1},          {5, 2 * W, 7},      {32, 4 * W, 32},
                                    {13, W, 300},       {64, 3 * W, 64},    {7, P, 9},
                                    {6, W + 2 * P, 20}, {9, 2 * W + P, 33}, {3, 2 * P, 5}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], lda = K + 3, ldb = N + 5,
            ldc = N + 2;
        float *A = malloc(sizeof(float) * M * lda), *B = malloc(sizeof(float) * K * ldb);
        float *C = malloc(sizeof(float) * (M + 1) * ldc), *R = malloc(sizeof(float) * M * ldc);
        float *Ap = malloc(sizeof(float) * dn_gemm_pack4_size(M, K));
        fill(A, (size_t)M * lda, &r), fill(B, (size_t)K * ldb, &r);
        for (int i = 0; i < (M + 1) * ldc; i++) C[i] = 7.0f;
        dn_gemm_pack4(Ap, M, K, A, lda);
        dn_gemm_pack4_run(C, ldc, M, N, K, Ap, B, ldb);
        dn_gemm_naive(0, 0, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, R, ldc);
        double worst = worst_diff(C, R, M, N, ldc);
        CHECK_MSG(worst < 1e-4 * sqrt((double)K) + 1e-5, "pack4 M=%d N=%d K=%d: %g", M, N, K,
                  worst);
        int kept = 1;
        for (int j = 0; j < ldc; j++) kept &= C[M * ldc + j] == 7.0f;
        CHECK_MSG(kept, "pack4 M=%d: wrote past row M", M);
        free(A), free(B), free(C), free(R), free(Ap);
    }
}

typedef void (*tn_fn)(float *, int, int, int, int, const float *, int, const float *, int);

/* C += A^T B by fn against the naive product, both operands K-major, M
 * and N not multiples of the blocks; rows of C past M stay untouched. */
static void check_tn(const char *name, tn_fn fn, unsigned seed, const int (*shapes)[3],
                     size_t count) {
    dn_rng r;
    dn_rng_seed(&r, seed);
    for (size_t s = 0; s < count; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], lda = M + 3, ldb = N + 5,
            ldc = N + 2;
        float *A = malloc(sizeof(float) * K * lda), *B = malloc(sizeof(float) * K * ldb);
        float *C = malloc(sizeof(float) * (M + 1) * ldc), *R = malloc(sizeof(float) * M * ldc);
        fill(A, (size_t)K * lda, &r), fill(B, (size_t)K * ldb, &r),
            fill(C, (size_t)(M + 1) * ldc, &r);
        memcpy(R, C, sizeof(float) * M * ldc);
        float below = C[M * ldc];
        fn(C, ldc, M, N, K, A, lda, B, ldb);
        dn_gemm_naive(1, 0, M, N, K, 1.0f, A, lda, B, ldb, 1.0f, R, ldc);
        double worst = worst_diff(C, R, M, N, ldc);
        CHECK_MSG(worst < 1e-4 * sqrt((double)K) + 1e-5, "%s M=%d N=%d K=%d: %g", name, M, N, K,
                  worst);
        CHECK_MSG(C[M * ldc] == below, "%s M=%d: wrote past row M", name, M);
        free(A), free(B), free(C), free(R);
    }
}

static void test_tn_acc(void) {
    static const int shapes[][3] = {{1, 16, 1},    {5, 17, 9},   {32, 32, 96},
                                    {13, 40, 300}, {64, 64, 48}, {70, 81, 33}};
    check_tn("tn_acc", dn_gemm_tn_acc, 4, shapes, sizeof shapes / sizeof shapes[0]);
}

/* The thin dense layer's weight gradient, M <= 16: M from 1 to 16 (one
 * group of units or several of unequal size), N with and without columns
 * past the last block of 16 (and below 16). */
static void test_tn_thin(void) {
    static const int shapes[][3] = {{1, 16, 1},   {5, 17, 9},    {10, 784, 300},
                                    {13, 40, 31}, {16, 5, 64},   {11, 100, 513},
                                    {6, 32, 2},   {10, 10, 300}, {16, 15, 7}};
    check_tn("tn_thin", dn_gemm_tn_thin, 7, shapes, sizeof shapes / sizeof shapes[0]);
}

static void test_nt_thin(void) {
    dn_rng r;
    dn_rng_seed(&r, 6);
    /* N from 1 to 16 (odd group sizes of B), odd M (a lone last row), K
     * with and without a tail past the last multiple of 8, and K < 8; one
     * row against many (the single-input path) */
    static const int shapes[][3] = {{1, 1, 3},     {7, 10, 784},  {9, 16, 33},  {4, 5, 8},
                                    {3, 13, 100},  {600, 10, 17}, {1, 37, 100}, {1, 128, 784},
                                    {600, 10, 10}, {130, 16, 16}, {5, 3, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], lda = K + 3, ldb = K + 1,
            ldc = N + 2;
        float *A = malloc(sizeof(float) * M * lda), *B = malloc(sizeof(float) * N * ldb);
        float *C = malloc(sizeof(float) * (M + 1) * ldc), *R = malloc(sizeof(float) * M * ldc);
        fill(A, (size_t)M * lda, &r), fill(B, (size_t)N * ldb, &r),
            fill(C, (size_t)(M + 1) * ldc, &r);
        float below = C[M * ldc], beside = C[N];
        dn_gemm_nt_thin(C, ldc, M, N, K, A, lda, B, ldb);
        dn_gemm_naive(0, 1, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, R, ldc);
        double worst = worst_diff(C, R, M, N, ldc);
        CHECK_MSG(worst < 1e-4 * sqrt((double)K) + 1e-5, "nt_thin M=%d N=%d K=%d: %g", M, N, K,
                  worst);
        CHECK_MSG(C[M * ldc] == below && C[N] == beside, "nt_thin M=%d N=%d: wrote outside C", M,
                  N);
        free(A), free(B), free(C), free(R);
    }
}

/* C = A B with few columns of A (K <= 16), N with and without a tail past
 * the last 8; C's other columns stay untouched. */
static void test_nn_short(void) {
    dn_rng r;
    dn_rng_seed(&r, 8);
    static const int shapes[][3] = {{1, 1, 1}, {600, 10, 10}, {7, 64, 16},
                                    {3, 5, 3}, {9, 23, 7},    {5, 16, 16}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], lda = K + 3, ldb = N + 5,
            ldc = N + 2;
        float *A = malloc(sizeof(float) * M * lda), *B = malloc(sizeof(float) * K * ldb);
        float *C = malloc(sizeof(float) * M * ldc), *R = malloc(sizeof(float) * M * ldc);
        fill(A, (size_t)M * lda, &r), fill(B, (size_t)K * ldb, &r), fill(C, (size_t)M * ldc, &r);
        float beside = C[N];
        dn_gemm_nn_short(C, ldc, M, N, K, A, lda, B, ldb);
        dn_gemm_naive(0, 0, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, R, ldc);
        double worst = worst_diff(C, R, M, N, ldc);
        CHECK_MSG(worst < 1e-4 * sqrt((double)K) + 1e-5, "nn_short M=%d N=%d K=%d: %g", M, N, K,
                  worst);
        CHECK_MSG(C[N] == beside, "nn_short M=%d N=%d: wrote past column N", M, N);
        free(A), free(B), free(C), free(R);
    }
}

/* The thin kernels reading rows of bytes (pixels) in place, scattered
 * (row i is image order[i] of a pool) and scaled: against the naive
 * product of the same rows as floats, for the shapes of the float tests
 * (K with and without a tail past the last vector). */
static void test_thin_px(void) {
    dn_rng r;
    dn_rng_seed(&r, 9);
    static const int shapes[][3] = {{1, 1, 3},      {7, 10, 784}, {9, 16, 33}, {4, 5, 8},
                                    {130, 10, 784}, {5, 13, 100}, {2, 3, 17}};
    const float scale = 1.0f / 255.0f;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], pool = M + 7;
        unsigned char *px = malloc((size_t)pool * K);
        const unsigned char **rows = malloc(sizeof *rows * M);
        float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * N * K);
        float *C = malloc(sizeof(float) * (M + 1) * N), *R = malloc(sizeof(float) * M * N);
        for (int i = 0; i < pool * K; i++) px[i] = (unsigned char)dn_rng_below(&r, 256);
        for (int i = 0; i < M; i++) {
            rows[i] = px + (size_t)((i * 5 + 3) % pool) * K; /* scattered, some twice */
            for (int k = 0; k < K; k++) A[(size_t)i * K + k] = rows[i][k] * scale;
        }
        fill(B, (size_t)N * K, &r);
        /* forward: C [M, N] = rows B^T */
        fill(C, (size_t)(M + 1) * N, &r);
        float below = C[M * N];
        dn_gemm_nt_thin_px(C, N, M, N, K, rows, scale, B, K);
        dn_gemm_naive(0, 1, M, N, K, 1.0f, A, K, B, K, 0.0f, R, N);
        double worst = worst_diff(C, R, M, N, N);
        CHECK_MSG(worst < 1e-4 * sqrt((double)K) + 1e-5, "nt_thin_px M=%d N=%d K=%d: %g", M, N, K,
                  worst);
        CHECK_MSG(C[M * N] == below, "nt_thin_px M=%d: wrote past row M", M);
        /* weight gradient: G [N, K] += D^T rows for D [M, N] (dL/dy) */
        if (N <= DN_GEMM_THIN) {
            float *G = malloc(sizeof(float) * (N + 1) * K), *RG = malloc(sizeof(float) * N * K);
            float *D = malloc(sizeof(float) * M * N);
            fill(D, (size_t)M * N, &r);
            fill(G, (size_t)(N + 1) * K, &r);
            memcpy(RG, G, sizeof(float) * N * K);
            float past = G[N * K];
            dn_gemm_tn_thin_px(G, K, N, K, M, D, N, rows, scale);
            dn_gemm_naive(1, 0, N, K, M, 1.0f, D, N, A, K, 1.0f, RG, K);
            worst = worst_diff(G, RG, N, K, K);
            CHECK_MSG(worst < 1e-4 * sqrt((double)M) + 1e-5, "tn_thin_px M=%d N=%d K=%d: %g", N, K,
                      M, worst);
            CHECK_MSG(G[N * K] == past, "tn_thin_px M=%d: wrote past row M", N);
            free(G), free(RG), free(D);
        }
        free(px), free(rows), free(A), free(B), free(C), free(R);
    }
}

/* The direct one-channel convolution against the naive loop, and its
 * weight gradient against the gradient by hand: kernels 1, 3, 4, 5 and 7
 * (unrolled and generic), paddings 0 to 3, widths with and without a
 * chunk past the last whole vector, output channels short of a block. */
static void test_conv1(void) {
    dn_rng r;
    dn_rng_seed(&r, 12);
    static const int cases[][5] = {/* H W OC k p */ {28, 28, 6, 5, 2},
                                   {28, 28, 32, 3, 1},
                                   {13, 17, 9, 3, 0},
                                   {9, 40, 3, 7, 3},
                                   {5, 5, 1, 1, 0},
                                   {12, 12, 16, 4, 1},
                                   {3, 3, 2, 5, 1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int H = cases[c][0], W = cases[c][1], OC = cases[c][2], k = cases[c][3], p = cases[c][4];
        int OH = H + 2 * p - k + 1, OW = W + 2 * p - k + 1, P = OH * OW;
        CHECK_MSG(dn_conv1_fits(H, W, k, p), "conv1 case %zu does not fit", c);
        float *x = malloc(sizeof(float) * H * W), *w = malloc(sizeof(float) * OC * k * k);
        float *b = malloc(sizeof(float) * OC), *y1 = malloc(sizeof(float) * (OC * P + 1)),
              *y2 = malloc(sizeof(float) * OC * P), *dy = malloc(sizeof(float) * OC * P);
        float *g = malloc(sizeof(float) * OC * k * k);
        fill(x, (size_t)H * W, &r), fill(w, (size_t)OC * k * k, &r), fill(b, (size_t)OC, &r);
        fill(dy, (size_t)OC * P, &r), fill(g, (size_t)OC * k * k, &r);
        y1[OC * P] = 7.0f;
        dn_conv1_forward(x, H, W, k, p, w, b, OC, y1);
        dn_conv_naive(x, 1, H, W, w, b, OC, k, 1, p, y2);
        double worst = worst_diff(y1, y2, 1, OC * P, 0);
        CHECK_MSG(worst < 1e-4 * k, "conv1 case %zu: %g", c, worst);
        CHECK_MSG(y1[OC * P] == 7.0f, "conv1 case %zu: wrote past y", c);
        double gworst = 0;
        float *g0 = malloc(sizeof(float) * OC * k * k);
        memcpy(g0, g, sizeof(float) * OC * k * k);
        dn_conv1_weight_grad(x, H, W, k, p, dy, OC, g);
        for (int o = 0; o < OC; o++)
            for (int di = 0; di < k; di++)
                for (int dj = 0; dj < k; dj++) {
                    double want = g0[(o * k + di) * k + dj];
                    for (int i = 0; i < OH; i++)
                        for (int j = 0; j < OW; j++) {
                            int ih = i + di - p, iw = j + dj - p;
                            if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                                want += (double)dy[o * P + i * OW + j] * x[ih * W + iw];
                        }
                    gworst = fmax(gworst, fabs(g[(o * k + di) * k + dj] - want));
                }
        CHECK_MSG(gworst < 1e-4 * sqrt((double)P), "conv1 gradient case %zu: %g", c, gworst);
        free(x), free(w), free(b), free(y1), free(y2), free(dy), free(g), free(g0);
    }
    CHECK(!dn_conv1_fits(200, 200, 3, 1)); /* too large for its buffer: im2col instead */
    CHECK(!dn_conv1_fits(28, 28, 17, 8));
}

int main(void) {
    test_pack4();
    test_thin_px();
    test_nt_thin();
    test_tn_acc();
    test_tn_thin();
    test_nn_short();
    test_gemm("portable", dn_gemm_portable);
    test_gemm("portable_st", dn_gemm_portable_st);
    if (ref_blas_available())
        test_gemm("openblas", ref_sgemm);
    else
        printf("built without OpenBLAS: the reference is not cross-checked against it\n");
    dn_rng r;
    dn_rng_seed(&r, 1);
    CHECK(compare(broken_gemm, 0, 0, 9, 9, 9, 1.0f, 0.0f, &r) > 1e-3);
    test_conv_im2col();
    test_conv1();
    return check_report("test_gemm");
}
