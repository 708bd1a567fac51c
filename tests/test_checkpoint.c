/*
 * test_checkpoint.c — training checkpoints through the library API, on a
 * small synthetic data set:
 *   - a run cancelled mid-epoch and continued with dn_train_resume ends with
 *     parameters, state and metadata identical to an uninterrupted run, for
 *     several optimisers and layer kinds; one checkpoint resumes twice alike;
 *   - dn_checkpoint_describe returns the stored settings and note;
 *   - divergence after a good epoch keeps that epoch's checkpoint and
 *     parameters;
 *   - resuming refuses other data and another architecture;
 *   - a failed checkpoint write stops training with DN_E_IO, no .tmp left;
 *   - every truncation and many single-byte corruptions (with a fixed-up
 *     CRC, so the parser itself is exercised) are rejected without crashing;
 *     settings the trainer cannot run safely are refused on resume.
 */
#include "check.h"
#include "checkpoint.h"

#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define N 640

static char dir[256];

static void make_data(dn_dataset *ds) {
    ds->count = N;
    ds->rows = ds->cols = 28;
    ds->images = malloc((size_t)N * 784);
    ds->labels = malloc(N);
    uint32_t x = 12345;
    for (size_t i = 0; i < N; i++) {
        int label = (int)(i * 7 % 10);
        ds->labels[i] = (unsigned char)label;
        for (int p = 0; p < 784; p++) {
            x = x * 1664525u + 1013904223u;
            int on = (p / 28) / 3 == label || (p % 28) / 3 == label;
            ds->images[i * 784 + (size_t)p] = (unsigned char)(on ? 200 + (x >> 29) : (x >> 28));
        }
    }
}

typedef struct stopper {
    int stop_epoch, stop_batch; /* cancel at this point (0 = never) */
    int poison_epoch;           /* make the parameters NaN in this epoch */
    dn_model *m;
} stopper;

static int on_progress(const dn_progress *p, void *user) {
    stopper *s = user;
    if (p->epoch_done) return 0;
    if (s->poison_epoch && p->epoch == s->poison_epoch) s->m->params[s->m->nparams - 1] = NAN;
    return s->stop_epoch && p->epoch == s->stop_epoch && (int)p->batch == s->stop_batch;
}

static int same_model(const dn_model *a, const dn_model *b) {
    if (a->nparams != b->nparams || a->nstate != b->nstate || a->nmeta != b->nmeta) return 0;
    if (memcmp(a->params, b->params, sizeof(float) * a->nparams) ||
        memcmp(a->state, b->state, sizeof(float) * a->nstate))
        return 0;
    for (size_t i = 0; i < a->nmeta; i++)
        if (strcmp(a->meta[i].key, b->meta[i].key) || strcmp(a->meta[i].value, b->meta[i].value))
            return 0;
    return 1;
}

static dn_model *resume(const char *path, const dn_dataset *ds, dn_status *st) {
    dn_checkpoint *ck = NULL;
    dn_model *m = NULL;
    *st = dn_checkpoint_load(path, &ck, NULL);
    if (*st != DN_OK) return NULL;
    dn_checkpoint_info info;
    dn_checkpoint_describe(ck, &info);
    *st = dn_model_create(info.arch, NULL, 0, &m, NULL);
    if (*st == DN_OK) *st = dn_train_resume(m, ds, ck, NULL, NULL, NULL);
    dn_checkpoint_free(ck);
    return m;
}

/* Uninterrupted vs cancelled at (epoch, batch) and resumed. */
static void check_equivalence(const char *arch, const dn_train_opts *base, const dn_dataset *ds,
                              int epoch, int batch) {
    char ref_ck[300], ck[300];
    snprintf(ref_ck, sizeof ref_ck, "%s/ref.ckpt", dir);
    snprintf(ck, sizeof ck, "%s/run.ckpt", dir);
    dn_model *a = NULL, *b = NULL;
    CHECK_OK(dn_model_create(arch, NULL, 3, &a, NULL));
    CHECK_OK(dn_model_create(arch, NULL, 3, &b, NULL));
    if (!a || !b) return;
    dn_train_opts o = *base;
    o.checkpoint = ref_ck;
    CHECK_OK(dn_train(a, ds, &o, NULL, NULL));
    stopper s = {.stop_epoch = epoch, .stop_batch = batch};
    o.checkpoint = ck;
    o.checkpoint_note = "where=here";
    o.progress = on_progress;
    o.progress_user = &s;
    dn_train_result r;
    CHECK(dn_train(b, ds, &o, &r, NULL) == DN_E_CANCELLED);
    CHECK(r.epochs_run == epoch - 1);
    dn_model_free(b);
    dn_status st;
    b = resume(ck, ds, &st);
    CHECK_MSG(st == DN_OK && b && same_model(a, b), "%s: resumed model differs", arch);
    dn_model *c = resume(ck, ds, &st);
    CHECK_MSG(st == DN_OK && c && same_model(b, c), "%s: second resume differs", arch);
    /* the checkpoint after the last epoch resumes to the final model too */
    dn_model *d = resume(ref_ck, ds, &st);
    CHECK_MSG(st == DN_OK && d && same_model(a, d), "%s: resuming a finished run differs", arch);
    dn_model_free(a);
    dn_model_free(b);
    dn_model_free(c);
    dn_model_free(d);
}

