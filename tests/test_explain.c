/*
 * test_explain.c — the inside views: the saliency map (gradient of the top
 * logit with respect to the input) against central finite differences in
 * inference mode, for an MLP and for a CNN with batch norm, pooling and
 * dropout; layer views and first-layer weight pictures have the right
 * shapes; guided backpropagation against a hand-written reference for an
 * MLP; on the shipped MLP, the saliency of MNIST test digits is concentrated
 * on and around the ink; on the shipped CNN, most of the guided saliency of
 * a drawn "1" lies on its stroke.
 */
#include "check.h"
#include "model.h"

#include <string.h>

static double top_logit(dn_exec *e, const float *x, int top) {
    dn_exec_forward(e, x, NULL, 1, 0, NULL, NULL);
    return e->act[e->m->nlayers][top];
}

/* A signature of the piecewise-linear region x lies in: which ReLU inputs
 * are positive and where each max-pool window's maximum is. A central
 * difference is only meaningful when x+h and x-h share it. */
static unsigned long long region(const dn_exec *e) {
    unsigned long long hsh = 1469598103934665603ull;
    for (int i = 0; i < e->m->nlayers; i++) {
        const dn_layer *l = &e->m->layers[i];
        size_t n = dn_shape_size(l->out);
        for (size_t j = 0; j < n; j++) {
            unsigned v;
            if (l->cfg.kind == DN_L_RELU)
                v = e->act[i + 1][j] > 0.0f;
            else if (l->cfg.kind == DN_L_MAXPOOL)
                v = (unsigned)e->aux[i][j];
            else
                continue;
            hsh = (hsh ^ v) * 1099511628211ull;
        }
    }
    return hsh;
}

static void check_saliency(const char *arch, float h) {
    dn_model *m = NULL;
    CHECK_OK(dn_model_create(arch, NULL, 4, &m, NULL));
    if (!m) return;
    /* non-trivial running statistics so inference-mode batch norm is tested */
    for (size_t i = 0; i < m->nstate; i++) m->state[i] = 0.3f + 0.1f * (float)(i % 7);
    dn_explain *ex = NULL;
    CHECK_OK(dn_explain_create(m, &ex, NULL));
    float x[784], probs[10], sal[784];
    dn_rng r;
    dn_rng_seed(&r, 9);
    for (int i = 0; i < 784; i++) x[i] = (float)dn_rng_uniform(&r);
    CHECK_OK(dn_explain_run(ex, x, probs, sal, NULL));
    int top = 0;
    for (int j = 1; j < 10; j++)
        if (probs[j] > probs[top]) top = j;
    dn_exec e; /* a training-sized executor keeps the max-pool choices to compare */
    CHECK_OK(dn_exec_init(&e, m, 1, 1, 1, NULL));
    double d2 = 0, a2 = 0;
    int skipped = 0;
    for (int i = 0; i < 784; i += 3) {
        float x0 = x[i];
        x[i] = x0 + h;
        double lp = top_logit(&e, x, top);
        unsigned long long rp = region(&e);
        x[i] = x0 - h;
        double lm = top_logit(&e, x, top);
        unsigned long long rm = region(&e);
        x[i] = x0;
        if (rp != rm) {
            skipped++;
            continue;
        }
        double num = (lp - lm) / (2.0 * h);
        d2 += (num - sal[i]) * (num - sal[i]);
        a2 += (double)sal[i] * sal[i];
    }
    double rel = sqrt(d2) / (sqrt(a2) + 1e-12);
    printf("%-50s saliency vs finite differences: rel %.2e, |s| %.3g, %d of 262 pixels "
           "skipped (kink crossed)\n",
           arch, rel, sqrt(a2), skipped);
    CHECK(skipped < 262 / 4);
    CHECK_MSG(rel < 1e-3 && a2 > 1e-8, "%s: saliency rel error %g", arch, rel);
    CHECK(dn_explain_layer_count(ex) == m->nlayers);
    for (int i = 0; i < m->nlayers; i++) {
        dn_tensor_view v = dn_explain_layer(ex, i);
        CHECK(v.name && v.data && (size_t)v.c * v.h * v.w == dn_shape_size(m->layers[i].out));
    }
    CHECK(dn_explain_layer(ex, m->nlayers).data == NULL);
    dn_exec_free(&e);
    dn_explain_free(ex);
    dn_model_free(m);
}

