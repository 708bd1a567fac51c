/*
 * test_gradcheck.c — every layer's backward pass against central finite
 * differences of its forward pass, inside small whole networks (so input
 * gradients flow through every layer that is not first).
 *
 * For each network: loss L = sum of cross-entropies over a batch of 3,
 * analytic dL/dw from dn_exec_backward, numeric (L(w+h) - L(w-h)) / 2h for
 * every parameter (or a sample of 300 for large layers); the norm-wise
 * relative error ||num - ana|| / ||ana|| must be under 1e-4. The check cannot
 * pass vacuously: it asserts the gradient is not all zeros, and a network
 * with a deliberately broken backward (a helper that scales one layer's
 * gradient by 1.1) must fail it. Label smoothing is checked the same way,
 * against the smoothed cross-entropy computed here from the probabilities.
 */
#include "check.h"
#include "model.h"

#include <string.h>

typedef struct gc_result {
    double max_rel, norm_rel, grad_norm;
    size_t checked;
} gc_result;

static float smoothing; /* label smoothing of the network under check */

static double loss_at(dn_exec *e, dn_model *m, const float *x, const unsigned char *y, int n,
                      float *state_scratch) {
    dn_rng rng;
    dn_rng_seed(&rng, 99); /* the same dropout mask on every evaluation */
    memcpy(state_scratch, m->state, sizeof(float) * (m->nstate ? m->nstate : 1));
    double xent = dn_exec_forward(e, x, y, n, 1, &rng, state_scratch);
    if (smoothing == 0) return xent;
    /* -sum_j t_j log p_j with t = (1 - s) one-hot + s / 10 */
    double l = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < 10; j++)
            l -= ((j == y[i] ? 1.0 - smoothing : 0.0) + smoothing / 10.0) *
                 log((double)e->probs[i * 10 + j]);
    return l;
}

/* corrupt: -1 none, else the layer whose gradient is scaled by 1.1 */
static gc_result gradcheck(const char *arch, const char *act, float h, int corrupt) {
    gc_result res = {0};
    dn_error err = {{0}};
    dn_model *m;
    if (dn_model_create(arch, act, 3, &m, &err) != DN_OK) {
        fprintf(stderr, "%s: %s\n", arch, err.msg);
        res.max_rel = INFINITY;
        return res;
    }
    enum { N = 3 };
    dn_exec e;
    dn_exec_init(&e, m, N, 1, 1, &err);
    float x[N * 784];
    unsigned char y[N] = {3, 7, 1};
    dn_rng r;
    dn_rng_seed(&r, 5);
    for (int i = 0; i < N * 784; i++) x[i] = (float)dn_rng_uniform(&r);
    float *grad = calloc(m->nparams, sizeof(float));
    float *state = calloc(m->nstate + 1, sizeof(float));
    loss_at(&e, m, x, y, N, state);
    dn_rng rng;
    dn_rng_seed(&rng, 99);
    dn_exec_forward(&e, x, y, N, 1, &rng, state);
    dn_exec_backward(&e, x, y, N, grad, 1.0f, smoothing);
    if (corrupt >= 0) {
        dn_layer *l = &m->layers[corrupt];
        for (size_t i = 0; i < l->nparams; i++) grad[l->param_offset + i] *= 1.1f;
    }
    double diff2 = 0, a2 = 0;
    for (int li = 0; li < m->nlayers; li++) {
        dn_layer *l = &m->layers[li];
        size_t stride = l->nparams > 300 ? l->nparams / 300 : 1;
        for (size_t k = 0; k < l->nparams; k += stride) {
            size_t i = l->param_offset + k;
            float w0 = m->params[i];
            m->params[i] = w0 + h;
            double lp = loss_at(&e, m, x, y, N, state);
            m->params[i] = w0 - h;
            double lm = loss_at(&e, m, x, y, N, state);
            m->params[i] = w0;
            double num = (lp - lm) / (2.0 * h), ana = grad[i];
            double denom = fmax(fabs(num), fabs(ana));
            double rel = denom > 1e-3 ? fabs(num - ana) / denom : 0.0;
            if (rel > res.max_rel) res.max_rel = rel;
            diff2 += (num - ana) * (num - ana);
            a2 += ana * ana;
            res.checked++;
        }
    }
    res.grad_norm = sqrt(a2);
    res.norm_rel = sqrt(diff2) / (sqrt(a2) + 1e-12);
    free(grad);
    free(state);
    dn_exec_free(&e);
    dn_model_free(m);
    return res;
}