static void test_equivalence(const dn_dataset *ds) {
    dn_train_opts o;
    dn_train_opts_default(&o);
    o.epochs = 3;
    o.batch = 32;
    o.val_count = 100;
    o.lr = 0.05f;
    check_equivalence("784-16-10", &o, ds, 2, 5);
    o.optimizer = DN_OPT_ADAM;
    o.lr = 0.002f;
    o.schedule = DN_SCHED_COSINE;
    o.aug_shift = 1;
    o.aug_elastic = 2;
    o.weight_decay = 1e-4f;
    check_equivalence("fc16-relu-drop0.3-fc10", &o, ds, 3, 1);
    dn_train_opts_default(&o);
    o.epochs = 3;
    o.batch = 50;
    o.val_count = 40;
    o.optimizer = DN_OPT_MOMENTUM;
    o.nesterov = 1;
    o.schedule = DN_SCHED_STEP;
    o.step_epochs = 1;
    o.keep_best = 0;
    check_equivalence("conv3x3x2-bn-relu-pool2-fc10", &o, ds, 2, 3);
    o.val_count = 0; /* no validation: no best epoch */
    o.batch = 0;     /* full batch */
    o.lr = 0.2f;
    check_equivalence("784-10", &o, ds, 3, 1);
}

static void test_describe_and_refusals(const dn_dataset *ds) {
    char path[300];
    snprintf(path, sizeof path, "%s/d.ckpt", dir);
    dn_train_opts o;
    dn_train_opts_default(&o);
    o.epochs = 2;
    o.val_count = 64;
    o.seed = 99;
    o.aug_rotate = 3;
    o.checkpoint = path;
    o.checkpoint_note = "data=somewhere";
    dn_model *m = NULL;
    CHECK_OK(dn_model_create("784-8-10", NULL, 1, &m, NULL));
    if (!m) return;
    CHECK_OK(dn_train(m, ds, &o, NULL, NULL));
    dn_checkpoint *ck = NULL;
    CHECK_OK(dn_checkpoint_load(path, &ck, NULL));
    if (!ck) {
        dn_model_free(m);
        return;
    }
    dn_checkpoint_info info;
    dn_checkpoint_describe(ck, &info);
    CHECK(info.epoch == 2 && info.data_count == N && info.threads == dn_get_threads());
    CHECK(!strcmp(info.arch, "fc8-relu-fc10") && !strcmp(info.note, "data=somewhere"));
    CHECK(info.opts.seed == 99 && info.opts.val_count == 64 && info.opts.aug_rotate == 3.0f &&
          info.opts.epochs == 2 && info.opts.lr == o.lr && !info.opts.checkpoint &&
          !info.opts.progress);
    /* other data */
    dn_dataset other = *ds;
    other.labels = malloc(N);
    memcpy(other.labels, ds->labels, N);
    other.labels[5] ^= 1;
    dn_error err = {{0}};
    CHECK(dn_train_resume(m, &other, ck, NULL, NULL, &err) == DN_E_ARG &&
          strstr(err.msg, "labels"));
    free(other.labels);
    other = *ds;
    other.count = N - 1;
    CHECK(dn_train_resume(m, &other, ck, NULL, NULL, &err) == DN_E_ARG &&
          strstr(err.msg, "training images"));
    other = *ds;
    other.images = malloc((size_t)N * 784);
    memcpy(other.images, ds->images, (size_t)N * 784);
    other.images[1000] ^= 1;
    CHECK(dn_train_resume(m, &other, ck, NULL, NULL, &err) == DN_E_ARG &&
          strstr(err.msg, "images"));
    free(other.images);
    /* another architecture */
    dn_model *w = NULL;
    CHECK_OK(dn_model_create("784-9-10", NULL, 1, &w, NULL));
    CHECK(w && dn_train_resume(w, ds, ck, NULL, NULL, &err) == DN_E_ARG &&
          strstr(err.msg, "architecture"));
    dn_model_free(w);
    dn_checkpoint_free(ck);
    dn_model_free(m);
}

