/*
 * conv2d.c — 2-D convolution via im2col + GEMM, batch split across threads.
 *
 * Shapes: x [n, C, H, W], W [OC, C, k, k], b [OC], y [n, OC, OH, OW] with
 * OH = (H + 2p - k)/s + 1. Per sample, with col = im2col(x) [C*k*k, OH*OW]:
 *   forward   y = W col + b                      (gemm OC x OH*OW x C*k*k)
 *   backward  dW += dy col^T,  db += sum dy,  dcol = W^T dy,  dx = col2im(dcol)
 * Each thread takes a contiguous range of samples with its own col/dcol and
 * gradient scratch; the per-thread gradients are summed in thread order, so
 * a fixed thread count gives reproducible results.
 *
 * im2col+GEMM beats a direct loop at these sizes because the product runs
 * at near-peak FLOP rate while the direct loop's inner trip count is k*k.
 */
#include "kernels/gemm.h"
#include "kernels/im2col.h"
#include "layers/layer.h"

#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static dn_status conv_setup(dn_layer *l, dn_error *err) {
    const dn_layer_cfg *c = &l->cfg;
    if (c->k <= 0 || c->k > 64 || c->stride <= 0 || c->pad < 0 || c->pad >= c->k || c->ch <= 0 ||
        c->ch > 4096)
        return dn_fail(err, DN_E_ARG,
                       "conv layer: invalid kernel %d, stride %d, padding %d or %d "
                       "channels",
                       c->k, c->stride, c->pad, c->ch);
    int oh = (l->in.h + 2 * c->pad - c->k) / c->stride + 1;
    int ow = (l->in.w + 2 * c->pad - c->k) / c->stride + 1;
    if (l->in.h + 2 * c->pad < c->k || l->in.w + 2 * c->pad < c->k || oh <= 0 || ow <= 0)
        return dn_fail(err, DN_E_ARG, "conv%dx%d: input %dx%d is too small", c->k, c->k, l->in.h,
                       l->in.w);
    l->out = (dn_shape){c->ch, oh, ow};
    /* training keeps each sample's im2col matrix for backward (unless the
     * convolution is 1x1, which needs none) */
    l->aux_per_sample =
        c->k == 1 && c->stride == 1 && c->pad == 0 ? 0 : (size_t)l->in.c * c->k * c->k * oh * ow;
    l->nparams = (size_t)c->ch * l->in.c * c->k * c->k + (size_t)c->ch;
    return DN_OK;
}

static size_t col_size(const dn_layer *l) {
    return (size_t)l->in.c * l->cfg.k * l->cfg.k * l->out.h * l->out.w;
}

static size_t conv_work(const dn_layer *l, int n, int threads) {
    /* per thread: col + dcol + private parameter gradients */
    return (size_t)threads * (2 * col_size(l) + l->nparams);
}

static void conv_init(dn_layer *l, dn_rng *rng) {
    int fan_in = l->in.c * l->cfg.k * l->cfg.k, fan_out = l->cfg.ch * l->cfg.k * l->cfg.k;
    double scale = l->init_gain_relu ? sqrt(2.0 / fan_in) : sqrt(2.0 / (fan_in + fan_out));
    size_t nw = l->nparams - (size_t)l->cfg.ch;
    for (size_t i = 0; i < nw; i++) l->w[i] = (float)(scale * dn_rng_normal(rng));
    memset(l->w + nw, 0, sizeof(float) * (size_t)l->cfg.ch);
}