int main(void) {
    static const struct {
        const char *arch, *act;
        float h; /* step: large enough to beat float rounding, small enough for curvature */
    } nets[] = {
        {"784-16-10", "relu", 1e-2f},
        {"784-16-10", "sigmoid", 1e-2f},
        {"784-16-12-10", "tanh", 1e-2f},
        {"conv3x3x3s2p1-tanh-conv3x3x4p1-tanh-fc10", NULL, 1e-2f},
        {"conv5x5x2s3-tanh-pool2-fc10", NULL, 1e-3f},
        {"conv3x3x3s2-tanh-avgpool2-fc10", NULL, 1e-2f},
        {"conv3x3x3s3-bn-tanh-fc16-bn-tanh-fc10", NULL, 3e-3f},
        {"conv3x3x3s3-tanh-fc16-tanh-drop0.3-fc10", NULL, 1e-2f},
        {"conv3x3x10s2-tanh-gap", NULL, 1e-2f},
        {"conv3x3x2s3-tanh-flatten-fc10", NULL, 1e-2f},
        /* one input channel at stride 1: the direct loop of conv1.c (a
         * channel block short, kernels 5, 3 and the generic 4) */
        {"conv5x5x3p2-tanh-avgpool2-conv3x3x2s2-tanh-fc10", NULL, 1e-2f},
        {"conv3x3x9-tanh-avgpool2-avgpool2-fc10", NULL, 1e-2f},
        {"conv4x4x2p1-tanh-avgpool3-fc10", NULL, 1e-2f},
        /* 3x3 stride-1 convolutions with 4+ input channels: Winograd F(2x2, 3x3),
         * paddings 1, 0 and 2, odd sizes (14 -> 12, 10 -> 12) */
        {"conv3x3x4s2p1-tanh-conv3x3x5p1-tanh-conv3x3x6-tanh-fc10", NULL, 1e-2f},
        {"conv3x3x4s3-tanh-conv3x3x4p2-tanh-fc10", NULL, 1e-2f},
        {"conv3x3x4s3-tanh-conv3x3x6p1-bn-tanh-fc10", NULL, 3e-3f},
    };
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
        gc_result r = gradcheck(nets[i].arch, nets[i].act, nets[i].h, -1);
        printf("%-45s %-8s checked %5zu  max rel %.2e  norm rel %.2e  |g| %.3g\n", nets[i].arch,
               nets[i].act ? nets[i].act : "", r.checked, r.max_rel, r.norm_rel, r.grad_norm);
        CHECK_MSG(r.norm_rel < 1e-4, "%s: norm-wise relative error %g", nets[i].arch, r.norm_rel);
        CHECK_MSG(r.grad_norm > 1e-3, "%s: gradient is (nearly) zero", nets[i].arch);
        CHECK(r.checked > 0);
    }
    /* label smoothing: the gradient of the smoothed loss */
    smoothing = 0.2f;
    gc_result ls = gradcheck("784-16-12-10", "tanh", 1e-2f, -1);
    printf("label smoothing 0.2: norm rel %.2e  |g| %.3g\n", ls.norm_rel, ls.grad_norm);
    CHECK_MSG(ls.norm_rel < 1e-4, "label smoothing: norm-wise relative error %g", ls.norm_rel);
    gc_result ls_bad = gradcheck("784-16-12-10", "tanh", 1e-2f, 2);
    CHECK(ls_bad.norm_rel > 1e-2);
    smoothing = 0;
    /* a broken backward (one layer's gradient off by 10%) must be caught */
    gc_result bad = gradcheck("784-16-10", "relu", 1e-2f, 2);
    printf("broken gradient: norm rel %.2e\n", bad.norm_rel);
    CHECK(bad.norm_rel > 1e-2);
    return check_report("test_gradcheck");
}