static void test_divergence(const dn_dataset *ds) {
    char path[300];
    snprintf(path, sizeof path, "%s/div.ckpt", dir);
    dn_train_opts o;
    dn_train_opts_default(&o);
    o.epochs = 3;
    o.val_count = 64;
    o.checkpoint = path;
    dn_model *m = NULL;
    CHECK_OK(dn_model_create("784-16-10", NULL, 1, &m, NULL));
    if (!m) return;
    stopper s = {.poison_epoch = 2, .m = m};
    o.progress = on_progress;
    o.progress_user = &s;
    dn_train_result r;
    dn_error err = {{0}};
    CHECK(dn_train(m, ds, &o, &r, &err) == DN_E_DIVERGED && strstr(err.msg, "epoch 2"));
    CHECK(r.epochs_run == 1);
    dn_checkpoint *ck = NULL;
    CHECK_OK(dn_checkpoint_load(path, &ck, NULL));
    if (ck) {
        dn_checkpoint_info info;
        dn_checkpoint_describe(ck, &info);
        CHECK(info.epoch == 1);
        CHECK_MSG(!memcmp(m->params, ck->model->params, sizeof(float) * m->nparams),
                  "the model does not hold the last good epoch's parameters");
    }
    dn_checkpoint_free(ck);
    dn_model_free(m);
}

static void test_write_failure(const dn_dataset *ds) {
    char path[300];
    snprintf(path, sizeof path, "%s/no/such/dir/x.ckpt", dir);
    dn_train_opts o;
    dn_train_opts_default(&o);
    o.epochs = 2;
    o.val_count = 64;
    o.checkpoint = path;
    dn_model *m = NULL;
    CHECK_OK(dn_model_create("784-8-10", NULL, 1, &m, NULL));
    dn_train_result r;
    dn_error err = {{0}};
    CHECK(m && dn_train(m, ds, &o, &r, &err) == DN_E_IO && strstr(err.msg, "cannot write") &&
          strstr(err.msg, path) && !strstr(err.msg, ".tmp"));
    CHECK(r.epochs_run == 1);
    dn_model_free(m);
}

static int load_bytes(const char *path, const unsigned char *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fwrite(data, 1, n, f);
    fclose(f);
    dn_checkpoint *ck = NULL;
    dn_status st = dn_checkpoint_load(path, &ck, NULL);
    dn_checkpoint_free(ck);
    return st == DN_OK;
}

static void test_corruption(void) {
    char path[300], bad[300];
    snprintf(path, sizeof path, "%s/d.ckpt", dir); /* from test_describe_and_refusals */
    snprintf(bad, sizeof bad, "%s/bad.ckpt", dir);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f) return;
    static unsigned char data[1 << 21], copy[1 << 21];
    size_t n = fread(data, 1, sizeof data, f);
    fclose(f);
    CHECK(n > 1000 && n < sizeof data && load_bytes(bad, data, n) == 1);
    int accepted = 0;
    for (size_t len = 0; len < n; len += len < 400 ? 1 : 997)
        accepted += load_bytes(bad, data, len);
    CHECK_MSG(accepted == 0, "%d truncated files accepted", accepted);
    /* flip bytes with the CRC fixed up, so the field checks (not the
     * checksum) must catch them: the magic, version, flags, optimizer,
     * schedule, epoch, moment count, order length and the first order
     * entries (offsets from the layout at the top of src/checkpoint.c);
     * other bytes (floats, seeds) may take other values but must not crash */
    static const size_t must_fail[] = {0,   3,   8,   12,  28,  56,  116, 216, 220,
                                       221, 228, 229, 232, 234, 236, 248, 258};
    size_t wrongly_accepted = 0;
    for (size_t pos = 0; pos < 600 && pos < n - 4; pos++) {
        memcpy(copy, data, n);
        copy[pos] ^= 0xA5;
        uint32_t crc = (uint32_t)crc32(0L, copy, (uInt)(n - 4));
        for (int k = 0; k < 4; k++) copy[n - 4 + (size_t)k] = (unsigned char)(crc >> (8 * k));
        int ok = load_bytes(bad, copy, n);
        for (size_t i = 0; i < sizeof must_fail / sizeof must_fail[0]; i++)
            if (ok && pos == must_fail[i]) {
                fprintf(stderr, "corrupt byte %zu accepted\n", pos);
                wrongly_accepted++;
            }
    }
    CHECK(wrongly_accepted == 0);
    memcpy(copy, data, n);
    copy[n / 2] ^= 1;
    dn_checkpoint *ck = NULL;
    dn_error err = {{0}};
    FILE *g = fopen(bad, "wb");
    if (g) {
        fwrite(copy, 1, n, g);
        fclose(g);
    }
    CHECK(dn_checkpoint_load(bad, &ck, &err) == DN_E_FORMAT && strstr(err.msg, "checksum"));
    /* a version-1 file (the same without warmup and label smoothing, the
     * 8 bytes at 108) still loads; version 3 is refused by name */
    memcpy(copy, data, 108);
    memcpy(copy + 108, data + 116, n - 116);
    size_t n1 = n - 8;
    for (int v = 1; v <= 3; v += 2) {
        copy[8] = (unsigned char)v;
        uint32_t crc = (uint32_t)crc32(0L, copy, (uInt)(n1 - 4));
        for (int k = 0; k < 4; k++) copy[n1 - 4 + (size_t)k] = (unsigned char)(crc >> (8 * k));
        CHECK_MSG(load_bytes(bad, copy, n1) == (v == 1), "version %d", v);
    }
    CHECK(dn_checkpoint_load(bad, &ck, &err) == DN_E_UNSUPPORTED && strstr(err.msg, "version 3"));
    unlink(bad);
}

