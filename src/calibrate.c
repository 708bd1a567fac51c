/*
 * calibrate.c — temperature scaling, the calibration error and the "not
 * sure" rule (docs/calibration.md).
 *
 * With logits z, label y and beta = 1/T, one image's cross-entropy is
 *
 *   L(beta) = logsumexp(beta z) - beta z_y
 *   L'(beta) = E_p[z] - z_y          L''(beta) = Var_p[z] >= 0
 *
 * where p = softmax(beta z): L is convex in beta, so the mean over a
 * validation split has a single minimum, found here by golden-section
 * search over beta in [1/DN_TEMPERATURE_MAX, 1/DN_TEMPERATURE_MIN]. The
 * argmax of beta z is the argmax of z: accuracy does not move.
 */
#include "model.h"

#include <math.h>
#include <string.h>

double dn_temperature_parse(const char *s) {
    char *end;
    double t = strtod(s, &end);
    if (end == s || *end || !(t >= DN_TEMPERATURE_MIN && t <= DN_TEMPERATURE_MAX)) return 0;
    return t;
}

double dn_model_temperature(const dn_model *m) {
    const char *v = dn_model_get_meta(m, "temperature");
    double t = v ? dn_temperature_parse(v) : 0;
    return t > 0 ? t : 1.0;
}

int dn_probs_unsure(const float *probs, int *best, int *runner_up) {
    int b = 0, r = 1;
    if (probs[1] > probs[0]) b = 1, r = 0;
    for (int j = 2; j < DN_CLASSES; j++) {
        if (probs[j] > probs[b]) {
            r = b;
            b = j;
        } else if (probs[j] > probs[r]) {
            r = j;
        }
    }
    if (best) *best = b;
    if (runner_up) *runner_up = r;
    return !(probs[b] >= DN_UNSURE_BELOW);
}

void dn_ece_add(dn_ece *e, float confidence, int correct) {
    if (!(confidence >= 0)) confidence = 0; /* NaN from a broken model: the lowest bin */
    if (confidence > 1) confidence = 1;
    int bin = (int)(confidence * DN_ECE_BINS);
    if (bin >= DN_ECE_BINS) bin = DN_ECE_BINS - 1;
    e->count[bin]++;
    e->conf[bin] += confidence;
    e->correct[bin] += correct != 0;
}

double dn_ece_value(const dn_ece *e) {
    double n = 0, sum = 0;
    for (int b = 0; b < DN_ECE_BINS; b++) n += (double)e->count[b];
    if (n == 0) return 0;
    for (int b = 0; b < DN_ECE_BINS; b++)
        if (e->count[b]) sum += fabs((double)e->correct[b] - e->conf[b]);
    return sum / n;
}

/* Mean cross-entropy of logits z [n, 10] scaled by beta. */
static double mean_nll(const float *z, const unsigned char *labels, size_t n, double beta) {
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        const float *r = z + i * DN_CLASSES;
        double mx = r[0];
        for (int j = 1; j < DN_CLASSES; j++)
            if (r[j] > mx) mx = r[j];
        double s = 0;
        for (int j = 0; j < DN_CLASSES; j++) s += exp(beta * ((double)r[j] - mx));
        total += log(s) + beta * (mx - (double)r[labels[i]]);
    }
    return total / (double)n;
}

dn_status dn_model_calibrate(dn_model *m, const dn_dataset *ds, double *temperature,
                             dn_error *err) {
    if (!m || !ds || !ds->labels || !ds->count)
        return dn_fail(err, DN_E_ARG, "calibration needs a labeled, non-empty dataset");
    if (ds->rows * ds->cols != 784)
        return dn_fail(err, DN_E_ARG, "images are %dx%d, the model expects 28x28", ds->rows,
                       ds->cols);
    for (size_t i = 0; i < ds->count; i++)
        if (ds->labels[i] >= DN_CLASSES)
            return dn_fail(err, DN_E_ARG, "label %d of image %zu is not a digit", ds->labels[i],
                           i + 1);
    enum { B = 500 };
    dn_exec e;
    dn_status st = dn_exec_init(&e, m, B, dn_get_threads(), DN_EXEC_FUSED, err);
    if (st != DN_OK) return st;
    float *x = malloc(sizeof(float) * B * 784);
    float *z = malloc(sizeof(float) * DN_CLASSES * ds->count);
    if (!x || !z) {
        free(x);
        free(z);
        dn_exec_free(&e);
        return dn_fail(err, DN_E_NOMEM, "out of memory");
    }
    /* the raw logits: the layers' output before any temperature */
    for (size_t i = 0; i < ds->count; i += B) {
        int k = (int)(ds->count - i < B ? ds->count - i : B);
        dn_model_inputs_from_pixels(ds->images + i * 784, (size_t)k * 784, x);
        dn_exec_forward(&e, x, NULL, k, 0, NULL, NULL);
        memcpy(z + i * DN_CLASSES, e.act[m->nlayers], sizeof(float) * (size_t)k * DN_CLASSES);
    }
    free(x);
    dn_exec_free(&e);
    const double g = (sqrt(5.0) - 1) / 2;
    double lo = 1 / DN_TEMPERATURE_MAX, hi = 1 / DN_TEMPERATURE_MIN;
    double a = hi - g * (hi - lo), b = lo + g * (hi - lo);
    double fa = mean_nll(z, ds->labels, ds->count, a), fb = mean_nll(z, ds->labels, ds->count, b);
    for (int it = 0; it < 80 && hi - lo > 1e-7; it++) {
        if (fa <= fb) {
            hi = b;
            b = a;
            fb = fa;
            a = hi - g * (hi - lo);
            fa = mean_nll(z, ds->labels, ds->count, a);
        } else {
            lo = a;
            a = b;
            fa = fb;
            b = lo + g * (hi - lo);
            fb = mean_nll(z, ds->labels, ds->count, b);
        }
    }
    free(z);
    double t = 2 / (lo + hi);
    if (t < DN_TEMPERATURE_MIN) t = DN_TEMPERATURE_MIN;
    if (t > DN_TEMPERATURE_MAX) t = DN_TEMPERATURE_MAX;
    char buf[32];
    snprintf(buf, sizeof buf, "%.6f", t);
    t = strtod(buf, NULL); /* the value as stored is the value in use */
    if (dn_model_set_meta(m, "temperature", buf) != DN_OK)
        return dn_fail(err, DN_E_NOMEM, "out of memory");
    if (temperature) *temperature = t;
    return DN_OK;
}
