/*
 * softmax_xent.c — softmax and cross-entropy fused, as the network's loss.
 *
 *   p_j  = exp(z_j - max z) / sum_k exp(z_k - max z)   (z = logits / T)
 *   L    = -log p_y = logsumexp(z) - z_y
 *   dL/dz_j = p_j - [j == y]
 *
 * Fusing them avoids the exp overflow of a separate softmax and the
 * division by p_y of a separate log-loss: the gradient is just p - y.
 * Shapes: logits, probs, dlogits [n, classes]; labels [n].
 */
#include "layers/layer.h"

#include "kernels/vexp.h"

#include <math.h>

double dn_softmax_xent_forward(const float *logits, const unsigned char *labels, float *probs,
                               int n, int classes, float inv_temp) {
    /* every logit read as z_j / T (times 1 is exact: training is unchanged) */
#define Z(j) (z[j] * inv_temp)
    /* probs <- z - max z, row by row, and the loss's max z - z_y; then exp
     * of the whole block at once */
    double loss = 0.0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * classes;
        float *p = probs + (size_t)i * classes, mx = Z(0);
        for (int j = 1; j < classes; j++)
            if (Z(j) > mx) mx = Z(j);
        for (int j = 0; j < classes; j++) p[j] = Z(j) - mx;
        if (labels) loss += (double)mx - Z(labels[i]);
    }
    dn_vexp(probs, (size_t)n * classes);
    for (int i = 0; i < n; i++) {
        float *p = probs + (size_t)i * classes;
        double sum = 0.0;
        for (int j = 0; j < classes; j++) sum += p[j];
        /* divide rather than subtract log(sum): with logits near 1e30,
         * log(sum) vanishes next to mx and two equal maxima would both get 1 */
        for (int j = 0; j < classes; j++) p[j] = (float)(p[j] / sum);
        if (labels) loss += log(sum);
    }
#undef Z
    return loss;
}

void dn_softmax_xent_backward(const float *probs, const unsigned char *labels, float *dlogits,
                              int n, int classes, float scale, float smoothing) {
    /* target t = (1 - s) one-hot + s / classes: dL/dz = p - t */
    float off = scale * smoothing / (float)classes, on = scale * (1.0f - smoothing);
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * classes;
        float *d = dlogits + (size_t)i * classes;
        for (int j = 0; j < classes; j++) d[j] = p[j] * scale - off;
        d[labels[i]] -= on;
    }
}