/* Fraction of |saliency| on pixels within one pixel of ink, averaged over
 * the first n test digits. */
static void check_shipped(int n) {
    dn_model *m = NULL;
    dn_dataset ds = {0};
    if (dn_model_load("models/mnist-mlp.dnm", &m, NULL) != DN_OK ||
        dn_mnist_load(check_mnist_dir(), "test", &ds, NULL) != DN_OK) {
        printf("shipped model or MNIST missing: saliency concentration not measured\n");
        dn_model_free(m);
        return;
    }
    dn_tensor_view w = dn_model_first_weights(m);
    CHECK(w.c == 128 && w.h == 28 && w.w == 28 && w.data);
    dn_explain *ex = NULL;
    CHECK_OK(dn_explain_create(m, &ex, NULL));
    double frac_sum = 0, ink_sum = 0;
    for (int k = 0; k < n; k++) {
        float x[784], probs[10], sal[784];
        dn_model_inputs_from_pixels(ds.images + (size_t)k * 784, 784, x);
        dn_explain_run(ex, x, probs, sal, NULL);
        double on = 0, all = 0, inked = 0;
        for (int y = 0; y < 28; y++)
            for (int xx = 0; xx < 28; xx++) {
                int near = 0;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        int yy = y + dy, xc = xx + dx;
                        if (yy >= 0 && yy < 28 && xc >= 0 && xc < 28 && x[yy * 28 + xc] > 0.1f)
                            near = 1;
                    }
                double a = fabs(sal[y * 28 + xx]);
                all += a;
                if (near) on += a, inked++;
            }
        frac_sum += on / (all + 1e-12);
        ink_sum += inked / 784.0;
    }
    printf("saliency mass on and around the ink: %.1f%% (that area is %.1f%% of the image)\n",
           100 * frac_sum / n, 100 * ink_sum / n);
    /* concentrated: clearly more mass there than an even spread would put */
    CHECK(frac_sum > 1.2 * ink_sum);
    dn_explain_free(ex);
    dn_dataset_free(&ds);
    dn_model_free(m);
}

/* Guided backpropagation through 784-32-10 (dense, relu, dense), written
 * out: g = W2^T e_top, kept where the unit fired and g > 0, then W1^T g. A
 * tanh network has no ReLU to guide: there it equals the gradient. */
static void check_guided(void) {
    dn_model *m = NULL;
    CHECK_OK(dn_model_create("784-32-10", "relu", 3, &m, NULL));
    if (!m) return;
    dn_explain *ex = NULL;
    CHECK_OK(dn_explain_create(m, &ex, NULL));
    float x[784], probs[10], sal[784], guided[784];
    CHECK(dn_explain_guided(ex, guided, NULL) == DN_E_ARG);
    dn_rng r;
    dn_rng_seed(&r, 4);
    for (int i = 0; i < 784; i++) x[i] = (float)dn_rng_uniform(&r);
    CHECK_OK(dn_explain_run(ex, x, probs, sal, NULL));
    CHECK_OK(dn_explain_guided(ex, guided, NULL));
    int top = 0;
    for (int j = 1; j < 10; j++)
        if (probs[j] > probs[top]) top = j;
    const float *w1 = m->layers[0].w, *b1 = w1 + 784 * 32, *w2 = m->layers[2].w;
    double g[32], d2 = 0, a2 = 0, diff = 0;
    int kept = 0;
    for (int j = 0; j < 32; j++) {
        double h = b1[j];
        for (int i = 0; i < 784; i++) h += (double)w1[j * 784 + i] * x[i];
        g[j] = w2[top * 32 + j];
        if (h <= 0 || g[j] <= 0) g[j] = 0;
        kept += g[j] > 0;
    }
    for (int i = 0; i < 784; i++) {
        double want = 0;
        for (int j = 0; j < 32; j++) want += g[j] * w1[j * 784 + i];
        d2 += (want - guided[i]) * (want - guided[i]);
        a2 += want * want;
        diff += fabs((double)sal[i] - guided[i]);
    }
    printf("guided backpropagation vs reference: rel %.2e (%d of 32 hidden units pass)\n",
           sqrt(d2 / (a2 + 1e-30)), kept);
    CHECK(kept > 0 && kept < 32 && sqrt(d2 / (a2 + 1e-30)) < 1e-5);
    CHECK(diff > 1e-3); /* and it is not the plain gradient */
    dn_explain_free(ex);
    dn_model_free(m);

    CHECK_OK(dn_model_create("784-32-10", "tanh", 3, &m, NULL));
    if (!m) return;
    CHECK_OK(dn_explain_create(m, &ex, NULL));
    CHECK_OK(dn_explain_run(ex, x, probs, sal, NULL));
    CHECK_OK(dn_explain_guided(ex, guided, NULL));
    CHECK(!memcmp(sal, guided, sizeof sal));
    dn_explain_free(ex);
    dn_model_free(m);
}

