/*
 * batchnorm.c — batch normalisation per channel (conv inputs) or per
 * feature (dense inputs, where C = features and H = W = 1).
 *
 * Training, over the m = n*H*W values of channel c:
 *   mu = mean(x), var = mean((x - mu)^2), xhat = (x - mu) / sqrt(var + eps)
 *   y = gamma * xhat + beta
 *   running_mean/var <- 0.9 * running + 0.1 * batch (unbiased var)
 * Inference: the running statistics replace mu and var.
 * Backward in inference mode (saliency maps) is the per-channel affine map
 * dx = dy * gamma / sqrt(running_var + eps). In training mode, with the
 * batch statistics recomputed from x rather than stored:
 *   dgamma += sum dy*xhat, dbeta += sum dy
 *   dx = gamma / (m * sqrt(var+eps)) * (m*dy - sum dy - xhat * sum dy*xhat)
 * Parameters: gamma [C] then beta [C]; state: running mean [C], var [C].
 *
 * With c->relu (a training executor fuses the ReLU that follows) forward
 * writes max(y, 0), and backward receives the ReLU's dy and masks it
 * itself, where a x + b > 0, recomputed from x: the ReLU then costs no
 * pass of its own over the activations.
 */
#include "layers/layer.h"

#include <math.h>
#include <string.h>

#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f

static dn_status bn_setup(dn_layer *l, dn_error *err) {
    l->out = l->in;
    l->nparams = 2 * (size_t)l->in.c;
    l->nstate = 2 * (size_t)l->in.c;
    /* for backward: whether the last forward used the batch's statistics,
     * then the batch's mean and variance per channel (doubles) */
    l->aux_per_batch = 1 + 2 * sizeof(double) / sizeof(float) * (size_t)l->in.c;
    return DN_OK;
}

static size_t bn_work(const dn_layer *l, int n, int threads) {
    return 0;
}

static void bn_init(dn_layer *l, dn_rng *rng) {
    int C = l->in.c;
    for (int c = 0; c < C; c++) {
        l->w[c] = 1.0f;
        l->w[C + c] = 0.0f;
        l->state[c] = 0.0f;
        l->state[C + c] = 1.0f;
    }
}

/* 8 floats (GCC/Clang vector extension), loadable from any float address */
typedef float v8 __attribute__((vector_size(32), aligned(4)));

typedef int vi8 __attribute__((vector_size(32), aligned(4)));

/* The affine map of batch norm, y = a x + b, written once so that forward
 * and a fused backward round it alike (the ReLU's mask is y > 0). */
#define BN_Y(a, x, b) ((a) * (x) + (b))

/* Sums of one row of P floats: s[0] = sum a, s[1] = sum a*b (b may be
 * NULL: then sum a*a), in float vectors with a fixed order. With mask
 * (b not NULL), only where BN_Y(mask[0], b, mask[1]) > 0 does a count. */
static void row_sums(const float *a, const float *b, size_t P, float sh, const float *mask,
                     double *s0, double *s1) {
    v8 z = {0}, p0 = z, p1 = z, q0 = z, q1 = z, vs = z + sh;
    v8 ma = z + (mask ? mask[0] : 0.0f), mb = z + (mask ? mask[1] : 0.0f);
    size_t q = 0;
    for (; q + 16 <= P; q += 16) {
        v8 x0 = *(const v8 *)(a + q) - vs, x1 = *(const v8 *)(a + q + 8) - vs;
        v8 y0 = b ? *(const v8 *)(b + q) : x0, y1 = b ? *(const v8 *)(b + q + 8) : x1;
        if (mask) {
            x0 = (v8)((vi8)x0 & (BN_Y(ma, y0, mb) > z));
            x1 = (v8)((vi8)x1 & (BN_Y(ma, y1, mb) > z));
        }
        p0 += x0, p1 += x1;
        q0 += x0 * y0, q1 += x1 * y1;
    }
    v8 p = p0 + p1, qq = q0 + q1;
    float fs = 0.0f, fq = 0.0f;
    for (int i = 0; i < 8; i++) fs += p[i], fq += qq[i];
    for (; q < P; q++) {
        float x = a[q] - sh, y = b ? b[q] : x;
        if (mask && !(BN_Y(mask[0], y, mask[1]) > 0.0f)) x = 0.0f;
        fs += x, fq += x * y;
    }
    *s0 += fs;
    *s1 += fq;
}

