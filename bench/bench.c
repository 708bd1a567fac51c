/*
 * bench.c — digitnet's side of `make bench`: training throughput (images/s)
 * for the MLP, LeNet-5 and the CNN presets at batch 64 with SGD+momentum,
 * batched inference (batch 1000), single-image latency, and GEMM GFLOP/s of
 * the portable kernel against OpenBLAS sgemm in the same run. Prints one
 * "key value" line per figure for bench/run to pair with PyTorch's.
 * A benchmark, not a test: it asserts nothing.
 */
#include "kernels/gemm.h"
#include "model.h"
#include "optim.h"

#include <string.h>

static double train_rate(const char *arch, int batch, double min_seconds, int nimages) {
    dn_model *m;
    dn_error err;
    if (dn_model_create(arch, NULL, 1, &m, &err) != DN_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 0;
    }
    dn_exec e;
    dn_train_opts o;
    dn_train_opts_default(&o);
    o.optimizer = DN_OPT_MOMENTUM;
    dn_optim opt;
    dn_exec_init(&e, m, batch, dn_get_threads(), 1, &err);
    dn_optim_init(&opt, &o, m->nparams, &err);
    float *x = malloc(sizeof(float) * 784 * (size_t)nimages), *g = calloc(m->nparams, 4);
    unsigned char *y = malloc((size_t)nimages);
    dn_rng r;
    dn_rng_seed(&r, 3);
    for (size_t i = 0; i < 784 * (size_t)nimages; i++) x[i] = (float)dn_rng_uniform(&r);
    for (int i = 0; i < nimages; i++) y[i] = (unsigned char)(i % 10);
    double t0 = 0, done = 0;
    for (int pass = 0;; pass++) {
        for (int b = 0; b + batch <= nimages; b += batch) {
            if (pass == 0 && b == 4 * batch) t0 = dn_now(), done = 0; /* warm-up */
            memset(g, 0, 4 * m->nparams);
            dn_exec_forward(&e, x + (size_t)b * 784, y + b, batch, 1, &r, m->state);
            dn_exec_backward(&e, x + (size_t)b * 784, y + b, batch, g, 1.0f / batch);
            dn_optim_step(&opt, m->params, g, 0.01f);
            done += batch;
        }
        if (t0 > 0 && dn_now() - t0 > min_seconds) break;
    }
    double rate = done / (dn_now() - t0);
    free(x), free(g), free(y);
    dn_optim_free(&opt);
    dn_exec_free(&e);
    dn_model_free(m);
    return rate;
}

static void infer(const char *arch, double *batch_rate, double *latency_us) {
    dn_model *m;
    dn_model_create(arch, NULL, 1, &m, NULL);
    dn_infer *ctx;
    dn_exec e;
    dn_exec_init(&e, m, 1000, dn_get_threads(), 0, NULL);
    float *x = malloc(sizeof(float) * 784 * 1000), p[10];
    for (int i = 0; i < 784 * 1000; i++) x[i] = (float)(i % 255) / 255.0f;
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

static double gemm_gflops(int backend, int n) {
    float *a = malloc(4L * n * n), *b = malloc(4L * n * n), *c = malloc(4L * n * n);
    for (long i = 0; i < (long)n * n; i++) a[i] = b[i] = (float)(i % 7) * 0.1f;
    dn_gemm_set_backend(backend);
    dn_gemm(0, 0, n, n, n, 1, a, n, b, n, 0, c, n);
    double t0 = dn_now();
    int reps = 0;
    do {
        dn_gemm(0, 0, n, n, n, 1, a, n, b, n, 0, c, n);
        reps++;
    } while (dn_now() - t0 < 1.0);
    double g = 2.0 * n * n * n * reps / (dn_now() - t0) / 1e9;
    dn_gemm_set_backend(DN_GEMM_AUTO);
    free(a), free(b), free(c);
    return g;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    double secs = argc > 2 ? atof(argv[2]) : 3.0;
    dn_set_threads(threads);
    printf("threads %d\n", threads);
    printf("train_mlp %.0f\n", train_rate("mlp", 64, secs, 6400));
    printf("train_lenet5 %.0f\n", train_rate("lenet5", 64, secs, 6400));
    printf("train_torchcnn %.0f\n", train_rate("torchcnn", 64, secs, 1280));
    printf("train_cnn %.0f\n", train_rate("cnn", 64, secs, 1280));
    double rate, lat;
    infer("cnn", &rate, &lat);
    printf("infer_batch_cnn %.0f\nlatency_us_cnn %.1f\n", rate, lat);
    infer("mlp", &rate, &lat);
    printf("infer_batch_mlp %.0f\nlatency_us_mlp %.1f\n", rate, lat);
    printf("gemm_portable_gflops %.1f\n", gemm_gflops(DN_GEMM_PORTABLE, 512));
    if (dn_gemm_have_cblas())
        printf("gemm_openblas_gflops %.1f\n", gemm_gflops(DN_GEMM_CBLAS, 512));
    return 0;
}
