/*
 * test_optim.c — the update rules of SGD, momentum, Nesterov momentum and
 * Adam (with its bias correction) and weight decay against steps worked out
 * by hand; learning-rate schedules against their formulas (the per
 * epoch ones ignore the step, onecycle rises linearly to its peak at the
 * warm-up fraction and falls linearly to lr_min), the label-smoothed loss
 * gradient, the trainer refusing out-of-range schedule settings, and a long
 * batch swept in pieces giving the gradient of the whole batch at once.
 */
#include "check.h"
#include "layers/layer.h"
#include "model.h"
#include "optim.h"

#include <string.h>

static int near(double a, double b) {
    return fabs(a - b) <= 1e-6 * (1.0 + fabs(b));
}

static void test_per_epoch(void) {
    dn_train_opts o;
    dn_train_opts_default(&o);
    o.lr = 0.1f;
    o.epochs = 4;
    CHECK(dn_schedule_lr(&o, 2, 7, 10) == 0.1f);
    o.schedule = DN_SCHED_STEP;
    o.step_epochs = 2;
    o.gamma = 0.5f;
    CHECK(near(dn_schedule_lr(&o, 1, 9, 10), 0.1));
    CHECK(near(dn_schedule_lr(&o, 2, 0, 10), 0.05));
    o.schedule = DN_SCHED_COSINE;
    o.lr_min = 0.01f;
    CHECK(near(dn_schedule_lr(&o, 0, 5, 10), 0.1));
    CHECK(near(dn_schedule_lr(&o, 2, 0, 10), 0.055));
    /* the step within the epoch does not move a per-epoch schedule */
    CHECK(dn_schedule_lr(&o, 3, 0, 10) == dn_schedule_lr(&o, 3, 9, 10));
}

static void test_onecycle(void) {
    dn_train_opts o;
    dn_train_opts_default(&o);
    o.schedule = DN_SCHED_ONECYCLE;
    o.lr = 0.01f;
    o.lr_min = 0.0f;
    o.warmup = 0.25f;
    o.epochs = 2;
    const size_t steps = 50; /* 100 steps in all; the peak between steps 24 and 25 */
    double prev = 0, peak = 0;
    int rising = 1, ok_shape = 1;
    for (int e = 0; e < 2; e++)
        for (size_t s = 0; s < steps; s++) {
            double lr = dn_schedule_lr(&o, e, s, steps), p = (e * 50.0 + s + 0.5) / 100.0;
            double want = p < 0.25 ? 0.01 * p / 0.25 : 0.01 * (1 - p) / 0.75;
            CHECK_MSG(near(lr, want), "epoch %d step %zu: lr %g, want %g", e, s, lr, want);
            if (rising && lr < prev) rising = 0, peak = prev;
            if (!rising && lr > prev) ok_shape = 0;
            prev = lr;
        }
    CHECK(!rising && ok_shape);
    CHECK_MSG(peak > 0.0098 && peak <= 0.01f, "peak %g", peak);
    CHECK(prev > 0 && prev < 1e-4); /* the last step: half a step above lr_min */
    o.lr_min = 0.001f;
    CHECK(near(dn_schedule_lr(&o, 1, steps - 1, steps), 0.001 + 0.009 * 0.005 / 0.75));
}

static void test_smoothing(void) {
    float p[2 * 10], d[2 * 10];
    for (int i = 0; i < 20; i++) p[i] = 0.1f;
    unsigned char y[2] = {3, 8};
    dn_softmax_xent_backward(p, y, d, 2, 10, 0.5f, 0.2f);
    for (int i = 0; i < 2; i++) {
        double sum = 0;
        for (int j = 0; j < 10; j++) {
            /* scale * (p - t), t = 0.8 one-hot + 0.02 */
            double want = 0.5 * (0.1 - ((j == y[i] ? 0.8 : 0.0) + 0.02));
            CHECK_MSG(near(d[i * 10 + j], want), "row %d class %d: %g, want %g", i, j,
                      (double)d[i * 10 + j], want);
            sum += d[i * 10 + j];
        }
        CHECK(fabs(sum) < 1e-6);
    }
    /* no smoothing: exactly p - one-hot */
    dn_softmax_xent_backward(p, y, d, 2, 10, 1.0f, 0.0f);
    CHECK(d[3] == 0.1f - 1.0f && d[4] == 0.1f);
}