/* Mean and biased variance of channel ch over the batch: row sums in
 * float vectors, accumulated in double, the variance around a first
 * estimate of the mean (the first value) so that it does not cancel. */
static void channel_stats(const dn_layer *l, const float *x, int n, int ch, double *mean,
                          double *var) {
    size_t P = (size_t)l->in.h * l->in.w, sz = dn_shape_size(l->in);
    float shift = x[(size_t)ch * P];
    double s = 0.0, s2 = 0.0;
    for (int i = 0; i < n; i++)
        row_sums(x + (size_t)i * sz + (size_t)ch * P, NULL, P, shift, NULL, &s, &s2);
    double m = (double)n * P, d = s / m;
    *mean = shift + d;
    double v = s2 / m - d * d;
    *var = v > 0 ? v : 0;
}

/* y = gamma (x - mu) / sqrt(var + eps) + beta = a x + b: ab = {a, b} of
 * channel ch. */
static void coefficients(const float *w, int C, int ch, double mu, double var, float ab[2]) {
    double inv = 1.0 / sqrt(var + BN_EPS);
    ab[0] = (float)(w[ch] * inv);
    ab[1] = (float)(w[C + ch] - w[ch] * inv * mu);
}

void dn_batchnorm_fold(const dn_layer *bn, float *scale, float *shift) {
    int C = bn->in.c;
    for (int ch = 0; ch < C; ch++) {
        float ab[2];
        coefficients(bn->w, C, ch, bn->state[ch], bn->state[C + ch], ab);
        scale[ch] = ab[0];
        shift[ch] = ab[1];
    }
}

static void bn_forward(const dn_layer *l, const float *x, float *y, int n, dn_layer_ctx *c) {
    int C = l->in.c;
    size_t P = (size_t)l->in.h * l->in.w, sz = dn_shape_size(l->in);
    if (c->aux) c->aux[0] = c->train ? 1.0f : 0.0f; /* batch statistics kept below */
        /* channels are independent (their running statistics too) */
#pragma omp parallel for schedule(static)                                                          \
    num_threads(c->threads) if (c->threads > 1 && (size_t)n * P * C > 32768)
    for (int ch = 0; ch < C; ch++) {
        double mu, var;
        if (c->train) {
            channel_stats(l, x, n, ch, &mu, &var);
            if (c->aux) { /* (a float buffer: copied in, not stored as doubles) */
                double mv[2] = {mu, var};
                memcpy((char *)(c->aux + 1) + sizeof mv * (size_t)ch, mv, sizeof mv);
            }
            double m = (double)n * P, unbiased = m > 1 ? var * m / (m - 1) : var;
            c->state[ch] = (float)((1 - BN_MOMENTUM) * c->state[ch] + BN_MOMENTUM * mu);
            c->state[C + ch] =
                (float)((1 - BN_MOMENTUM) * c->state[C + ch] + BN_MOMENTUM * unbiased);
        } else {
            mu = l->state[ch];
            var = l->state[C + ch];
        }
        float ab[2];
        coefficients(l->w, C, ch, mu, var, ab);
        float a = ab[0], b = ab[1];
        for (int i = 0; i < n; i++) {
            const float *xc = x + (size_t)i * sz + (size_t)ch * P;
            float *yc = y + (size_t)i * sz + (size_t)ch * P;
            if (c->relu)
                for (size_t q = 0; q < P; q++) {
                    float v = BN_Y(a, xc[q], b);
                    yc[q] = v > 0.0f ? v : 0.0f;
                }
            else
                for (size_t q = 0; q < P; q++) yc[q] = BN_Y(a, xc[q], b);
        }
    }
}

