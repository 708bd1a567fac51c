/*
 * pool.c — max and average pooling over k x k windows with stride s.
 *
 * Shapes: x [n, C, H, W] -> y [n, C, OH, OW], OH = (H - k)/s + 1.
 *   max:  y = max over the window; backward routes dy to the argmax, whose
 *         index (within the sample) forward keeps in aux [n, C*OH*OW].
 *   avg:  y = mean over the window; backward spreads dy / (k*k) over it.
 * Backward accumulates into dx after zeroing it (windows may overlap).
 */
#include "layers/layer.h"

#include <string.h>

static dn_status pool_setup(dn_layer *l, dn_error *err) {
    int k = l->cfg.k, s = l->cfg.stride;
    if (k <= 0 || s <= 0 || k > l->in.h || k > l->in.w)
        return dn_fail(err, DN_E_ARG, "pool%d: window does not fit the %dx%d input", k, l->in.h,
                       l->in.w);
    l->out = (dn_shape){l->in.c, (l->in.h - k) / s + 1, (l->in.w - k) / s + 1};
    l->aux_per_sample = l->ops == &dn_maxpool_ops ? dn_shape_size(l->out) : 0;
    return DN_OK;
}

static size_t pool_work(const dn_layer *l, int n, int threads) {
    return 0;
}

static void pool_init(dn_layer *l, dn_rng *rng) {}

/* The common 2x2 stride-2 case without the generic window loops. */
static void maxpool2x2(const float *xc, int W, int OH, int OW, float *yc, float *ac) {
    for (int oh = 0; oh < OH; oh++) {
        const float *r0 = xc + 2 * oh * W, *r1 = r0 + W;
        for (int ow = 0; ow < OW; ow++) {
            int j = 2 * ow, best = j;
            float v = r0[j];
            if (r0[j + 1] > v) v = r0[j + 1], best = j + 1;
            if (r1[j] > v) v = r1[j], best = W + j;
            if (r1[j + 1] > v) v = r1[j + 1], best = W + j + 1;
            yc[oh * OW + ow] = v;
            if (ac) ac[oh * OW + ow] = (float)(2 * oh * W + best);
        }
    }
}

static void maxpool_forward(const dn_layer *l, const float *x, float *y, int n, dn_layer_ctx *c) {
    int C = l->in.c, H = l->in.h, W = l->in.w, k = l->cfg.k, s = l->cfg.stride;
    int OH = l->out.h, OW = l->out.w;
    size_t in_sz = dn_shape_size(l->in), out_sz = dn_shape_size(l->out);
#pragma omp parallel for collapse(2) schedule(static)                                              \
    num_threads(c->threads) if (c->threads > 1 && (size_t)n * in_sz > 65536)
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < C; ch++) {
            const float *xc = x + (size_t)i * in_sz + (size_t)ch * H * W;
            float *yc = y + (size_t)i * out_sz + (size_t)ch * OH * OW;
            float *ac = c->aux ? c->aux + (size_t)i * out_sz + (size_t)ch * OH * OW : NULL;
            if (k == 2 && s == 2) {
                maxpool2x2(xc, W, OH, OW, yc, ac);
                continue;
            }
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    int best = (oh * s) * W + ow * s;
                    for (int ki = 0; ki < k; ki++)
                        for (int kj = 0; kj < k; kj++) {
                            int idx = (oh * s + ki) * W + ow * s + kj;
                            if (xc[idx] > xc[best]) best = idx;
                        }
                    yc[oh * OW + ow] = xc[best];
                    /* index within the channel plane; exact in float below 2^24 */
                    if (ac) ac[oh * OW + ow] = (float)best;
                }
        }
}