static void test_rejects(void) {
    static unsigned char img[200 * 784], lab[200];
    dn_dataset ds = {200, 28, 28, img, lab};
    dn_model *m;
    CHECK_OK(dn_model_create("784-10", NULL, 1, &m, &check_err_));
    struct {
        float warmup, lr_min, smoothing, beta1;
    } bad[] = {{1.0f, 0, 0, 0.9f},    {-0.1f, 0, 0, 0.9f}, {0.3f, 1.0f, 0, 0.9f},
               {0.3f, 0, 0.6f, 0.9f}, {0.3f, 0, 0, 1.0f},  {NAN, 0, 0, 0.9f}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dn_train_opts o;
        dn_train_opts_default(&o);
        o.schedule = DN_SCHED_ONECYCLE;
        o.epochs = 1;
        o.val_count = 50;
        o.warmup = bad[i].warmup;
        o.lr_min = bad[i].lr_min;
        o.label_smoothing = bad[i].smoothing;
        o.beta1 = bad[i].beta1;
        dn_error err = {{0}};
        CHECK_MSG(dn_train(m, &ds, &o, NULL, &err) == DN_E_ARG, "case %zu accepted", i);
    }
    /* the optimiser's own settings (a checkpoint's are judged here too) */
    for (int i = 0; i < 6; i++) {
        dn_train_opts o;
        dn_train_opts_default(&o);
        o.epochs = 1;
        o.val_count = 50;
        if (i == 0) o.momentum = NAN;
        if (i == 1) o.momentum = 1.0f;
        if (i == 2) o.eps = 0;
        if (i == 3) o.weight_decay = -1;
        if (i == 4) o.gamma = INFINITY;
        if (i == 5) o.optimizer = (dn_optimizer)7;
        dn_error err = {{0}};
        CHECK_MSG(dn_train(m, &ds, &o, NULL, &err) == DN_E_ARG && strstr(err.msg, "out of range"),
                  "optimiser case %d: %s", i, err.msg);
    }
    dn_model_free(m);
}

/* One full-batch SGD step of dn_train on N images with `threads` threads
 * (each thread's part of 1,024 or more swept in pieces, converted from
 * pixels piece by piece) against the same step from one forward and
 * backward over all of them. */
static void test_sweep(const char *arch, int N, int threads) {
    static unsigned char img[2100 * 784], lab[2100];
    dn_rng r;
    dn_rng_seed(&r, 11);
    for (size_t i = 0; i < (size_t)N * 784; i++) img[i] = (unsigned char)(dn_rng_u64(&r) >> 56);
    for (int i = 0; i < N; i++) lab[i] = (unsigned char)(i % 10);
    dn_model *a, *b;
    CHECK_OK(dn_model_create(arch, NULL, 2, &a, &check_err_));
    CHECK_OK(dn_model_create(arch, NULL, 2, &b, &check_err_));
    dn_train_opts o;
    dn_train_opts_default(&o);
    o.epochs = 1, o.batch = 0, o.lr = 0.1f, o.val_count = 0;
    dn_set_threads(threads);
    dn_dataset ds = {(size_t)N, 28, 28, img, lab};
    CHECK_OK(dn_train(a, &ds, &o, NULL, &check_err_));
    float *x = malloc(sizeof(float) * N * 784), *g = calloc(b->nparams, sizeof(float));
    for (int i = 0; i < N; i++)
        dn_model_inputs_from_pixels(img + (size_t)i * 784, 784, x + (size_t)i * 784);
    dn_exec e;
    CHECK_OK(dn_exec_init(&e, b, N, 1, 1, &check_err_));
    dn_rng_seed(&r, 1);
    dn_exec_forward(&e, x, lab, N, 1, &r, b->state);
    dn_exec_backward(&e, x, lab, N, g, 1.0f / N, 0.0f);
    double worst = 0, moved = 0;
    for (size_t i = 0; i < b->nparams; i++) {
        float w = b->params[i] - 0.1f * g[i];
        worst = fmax(worst, fabs(a->params[i] - w));
        moved = fmax(moved, fabs(a->params[i] - b->params[i]));
    }
    CHECK_MSG(worst < 1e-5 && moved > 1e-4,
              "%s, %d images, %d threads: swept step differs by %g (moved %g)", arch, N, threads,
              worst, moved);
    dn_set_threads(1);
    dn_exec_free(&e);
    free(x), free(g);
    dn_model_free(a), dn_model_free(b);
}

/* Each weight within a float's rounding of the value computed by hand. */
static int close_to(float got, double want) {
    return fabs((double)got - want) <= 4 * 1.2e-7 * fabs(want) + 1e-12;
}

static dn_optim make(dn_optimizer kind, float wd, int nesterov, size_t n) {
    dn_train_opts t;
    dn_train_opts_default(&t);
    t.optimizer = kind;
    t.weight_decay = wd;
    t.nesterov = nesterov;
    t.momentum = 0.5f;
    t.beta1 = 0.8f;
    t.beta2 = 0.9f;
    t.eps = 1e-3f;
    dn_optim o;
    dn_error err = {{0}};
    CHECK(dn_optim_init(&o, &t, n, &err) == DN_OK);
    return o;
}

