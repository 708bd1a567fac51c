/*
 * bench.c — digitnet's side of `make bench`: training throughput (images/s)
 * for the MLP, LeNet-5 and the CNN presets at batch 64 with SGD+momentum on
 * MNIST training images, batched inference (batch 1000), single-image
 * latency, and the ceilings of this machine measured in the same run: GEMM
 * GFLOP/s of the portable kernel and of OpenBLAS sgemm, and the memory
 * bandwidth of a streaming pass. Prints one "key value" line per figure
 * for bench/run to pair with PyTorch's. A benchmark, not a test: it asserts
 * nothing.
 *
 *   bench THREADS SECONDS MNIST_DIR
 */
#include "kernels/gemm.h"
#include "model.h"
#include "refblas.h"

#include <string.h>

static int last_rate(const dn_progress *p, void *user) {
    if (p->epoch_done) *(double *)user = p->images_per_sec;
    return 0;
}

static dn_dataset mnist; /* the training set, loaded once */

/* Images/s of dn_train itself (batch split across threads, data
 * conversion and optimiser included) on the first nimages MNIST training
 * images: the last of `epochs` passes, after the first has warmed caches. */
static double train_rate(const char *arch, int batch, int epochs, int nimages) {
    dn_model *m;
    dn_error err;
    if (dn_model_create(arch, NULL, 1, &m, &err) != DN_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 0;
    }
    if ((size_t)nimages > mnist.count) nimages = (int)mnist.count;
    dn_dataset ds = {(size_t)nimages, 28, 28, mnist.images, mnist.labels};
    dn_train_opts o;
    dn_train_opts_default(&o);
    o.optimizer = DN_OPT_MOMENTUM;
    o.lr = 0.01f;
    o.batch = batch;
    o.epochs = epochs;
    o.val_count = 0;
    double rate = 0;
    o.progress = last_rate;
    o.progress_user = &rate;
    o.progress_every = 1000000;
    if (dn_train(m, &ds, &o, NULL, &err) != DN_OK) fprintf(stderr, "%s\n", err.msg);
    dn_model_free(m);
    return rate;
}

static void infer(const char *arch, double *batch_rate, double *latency_us) {
    dn_model *m;
    dn_model_create(arch, NULL, 1, &m, NULL);
    dn_infer *ctx;
    dn_exec e;
    dn_exec_init(&e, m, 1000, dn_get_threads(), DN_EXEC_FUSED, NULL);
    float *x = malloc(sizeof(float) * 784 * 1000), p[10];
    dn_model_inputs_from_pixels(mnist.images, 784 * 1000, x);
    dn_exec_forward(&e, x, NULL, 1000, 0, NULL, NULL);
    double t0 = dn_now();
    int reps = 0;
    do {
        dn_exec_forward(&e, x, NULL, 1000, 0, NULL, NULL);
        reps++;
    } while (dn_now() - t0 < 1.0);
    *batch_rate = reps * 1000.0 / (dn_now() - t0);
    dn_infer_create(m, 1, &ctx, NULL);
    for (int i = 0; i < 100; i++) dn_infer_run(ctx, x + (i % 1000) * 784, 1, p, NULL);
    t0 = dn_now();
    reps = 0;
    do {
        dn_infer_run(ctx, x + (reps % 1000) * 784, 1, p, NULL);
        reps++;
    } while (dn_now() - t0 < 1.0);
    *latency_us = (dn_now() - t0) / reps * 1e6;
    dn_infer_free(ctx);
    dn_exec_free(&e);
    free(x);
    dn_model_free(m);
}

typedef void (*gemm_fn)(int, int, int, int, int, float, const float *, int, const float *, int,
                        float, float *, int);

static double gemm_gflops(gemm_fn gemm, int n) {
    float *a = malloc(4L * n * n), *b = malloc(4L * n * n), *c = malloc(4L * n * n);
    for (long i = 0; i < (long)n * n; i++) a[i] = b[i] = (float)(i % 7) * 0.1f;
    gemm(0, 0, n, n, n, 1, a, n, b, n, 0, c, n);
    double t0 = dn_now();
    int reps = 0;
    do {
        gemm(0, 0, n, n, n, 1, a, n, b, n, 0, c, n);
        reps++;
    } while (dn_now() - t0 < 1.0);
    double g = 2.0 * n * n * n * reps / (dn_now() - t0) / 1e9;
    free(a), free(b), free(c);
    return g;
}

/* GB/s of a streaming pass b = 1.5 a + b over 64 MiB (2 reads, 1 write). */
static double bandwidth(int threads) {
    size_t n = (size_t)16 << 20;
    float *a = malloc(n * 4), *b = malloc(n * 4);
    for (size_t i = 0; i < n; i++) a[i] = b[i] = 1.0f;
    double best = 0;
    for (int r = 0; r < 5; r++) {
        double t0 = dn_now();
#pragma omp parallel for num_threads(threads) schedule(static)
        for (size_t i = 0; i < n; i++) b[i] = 1.5f * a[i] + b[i];
        double gb = 12.0 * (double)n / (dn_now() - t0) / 1e9;
        if (gb > best) best = gb;
    }
    free(a), free(b);
    return best;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    double secs = argc > 2 ? atof(argv[2]) : 3.0;
    const char *dir = argc > 3 ? argv[3] : "data/mnist";
    dn_error err;
    if (dn_mnist_load(dir, "train", &mnist, &err) != DN_OK) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 1;
    }
    dn_set_threads(threads);
    printf("threads %d\n", threads);
    int scale = secs > 1.0 ? (int)secs : 1; /* longer runs for steadier figures */
    printf("train_mlp %.0f\n", train_rate("mlp", 64, 3, 60000 * scale / 3));
    printf("train_lenet5 %.0f\n", train_rate("lenet5", 64, 2, 8000 * scale));
    printf("train_torchcnn %.0f\n", train_rate("torchcnn", 64, 2, 640 * scale));
    printf("train_cnn %.0f\n", train_rate("cnn", 64, 2, 512 * scale));
    /* the tutorial network, full batch over 55,000 images: ms per iteration */
    printf("tutorial_ms %.2f\n", 55000 * 1000.0 / train_rate("tutorial", 0, 6, 55000));
    double rate, lat;
    infer("cnn", &rate, &lat);
    printf("infer_batch_cnn %.0f\nlatency_us_cnn %.1f\n", rate, lat);
    infer("mlp", &rate, &lat);
    printf("infer_batch_mlp %.0f\nlatency_us_mlp %.1f\n", rate, lat);
    printf("gemm_portable_gflops %.1f\n", gemm_gflops(dn_gemm_portable, 512));
    ref_blas_threads(threads);
    if (ref_blas_available()) printf("gemm_openblas_gflops %.1f\n", gemm_gflops(ref_sgemm, 512));
    printf("bandwidth_gbs %.1f\n", bandwidth(threads));
    dn_dataset_free(&mnist);
    return 0;
}
