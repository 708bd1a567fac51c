/*
 * dropout.c — inverted dropout.
 *
 * Training: each unit is kept with probability 1-p and scaled by 1/(1-p),
 * so inference is the identity and needs no rescaling. The mask (0 or
 * 1/(1-p)) is kept in aux for backward: dx = dy * mask.
 * Shapes: x, y, dy, dx [n, size(in)]; aux [n, size(in)].
 */
#include "layers/layer.h"

#include <string.h>

static dn_status dropout_setup(dn_layer *l, dn_error *err) {
    if (!(l->cfg.p >= 0.0f && l->cfg.p < 1.0f))
        return dn_fail(err, DN_E_ARG, "dropout: probability %g is not in [0, 1)", l->cfg.p);
    l->out = l->in;
    l->aux_per_sample = dn_shape_size(l->in);
    return DN_OK;
}

static size_t dropout_work(const dn_layer *l, int n, int threads) {
    return 0;
}

static void dropout_init(dn_layer *l, dn_rng *rng) {}

static void dropout_forward(const dn_layer *l, const float *x, float *y, int n, dn_layer_ctx *c) {
    size_t m = dn_shape_size(l->in) * (size_t)n;
    if (!c->train || l->cfg.p == 0.0f) {
        if (y != x) memcpy(y, x, sizeof(float) * m);
        if (c->aux)
            for (size_t i = 0; i < m; i++) c->aux[i] = 1.0f;
        return;
    }
    float keep = 1.0f - l->cfg.p, scale = 1.0f / keep;
    /* 24 random bits per unit, two units per 64-bit draw (bits 40..63 and
     * 8..31): plenty of resolution for p, and half the draws */
    uint32_t threshold = (uint32_t)((double)keep * (1u << 24));
    dn_rng rng = *c->rng; /* a local copy keeps the state in registers */
    size_t i = 0;
    for (; i + 2 <= m; i += 2) {
        uint64_t r = dn_rng_u64(&rng);
        float m0 = (uint32_t)(r >> 40) < threshold ? scale : 0.0f;
        float m1 = (uint32_t)((r >> 8) & 0xffffff) < threshold ? scale : 0.0f;
        c->aux[i] = m0, c->aux[i + 1] = m1;
        y[i] = x[i] * m0, y[i + 1] = x[i + 1] * m1;
    }
    if (i < m) {
        float mask = (uint32_t)(dn_rng_u64(&rng) >> 40) < threshold ? scale : 0.0f;
        c->aux[i] = mask;
        y[i] = x[i] * mask;
    }
    *c->rng = rng;
}

static void dropout_backward(const dn_layer *l, const float *x, const float *y, const float *dy,
                             float *dx, int n, dn_layer_ctx *c) {
    if (!dx) return;
    size_t m = dn_shape_size(l->in) * (size_t)n;
    for (size_t i = 0; i < m; i++) dx[i] = dy[i] * c->aux[i];
}

const dn_layer_ops dn_dropout_ops = {"dropout",       dropout_setup,    dropout_work, dropout_init,
                                     dropout_forward, dropout_backward, NULL};