/* Two steps of each rule on two weights, with the numbers written out. */
static void test_rules_by_hand(void) {
    const float g1[2] = {0.5f, -2.0f}, g2[2] = {-1.0f, 4.0f}, lr = 0.1f;
    /* sgd: w -= lr g */
    dn_optim o = make(DN_OPT_SGD, 0, 0, 2);
    float w[2] = {1.0f, 1.0f};
    dn_optim_step(&o, w, g1, lr);
    CHECK(close_to(w[0], 0.95) && close_to(w[1], 1.2));
    dn_optim_step(&o, w, g2, lr);
    CHECK(close_to(w[0], 1.05) && close_to(w[1], 0.8));
    dn_optim_free(&o);
    /* sgd with weight decay 0.5: w -= lr (g + 0.5 w) */
    o = make(DN_OPT_SGD, 0.5f, 0, 2);
    w[0] = w[1] = 1.0f;
    dn_optim_step(&o, w, g1, lr); /* 1 - 0.1 (0.5 + 0.5) = 0.9; 1 - 0.1 (-2 + 0.5) = 1.15 */
    CHECK_MSG(close_to(w[0], 0.9) && close_to(w[1], 1.15), "%g %g", w[0], w[1]);
    dn_optim_free(&o);
    /* momentum 0.5: v = 0.5 v + g; w -= lr v */
    o = make(DN_OPT_MOMENTUM, 0, 0, 2);
    w[0] = w[1] = 1.0f;
    dn_optim_step(&o, w, g1, lr); /* v = (0.5, -2) */
    CHECK(close_to(w[0], 0.95) && close_to(w[1], 1.2));
    dn_optim_step(&o, w, g2, lr); /* v = (0.25 - 1, -1 + 4) = (-0.75, 3) */
    CHECK(close_to(w[0], 1.025) && close_to(w[1], 0.9));
    dn_optim_free(&o);
    /* Nesterov: v as above; w -= lr (g + 0.5 v) */
    o = make(DN_OPT_MOMENTUM, 0, 1, 2);
    w[0] = w[1] = 1.0f;
    dn_optim_step(&o, w, g1, lr); /* 1 - 0.1 (0.5 + 0.25) ; 1 - 0.1 (-2 - 1) */
    CHECK(close_to(w[0], 0.925) && close_to(w[1], 1.3));
    dn_optim_step(&o, w, g2, lr); /* 0.925 - 0.1 (-1 - 0.375) ; 1.3 - 0.1 (4 + 1.5) */
    CHECK(close_to(w[0], 1.0625) && close_to(w[1], 0.75));
    dn_optim_free(&o);
    /* Adam, b1 0.8, b2 0.9, eps 1e-3.  Step 1: m = 0.2 g, v = 0.1 g^2, and
     * the bias correction makes them g and g^2 again: w -= lr g / (|g| + eps) */
    o = make(DN_OPT_ADAM, 0, 0, 2);
    w[0] = w[1] = 1.0f;
    dn_optim_step(&o, w, g1, lr);
    double a0 = 1 - 0.1 * 0.5 / (0.5 + 1e-3), a1 = 1 + 0.1 * 2 / (2 + 1e-3);
    CHECK_MSG(close_to(w[0], a0) && close_to(w[1], a1), "%.9g %.9g", w[0], w[1]);
    /* step 2: m = 0.8 m + 0.2 g, v = 0.9 v + 0.1 g^2, corrected by 1 - 0.8^2
     * = 0.36 and 1 - 0.9^2 = 0.19 */
    dn_optim_step(&o, w, g2, lr);
    for (int i = 0; i < 2; i++) {
        double m = 0.8 * 0.2 * g1[i] + 0.2 * g2[i];
        double v = 0.9 * 0.1 * g1[i] * g1[i] + 0.1 * g2[i] * g2[i];
        double want = (i ? a1 : a0) - 0.1 * (m / 0.36) / (sqrt(v / 0.19) + 1e-3);
        CHECK_MSG(close_to(w[i], want), "adam step 2, weight %d: %.9g, want %.9g", i, w[i], want);
    }
    CHECK(o.step == 2);
    dn_optim_free(&o);
    /* Adam with weight decay: the decay joins the gradient before the moments */
    o = make(DN_OPT_ADAM, 0.5f, 0, 2);
    w[0] = w[1] = 1.0f;
    dn_optim_step(&o, w, g1, lr); /* g + 0.5 = (1, -1.5) */
    CHECK(close_to(w[0], 1 - 0.1 * 1 / (1 + 1e-3)) && close_to(w[1], 1 + 0.1 * 1.5 / (1.5 + 1e-3)));
    dn_optim_free(&o);
}

/* Many weights, three gradient buffers and two threads give the same bits
 * as one thread stepping with the summed gradient. */