/* A checkpoint with a valid CRC but settings the trainer must not run with
 * (augmentation scale 1e30 would overflow the sampler's coordinates). */
static void test_crafted_settings(const dn_dataset *ds) {
    char path[300], bad[300];
    snprintf(path, sizeof path, "%s/d.ckpt", dir);
    snprintf(bad, sizeof bad, "%s/crafted.ckpt", dir);
    static unsigned char data[1 << 21];
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(data, 1, sizeof data, f) : 0;
    if (f) fclose(f);
    CHECK(n > 200);
    if (n <= 200) return;
    float huge = 1e30f;
    uint32_t bits;
    memcpy(&bits, &huge, 4);
    for (int k = 0; k < 4; k++) data[100 + k] = (unsigned char)(bits >> (8 * k)); /* aug_scale */
    uint32_t crc = (uint32_t)crc32(0L, data, (uInt)(n - 4));
    for (int k = 0; k < 4; k++) data[n - 4 + (size_t)k] = (unsigned char)(crc >> (8 * k));
    FILE *g = fopen(bad, "wb");
    if (g) {
        fwrite(data, 1, n, g);
        fclose(g);
    }
    dn_checkpoint *ck = NULL;
    dn_model *m = NULL;
    dn_error err = {{0}};
    CHECK_OK(dn_checkpoint_load(bad, &ck, NULL));
    CHECK_OK(dn_model_create("784-8-10", NULL, 1, &m, NULL));
    CHECK(ck && m && dn_train_resume(m, ds, ck, NULL, NULL, &err) == DN_E_ARG &&
          strstr(err.msg, "augmentation"));
    dn_checkpoint_free(ck);
    dn_train_opts o;
    dn_train_opts_default(&o);
    o.aug_scale = 5;
    CHECK(m && dn_train(m, ds, &o, NULL, NULL) == DN_E_ARG);
    dn_model_free(m);

    /* a NaN weight (valid CRC): the model section is read by the model
     * file's own reader, whose value checks apply here too */
    f = fopen(path, "rb");
    n = f ? fread(data, 1, sizeof data, f) : 0;
    if (f) fclose(f);
    ck = NULL;
    CHECK_OK(dn_checkpoint_load(path, &ck, NULL));
    unsigned char *at = NULL;
    for (size_t i = 0; ck && !at && i + 8 <= n; i++)
        if (!memcmp(data + i, ck->model->params, 8)) at = data + i;
    dn_checkpoint_free(ck);
    CHECK(at != NULL);
    if (!at) return;
    float nan = NAN;
    memcpy(at, &nan, 4);
    crc = (uint32_t)crc32(0L, data, (uInt)(n - 4));
    for (int k = 0; k < 4; k++) data[n - 4 + (size_t)k] = (unsigned char)(crc >> (8 * k));
    g = fopen(bad, "wb");
    if (g) {
        fwrite(data, 1, n, g);
        fclose(g);
    }
    CHECK(dn_checkpoint_load(bad, &ck, &err) == DN_E_FORMAT && !ck && strstr(err.msg, "finite"));
}

int main(void) {
    dn_set_threads(1);
    const char *base = getenv("TMPDIR");
    if (!base || !*base || strlen(base) > 200) base = "/tmp";
    snprintf(dir, sizeof dir, "%s/dn-ckpt-XXXXXX", base);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    dn_dataset ds;
    make_data(&ds);
    test_equivalence(&ds);
    test_describe_and_refusals(&ds);
    test_divergence(&ds);
    test_write_failure(&ds);
    test_corruption();
    test_crafted_settings(&ds);
    dn_dataset_free(&ds);
    static const char *files[] = {"ref.ckpt", "run.ckpt", "d.ckpt", "div.ckpt", "crafted.ckpt"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[300];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    CHECK_MSG(rmdir(dir) == 0, "%s: files left behind (a .tmp?)", dir);
    return check_report("checkpoint");
}
