/*
 * test_model.c — architecture parsing (accepted and rejected strings), model
 * file round trip for every layer type, corruption detection, batch-norm
 * train/inference consistency, inference contexts agreeing with evaluation,
 * and an inference context's prepared Winograd weights giving exactly what
 * a training executor computes from the parameters themselves.
 */
#include "check.h"
#include "model.h"
#include "spec.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>

/* Property: for random valid specs, format -> parse -> format is the
 * identity and every parsed value is the one formatted (dropout
 * probabilities from all over [0, 1): tiny, near 1, random bits), so that
 * no value can be saved that does not load back. */
static void test_spec_roundtrip(void) {
    dn_rng r;
    dn_rng_seed(&r, 17);
    static const char *fixed[] = {"relu",          "tanh",  "sigmoid",  "bn",
                                  "flatten",       "pool2", "avgpool2", "conv3x3x4p1",
                                  "conv5x5x2s2p2", "fc12"};
    size_t bad = 0;
    for (int it = 0; it < 3000; it++) {
        char arch[1024] = "";
        size_t len = 0;
        int tokens = 1 + (int)(dn_rng_u64(&r) % 6);
        for (int k = 0; k < tokens; k++) {
            char tok[80];
            if (dn_rng_u64(&r) % 2) {
                float p;
                switch (dn_rng_u64(&r) % 4) {
                case 0:
                    p = (float)dn_rng_uniform(&r);
                    break;
                case 1: /* tiny: down to denormals */
                    p = ldexpf(1.0f + (float)dn_rng_uniform(&r), -(int)(dn_rng_u64(&r) % 140));
                    break;
                case 2: /* within a few ulps of 1 */
                    p = nextafterf(1.0f, 0.0f);
                    for (int u = (int)(dn_rng_u64(&r) % 50); u > 0; u--) p = nextafterf(p, 0.0f);
                    break;
                default: /* a random bit pattern of [0, 1) */
                    do {
                        uint32_t bits = (uint32_t)(dn_rng_u64(&r) >> 34);
                        memcpy(&p, &bits, 4);
                    } while (!(p >= 0 && p < 1));
                }
                if (p >= 1.0f) p = 0.5f;
                snprintf(tok, sizeof tok, "drop%.9g", (double)p);
                if (strchr(tok, 'e')) snprintf(tok, sizeof tok, "drop%.60f", (double)p);
            } else {
                snprintf(tok, sizeof tok, "%s", fixed[dn_rng_u64(&r) % 10]);
            }
            len += (size_t)snprintf(arch + len, sizeof arch - len, "%s-", tok);
        }
        strcat(arch, "fc10");
        dn_spec a, b;
        char f1[1024], f2[1024];
        if (dn_spec_parse(arch, NULL, &a, NULL) != DN_OK) {
            bad++;
            continue;
        }
        CHECK(dn_spec_format(&a, f1, sizeof f1) == DN_OK);
        CHECK_MSG(dn_spec_parse(f1, NULL, &b, NULL) == DN_OK, "'%s' does not parse back", f1);
        CHECK(dn_spec_format(&b, f2, sizeof f2) == DN_OK);
        CHECK_MSG(!strcmp(f1, f2), "'%s' formats as '%s'", f1, f2);
        for (int i = 0; i < a.count && i < b.count; i++)
            CHECK_MSG(a.layers[i].p == b.layers[i].p, "'%s': layer %d p %.9g became %.9g", arch, i,
                      (double)a.layers[i].p, (double)b.layers[i].p);
    }
    CHECK_MSG(bad == 0, "%zu generated specs were refused", bad);
    /* values that round to 1 as floats are refused, not stored as 1 */
    dn_spec s;
    CHECK(dn_spec_parse("fc64-relu-drop0.99999999-fc10", NULL, &s, NULL) == DN_E_ARG);
    CHECK(dn_spec_parse("fc64-relu-drop0.9999999-fc10", NULL, &s, NULL) == DN_OK);
}

