/*
 * reshape.c — layers that only move values: global average pooling and
 * flatten.
 *
 *   gap      y[c] = mean over H*W of x[c]      dx[c][q] = dy[c] / (H*W)
 *   flatten  [C, H, W] -> [C*H*W, 1, 1]; NCHW memory is already flat, so
 *            forward and backward are copies.
 */
#include "layers/layer.h"

#include <string.h>

static size_t no_work(const dn_layer *l, int n, int threads) {
    return 0;
}

static void no_init(dn_layer *l, dn_rng *rng) {}

static dn_status gap_setup(dn_layer *l, dn_error *err) {
    l->out = (dn_shape){l->in.c, 1, 1};
    return DN_OK;
}

static void gap_forward(const dn_layer *l, const float *x, float *y, int n, dn_layer_ctx *c) {
    size_t P = (size_t)l->in.h * l->in.w;
    for (size_t i = 0; i < (size_t)n * l->in.c; i++) {
        double s = 0.0;
        for (size_t q = 0; q < P; q++) s += x[i * P + q];
        y[i] = (float)(s / (double)P);
    }
}

static void gap_backward(const dn_layer *l, const float *x, const float *y, const float *dy,
                         float *dx, int n, dn_layer_ctx *c) {
    if (!dx) return;
    size_t P = (size_t)l->in.h * l->in.w;
    for (size_t i = 0; i < (size_t)n * l->in.c; i++) {
        float g = dy[i] / (float)P;
        for (size_t q = 0; q < P; q++) dx[i * P + q] = g;
    }
}

static dn_status flatten_setup(dn_layer *l, dn_error *err) {
    l->out = (dn_shape){(int)dn_shape_size(l->in), 1, 1};
    return DN_OK;
}

static void flatten_forward(const dn_layer *l, const float *x, float *y, int n, dn_layer_ctx *c) {
    memcpy(y, x, sizeof(float) * dn_shape_size(l->in) * (size_t)n);
}

static void flatten_backward(const dn_layer *l, const float *x, const float *y, const float *dy,
                             float *dx, int n, dn_layer_ctx *c) {
    if (dx) memcpy(dx, dy, sizeof(float) * dn_shape_size(l->in) * (size_t)n);
}

const dn_layer_ops dn_gap_ops = {"gap",       gap_setup,    no_work, no_init,
                                 gap_forward, gap_backward, NULL};
const dn_layer_ops dn_flatten_ops = {"flatten",       flatten_setup,    no_work, no_init,
                                     flatten_forward, flatten_backward, NULL};
