/*
 * dense.c — fully connected layer: y = x W^T + b.
 *
 * Shapes: x [n, in] (any input shape, read flat), W [out, in], b [out],
 * y [n, out]. Parameters are stored W then b. See docs/dense.md.
 *
 * Backward, from dL/dy [n, out]:
 *   dW += dy^T x      [out, in]
 *   db += sum_n dy    [out]
 *   dx  = dy W        [n, in]   (skipped when dx is NULL)
 */
#include "kernels/gemm.h"
#include "layers/layer.h"

#include <math.h>
#include <string.h>

/* A layer of at most DN_GEMM_THIN units over a long batch (the tutorial
 * network's 784-10 and 10-10, full batch) reads its input in place rather
 * than through the packed GEMM, whose copy of x would cost more than the
 * few products made per element. THIN_MIN_ROWS matches the trainer's sweep
 * pieces (SWEEP in train.c); shorter batches keep the packed GEMM. Inputs
 * between DN_GEMM_THIN and THIN_MIN_IN fill too little of the thin
 * kernels' vectors and stay there too. */
#define THIN_MIN_ROWS 128
#define THIN_MIN_IN 64

/* A single input's layer with this many weights (1 MB) or more is split
 * across the threads (the cnn preset's 3136-256: 3.2 MB). Below it the
 * weights stay in one core's cache and the split does not pay: the MLP's
 * 784-128 took 4.45 us on 2 threads against 4.56 on 1. */
#define SPLIT_MIN (1L << 18)

/* 1 for a layer the thin kernels suit (above). */
static int thin(int in, int out, int n) {
    return out <= DN_GEMM_THIN && n >= THIN_MIN_ROWS && (in >= THIN_MIN_IN || in <= DN_GEMM_THIN);
}

static void add_bias(float *y, const float *b, int n, int out) {
    for (int i = 0; i < n; i++) {
        float *row = y + (size_t)i * out;
        for (int j = 0; j < out; j++) row[j] += b[j];
    }
}

static void sum_bias(float *gb, const float *dy, int n, int out) {
    for (int i = 0; i < n; i++) {
        const float *row = dy + (size_t)i * out;
        for (int j = 0; j < out; j++) gb[j] += row[j];
    }
}

static dn_status dense_setup(dn_layer *l, dn_error *err) {
    if (l->cfg.units <= 0 || l->cfg.units > 1 << 20)
        return dn_fail(err, DN_E_ARG, "dense layer: %d units is out of range", l->cfg.units);
    size_t in = dn_shape_size(l->in);
    l->out = (dn_shape){l->cfg.units, 1, 1};
    l->nparams = (size_t)l->cfg.units * in + (size_t)l->cfg.units;
    return DN_OK;
}

static size_t dense_work(const dn_layer *l, int n, int threads) {
    return 0;
}

static void dense_init(dn_layer *l, dn_rng *rng) {
    int in = (int)dn_shape_size(l->in), out = l->cfg.units;
    /* He (ReLU follows) keeps activation variance ~constant through ReLUs;
     * Xavier/Glorot suits the symmetric sigmoid/tanh and the output layer. */
    double scale = l->init_gain_relu ? sqrt(2.0 / in) : sqrt(2.0 / (in + out));
    for (size_t i = 0; i < (size_t)in * out; i++) l->w[i] = (float)(scale * dn_rng_normal(rng));
    memset(l->w + (size_t)in * out, 0, sizeof(float) * (size_t)out);
}

static void dense_forward(const dn_layer *l, const float *x, float *y, int n, dn_layer_ctx *c) {
    int in = (int)dn_shape_size(l->in), out = l->cfg.units;
    const float *W = l->w, *b = l->w + (size_t)in * out;
    if (n == 1 && c->threads > 1 && (long)in * out >= SPLIT_MIN) {
        /* one input against weights beyond one core's cache: each thread
         * streams its share of the units' rows, which then stay in its
         * core's cache from one input to the next */
        int parts = c->threads, per = ((out + parts - 1) / parts + 7) / 8 * 8;
#pragma omp parallel for schedule(static, 1) num_threads(parts)
        for (int t = 0; t < parts; t++) {
            int u0 = t * per, nu = out - u0 < per ? out - u0 : per;
            if (nu > 0) dn_gemm_nt_thin(y + u0, out, 1, nu, in, x, in, W + (size_t)u0 * in, in);
        }
    } else if (thin(in, out, n) || n == 1) {
        dn_gemm_nt_thin(y, out, n, out, in, x, in, W, in);
    } else {
        dn_gemm(0, 1, n, out, in, 1.0f, x, in, W, in, 0.0f, y, out);
    }
    add_bias(y, b, n, out);
    if (c->post || c->relu) /* a row is a sample of `out` channels of one value */
        for (int i = 0; i < n; i++) dn_layer_epilogue(y + (size_t)i * out, 0, out, out, 1, c);
}

static void dense_backward(const dn_layer *l, const float *x, const float *y, const float *dy,
                           float *dx, int n, dn_layer_ctx *c) {
    int in = (int)dn_shape_size(l->in), out = l->cfg.units;
    float *gW = c->gw, *gb = c->gw + (size_t)in * out;
    if (thin(in, out, n))
        dn_gemm_tn_thin(gW, in, out, in, n, dy, out, x, in);
    else
        dn_gemm(1, 0, out, in, n, 1.0f, dy, out, x, in, 1.0f, gW, in);
    sum_bias(gb, dy, n, out);
    if (!dx) return;
    if (thin(in, out, n)) {
        dn_gemm_nn_short(dx, in, n, in, out, dy, out, l->w, in);
    } else {
        dn_gemm(0, 0, n, in, out, 1.0f, dy, out, l->w, in, 0.0f, dx, in);
    }
}

int dn_dense_reads_pixels(const dn_layer *l) {
    return l->ops == &dn_dense_ops && l->cfg.units <= DN_GEMM_THIN &&
           dn_shape_size(l->in) >= THIN_MIN_IN;
}

void dn_dense_forward_px(const dn_layer *l, const unsigned char *const *rows, float scale, float *y,
                         int n) {
    int in = (int)dn_shape_size(l->in), out = l->cfg.units;
    const float *W = l->w, *b = l->w + (size_t)in * out;
    dn_gemm_nt_thin_px(y, out, n, out, in, rows, scale, W, in);
    add_bias(y, b, n, out);
}

void dn_dense_backward_px(const dn_layer *l, const unsigned char *const *rows, float scale,
                          const float *dy, int n, float *gw) {
    int in = (int)dn_shape_size(l->in), out = l->cfg.units;
    dn_gemm_tn_thin_px(gw, in, out, in, n, dy, out, rows, scale);
    sum_bias(gw + (size_t)in * out, dy, n, out);
}

const dn_layer_ops dn_dense_ops = {"dense",       dense_setup,    dense_work, dense_init,
                                   dense_forward, dense_backward, NULL};