static void test_spec(void) {
    static const char *good[] = {
        "784-10",
        "784-128-64-10",
        "mlp",
        "lenet5",
        "cnn",
        "tutorial",
        "conv5x5x32-relu-pool2-conv5x5x64-relu-pool2-fc128-relu-drop0.5-fc10",
        "784-fc10",
        "conv3x3x16same-bn-relu-avgpool2-conv3x3x10s2p1-gap",
        "dense32-sigmoid-dropout-fc10"};
    static const char *bad[] = {"",         "785-10",         "784-128",     "conv3x3-fc10",
                                "fc0-fc10", "relu-fc10x",     "pool99-fc10", "drop1.5-fc10",
                                "784--10",  "conv3x5x8-fc10", "fc10-swish",  "conv3x3x8p3-fc10"};
    char buf[1024];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        dn_model *m = NULL;
        dn_error err = {{0}};
        dn_status st = dn_model_create(good[i], NULL, 1, &m, &err);
        CHECK_MSG(st == DN_OK, "'%s' rejected: %s", good[i], err.msg);
        if (!m) continue;
        /* the canonical form parses back to the same architecture */
        dn_model *m2 = NULL;
        strcpy(buf, dn_model_arch(m));
        CHECK_OK(dn_model_create(buf, NULL, 1, &m2, NULL));
        if (m2) CHECK(!strcmp(dn_model_arch(m2), buf) && m2->nparams == m->nparams);
        dn_model_free(m2);
        dn_model_free(m);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dn_model *m = (dn_model *)&buf;
        dn_error err = {{0}};
        dn_status st = dn_model_create(bad[i], NULL, 1, &m, &err);
        CHECK_MSG(st == DN_E_ARG && m == NULL && err.msg[0], "'%s' accepted", bad[i]);
    }
    dn_model *m = NULL;
    CHECK(dn_model_create("784-10", "swish", 1, &m, NULL) == DN_E_ARG);
}

static void test_roundtrip(const char *dir) {
    static const char *archs[] = {
        "784-32-10",
        "conv3x3x4p1-bn-relu-pool2-conv3x3x4s2-tanh-avgpool2-drop0.3-fc16-sigmoid-fc10",
        "conv3x3x10-gap", "conv3x3x2-flatten-fc10"};
    char path[512];
    snprintf(path, sizeof path, "%s/m.dnm", dir);
    for (size_t a = 0; a < sizeof archs / sizeof archs[0]; a++) {
        dn_model *m = NULL, *l = NULL;
        CHECK_OK(dn_model_create(archs[a], NULL, 11, &m, NULL));
        for (size_t i = 0; i < m->nstate; i++) m->state[i] = 0.5f + (float)i; /* non-default */
        dn_model_set_meta(m, "note", "round trip");
        dn_error err = {{0}};
        CHECK_OK(dn_model_save(m, path, &err));
        CHECK_OK(dn_model_load(path, &l, &err));
        if (!l) {
            dn_model_free(m);
            continue;
        }
        CHECK(!strcmp(dn_model_arch(m), dn_model_arch(l)));
        CHECK(m->nparams == l->nparams && m->nstate == l->nstate);
        CHECK(!memcmp(m->params, l->params, m->nparams * sizeof(float)));
        CHECK(!memcmp(m->state, l->state, m->nstate * sizeof(float)));
        CHECK(dn_model_get_meta(l, "note") && !strcmp(dn_model_get_meta(l, "note"), "round trip"));
        /* predictions agree exactly */
        float x[2 * 784], p1[20], p2[20];
        for (int i = 0; i < 2 * 784; i++) x[i] = (float)((i * 37) % 255) / 255.0f;
        CHECK_OK(dn_model_predict(m, x, 2, p1, NULL));
        CHECK_OK(dn_model_predict(l, x, 2, p2, NULL));
        CHECK(!memcmp(p1, p2, sizeof p1));
        dn_model_free(l);
        dn_model_free(m);
    }
}