static void bn_backward(const dn_layer *l, const float *x, const float *y, const float *dy,
                        float *dx, int n, dn_layer_ctx *c) {
    int C = l->in.c;
    size_t P = (size_t)l->in.h * l->in.w, sz = dn_shape_size(l->in);
    float *dgamma = c->gw, *dbeta = c->gw + C;
    if (!c->train) {
        /* inference mode: an affine map per channel with the running statistics */
        for (int ch = 0; ch < C; ch++) {
            float k = l->w[ch] / sqrtf(l->state[C + ch] + BN_EPS), ab[2];
            coefficients(l->w, C, ch, l->state[ch], l->state[C + ch], ab);
            for (int i = 0; i < n && dx; i++) {
                const float *dyc = dy + (size_t)i * sz + (size_t)ch * P;
                const float *xc = x + (size_t)i * sz + (size_t)ch * P;
                float *dxc = dx + (size_t)i * sz + (size_t)ch * P;
                if (c->relu)
                    for (size_t q = 0; q < P; q++)
                        dxc[q] = BN_Y(ab[0], xc[q], ab[1]) > 0.0f ? k * dyc[q] : 0.0f;
                else
                    for (size_t q = 0; q < P; q++) dxc[q] = k * dyc[q];
            }
        }
        return;
    }
#pragma omp parallel for schedule(static)                                                          \
    num_threads(c->threads) if (c->threads > 1 && (size_t)n * P * C > 32768)
    for (int ch = 0; ch < C; ch++) {
        double mu, var;
        if (c->aux && c->aux[0] == 1.0f) { /* what forward computed from the same x */
            double mv[2];
            memcpy(mv, (const char *)(c->aux + 1) + sizeof mv * (size_t)ch, sizeof mv);
            mu = mv[0], var = mv[1];
        } else {
            channel_stats(l, x, n, ch, &mu, &var);
        }
        /* sum dy and sum dy * (x - mu), the latter as sum dy*x - mu sum dy */
        double inv = 1.0 / sqrt(var + BN_EPS), sdy = 0.0, sdyx = 0.0, m = (double)n * P;
        float ab[2]; /* with a fused ReLU: where forward's a x + b was positive */
        coefficients(l->w, C, ch, mu, var, ab);
        for (int i = 0; i < n; i++) {
            size_t off = (size_t)i * sz + (size_t)ch * P;
            row_sums(dy + off, x + off, P, 0.0f, c->relu ? ab : NULL, &sdy, &sdyx);
        }
        sdyx = (sdyx - mu * sdy) * inv; /* sum dy * xhat */
        dgamma[ch] += (float)sdyx;
        dbeta[ch] += (float)sdy;
        if (!dx) continue;
        /* dx = k (m dy - sdy - xhat sdyx) = a1 dy + a2 x + a3 */
        double k = l->w[ch] * inv / m;
        float a1 = (float)(k * m), a2 = (float)(-k * inv * sdyx);
        float a3 = (float)(-k * sdy + k * inv * sdyx * mu);
        for (int i = 0; i < n; i++) {
            const float *xc = x + (size_t)i * sz + (size_t)ch * P;
            const float *dyc = dy + (size_t)i * sz + (size_t)ch * P;
            float *dxc = dx + (size_t)i * sz + (size_t)ch * P;
            if (c->relu)
                for (size_t q = 0; q < P; q++) {
                    float d = BN_Y(ab[0], xc[q], ab[1]) > 0.0f ? dyc[q] : 0.0f;
                    dxc[q] = a1 * d + a2 * xc[q] + a3;
                }
            else
                for (size_t q = 0; q < P; q++) dxc[q] = a1 * dyc[q] + a2 * xc[q] + a3;
        }
    }
}

const dn_layer_ops dn_batchnorm_ops = {"batchnorm", bn_setup,    bn_work, bn_init,
                                       bn_forward,  bn_backward, NULL};
