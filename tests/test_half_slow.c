/*
 * test_half_slow.c — the shipped models stored as binary16 (the static
 * page's download, docs/site.md) against their float32 originals on the
 * 10,000 MNIST test images: the top digit must agree on at least 99.9% of
 * them and the accuracy move by at most 0.02 points. Prints both figures.
 * Skips (77) without the models or the MNIST test set.
 */
#include "check.h"
#include "digitnet.h"

#include <string.h>
#include <unistd.h>

#define MIN_AGREE 0.999
#define MAX_MOVE 0.02 /* points of accuracy */

static int argmax(const float *p) {
    int b = 0;
    for (int k = 1; k < 10; k++)
        if (p[k] > p[b]) b = k;
    return b;
}

/* Labels of every image in ds by m, into out. */
static int classify(const dn_model *m, const dn_dataset *ds, unsigned char *out) {
    enum { B = 250 };
    dn_infer *inf = NULL;
    if (dn_infer_create(m, B, &inf, NULL) != DN_OK) return -1;
    float *x = malloc(sizeof(float) * B * 784), probs[B * 10];
    int rc = x ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < ds->count; i += B) {
        size_t n = ds->count - i < B ? ds->count - i : B;
        dn_model_inputs_from_pixels(ds->images + i * 784, n * 784, x);
        if (dn_infer_run(inf, x, n, probs, NULL) != DN_OK) rc = -1;
        for (size_t j = 0; rc == 0 && j < n; j++)
            out[i + j] = (unsigned char)argmax(probs + 10 * j);
    }
    free(x);
    dn_infer_free(inf);
    return rc;
}

static void compare(const char *path, const dn_dataset *ds) {
    char dir[] = "/tmp/dn-half-XXXXXX", half[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(half, sizeof half, "%s/half.dnm", dir);
    dn_model *full = NULL, *h = NULL;
    CHECK_OK(dn_model_load(path, &full, NULL));
    if (full) CHECK_OK(dn_model_save_half(full, half, NULL));
    CHECK_OK(dn_model_load(half, &h, NULL));
    unsigned char *a = malloc(ds->count), *b = malloc(ds->count);
    if (full && h && a && b && classify(full, ds, a) == 0 && classify(h, ds, b) == 0) {
        size_t agree = 0, ca = 0, cb = 0;
        for (size_t i = 0; i < ds->count; i++) {
            agree += a[i] == b[i];
            ca += a[i] == ds->labels[i];
            cb += b[i] == ds->labels[i];
        }
        double n = (double)ds->count, move = 100.0 * ((double)cb - (double)ca) / n;
        printf("%s: fp16 agrees with fp32 on %zu of %zu (%.2f%%); accuracy %.2f%% -> %.2f%% "
               "(%+.2f points)\n",
               path, agree, ds->count, 100.0 * agree / n, 100.0 * ca / n, 100.0 * cb / n, move);
        CHECK_MSG(agree >= MIN_AGREE * n, "%s: %zu agree", path, agree);
        CHECK_MSG(fabs(move) <= MAX_MOVE + 1e-9, "%s: accuracy moved %+.2f points", path, move);
    } else {
        CHECK_MSG(0, "%s: could not classify", path);
    }
    free(a);
    free(b);
    dn_model_free(full);
    dn_model_free(h);
    unlink(half);
    rmdir(dir);
}

int main(void) {
    const char *models[] = {"models/mnist-cnn.dnm", "models/mnist-mlp.dnm"};
    dn_dataset ds = {0};
    if (access(models[0], R_OK) != 0 ||
        dn_mnist_load(check_mnist_dir(), "test", &ds, NULL) != DN_OK) {
        printf("skip: needs %s and the MNIST test set in %s\n", models[0], check_mnist_dir());
        return 77;
    }
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) compare(models[i], &ds);
    dn_dataset_free(&ds);
    return check_report("test_half_slow");
}
