/*
 * deskew.c — straightens slanted digits by their image moments, as in the
 * classic MNIST work: a digit written leaning right becomes upright.
 *
 * For one single-channel image x [H, W] with ink v(i, j) >= 0 (row i,
 * column j), with the ink's centre of mass (cy, cx):
 *
 *   alpha = sum v (i - cy)(j - cx) / sum v (i - cy)^2     (the slant, clamped to +-1)
 *   y(i, j) = x(i, j + alpha (i - cy))                    (a horizontal shear)
 *
 * read with linear interpolation along the row, zero outside. The row
 * through the centre of mass stays in place, every other row moves by alpha
 * pixels per row above or below it, which makes the ink's covariance of row
 * and column (its slant) zero. An image with (almost) no ink, or no height,
 * passes unchanged.
 *
 * Backward: for the alpha of the forward pass, dx is the transpose of the
 * resampling; the dependence of alpha on x is not differentiated (the layer
 * has no parameters, comes first and only a saliency map asks for dx).
 * aux per sample: alpha and cy.
 */
#include "layers/layer.h"

#include <math.h>
#include <string.h>

#define MAX_SLANT 1.0

static dn_status deskew_setup(dn_layer *l, dn_error *err) {
    if (l->in.c != 1)
        return dn_fail(err, DN_E_ARG, "deskew needs a single-channel image (put it first)");
    l->out = l->in;
    l->aux_per_sample = 2;
    return DN_OK;
}

static size_t no_work(const dn_layer *l, int n, int threads) {
    return 0;
}

static void no_init(dn_layer *l, dn_rng *rng) {}

/* The slant and the centre row of one image; alpha 0 for blank ones. */
static void slant_of(const float *x, int H, int W, float *alpha, float *cy) {
    double s = 0, sy = 0, sx = 0;
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) {
            double v = x[i * W + j] > 0 ? x[i * W + j] : 0;
            s += v, sy += v * i, sx += v * j;
        }
    *alpha = 0, *cy = (float)(H - 1) / 2;
    if (!(s > 1e-6)) return;
    double my = sy / s, mx = sx / s, mu11 = 0, mu02 = 0;
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) {
            double v = x[i * W + j] > 0 ? x[i * W + j] : 0;
            mu11 += v * (i - my) * (j - mx);
            mu02 += v * (i - my) * (i - my);
        }
    *cy = (float)my;
    if (!(mu02 > 1e-6 * s)) return;
    double a = mu11 / mu02;
    *alpha = (float)(a > MAX_SLANT ? MAX_SLANT : a < -MAX_SLANT ? -MAX_SLANT : a);
}

void dn_deskew_apply(const float *x, float *y, int H, int W, float alpha, float cy) {
    for (int i = 0; i < H; i++) {
        float off = alpha * ((float)i - cy);
        for (int j = 0; j < W; j++) {
            float sx = (float)j + off;
            int j0 = (int)floorf(sx);
            float f = sx - (float)j0, v = 0;
            if (j0 >= 0 && j0 < W) v += (1 - f) * x[i * W + j0];
            if (j0 + 1 >= 0 && j0 + 1 < W) v += f * x[i * W + j0 + 1];
            y[i * W + j] = v;
        }
    }
}

static void deskew_forward(const dn_layer *l, const float *x, float *y, int n, dn_layer_ctx *c) {
    int H = l->in.h, W = l->in.w;
    size_t P = (size_t)H * W;
    for (int s = 0; s < n; s++) {
        float alpha, cy;
        slant_of(x + s * P, H, W, &alpha, &cy);
        dn_deskew_apply(x + s * P, y + s * P, H, W, alpha, cy);
        if (c->aux) c->aux[2 * s] = alpha, c->aux[2 * s + 1] = cy;
    }
}

static void deskew_backward(const dn_layer *l, const float *x, const float *y, const float *dy,
                            float *dx, int n, dn_layer_ctx *c) {
    if (!dx) return;
    int H = l->in.h, W = l->in.w;
    size_t P = (size_t)H * W;
    memset(dx, 0, sizeof(float) * P * (size_t)n);
    for (int s = 0; s < n; s++) {
        float alpha = c->aux[2 * s], cy = c->aux[2 * s + 1];
        const float *g = dy + s * P;
        float *d = dx + s * P;
        for (int i = 0; i < H; i++) {
            float off = alpha * ((float)i - cy);
            for (int j = 0; j < W; j++) {
                float sx = (float)j + off;
                int j0 = (int)floorf(sx);
                float f = sx - (float)j0;
                if (j0 >= 0 && j0 < W) d[i * W + j0] += (1 - f) * g[i * W + j];
                if (j0 + 1 >= 0 && j0 + 1 < W) d[i * W + j0 + 1] += f * g[i * W + j];
            }
        }
    }
}

const dn_layer_ops dn_deskew_ops = {"deskew",       deskew_setup,    no_work, no_init,
                                    deskew_forward, deskew_backward, NULL};