static void test_corruption(const char *dir) {
    char path[512], bad[512];
    snprintf(path, sizeof path, "%s/c.dnm", dir);
    snprintf(bad, sizeof bad, "%s/bad.dnm", dir);
    dn_model *m = NULL;
    CHECK_OK(dn_model_create("784-16-10", NULL, 1, &m, NULL));
    CHECK_OK(dn_model_save(m, path, NULL));
    dn_model_free(m);
    FILE *f = fopen(path, "rb");
    unsigned char buf[70000];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    CHECK(n > 1000 && n < sizeof buf);
    /* every truncation length and a flipped byte at many offsets must fail cleanly */
    for (size_t len = 0; len < n; len += 1 + len / 3) {
        f = fopen(bad, "wb");
        fwrite(buf, 1, len, f);
        fclose(f);
        dn_error err = {{0}};
        m = NULL;
        dn_status st = dn_model_load(bad, &m, &err);
        CHECK_MSG(st != DN_OK && m == NULL && strstr(err.msg, bad), "truncated at %zu", len);
    }
    for (size_t off = 0; off < n; off += 97) {
        buf[off] ^= 0x40;
        f = fopen(bad, "wb");
        fwrite(buf, 1, n, f);
        fclose(f);
        buf[off] ^= 0x40;
        m = NULL;
        dn_status st = dn_model_load(bad, &m, NULL);
        CHECK_MSG(st != DN_OK && m == NULL, "flipped byte at %zu accepted", off);
    }
    /* the version check names the problem */
    buf[8] = 9;
    f = fopen(bad, "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
    dn_error err = {{0}};
    CHECK(dn_model_load(bad, &m, &err) == DN_E_UNSUPPORTED && strstr(err.msg, "newer"));
}

/* Batch norm: in inference mode with running statistics equal to the batch
 * statistics, outputs match training mode. */
static void test_batchnorm_modes(void) {
    dn_model *m = NULL;
    CHECK_OK(dn_model_create("conv3x3x4s3-bn-relu-fc10", NULL, 2, &m, NULL));
    enum { N = 16 };
    float x[N * 784];
    for (int i = 0; i < N * 784; i++) x[i] = (float)((i * 7919) % 1000) / 1000.0f;
    dn_exec e;
    CHECK_OK(dn_exec_init(&e, m, N, 1, 1, NULL));
    /* momentum 0.1: many identical batches drive the running stats to the batch stats */
    for (int it = 0; it < 300; it++) dn_exec_forward(&e, x, NULL, N, 1, NULL, m->state);
    float train_probs[N * 10];
    memcpy(train_probs, e.probs, sizeof train_probs);
    /* the running variance is unbiased (m/(m-1)), so allow a small difference */
    dn_exec_forward(&e, x, NULL, N, 0, NULL, NULL);
    double worst = 0;
    for (int i = 0; i < N * 10; i++) worst = fmax(worst, fabs(train_probs[i] - e.probs[i]));
    CHECK_MSG(worst < 2e-3, "batch norm train/inference differ by %g", worst);
    dn_exec_free(&e);
    dn_model_free(m);
}

/* The header's promises about NULL arguments (dn_model_predict with NULL
 * probs used to crash). */
static void test_null_arguments(void) {
    dn_model *m = NULL;
    CHECK_OK(dn_model_create("784-8-10", NULL, 1, &m, NULL));
    if (!m) return;
    float x[784] = {0}, p[10];
    dn_error err = {{0}};
    CHECK(dn_model_predict(m, x, 1, NULL, &err) == DN_E_ARG && strstr(err.msg, "probs"));
    CHECK(dn_model_predict(m, NULL, 1, p, &err) == DN_E_ARG);
    CHECK(dn_model_predict(NULL, x, 1, p, &err) == DN_E_ARG);
    CHECK_OK(dn_model_predict(m, x, 1, p, NULL));
    dn_infer *ctx = NULL;
    CHECK_OK(dn_infer_create(m, 4, &ctx, NULL));
    CHECK(dn_infer_run(ctx, x, 1, NULL, &err) == DN_E_ARG);
    CHECK(dn_infer_run(NULL, x, 1, p, &err) == DN_E_ARG);
    dn_infer_free(ctx);
    CHECK(dn_model_set_meta(m, "", "v") == DN_E_ARG);
    CHECK(dn_model_set_meta(m, NULL, "v") == DN_E_ARG);
    CHECK(dn_model_set_meta(m, "k", NULL) == DN_E_ARG);
    dn_model_free(m);
}

/* Inverted dropout keeps about 1-p of the units, scaled by 1/(1-p), with
 * both halves of each random draw used. */
static void test_dropout_rate(void) {
    dn_layer l = {
        .ops = &dn_dropout_ops, .cfg = {.kind = DN_L_DROPOUT, .p = 0.3f}, .in = {1, 1, 50001}};
    CHECK_OK(l.ops->setup(&l, NULL));
    size_t m = 50001;
    float *x = malloc(m * 4), *y = malloc(m * 4), *aux = malloc(m * 4);
    for (size_t i = 0; i < m; i++) x[i] = 1.0f;
    dn_rng rng;
    dn_rng_seed(&rng, 9);
    dn_layer_ctx c = {.train = 1, .rng = &rng, .aux = aux, .threads = 1};
    l.ops->forward(&l, x, y, 1, &c);
    size_t kept = 0, kept_even = 0, bad = 0;
    for (size_t i = 0; i < m; i++) {
        if (y[i] != 0.0f) kept++, kept_even += !(i & 1);
        bad += y[i] != 0.0f && fabsf(y[i] - 1.0f / 0.7f) > 1e-6f;
    }
    CHECK_MSG(fabs((double)kept / m - 0.7) < 0.01, "kept %zu of %zu", kept, m);
    CHECK_MSG(fabs((double)kept_even / (m / 2) - 0.7) < 0.015, "kept %zu even units", kept_even);
    CHECK(bad == 0);
    free(x), free(y), free(aux);
}

/* A file with a valid checksum but values no training makes (NaN, inf,
 * 3e38, a negative batch-norm variance) is refused when loaded, naming
 * the layer and the value, so that no NaN ever reaches an output. */
static void test_nonfinite(const char *dir) {
    char path[600];
    snprintf(path, sizeof path, "%s/nan.dnm", dir);
    const float bad[] = {NAN, INFINITY, -INFINITY, 3e38f, -2e6f};
    for (int k = 0; k < 6; k++) {
        dn_model *m;
        CHECK_OK(dn_model_create("conv3x3x2-bn-relu-fc10", NULL, 1, &m, &check_err_));
        if (k < 5)
            m->params[m->nparams - 3] = bad[k]; /* in the dense layer */
        else
            m->state[m->nstate - 1] = -1.0f; /* a running variance */
        CHECK_OK(dn_model_save(m, path, &check_err_));
        dn_model_free(m);
        dn_model *back = NULL;
        dn_error err = {{0}};
        CHECK_MSG(dn_model_load(path, &back, &err) == DN_E_FORMAT && !back, "case %d loaded", k);
        CHECK_MSG(strstr(err.msg, k < 5 ? "layer 4 (dense) has parameter" : "variances"),
                  "case %d: %s", k, err.msg);
    }
    unlink(path);
}

static void test_prepared_weights(void) {
    const char *arch = "conv3x3x8p1-relu-conv3x3x6-relu-pool2-fc10";
    dn_model *m;
    CHECK_OK(dn_model_create(arch, NULL, 4, &m, &check_err_));
    enum { N = 3 };
    float x[N * 784], p[N * 10];
    for (int i = 0; i < N * 784; i++) x[i] = (float)((i * 37) % 101) / 101.0f;
    dn_exec e;
    CHECK_OK(dn_exec_init(&e, m, N, 1, 1, &check_err_)); /* training: no prepared weights */
    CHECK(e.prep[2] == NULL);
    dn_exec_forward(&e, x, NULL, N, 0, NULL, NULL);
    dn_set_threads(1);
    dn_infer *ctx;
    CHECK_OK(dn_infer_create(m, N, &ctx, &check_err_));
    CHECK_OK(dn_infer_run(ctx, x, N, p, &check_err_));
    CHECK(memcmp(p, e.probs, sizeof p) == 0);
    dn_exec inf;
    CHECK_OK(dn_exec_init(&inf, m, N, 1, 0, &check_err_));
    CHECK(inf.prep[0] == NULL && inf.prep[2] != NULL); /* conv 1 -> 8: im2col; 8 -> 6: Winograd */
    dn_exec_free(&inf);
    dn_infer_free(ctx);
    dn_exec_free(&e);
    dn_model_free(m);
}

/* A dense network's batch of inference cut into one part per thread (3
 * threads over 1,001 rows: parts of 334, 334 and 333) gives every row
 * bit for bit what one thread gives, and the same summed loss; a batch
 * too short to cut, and a training pass, stay whole. */
static void test_parts(void) {
    dn_model *m;
    CHECK_OK(dn_model_create("fc40-sigmoid-fc24-relu-fc10", NULL, 5, &m, &check_err_));
    enum { N = 1001 };
    float *x = malloc(sizeof(float) * N * 784), *p1 = malloc(sizeof(float) * N * 10);
    unsigned char y[N];
    for (int i = 0; i < N * 784; i++) x[i] = (float)((i * 53) % 255) / 255.0f;
    for (int i = 0; i < N; i++) y[i] = (unsigned char)(i % 10);
    dn_exec one, three;
    CHECK_OK(dn_exec_init(&one, m, N, 1, 0, &check_err_));
    CHECK_OK(dn_exec_init(&three, m, N, 3, 0, &check_err_));
    double l1 = dn_exec_forward(&one, x, y, N, 0, NULL, NULL);
    memcpy(p1, one.probs, sizeof(float) * N * 10);
    double l3 = dn_exec_forward(&three, x, y, N, 0, NULL, NULL);
    CHECK(memcmp(p1, three.probs, sizeof(float) * N * 10) == 0);
    CHECK_MSG(fabs(l1 - l3) <= 1e-9 * fabs(l1), "loss %g in one part, %g in three", l1, l3);
    dn_exec_forward(&three, x + 784, y, 500, 0, NULL, NULL); /* under 3 x 256: whole */
    CHECK(memcmp(p1 + 10, three.probs, sizeof(float) * 500 * 10) == 0);
    dn_exec_free(&one);
    dn_exec_free(&three);
    free(x), free(p1);
    dn_model_free(m);
}

/* One image through a CNN on 2 threads gives bit for bit what one thread
 * gives: where the Winograd tiles fit one chunk (196 tiles of 8 and 8
 * channels, 49 of 32 and 64), shared by channels; where they take several
 * (196 tiles of 32 and 32 channels, chunks of 96), shared by chunks; and
 * the 1568-256 dense layer's units split between the threads. */
static void test_single_image_threads(void) {
    static const char *archs[] = {
        "conv3x3x8p1-relu-conv3x3x8p1-relu-pool2-fc256-relu-fc10",
        "conv3x3x32p1-relu-conv3x3x32p1-relu-pool2-conv3x3x64p1-bn-relu-pool2-fc10"};
    for (int a = 0; a < 2; a++) {
        dn_model *m;
        CHECK_OK(dn_model_create(archs[a], NULL, 6, &m, &check_err_));
        float x[784], p1[10];
        for (int i = 0; i < 784; i++) x[i] = (float)((i * 29) % 97) / 97.0f;
        dn_exec one, two;
        CHECK_OK(dn_exec_init(&one, m, 1, 1, 0, &check_err_));
        CHECK_OK(dn_exec_init(&two, m, 1, 2, 0, &check_err_));
        dn_exec_forward(&one, x, NULL, 1, 0, NULL, NULL);
        memcpy(p1, one.probs, sizeof p1);
        dn_exec_forward(&two, x, NULL, 1, 0, NULL, NULL);
        CHECK_MSG(memcmp(p1, two.probs, sizeof p1) == 0, "%s", archs[a]);
        dn_exec_free(&one);
        dn_exec_free(&two);
        dn_model_free(m);
    }
}

static void fused_case(const char *arch, int which) {
    int first = which == 0;
    dn_model *m;
    CHECK_OK(dn_model_create(arch, NULL, 7, &m, &check_err_));
    for (int i = 0; i < m->nlayers; i++) { /* batch norms that are not the identity */
        dn_layer *l = &m->layers[i];
        int C = l->in.c;
        for (int c = 0; l->cfg.kind == DN_L_BATCHNORM && c < C; c++) {
            l->w[c] = 0.5f + 0.1f * (float)(c % 5);
            l->w[C + c] = 0.05f * (float)(c % 3) - 0.05f;
            l->state[c] = 0.1f * (float)(c % 4) - 0.1f;
            l->state[C + c] = 0.5f + 0.2f * (float)(c % 3);
        }
    }
    enum { N = 6 };
    float x[N * 784], p[N * 10];
    unsigned char y[N];
    for (int i = 0; i < N * 784; i++) x[i] = (float)((i * 41) % 103) / 103.0f;
    for (int i = 0; i < N; i++) y[i] = (unsigned char)((i * 7) % 10);
    size_t np = m->nparams, ns = m->nstate;
    float *g = calloc(2 * np, sizeof(float)), *st = malloc(2 * ns * sizeof(float));
    for (int threads = 1; threads <= 2; threads++) {
        dn_exec one, fused;
        CHECK_OK(dn_exec_init(&one, m, N, threads, DN_EXEC_TRAIN, &check_err_));
        CHECK_OK(dn_exec_init(&fused, m, N, threads, DN_EXEC_TRAIN | DN_EXEC_FUSED, &check_err_));
        if (first)
            CHECK(!one.fused[1] && fused.fused[1] == 1 && fused.skip_backward[2] == 2 &&
                  !fused.post[0]);
        else if (which == 1)
            CHECK(fused.fused[0] == 1 && fused.skip_backward[1] == 1 && fused.relu_in[2] &&
                  fused.relu_in[4] && fused.relu_in[6]); /* Winograd, im2col, a pool of 21x21 */
        else /* Winograd convolutions with their ReLU and pool: 26x26, then 11x11 */
            CHECK(fused.pooled[2] && fused.fused[2] == 2 && fused.absorbed[4] == 2 &&
                  fused.pooled[5] && fused.relu_in[4] && fused.relu_in[7]);
        memcpy(st, m->state, ns * sizeof(float));
        memcpy(st + ns, m->state, ns * sizeof(float));
        memset(g, 0, 2 * np * sizeof(float));
        double l1 = dn_exec_forward(&one, x, y, N, 1, NULL, st);
        dn_exec_backward(&one, x, y, N, g, 1.0f / N, 0.0f);
        double l2 = dn_exec_forward(&fused, x, y, N, 1, NULL, st + ns);
        dn_exec_backward(&fused, x, y, N, g + np, 1.0f / N, 0.0f);
        CHECK_MSG(l1 == l2, "%d threads: loss %.9g one by one, %.9g fused", threads, l1, l2);
        CHECK_MSG(memcmp(g, g + np, np * sizeof(float)) == 0, "%d threads: gradients differ",
                  threads);
        CHECK(memcmp(st, st + ns, ns * sizeof(float)) == 0);
        dn_exec_free(&one);
        dn_exec_free(&fused);
        for (int n = 1; n <= N; n += N - 1) { /* one image and a batch */
            CHECK_OK(dn_exec_init(&one, m, N, threads, 0, &check_err_));
            CHECK_OK(dn_exec_init(&fused, m, N, threads, DN_EXEC_FUSED, &check_err_));
            CHECK(!first ||
                  (fused.fused[0] == 2 && fused.post[0] && fused.relu[0] && fused.fused[7] == 1 &&
                   !fused.post[7] && fused.fused[12] == 2 && fused.post[12]));
            dn_exec_forward(&one, x, NULL, n, 0, NULL, NULL);
            memcpy(p, one.probs, sizeof(float) * (size_t)n * 10);
            dn_exec_forward(&fused, x, NULL, n, 0, NULL, NULL);
            CHECK_MSG(memcmp(p, fused.probs, sizeof(float) * (size_t)n * 10) == 0,
                      "%d threads, %d images: inference differs fused", threads, n);
            dn_exec_free(&one);
            dn_exec_free(&fused);
        }
    }
    free(g), free(st);
    dn_model_free(m);
}

/* Layers run as one (DN_EXEC_FUSED) give bit for bit what they give one
 * by one (loss, gradient, running statistics, probabilities): in training
 * a batch norm with the ReLU after it, a convolution (the direct loop,
 * im2col, Winograd) or dense layer with its ReLU, and a ReLU's backward
 * inside the max pool (odd sizes too) or convolution (im2col, Winograd)
 * after it, and a Winograd convolution with its ReLU and 2x2 max pool
 * (even and odd sizes); in inference those
 * layers with the batch norm after them folded in and the ReLU after
 * that, and a batch norm with its ReLU. */
static void test_fused(void) {
    static const char *archs[] = {
        ("conv3x3x8p1-bn-relu-conv3x3x8p1-bn-relu-pool2-bn-relu-conv5x5x6-bn-relu-fc32-bn-relu-"
         "fc10"),
        "conv3x3x8-relu-conv3x3x8-relu-conv4x4x6-relu-pool2-fc16-relu-fc10",
        "conv3x3x8-relu-conv3x3x8p1-relu-pool2-conv3x3x8-relu-pool2-fc10"};
    for (int a = 0; a < 3; a++) fused_case(archs[a], a);
}

/* Every region of an executor starts on a cache line, as its buffer does,
 * whatever the lengths before it: a batch norm's kept statistics (1 + 4 C
 * floats) once shifted all later activations off their lines. */
static void test_exec_alignment(void) {
    dn_model *m;
    CHECK_OK(dn_model_create("conv3x3x6p1-bn-relu-conv3x3x6p1-bn-relu-pool2-fc13-bn-relu-fc10",
                             NULL, 2, &m, &check_err_));
    for (int mode = 0; mode < 4; mode++) {
        dn_exec e;
        CHECK_OK(dn_exec_init(&e, m, 7, 2, mode, &check_err_));
        int bad = 0;
#define ON_LINE(p) (bad += (p) && ((uintptr_t)(p) % 64) != 0)
        for (int i = 0; i < m->nlayers; i++) {
            ON_LINE(e.act[i + 1]);
            ON_LINE(e.aux[i]);
            ON_LINE(e.post[i]);
            ON_LINE(e.prep[i]);
        }
        ON_LINE(e.work);
        ON_LINE(e.probs);
        ON_LINE(e.grad_a);
        ON_LINE(e.grad_b);
#undef ON_LINE
        CHECK_MSG(bad == 0, "mode %d: %d regions off a cache line", mode, bad);
        dn_exec_free(&e);
    }
    dn_model_free(m);
}

/* A layer whose per-image scratch (im2col) is absurd is refused when the
 * model is built: 4096 channels x 27x27 kernel x 28x28 outputs is 2.3e9
 * floats per image, which wraps a 32-bit size_t (the WebAssembly page
 * loads models users drop on it). */
static void test_scratch_bound(void) {
    dn_model *m = NULL;
    dn_error err = {{0}};
    CHECK(dn_model_create("conv2x2x4096-conv27x27x1p9-fc10", NULL, 1, &m, &err) == DN_E_ARG && !m);
    CHECK_MSG(strstr(err.msg, "scratch") != NULL, "%s", err.msg);
    dn_model_free(m);
    CHECK_OK(dn_model_create("conv5x5x64p2-relu-conv5x5x64p2-relu-fc10", NULL, 1, &m, NULL));
    dn_model_free(m);
}

int main(void) {
    test_scratch_bound();
    char dir[] = "/tmp/dn-model-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    test_spec();
    test_spec_roundtrip();
    test_roundtrip(dir);
    test_corruption(dir);
    test_batchnorm_modes();
    test_null_arguments();
    test_dropout_rate();
    test_prepared_weights();
    test_parts();
    test_single_image_threads();
    test_fused();
    test_exec_alignment();
    test_nonfinite(dir);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return check_report("test_model");
}
