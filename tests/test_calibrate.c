/*
 * test_calibrate.c — temperature scaling and the "not sure" rule
 * (calibrate.c):
 *   - dn_probs_unsure: the 80% threshold, best and runner-up, ties, NaN;
 *   - the "temperature" metadata accepts only numbers in 0.05..20, and
 *     every inference path applies it: softmax(log p / T);
 *   - dn_model_calibrate recovers the temperature that generated the
 *     labels, keeps the accuracy and lowers the calibration error;
 *   - the temperature survives save and load; a file with one out of range
 *     is refused with a message naming it.
 */
#include "check.h"
#include "digitnet.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static uint64_t rng_state = 12345;
static double uniform(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static void test_unsure(void) {
    float p[10] = {0};
    int b = -1, r = -1;
    p[3] = 0.8f, p[5] = 0.2f;
    CHECK(dn_probs_unsure(p, &b, &r) == 0 && b == 3 && r == 5);
    p[3] = 0.79f, p[5] = 0.21f;
    CHECK(dn_probs_unsure(p, &b, &r) == 1 && b == 3 && r == 5);
    float q[10] = {0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f};
    CHECK(dn_probs_unsure(q, &b, &r) == 1 && b == 0 && r == 1); /* ties: the lowest digits */
    float s[10] = {0};
    s[9] = 0.6f, s[0] = 0.3f, s[4] = 0.1f;
    CHECK(dn_probs_unsure(s, NULL, &r) == 1 && r == 0);
    CHECK(dn_probs_unsure(s, &b, NULL) == 1 && b == 9);
    float n[10];
    for (int i = 0; i < 10; i++) n[i] = NAN;
    CHECK(dn_probs_unsure(n, &b, &r) == 1 && b >= 0 && b < 10 && r >= 0 && r < 10 && b != r);
}

static void test_meta(void) {
    dn_model *m = NULL;
    CHECK_OK(dn_model_create("784-16-10", NULL, 1, &m, &check_err_));
    if (!m) return;
    CHECK(dn_model_temperature(m) == 1.0);
    CHECK(dn_model_set_meta(m, "temperature", "2.5") == DN_OK);
    CHECK(dn_model_temperature(m) == 2.5);
    const char *bad[] = {"0", "0.01", "21", "abc", "2x", "", "nan", "inf", "-1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_MSG(dn_model_set_meta(m, "temperature", bad[i]) == DN_E_ARG, "'%s'", bad[i]);
    CHECK(dn_model_temperature(m) == 2.5);
    CHECK(dn_model_set_meta(m, "temperature", "0.05") == DN_OK);
    CHECK(dn_model_set_meta(m, "temperature", "20") == DN_OK);

    /* every probability is softmax(log p1 / T): T divides the logits */
    float x[3 * 784], p1[30], p2[30];
    for (int i = 0; i < 3 * 784; i++) x[i] = (float)uniform();
    CHECK(dn_model_set_meta(m, "temperature", "1") == DN_OK);
    CHECK_OK(dn_model_predict(m, x, 3, p1, &check_err_));
    CHECK(dn_model_set_meta(m, "temperature", "2") == DN_OK);
    CHECK_OK(dn_model_predict(m, x, 3, p2, &check_err_));
    double worst = 0;
    for (int i = 0; i < 3; i++) {
        double e[10], sum = 0;
        for (int j = 0; j < 10; j++) sum += e[j] = exp(log((double)p1[i * 10 + j]) / 2);
        for (int j = 0; j < 10; j++) {
            double d = fabs(e[j] / sum - p2[i * 10 + j]);
            if (d > worst) worst = d;
        }
    }
    CHECK_MSG(worst < 1e-5, "worst difference %g", worst);
    dn_infer *ctx = NULL;
    CHECK_OK(dn_infer_create(m, 4, &ctx, &check_err_));
    float p3[30];
    if (ctx) CHECK_OK(dn_infer_run(ctx, x, 3, p3, &check_err_));
    CHECK(ctx && !memcmp(p2, p3, sizeof p2));
    dn_infer_free(ctx);
    dn_model_free(m);
}

/* Labels drawn from the model's own softmax at temperature 0.5: the fit
 * from T = 1 must find about 0.5. */
static void test_fit(const char *dir) {
    enum { N = 4000 };
    dn_model *m = NULL;
    CHECK_OK(dn_model_create("784-32-10", NULL, 3, &m, &check_err_));
    unsigned char *img = malloc((size_t)N * 784), *lab = malloc(N);
    float *x = malloc(sizeof(float) * N * 784), *p = malloc(sizeof(float) * N * 10);
    if (!m || !img || !lab || !x || !p) {
        CHECK(0);
        goto out;
    }
    for (size_t i = 0; i < (size_t)N * 784; i++) img[i] = (unsigned char)(uniform() * 256);
    dn_model_inputs_from_pixels(img, (size_t)N * 784, x);
    CHECK(dn_model_set_meta(m, "temperature", "0.5") == DN_OK);
    CHECK_OK(dn_model_predict(m, x, N, p, &check_err_));
    for (int i = 0; i < N; i++) {
        double u = uniform(), c = 0;
        int k = 0;
        while (k < 9 && (c += p[i * 10 + k]) <= u) k++;
        lab[i] = (unsigned char)k;
    }
    dn_dataset ds = {N, 28, 28, img, lab};
    CHECK(dn_model_set_meta(m, "temperature", "1") == DN_OK);
    dn_eval before, after;
    CHECK_OK(dn_model_evaluate(m, &ds, &before, &check_err_));
    double t = 0;
    CHECK_OK(dn_model_calibrate(m, &ds, &t, &check_err_));
    CHECK_MSG(fabs(t - 0.5) < 0.05, "fitted temperature %g, labels drawn at 0.5", t);
    CHECK(dn_model_temperature(m) == t);
    CHECK_OK(dn_model_evaluate(m, &ds, &after, &check_err_));
    CHECK(after.correct == before.correct);
    CHECK_MSG(after.ece < before.ece, "ECE %g -> %g", before.ece, after.ece);
    CHECK_MSG(after.loss < before.loss, "loss %g -> %g", before.loss, after.loss);
    CHECK(after.unsure <= after.count && after.unsure_correct <= after.unsure);

    /* the fit does not depend on the temperature the model held */
    CHECK(dn_model_set_meta(m, "temperature", "7") == DN_OK);
    double t2 = 0;
    CHECK_OK(dn_model_calibrate(m, &ds, &t2, &check_err_));
    CHECK(t2 == t);

    /* errors */
    dn_dataset unl = {N, 28, 28, img, NULL}, empty = {0, 28, 28, img, lab};
    CHECK(dn_model_calibrate(m, &unl, NULL, NULL) == DN_E_ARG);
    CHECK(dn_model_calibrate(m, &empty, NULL, NULL) == DN_E_ARG);
    lab[7] = 10;
    CHECK(dn_model_calibrate(m, &ds, NULL, NULL) == DN_E_ARG);
    CHECK(dn_model_temperature(m) == t);

    /* save and load keep it; an out of range value in a file is refused */
    char path[512];
    snprintf(path, sizeof path, "%s/t.dnm", dir);
    CHECK_OK(dn_model_save(m, path, &check_err_));
    dn_model *back = NULL;
    CHECK_OK(dn_model_load(path, &back, &check_err_));
    CHECK(back && dn_model_temperature(back) == t);
    dn_model_free(back);
    FILE *f = fopen(path, "rb");
    static unsigned char buf[1 << 20];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    unsigned char *hit = NULL;
    for (size_t i = 0; i + 11 < n && !hit; i++)
        if (!memcmp(buf + i, "temperature", 11)) hit = buf + i + 11 + 4; /* u32 length, value */
    CHECK(hit != NULL);
    if (hit) {
        hit[0] = '9', hit[1] = '9'; /* 0.5... becomes 995...: far above 20 */
        uint32_t crc = (uint32_t)crc32(0, buf, (uInt)(n - 4));
        for (int k = 0; k < 4; k++) buf[n - 4 + k] = (unsigned char)(crc >> (8 * k));
        f = fopen(path, "wb");
        if (f) fwrite(buf, 1, n, f), fclose(f);
        dn_error err = {{0}};
        CHECK(dn_model_load(path, &back, &err) == DN_E_FORMAT && !back);
        CHECK_MSG(strstr(err.msg, "temperature") != NULL, "%s", err.msg);
    }
    unlink(path);
out:
    free(img);
    free(lab);
    free(x);
    free(p);
    dn_model_free(m);
}

int main(void) {
    char dir[] = "/tmp/dn-calibrate-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    dn_set_threads(1);
    test_unsure();
    test_meta();
    test_fit(dir);
    rmdir(dir);
    return check_report("test_calibrate");
}
