/*
 * test_winograd.c — the F(2x2, 3x3) transforms against a direct
 * double-precision convolution: forward, the input gradient (the flipped
 * convolution) and the weight gradient (in the transformed domain), on odd
 * and even sizes, paddings 0, 1 and 2, several channel counts, and tile
 * ranges split into uneven chunks with a leading dimension larger than the
 * chunk. A deliberately wrong transform must fail the same comparison.
 */
#include "check.h"
#include "internal.h"
#include "kernels/gemm.h"
#include "kernels/winograd.h"

#include <string.h>

static void fill(float *p, size_t n, dn_rng *r) {
    for (size_t i = 0; i < n; i++) p[i] = (float)(dn_rng_uniform(r) * 2 - 1);
}

/* y[s][o][p][q] = sum_{c,u,v} w[o][c][u][v] x[s][c][p+u-pad][q+v-pad] */
static void direct(double *y, const float *x, const float *w, int n, int C, int H, int W, int OC,
                   int pad) {
    int OH = H + 2 * pad - 2, OW = W + 2 * pad - 2;
    for (int s = 0; s < n; s++)
        for (int o = 0; o < OC; o++)
            for (int p = 0; p < OH; p++)
                for (int q = 0; q < OW; q++) {
                    double acc = 0;
                    for (int c = 0; c < C; c++)
                        for (int u = 0; u < 3; u++)
                            for (int v = 0; v < 3; v++) {
                                int iy = p + u - pad, ix = q + v - pad;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                acc += (double)w[((o * C + c) * 3 + u) * 3 + v] *
                                       x[((s * C + c) * H + iy) * W + ix];
                            }
                    y[((s * OC + o) * OH + p) * OW + q] = acc;
                }
}

/* The convolution of geometry g through the transforms and 16 products,
 * over chunks of `chunk` tiles stored with leading dimension chunk + 5. */
static void wino_conv(float *y, const dn_wino *g, const float *U, const float *x, int n,
                      const float *bias, int chunk) {
    int ldt = chunk + DN_WINO_PAD + 5;
    float *V = malloc(sizeof(float) * 16 * g->C * ldt),
          *M = malloc(sizeof(float) * 16 * g->OC * ldt);
    long T = dn_wino_tiles(g, n);
    for (long t0 = 0; t0 < T; t0 += chunk) {
        int nt = (int)(T - t0 < chunk ? T - t0 : chunk);
        dn_wino_input(V, g, x, t0, nt, ldt);
        for (int xi = 0; xi < 16; xi++)
            dn_gemm_portable_st(0, 0, g->OC, nt, g->C, 1.0f, U + (size_t)xi * g->OC * g->C, g->C,
                                V + (size_t)xi * g->C * ldt, ldt, 0.0f,
                                M + (size_t)xi * g->OC * ldt, ldt);
        dn_wino_output(y, g, M, &(dn_wino_epilogue){.bias = bias}, t0, nt, ldt);
    }
    free(V);
    free(M);
}

static double worst(const float *a, const double *b, size_t n) {
    double w = 0;
    for (size_t i = 0; i < n; i++) w = fmax(w, fabs(a[i] - b[i]));
    return w;
}

