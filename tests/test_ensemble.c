/*
 * test_ensemble.c — dn_models_evaluate, the mean of several models:
 *   - its answers, confusion matrix, loss, calibration error and "unsure"
 *     count are those of the averaged probabilities, computed here from
 *     each model's dn_model_predict (each at its own temperature);
 *   - one model gives exactly dn_model_evaluate's figures, and a model
 *     averaged with itself gives the same answers;
 *   - no models, too many, or an unlabeled set are refused.
 */
#include "check.h"
#include "digitnet.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static uint64_t rng_state = 99;
static double uniform(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

int main(void) {
    enum { N = 1200 }; /* more than one batch of 500, and not a multiple */
    dn_set_threads(1);
    dn_model *a = NULL, *b = NULL;
    CHECK_OK(dn_model_create("784-32-10", NULL, 3, &a, &check_err_));
    CHECK_OK(dn_model_create("784-16-10", NULL, 4, &b, &check_err_));
    unsigned char *img = malloc((size_t)N * 784), *lab = malloc(N);
    float *x = malloc(sizeof(float) * N * 784), *pa = malloc(sizeof(float) * N * 10),
          *pb = malloc(sizeof(float) * N * 10);
    if (!a || !b || !img || !lab || !x || !pa || !pb) {
        CHECK(0);
        goto out;
    }
    /* untrained networks answer near-uniformly: sharpen them so that some
     * answers are sure and some are not */
    CHECK(dn_model_set_meta(a, "temperature", "0.05") == DN_OK);
    CHECK(dn_model_set_meta(b, "temperature", "0.08") == DN_OK);
    for (size_t i = 0; i < (size_t)N * 784; i++) img[i] = (unsigned char)(uniform() * 256);
    dn_model_inputs_from_pixels(img, (size_t)N * 784, x);
    CHECK_OK(dn_model_predict(a, x, N, pa, &check_err_));
    CHECK_OK(dn_model_predict(b, x, N, pb, &check_err_));
    /* labels: a's answer for a third, b's for a third, random otherwise */
    size_t correct = 0, unsure = 0, confusion[10][10] = {{0}};
    double loss = 0.0;
    for (int i = 0; i < N; i++) {
        int ba = 0, bb = 0;
        for (int c = 1; c < 10; c++) {
            if (pa[i * 10 + c] > pa[i * 10 + ba]) ba = c;
            if (pb[i * 10 + c] > pb[i * 10 + bb]) bb = c;
        }
        lab[i] = (unsigned char)(i % 3 == 0 ? ba : i % 3 == 1 ? bb : (int)(uniform() * 10));
        float mean[10];
        for (int c = 0; c < 10; c++) mean[c] = (pa[i * 10 + c] + pb[i * 10 + c]) / 2.0f;
        int best;
        unsure += dn_probs_unsure(mean, &best, NULL);
        correct += best == lab[i];
        confusion[lab[i]][best]++;
        loss -= log(mean[lab[i]]);
    }
    loss /= N;
    dn_dataset ds = {N, 28, 28, img, lab};
    const dn_model *both[2] = {a, b}, *twice[2] = {a, a};
    dn_eval ev, one, ref, same;
    CHECK_OK(dn_models_evaluate(both, 2, &ds, &ev, &check_err_));
    CHECK(ev.count == N);
    CHECK_MSG(ev.correct == correct, "ensemble: %zu right, the mean gives %zu", ev.correct,
              correct);
    CHECK(!memcmp(ev.confusion, confusion, sizeof confusion));
    CHECK_MSG(ev.unsure == unsure && unsure > 0 && unsure < N, "unsure %zu, expected %zu",
              ev.unsure, unsure);
    CHECK_MSG(fabs(ev.loss - loss) < 1e-5 * loss, "loss %g, the mean's %g", ev.loss, loss);
    CHECK(ev.ece >= 0.0 && ev.ece <= 1.0);

    /* one model: dn_model_evaluate itself */
    CHECK_OK(dn_models_evaluate(both, 1, &ds, &one, &check_err_));
    CHECK_OK(dn_model_evaluate(a, &ds, &ref, &check_err_));
    CHECK(!memcmp(&one, &ref, sizeof one));
    /* a model with itself: the same answers */
    CHECK_OK(dn_models_evaluate(twice, 2, &ds, &same, &check_err_));
    CHECK(same.correct == ref.correct && !memcmp(same.confusion, ref.confusion, sizeof confusion));
    CHECK(same.unsure == ref.unsure);

    /* refused */
    dn_error err = {{0}};
    const dn_model *many[DN_ENSEMBLE_MAX + 1];
    for (int q = 0; q <= DN_ENSEMBLE_MAX; q++) many[q] = a;
    CHECK(dn_models_evaluate(many, 0, &ds, &ev, &err) == DN_E_ARG);
    CHECK(dn_models_evaluate(many, DN_ENSEMBLE_MAX + 1, &ds, &ev, &err) == DN_E_ARG);
    CHECK_MSG(strstr(err.msg, "ensemble") != NULL, "%s", err.msg);
    dn_dataset unl = {N, 28, 28, img, NULL};
    CHECK(dn_models_evaluate(both, 2, &unl, &ev, NULL) == DN_E_ARG);
out:
    free(img);
    free(lab);
    free(x);
    free(pa);
    free(pb);
    dn_model_free(a);
    dn_model_free(b);
    return check_report("test_ensemble");
}