/* A "1" as drawn on the page: a slightly slanted round-brush stroke, white
 * on a black 280x280 canvas, normalised like every input. On the shipped
 * CNN, most of the positive guided saliency must lie on inked pixels; the
 * plain gradient is printed for comparison (a "1" is also recognised by
 * the empty space beside it, so its gradient spreads there). */
static void check_drawn_one(void) {
    dn_model *m = NULL;
    if (dn_model_load("models/mnist-cnn.dnm", &m, NULL) != DN_OK) {
        printf("models/mnist-cnn.dnm missing: drawn-1 saliency not measured\n");
        return;
    }
    dn_image img = {280, 280, calloc(280 * 280, 1)};
    CHECK(img.pixels != NULL);
    if (!img.pixels) {
        dn_model_free(m);
        return;
    }
    for (int y = 0; y < 280; y++)
        for (int x = 0; x < 280; x++) {
            /* distance to the segment (146,50)-(134,230), brush radius 12 */
            double t = (y - 50) / 180.0;
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            double cx = 146 - 12 * t, cy = 50 + 180 * t;
            double d = sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy));
            img.pixels[y * 280 + x] = d <= 12 ? 255 : d < 13 ? (unsigned char)(255 * (13 - d)) : 0;
        }
    unsigned char in[784];
    CHECK_OK(dn_image_normalize(&img, in, NULL));
    free(img.pixels);
    float x[784], probs[10], sal[784], guided[784];
    dn_model_inputs_from_pixels(in, 784, x);
    dn_explain *ex = NULL;
    CHECK_OK(dn_explain_create(m, &ex, NULL));
    if (ex) {
        CHECK_OK(dn_explain_run(ex, x, probs, sal, NULL));
        CHECK_OK(dn_explain_guided(ex, guided, NULL));
        int top = 0;
        for (int j = 1; j < 10; j++)
            if (probs[j] > probs[top]) top = j;
        double g_all = 0, g_ink = 0, s_all = 0, s_ink = 0;
        int ink = 0;
        for (int i = 0; i < 784; i++) {
            double gp = guided[i] > 0 ? guided[i] : 0, sa = fabs(sal[i]);
            g_all += gp;
            s_all += sa;
            if (in[i] > 0) g_ink += gp, s_ink += sa, ink++;
        }
        printf("drawn 1 (predicted %d): guided positive mass on the stroke %.1f%%, |gradient| "
               "%.1f%%; the stroke covers %.1f%% of the input\n",
               top, 100 * g_ink / g_all, 100 * s_ink / s_all, 100.0 * ink / 784);
        CHECK(top == 1);
        CHECK(g_ink > 0.5 * g_all);
    }
    dn_explain_free(ex);
    dn_model_free(m);
}

int main(void) {
    check_saliency("784-32-10", 1e-2f);
    check_saliency("conv3x3x4p1-bn-tanh-avgpool2-conv3x3x6s2-tanh-drop0.3-fc16-bn-tanh-fc10",
                   1e-2f);
    check_saliency("conv3x3x4p1-bn-tanh-pool2-fc10", 1e-2f);
    check_saliency("conv3x3x4p1-bn-relu-pool2-fc10", 1e-2f);
    dn_model *m = NULL;
    CHECK_OK(dn_model_create("lenet5", NULL, 1, &m, NULL));
    dn_tensor_view w = dn_model_first_weights(m);
    CHECK(w.c == 6 && w.h == 5 && w.w == 5 && w.data);
    dn_model_free(m);
    CHECK_OK(dn_model_create("conv3x3x4s3-bn-relu-fc10", NULL, 1, &m, NULL));
    CHECK(dn_model_first_weights(m).c == 4);
    dn_model_free(m);
    check_guided();
    check_shipped(200);
    check_drawn_one();
    return check_report("test_explain");
}