static void test_case(int n, int C, int H, int W, int OC, int pad, int chunk, dn_rng *r) {
    dn_wino g, gd;
    CHECK(dn_wino_init(&g, C, H, W, OC, pad) == 0);
    CHECK(dn_wino_init_grad(&gd, &g) == 0 && gd.OH == H && gd.OW == W);
    int OH = g.OH, OW = g.OW;
    size_t nx = (size_t)n * C * H * W, ny = (size_t)n * OC * OH * OW, nw = (size_t)OC * C * 9;
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *y = malloc(ny * 4), *dy = malloc(ny * 4);
    float *dx = malloc(nx * 4), *U = malloc(16 * nw / 9 * 4), *bias = malloc(OC * 4);
    double *ref = malloc((nx > ny ? nx : ny) * 8), *refw = malloc(nw * 8);
    fill(x, nx, r), fill(w, nw, r), fill(dy, ny, r), fill(bias, OC, r);

    /* forward, with a bias */
    dn_wino_weights(U, w, OC, C, 0);
    wino_conv(y, &g, U, x, n, bias, chunk);
    direct(ref, x, w, n, C, H, W, OC, pad);
    for (int s = 0; s < n; s++)
        for (int o = 0; o < OC; o++)
            for (int q = 0; q < OH * OW; q++) ref[(s * OC + o) * OH * OW + q] += bias[o];
    double e = worst(y, ref, ny);
    CHECK_MSG(e < 1e-4, "forward n%d C%d %dx%d OC%d pad%d chunk %d: %g", n, C, H, W, OC, pad, chunk,
              e);

    /* input gradient: dx[c][i][j] = sum_{o,u,v} w[o][c][u][v] dy[o][i-u+pad][j-v+pad] */
    dn_wino_weights(U, w, OC, C, 1);
    wino_conv(dx, &gd, U, dy, n, NULL, chunk);
    memset(ref, 0, nx * 8);
    for (int s = 0; s < n; s++)
        for (int o = 0; o < OC; o++)
            for (int p = 0; p < OH; p++)
                for (int q = 0; q < OW; q++)
                    for (int c = 0; c < C; c++)
                        for (int u = 0; u < 3; u++)
                            for (int v = 0; v < 3; v++) {
                                int iy = p + u - pad, ix = q + v - pad;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                ref[((s * C + c) * H + iy) * W + ix] +=
                                    (double)w[((o * C + c) * 3 + u) * 3 + v] *
                                    dy[((s * OC + o) * OH + p) * OW + q];
                            }
    e = worst(dx, ref, nx);
    CHECK_MSG(e < 1e-4, "input gradient n%d C%d %dx%d OC%d pad%d: %g", n, C, H, W, OC, pad, e);

    /* weight gradient: dw[o][c][u][v] = sum dy[o][p][q] x[c][p+u-pad][q+v-pad] */
    int ldt = chunk + DN_WINO_PAD + 3;
    float *V = malloc(sizeof(float) * 16 * C * ldt), *dM = malloc(sizeof(float) * 16 * OC * ldt);
    float *dU = calloc(16 * (size_t)OC * C, 4), *dw = malloc(nw * 4);
    for (size_t i = 0; i < nw; i++) dw[i] = 0.25f; /* dn_wino_weights_grad accumulates */
    long T = dn_wino_tiles(&g, n);
    for (long t0 = 0; t0 < T; t0 += chunk) {
        int nt = (int)(T - t0 < chunk ? T - t0 : chunk);
        dn_wino_input(V, &g, x, t0, nt, ldt);
        dn_wino_output_grad(dM, &g, dy, t0, nt, ldt);
        for (int xi = 0; xi < 16; xi++)
            dn_gemm_portable_st(0, 1, OC, C, nt, 1.0f, dM + (size_t)xi * OC * ldt, ldt,
                                V + (size_t)xi * C * ldt, ldt, 1.0f, dU + (size_t)xi * OC * C, C);
    }
    dn_wino_weights_grad(dw, dU, OC, C);
    /* the same from the tile-major layouts (dU = dMt^T Vt), added once more */
    float *Vt = malloc(sizeof(float) * 16 * C * ldt), *dMt = malloc(sizeof(float) * 16 * OC * ldt);
    memset(dU, 0, sizeof(float) * 16 * OC * C);
    for (long t0 = 0; t0 < T; t0 += chunk) {
        int nt = (int)(T - t0 < chunk ? T - t0 : chunk);
        dn_wino_input_t(Vt, &g, x, t0, nt, ldt);
        dn_wino_output_grad_t(dMt, &g, dy, t0, nt, ldt);
        for (int xi = 0; xi < 16; xi++)
            dn_gemm_portable_st(1, 0, OC, C, nt, 1.0f, dMt + (size_t)xi * ldt * OC, OC,
                                Vt + (size_t)xi * ldt * C, C, 1.0f, dU + (size_t)xi * OC * C, C);
    }
    dn_wino_weights_grad(dw, dU, OC, C);
    for (size_t i = 0; i < nw; i++) dw[i] = (dw[i] - 0.25f) * 0.5f + 0.25f; /* counted twice */
    free(Vt), free(dMt);
    for (int o = 0; o < OC; o++)
        for (int c = 0; c < C; c++)
            for (int u = 0; u < 3; u++)
                for (int v = 0; v < 3; v++) {
                    double acc = 0.25;
                    for (int s = 0; s < n; s++)
                        for (int p = 0; p < OH; p++)
                            for (int q = 0; q < OW; q++) {
                                int iy = p + u - pad, ix = q + v - pad;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                acc += (double)dy[((s * OC + o) * OH + p) * OW + q] *
                                       x[((s * C + c) * H + iy) * W + ix];
                            }
                    refw[((o * C + c) * 3 + u) * 3 + v] = acc;
                }
    e = worst(dw, refw, nw);
    CHECK_MSG(e < 1e-3, "weight gradient n%d C%d %dx%d OC%d pad%d: %g", n, C, H, W, OC, pad, e);

    /* a broken transform (one sign wrong in B^T) must fail the same check */
    if (n == 2 && pad == 1 && C == 3) {
        dn_wino_weights(U, w, OC, C, 0);
        long T2 = dn_wino_tiles(&g, n);
        int ld = (int)T2 + DN_WINO_PAD;
        float *V2 = malloc(sizeof(float) * 16 * C * ld), *M2 = malloc(sizeof(float) * 16 * OC * ld);
        dn_wino_input(V2, &g, x, 0, (int)T2, ld);
        for (long i = 0; i < (long)C * ld; i++) V2[5 * C * ld + i] = -V2[5 * C * ld + i];
        for (int xi = 0; xi < 16; xi++)
            dn_gemm_portable_st(0, 0, OC, (int)T2, C, 1.0f, U + (size_t)xi * OC * C, C,
                                V2 + (size_t)xi * C * ld, ld, 0.0f, M2 + (size_t)xi * OC * ld, ld);
        dn_wino_output(y, &g, M2, &(dn_wino_epilogue){.bias = bias}, 0, (int)T2, ld);
        direct(ref, x, w, n, C, H, W, OC, pad);
        for (int s = 0; s < n; s++)
            for (int o = 0; o < OC; o++)
                for (int q = 0; q < OH * OW; q++) ref[(s * OC + o) * OH * OW + q] += bias[o];
        CHECK(worst(y, ref, ny) > 1e-2);
        free(V2), free(M2);
    }
    free(x), free(w), free(y), free(dy), free(dx), free(U), free(bias), free(ref), free(refw);
    free(V), free(dM), free(dU), free(dw);
}

int main(void) {
    dn_rng r;
    dn_rng_seed(&r, 11);
    CHECK(dn_wino_init(&(dn_wino){0}, 2, 5, 5, 2, 3) == -1);
    CHECK(dn_wino_init(&(dn_wino){0}, 2, 2, 2, 2, 0) == -1);
    static const int cases[][7] = {
        /* n, C, H, W, OC, pad, chunk */
        {2, 3, 7, 9, 5, 1, 7},    {1, 1, 4, 4, 1, 0, 1},     {3, 4, 6, 5, 3, 0, 16},
        {2, 3, 8, 8, 2, 2, 5},    {1, 8, 14, 14, 16, 1, 48}, {2, 2, 3, 3, 2, 1, 100},
        {1, 5, 28, 28, 6, 1, 64}, {2, 6, 26, 26, 4, 0, 33},  {1, 3, 11, 13, 7, 2, 9},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int *c = cases[i];
        test_case(c[0], c[1], c[2], c[3], c[4], c[5], c[6], &r);
    }
    return check_report("test_winograd");
}
