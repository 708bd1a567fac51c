/*
 * activation.c — element-wise nonlinearities and their derivatives.
 *
 *   relu     y = max(0, x)          dx = dy * [y > 0]
 *   sigmoid  y = 1 / (1 + e^-x)     dx = dy * y (1 - y)
 *   tanh     y = tanh(x)            dx = dy * (1 - y^2)
 *
 * Each derivative is written in terms of the output y, so backward needs
 * no extra storage. Shapes: x, y, dy, dx all [n, size(in)].
 */
#include "layers/layer.h"

#include <math.h>

/* below this many values a parallel loop costs more than it saves */
#define PAR_MIN 65536

static dn_status act_setup(dn_layer *l, dn_error *err) {
    l->out = l->in;
    return DN_OK;
}

static size_t act_work(const dn_layer *l, int n, int threads) {
    return 0;
}

static void act_init(dn_layer *l, dn_rng *rng) {}

static size_t total(const dn_layer *l, int n) {
    return dn_shape_size(l->in) * (size_t)n;
}

static void relu_forward(const dn_layer *l, const float *x, float *y, int n, dn_layer_ctx *c) {
    size_t m = total(l, n);
#pragma omp parallel for schedule(static) num_threads(c->threads) if (c->threads > 1 && m > PAR_MIN)
    for (size_t i = 0; i < m; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

static void relu_backward(const dn_layer *l, const float *x, const float *y, const float *dy,
                          float *dx, int n, dn_layer_ctx *c) {
    if (!dx) return;
    size_t m = total(l, n);
    if (c->guided) { /* guided backpropagation: only positive evidence flows back */
        for (size_t i = 0; i < m; i++) dx[i] = y[i] > 0.0f && dy[i] > 0.0f ? dy[i] : 0.0f;
        return;
    }
#pragma omp parallel for schedule(static) num_threads(c->threads) if (c->threads > 1 && m > PAR_MIN)
    for (size_t i = 0; i < m; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

static void sigmoid_forward(const dn_layer *l, const float *x, float *y, int n, dn_layer_ctx *c) {
    size_t m = total(l, n);
    for (size_t i = 0; i < m; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
}

static void sigmoid_backward(const dn_layer *l, const float *x, const float *y, const float *dy,
                             float *dx, int n, dn_layer_ctx *c) {
    if (!dx) return;
    size_t m = total(l, n);
    for (size_t i = 0; i < m; i++) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
}

static void tanh_forward(const dn_layer *l, const float *x, float *y, int n, dn_layer_ctx *c) {
    size_t m = total(l, n);
    for (size_t i = 0; i < m; i++) y[i] = tanhf(x[i]);
}

static void tanh_backward(const dn_layer *l, const float *x, const float *y, const float *dy,
                          float *dx, int n, dn_layer_ctx *c) {
    if (!dx) return;
    size_t m = total(l, n);
    for (size_t i = 0; i < m; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

const dn_layer_ops dn_relu_ops = {"relu",       act_setup,     act_work, act_init,
                                  relu_forward, relu_backward, NULL};
const dn_layer_ops dn_sigmoid_ops = {"sigmoid",       act_setup,        act_work, act_init,
                                     sigmoid_forward, sigmoid_backward, NULL};
const dn_layer_ops dn_tanh_ops = {"tanh",       act_setup,     act_work, act_init,
                                  tanh_forward, tanh_backward, NULL};