static void test_sum_and_threads(void) {
    const size_t n = 10000;
    float *w1 = malloc(n * sizeof *w1), *w2 = malloc(n * sizeof *w2), *g[3], *sum = malloc(n * 4);
    for (int j = 0; j < 3; j++) g[j] = malloc(n * sizeof(float));
    dn_rng r;
    dn_rng_seed(&r, 7);
    for (size_t i = 0; i < n; i++) {
        w1[i] = w2[i] = (float)dn_rng_normal(&r);
        for (int j = 0; j < 3; j++) g[j][i] = (float)dn_rng_normal(&r);
        sum[i] = (g[0][i] + g[1][i]) + g[2][i];
    }
    for (dn_optimizer kind = DN_OPT_SGD; kind <= DN_OPT_ADAM; kind++) {
        dn_optim a = make(kind, 1e-3f, 1, n), b = make(kind, 1e-3f, 1, n);
        for (int step = 0; step < 3; step++) {
            dn_optim_step_sum(&a, w1, (const float *const *)g, 3, 0.01f, 2);
            dn_optim_step(&b, w2, sum, 0.01f);
        }
        CHECK_MSG(!memcmp(w1, w2, n * sizeof *w1), "optimiser %d: threads or sums change bits",
                  (int)kind);
        dn_optim_free(&a), dn_optim_free(&b);
    }
    for (int j = 0; j < 3; j++) free(g[j]);
    free(w1), free(w2), free(sum);
}

/* The clearing step updates the weights exactly as the plain one and
 * leaves every gradient buffer zero, on one thread and on two. */
static void test_step_clears(void) {
    const size_t n = 10000 + 7; /* past a block, and not a multiple of 16 */
    for (int threads = 1; threads <= 2; threads++) {
        float *w1 = malloc(n * sizeof *w1), *w2 = malloc(n * sizeof *w2), *g[2], *h[2];
        for (int j = 0; j < 2; j++) g[j] = malloc(n * sizeof(float)), h[j] = malloc(n * 4);
        dn_rng r;
        dn_rng_seed(&r, 11);
        dn_optim a = make(DN_OPT_ADAM, 1e-3f, 1, n), b = make(DN_OPT_ADAM, 1e-3f, 1, n);
        for (size_t i = 0; i < n; i++) w1[i] = w2[i] = (float)dn_rng_normal(&r);
        for (int step = 0; step < 2; step++) {
            for (size_t i = 0; i < n; i++)
                for (int j = 0; j < 2; j++) g[j][i] = h[j][i] = (float)dn_rng_normal(&r);
            dn_optim_step_sum_clear(&a, w1, g, 2, 0.01f, threads);
            dn_optim_step_sum(&b, w2, (const float *const *)h, 2, 0.01f, threads);
            size_t nonzero = 0;
            for (size_t i = 0; i < n; i++) nonzero += g[0][i] != 0.0f || g[1][i] != 0.0f;
            CHECK_MSG(nonzero == 0, "%zu gradients left after a clearing step (%d threads)",
                      nonzero, threads);
        }
        CHECK_MSG(!memcmp(w1, w2, n * sizeof *w1), "clearing changes the update (%d threads)",
                  threads);
        dn_optim_free(&a), dn_optim_free(&b);
        for (int j = 0; j < 2; j++) free(g[j]), free(h[j]);
        free(w1), free(w2);
    }
}

/* One table of names: each parses back to its value. */
static void test_names(void) {
    for (int i = 0; i <= DN_OPT_ADAM; i++) {
        dn_optimizer o;
        CHECK(dn_optimizer_parse(dn_optimizer_name((dn_optimizer)i), &o) == DN_OK && (int)o == i);
    }
    for (int i = 0; i <= DN_SCHED_ONECYCLE; i++) {
        dn_schedule sc;
        CHECK(dn_schedule_parse(dn_schedule_name((dn_schedule)i), &sc) == DN_OK && (int)sc == i);
    }
    dn_optimizer o;
    CHECK(dn_optimizer_parse("nesterov", &o) == DN_OK && o == DN_OPT_MOMENTUM);
    CHECK(dn_optimizer_parse("adagrad", &o) == DN_E_ARG);
    CHECK(!strcmp(dn_schedule_name((dn_schedule)9), "?"));
}

int main(void) {
    test_names();
    test_rules_by_hand();
    test_sum_and_threads();
    test_step_clears();
    test_per_epoch();
    test_onecycle();
    test_smoothing();
    test_rejects();
    test_sweep("tutorial", 1100, 1);
    test_sweep("conv3x3x4s2-relu-conv3x3x6-relu-pool2-fc16-relu-fc10", 1100, 1);
    /* two parts, of 1,024 and 1,023 images: both swept */
    test_sweep("tutorial", 2047, 2);
    test_sweep("784-32-10", 2100, 2);
    return check_report("test_optim");
}