static int thread_id(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static void conv_forward(const dn_layer *l, const float *x, float *y, int n, dn_layer_ctx *c) {
    int C = l->in.c, H = l->in.h, W = l->in.w, k = l->cfg.k, s = l->cfg.stride, p = l->cfg.pad;
    int OC = l->cfg.ch, P = l->out.h * l->out.w, ckk = C * k * k;
    size_t in_sz = dn_shape_size(l->in), out_sz = dn_shape_size(l->out);
    size_t per_thread = 2 * col_size(l) + l->nparams;
    const float *Wt = l->w, *b = l->w + (size_t)OC * ckk;
    /* fewer samples than threads (single-image inference): let each
     * product use the threads instead */
    int per_sample = c->threads > 1 && n < c->threads;
#pragma omp parallel for schedule(static) num_threads(c->threads) if (c->threads > 1 && !per_sample)
    for (int i = 0; i < n; i++) {
        float *col = c->aux ? c->aux + (size_t)i * l->aux_per_sample
                            : c->work + (size_t)thread_id() * per_thread;
        float *yi = y + (size_t)i * out_sz;
        /* a product per sample: sequential inside the batch loop, or
         * threaded when there is one sample per thread or fewer */
        void (*gemm)(int, int, int, int, int, float, const float *, int, const float *, int, float,
                     float *, int) = per_sample ? dn_gemm_portable : dn_gemm_portable_st;
        if (k == 1 && s == 1 && p == 0) {
            gemm(0, 0, OC, P, ckk, 1.0f, Wt, ckk, x + (size_t)i * in_sz, P, 0.0f, yi, P);
        } else {
            dn_im2col(x + (size_t)i * in_sz, C, H, W, k, s, p, col);
            gemm(0, 0, OC, P, ckk, 1.0f, Wt, ckk, col, P, 0.0f, yi, P);
        }
        for (int o = 0; o < OC; o++)
            for (int q = 0; q < P; q++) yi[(size_t)o * P + q] += b[o];
    }
}

static void conv_backward(const dn_layer *l, const float *x, const float *y, const float *dy,
                          float *dx, int n, dn_layer_ctx *c) {
    int C = l->in.c, H = l->in.h, W = l->in.w, k = l->cfg.k, s = l->cfg.stride, p = l->cfg.pad;
    int OC = l->cfg.ch, P = l->out.h * l->out.w, ckk = C * k * k;
    size_t in_sz = dn_shape_size(l->in), out_sz = dn_shape_size(l->out), cs = col_size(l);
    size_t per_thread = 2 * cs + l->nparams;
    int threads = c->threads > 1 && n > 1 ? c->threads : 1;
    for (int t = 0; t < threads; t++)
        memset(c->work + (size_t)t * per_thread + 2 * cs, 0, sizeof(float) * l->nparams);
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (int i = 0; i < n; i++) {
        float *col = c->work + (size_t)thread_id() * per_thread, *dcol = col + cs;
        float *gW = dcol + cs, *gb = gW + (size_t)OC * ckk;
        const float *xi = x + (size_t)i * in_sz, *dyi = dy + (size_t)i * out_sz;
        if (c->aux && l->aux_per_sample)
            col = c->aux + (size_t)i * l->aux_per_sample;
        else if (k == 1 && s == 1 && p == 0)
            col = (float *)xi;
        else
            dn_im2col(xi, C, H, W, k, s, p, col);
        dn_gemm_portable_st(0, 1, OC, ckk, P, 1.0f, dyi, P, col, P, 1.0f, gW, ckk);
        for (int o = 0; o < OC; o++) {
            float acc = 0.0f;
            for (int q = 0; q < P; q++) acc += dyi[(size_t)o * P + q];
            gb[o] += acc;
        }
        if (dx) {
            float *dxi = dx + (size_t)i * in_sz;
            dn_gemm_portable_st(1, 0, ckk, P, OC, 1.0f, l->w, ckk, dyi, P, 0.0f, dcol, P);
            memset(dxi, 0, sizeof(float) * in_sz);
            dn_col2im(dcol, C, H, W, k, s, p, dxi);
        }
    }
    for (int t = 0; t < threads; t++) {
        const float *g = c->work + (size_t)t * per_thread + 2 * cs;
        for (size_t j = 0; j < l->nparams; j++) c->gw[j] += g[j];
    }
}

const dn_layer_ops dn_conv_ops = {"conv",    conv_setup,   conv_work,
                                  conv_init, conv_forward, conv_backward};