static void maxpool_backward(const dn_layer *l, const float *x, const float *y, const float *dy,
                             float *dx, int n, dn_layer_ctx *c) {
    if (!dx) return;
    int C = l->in.c, H = l->in.h, W = l->in.w, OH = l->out.h, OW = l->out.w, P = OH * OW;
    int k = l->cfg.k, s = l->cfg.stride;
    size_t in_sz = dn_shape_size(l->in), out_sz = dn_shape_size(l->out);
    /* 2x2 windows at stride 2 tile the input: each of its values is
     * written once, dy at the chosen one, 0 at the others, with no pass to
     * clear dx first; other windows may overlap, and are summed into a
     * cleared dx */
    int tiles = k == 2 && s == 2;
    if (!tiles) {
        memset(dx, 0, sizeof(float) * in_sz * (size_t)n);
    }
    /* planes apart, so the threads may share them out (overlapping windows
     * only add within a plane) */
#pragma omp parallel for collapse(2) schedule(static)                                              \
    num_threads(c->threads) if (c->threads > 1 && (size_t)n * in_sz > 65536)
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < C; ch++) {
            float *dxc = dx + (size_t)i * in_sz + (size_t)ch * H * W;
            const float *dyc = dy + (size_t)i * out_sz + (size_t)ch * P;
            const float *yc = y + (size_t)i * out_sz + (size_t)ch * P;
            const float *ac = c->aux + (size_t)i * out_sz + (size_t)ch * P;
            if (!tiles) {
                for (int q = 0; q < P; q++)
                    dxc[(int)ac[q]] += !c->relu_in || yc[q] > 0.0f ? dyc[q] : 0.0f;
                continue;
            }
            for (int oh = 0; oh < OH; oh++) {
                float *r0 = dxc + (size_t)2 * oh * W, *r1 = r0 + W;
                for (int ow = 0; ow < OW; ow++) {
                    int q = oh * OW + ow, j = 2 * ow, a = (int)ac[q] - 2 * oh * W;
                    float g = !c->relu_in || yc[q] > 0.0f ? dyc[q] : 0.0f;
                    r0[j] = a == j ? g : 0.0f;
                    r0[j + 1] = a == j + 1 ? g : 0.0f;
                    r1[j] = a == W + j ? g : 0.0f;
                    r1[j + 1] = a == W + j + 1 ? g : 0.0f;
                }
                for (int j = 2 * OW; j < W; j++) r0[j] = r1[j] = 0.0f; /* an odd last column */
            }
            if (2 * OH < H) memset(dxc + (size_t)2 * OH * W, 0, sizeof(float) * W); /* odd row */
        }
}

static void avgpool_forward(const dn_layer *l, const float *x, float *y, int n, dn_layer_ctx *c) {
    int C = l->in.c, H = l->in.h, W = l->in.w, k = l->cfg.k, s = l->cfg.stride;
    int OH = l->out.h, OW = l->out.w;
    float inv = 1.0f / (float)(k * k);
    for (int i = 0; i < n * C; i++) {
        const float *xc = x + (size_t)i * H * W;
        float *yc = y + (size_t)i * OH * OW;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                float acc = 0.0f;
                for (int ki = 0; ki < k; ki++)
                    for (int kj = 0; kj < k; kj++) acc += xc[(oh * s + ki) * W + ow * s + kj];
                yc[oh * OW + ow] = acc * inv;
            }
    }
}

static void avgpool_backward(const dn_layer *l, const float *x, const float *y, const float *dy,
                             float *dx, int n, dn_layer_ctx *c) {
    if (!dx) return;
    int C = l->in.c, H = l->in.h, W = l->in.w, k = l->cfg.k, s = l->cfg.stride;
    int OH = l->out.h, OW = l->out.w;
    float inv = 1.0f / (float)(k * k);
    memset(dx, 0, sizeof(float) * dn_shape_size(l->in) * (size_t)n);
    for (int i = 0; i < n * C; i++) {
        float *dxc = dx + (size_t)i * H * W;
        const float *dyc = dy + (size_t)i * OH * OW;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                float g = dyc[oh * OW + ow] * inv;
                for (int ki = 0; ki < k; ki++)
                    for (int kj = 0; kj < k; kj++) dxc[(oh * s + ki) * W + ow * s + kj] += g;
            }
    }
}

const dn_layer_ops dn_maxpool_ops = {"maxpool",       pool_setup,       pool_work, pool_init,
                                     maxpool_forward, maxpool_backward, NULL};
const dn_layer_ops dn_avgpool_ops = {"avgpool",       pool_setup,       pool_work, pool_init,
                                     avgpool_forward, avgpool_backward, NULL};
