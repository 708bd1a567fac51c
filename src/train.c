/*
 * train.c — the training loop: epochs of shuffled mini-batches, optional
 * augmentation, forward, backward, optimiser step, validation on a held-out
 * tail of the training set, best-epoch selection, and the history written
 * into the model's metadata. It reports progress through a callback and
 * never prints.
 *
 * Determinism: all randomness (shuffling, dropout, augmentation) comes from
 * one RNG seeded by opts->seed; with one thread the same inputs and seed
 * give bit-identical parameters.
 *
 * Checkpoints: the trainer's whole state after an epoch (model, optimiser
 * moments and step, RNG, data order, best epoch, history) can be written
 * out (checkpoint.c) and restored into a fresh trainer, whose epoch loop
 * then continues exactly as the uninterrupted run would have.
 */
#include "augment.h"
#include "checkpoint.h"
#include "optim.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DN_MAX_SPLIT 16

void dn_train_opts_default(dn_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->epochs = 10;
    o->batch = 64;
    o->lr = 0.01f;
    o->optimizer = DN_OPT_SGD;
    o->momentum = 0.9f;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
    o->schedule = DN_SCHED_CONSTANT;
    o->step_epochs = 10;
    o->gamma = 0.1f;
    o->warmup = 0.3f;
    o->seed = 1;
    o->val_count = 5000;
    o->keep_best = 1;
    o->progress_every = 1;
}

/* A thread's part of a batch longer than SWEEP_MIN goes forward and
 * backward in pieces of SWEEP images, each while its inputs are still in
 * cache, its gradients summed: one pass over the data per step rather than
 * two (the tutorial network's full batch is 172 MB of floats). Only for
 * networks without batch statistics, whose gradient does not depend on
 * how the batch is cut. A piece of 128 inputs of 784 floats is 400 KB,
 * which stays in L2 between its forward and backward passes (512 was
 * 1.2-1.3x slower per iteration on a 2 MB L2). */
#define SWEEP_MIN 1024
#define SWEEP 128

typedef struct trainer {
    dn_model *m;
    const dn_dataset *ds;
    dn_train_opts o; /* settings (from the caller or a checkpoint) and callbacks */
    size_t ntrain, nval;
    int batch;
    /* The batch is split across `split` threads, each with its own executor,
     * gradient buffer and RNG stream, when the model has no batch-norm state
     * (whose running statistics would race). Otherwise split = 1 and the
     * layers parallelise internally. */
    int split, needs_rng;
    dn_exec exec[DN_MAX_SPLIT];
    float *tgrad[DN_MAX_SPLIT];
    double tloss[DN_MAX_SPLIT];
    size_t tcorrect[DN_MAX_SPLIT];
    dn_optim opt;
    dn_rng rng;
    size_t *order;
    float *x, *grad, *scratch;
    /* Full batch, no augmentation, swept in pieces (see step): x is not
     * held as floats; each thread converts its piece of pixels into its
     * part of `pieces` [split][SWEEP][784] just before using it, so the
     * pass over the data reads bytes, a quarter of the floats. */
    float *pieces;
    unsigned char *y;
    float *best_params, *best_state, *good_params, *good_state;
    char *history;
    size_t history_len, history_cap;
    int epoch;                       /* epochs completed */
    int x_loaded;                    /* full-batch mode: t->x holds the data */
    double best;                     /* best validation accuracy, -1 = none */
    double start, seconds_before;    /* dn_now() at the start of this call; earlier runs' time */
    uint32_t labels_crc, images_crc; /* identity of the data, for checkpoints */
    dn_train_result r;
} trainer;

/* 1 when a thread's part of k images goes in pieces of SWEEP. */
static int sweeps(const trainer *t, int k) {
    return t->m->nstate == 0 && k >= SWEEP_MIN;
}

static void trainer_free(trainer *t) {
    for (int i = 0; i < DN_MAX_SPLIT; i++) {
        dn_exec_free(&t->exec[i]);
        free(t->tgrad[i]);
    }
    dn_optim_free(&t->opt);
    free(t->order);
    free(t->x);
    free(t->pieces);
    free(t->grad);
    free(t->scratch);
    free(t->y);
    free(t->best_params);
    free(t->best_state);
    free(t->good_params);
    free(t->good_state);
    free(t->history);
}

/* Sets up buffers for the settings in *o (copied); identify: checksum the
 * data for checkpoints. Leaves t freeable on every path. */
static dn_status trainer_init(trainer *t, dn_model *m, const dn_dataset *ds, const dn_train_opts *o,
                              int identify, dn_error *err) {
    memset(t, 0, sizeof *t);
    t->m = m;
    t->ds = ds;
    t->o = *o;
    t->best = -1.0;
    if (!ds->labels) return dn_fail(err, DN_E_ARG, "training data has no labels");
    if (ds->rows != 28 || ds->cols != 28)
        return dn_fail(err, DN_E_ARG, "training images are %dx%d, expected 28x28", ds->rows,
                       ds->cols);
    if (o->epochs <= 0 || o->batch < 0 || !(o->lr > 0.0f) || !isfinite(o->lr))
        return dn_fail(err, DN_E_ARG, "epochs and learning rate must be positive");
    if ((unsigned)o->optimizer > DN_OPT_ADAM || !(o->momentum >= 0 && o->momentum < 1) ||
        !(o->eps > 0 && o->eps < 1) || !(o->weight_decay >= 0 && o->weight_decay <= 1e3f) ||
        !(o->gamma >= 0 && o->gamma <= 1e3f))
        return dn_fail(err, DN_E_ARG,
                       "optimiser settings out of range (momentum 0..1, eps 0..1, weight decay "
                       "and gamma 0..1000)");
    if ((unsigned)o->schedule > DN_SCHED_ONECYCLE || !(o->warmup >= 0 && o->warmup < 1) ||
        !(o->lr_min >= 0 && o->lr_min <= o->lr) ||
        !(o->label_smoothing >= 0 && o->label_smoothing <= 0.5f) ||
        !(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1))
        return dn_fail(err, DN_E_ARG,
                       "schedule settings out of range (warmup 0..1, lr_min 0..lr, label "
                       "smoothing 0..0.5, Adam betas 0..1)");
    if (o->aug_shift < 0 || o->aug_shift > 28 || !(o->aug_rotate >= 0 && o->aug_rotate <= 360) ||
        !(o->aug_scale >= 0 && o->aug_scale <= 0.9f) ||
        !(o->aug_elastic >= 0 && o->aug_elastic <= 100))
        return dn_fail(err, DN_E_ARG,
                       "augmentation out of range (shift 0..28, rotate 0..360, scale 0..0.9, "
                       "elastic 0..100)");
    if (o->val_count >= ds->count)
        return dn_fail(err, DN_E_ARG,
                       "validation set (%zu) must be smaller than the %zu training "
                       "images",
                       o->val_count, ds->count);
    t->nval = o->val_count;
    t->ntrain = ds->count - t->nval;
    t->batch = o->batch == 0 || (size_t)o->batch > t->ntrain ? (int)t->ntrain : o->batch;
    dn_rng_seed(&t->rng, o->seed);
    int threads = dn_get_threads();
    t->split = threads > 1 && m->nstate == 0 && t->batch >= 8 * threads ? threads : 1;
    if (t->split > DN_MAX_SPLIT) t->split = DN_MAX_SPLIT;
    for (int i = 0; i < m->nlayers; i++) t->needs_rng |= m->layers[i].cfg.kind == DN_L_DROPOUT;
    int chunk = (t->batch + t->split - 1) / t->split;
    size_t np = m->nparams ? m->nparams : 1, ns = m->nstate ? m->nstate : 1;
    dn_status st = DN_OK;
    for (int i = 0; i < t->split && st == DN_OK; i++) {
        st = dn_exec_init(&t->exec[i], m, chunk, t->split > 1 ? 1 : threads,
                          DN_EXEC_TRAIN | DN_EXEC_FUSED, err);
        if (st == DN_OK && !(t->tgrad[i] = dn_calloc(np, sizeof(float))))
            st = dn_fail(err, DN_E_NOMEM, "out of memory for gradients");
    }
    if (st == DN_OK) st = dn_optim_init(&t->opt, o, m->nparams, err);
    if (st != DN_OK) return st;
    t->order = dn_calloc(t->ntrain, sizeof *t->order);
    if (sweeps(t, chunk) && (size_t)t->batch == t->ntrain && !dn_augment_enabled(o))
        t->pieces = dn_calloc((size_t)t->split * SWEEP * 784, sizeof(float));
    else
        t->x = dn_calloc((size_t)t->batch * 784, sizeof(float));
    t->y = dn_calloc((size_t)t->batch, 1);
    t->grad = dn_calloc(np, sizeof(float));
    t->scratch = dn_calloc(4 * 784, sizeof(float));
    t->best_params = dn_calloc(np, sizeof(float));
    t->best_state = dn_calloc(ns, sizeof(float));
    t->good_params = dn_calloc(np, sizeof(float));
    t->good_state = dn_calloc(ns, sizeof(float));
    if (!t->order || !(t->x || t->pieces) || !t->y || !t->grad || !t->scratch || !t->best_params ||
        !t->best_state || !t->good_params || !t->good_state)
        return dn_fail(err, DN_E_NOMEM, "out of memory for training buffers");
    for (size_t i = 0; i < t->ntrain; i++) t->order[i] = i;
    if (identify) {
        t->labels_crc = dn_checksum(ds->labels, ds->count);
        t->images_crc = dn_checksum(ds->images, ds->count * 784);
    }
    return DN_OK;
}

static void shuffle(trainer *t) {
    for (size_t i = t->ntrain - 1; i > 0; i--) {
        size_t j = (size_t)dn_rng_below(&t->rng, i + 1), tmp = t->order[i];
        t->order[i] = t->order[j];
        t->order[j] = tmp;
    }
}

/* Copies batch b's images (augmented when enabled; none when step
 * converts them piece by piece) and labels. */
static void load_batch(trainer *t, size_t first, int n) {
    int aug = dn_augment_enabled(&t->o);
    for (int i = 0; i < n; i++) {
        size_t idx = t->order[first + (size_t)i];
        if (t->pieces) {
            t->y[i] = t->ds->labels[idx];
            continue;
        }
        float *dst = t->x + (size_t)i * 784;
        if (aug) {
            float *tmp = t->scratch + 3 * 784;
            dn_model_inputs_from_pixels(t->ds->images + idx * 784, 784, tmp);
            dn_augment(&t->o, &t->rng, tmp, dst, t->scratch);
        } else {
            dn_model_inputs_from_pixels(t->ds->images + idx * 784, 784, dst);
        }
        t->y[i] = t->ds->labels[idx];
    }
}

/* The history's stored form, one "epoch:loss:acc:val" per epoch joined by
 * ';' (val -1 without validation); written here, read by dn_history_parse.
 * No wall time in it: the same command and seed must give the same bytes. */
static dn_status history_add(trainer *t, const dn_epoch_record *e) {
    char line[128];
    int len = snprintf(line, sizeof line, "%s%d:%.5f:%.5f:%.5f", t->history_len ? ";" : "",
                       e->epoch, e->train_loss, e->train_accuracy, e->val_accuracy);
    if (t->history_len + (size_t)len + 1 > t->history_cap) {
        size_t cap = (t->history_cap + (size_t)len + 1) * 2;
        char *h = realloc(t->history, cap);
        if (!h) return DN_E_NOMEM;
        t->history = h;
        t->history_cap = cap;
    }
    memcpy(t->history + t->history_len, line, (size_t)len + 1);
    t->history_len += (size_t)len;
    return DN_OK;
}

/* One "epoch:loss:acc:val" entry at p (anything after a fourth ':' up to
 * the ';' is ignored); 0 when it is well formed.  strtol and strtod stop at
 * the entry's end, so a long history is read in one pass. */
static int history_entry(const char *p, dn_epoch_record *e) {
    char *end;
    errno = 0;
    long ep = strtol(p, &end, 10);
    if (end == p || *end != ':' || ep < 1 || ep > 1000000000 || errno) return -1;
    double v[3];
    for (int i = 0; i < 3; i++) {
        p = end + 1;
        v[i] = strtod(p, &end);
        if (end == p || !isfinite(v[i]) || (i < 2 && *end != ':')) return -1;
    }
    if (*end != ';' && *end != ':' && *end != '\0') return -1;
    *e = (dn_epoch_record){(int)ep, v[0], v[1], v[2]};
    return 0;
}

size_t dn_history_parse(const char *text, dn_epoch_record *out, size_t max) {
    size_t n = 0;
    for (const char *p = text; p && *p;) {
        dn_epoch_record e;
        if (history_entry(p, &e) == 0) {
            if (n < max) out[n] = e;
            n++;
        }
        const char *semi = strchr(p, ';');
        p = semi ? semi + 1 : NULL;
    }
    return n;
}

size_t dn_model_history(const dn_model *m, dn_epoch_record *out, size_t max) {
    return dn_history_parse(dn_model_get_meta(m, "history"), out, max);
}

/* Accuracy and mean loss of the model on the validation tail. */
static void validate(trainer *t, double *acc, double *loss) {
    dn_dataset v = *t->ds;
    v.images += t->ntrain * 784;
    v.labels += t->ntrain;
    v.count = t->nval;
    dn_eval ev;
    if (dn_model_evaluate(t->m, &v, &ev, NULL) != DN_OK) {
        *acc = -1;
        *loss = NAN;
        return;
    }
    *acc = ev.accuracy;
    *loss = ev.loss;
}

static void record_settings(dn_model *m, const dn_train_opts *o, const trainer *t) {
    char buf[512];
    snprintf(buf, sizeof buf,
             "epochs=%d batch=%d lr=%g optimizer=%s%s schedule=%s weight_decay=%g seed=%llu "
             "val=%zu threads=%d shift=%d rotate=%g scale=%g elastic=%g",
             o->epochs, t->batch, (double)o->lr, dn_optimizer_name(o->optimizer),
             o->optimizer == DN_OPT_MOMENTUM && o->nesterov ? "(nesterov)" : "",
             dn_schedule_name(o->schedule), (double)o->weight_decay, (unsigned long long)o->seed,
             t->nval, dn_get_threads(), o->aug_shift, (double)o->aug_rotate, (double)o->aug_scale,
             (double)o->aug_elastic);
    /* settings added later are recorded only when used, so that older
     * command lines still write byte-identical models */
    size_t len = strlen(buf);
    if (o->optimizer == DN_OPT_ADAM && (o->beta1 != 0.9f || o->beta2 != 0.999f))
        len += (size_t)snprintf(buf + len, sizeof buf - len, " betas=%g,%g", (double)o->beta1,
                                (double)o->beta2);
    if (o->schedule == DN_SCHED_ONECYCLE && len < sizeof buf)
        len += (size_t)snprintf(buf + len, sizeof buf - len, " warmup=%g", (double)o->warmup);
    if ((o->schedule == DN_SCHED_ONECYCLE || o->schedule == DN_SCHED_COSINE) && o->lr_min > 0 &&
        len < sizeof buf)
        len += (size_t)snprintf(buf + len, sizeof buf - len, " lr_min=%g", (double)o->lr_min);
    if (o->label_smoothing > 0 && len < sizeof buf)
        snprintf(buf + len, sizeof buf - len, " label_smoothing=%g", (double)o->label_smoothing);
    dn_model_set_meta(m, "train_settings", buf);
}

static void snapshot(const dn_model *m, float *params, float *state) {
    memcpy(params, m->params, sizeof(float) * m->nparams);
    memcpy(state, m->state, sizeof(float) * m->nstate);
}

static void restore(dn_model *m, const float *params, const float *state) {
    memcpy(m->params, params, sizeof(float) * m->nparams);
    memcpy(m->state, state, sizeof(float) * m->nstate);
}

/* Images of probs [n, 10] whose top class is the label. */
static size_t correct_rows(const float *probs, const unsigned char *y, int n) {
    size_t correct = 0;
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * 10;
        int best = 0;
        for (int j = 1; j < 10; j++)
            if (p[j] > p[best]) best = j;
        correct += best == y[i];
    }
    return correct;
}

/* Part i of the split of a batch of n (chunk images each): its forward and
 * backward pass, its gradient in t->tgrad[i] (t->grad when not split). */
static void step_part(trainer *t, int i, int n, int chunk, uint64_t seed) {
    int off = i * chunk, k = n - off < chunk ? n - off : chunk;
    /* zero: allocated so, and cleared by the optimiser as it reads them */
    float *g = t->split > 1 ? t->tgrad[i] : t->grad;
    t->tloss[i] = 0.0;
    t->tcorrect[i] = 0;
    if (k <= 0) return;
    dn_rng local;
    dn_rng_seed(&local, seed);
    dn_rng *rng = t->split > 1 ? &local : &t->rng;
    int piece = t->pieces || sweeps(t, k) ? SWEEP : k;
    for (int p0 = 0; p0 < k; p0 += piece) {
        int pk = k - p0 < piece ? k - p0 : piece;
        const float *x;
        const unsigned char *y = t->y + off + p0;
        if (t->pieces && dn_exec_reads_pixels(&t->exec[i])) { /* the pixels in place */
            const unsigned char *rows[SWEEP];
            for (int q = 0; q < pk; q++) rows[q] = t->ds->images + t->order[off + p0 + q] * 784;
            t->tloss[i] += dn_exec_forward_px(&t->exec[i], rows, y, pk, 1, rng, t->m->state);
            t->tcorrect[i] += correct_rows(t->exec[i].probs, y, pk);
            dn_exec_backward_px(&t->exec[i], rows, y, pk, g, 1.0f / (float)n, t->o.label_smoothing);
            continue;
        }
        if (t->pieces) { /* the full batch, converted from its pixels */
            float *buf = t->pieces + (size_t)i * SWEEP * 784;
            for (int q = 0; q < pk; q++) {
                dn_model_inputs_from_pixels(t->ds->images + t->order[off + p0 + q] * 784, 784,
                                            buf + (size_t)q * 784);
            }
            x = buf;
        } else {
            x = t->x + (size_t)(off + p0) * 784;
        }
        t->tloss[i] += dn_exec_forward(&t->exec[i], x, y, pk, 1, rng, t->m->state);
        t->tcorrect[i] += correct_rows(t->exec[i].probs, y, pk);
        dn_exec_backward(&t->exec[i], x, y, pk, g, 1.0f / (float)n, t->o.label_smoothing);
    }
}

/* Forward and backward over the n images in t->x, split across threads;
 * leaves the gradient of the mean loss in t->grad (one thread) or in the
 * per-thread parts t->tgrad (summed by the optimiser), returns the summed
 * loss and counts the correct predictions in t->tcorrect. Each part's RNG
 * is derived from the trainer's, so results depend only on the seed and
 * the thread count. */
static double step(trainer *t, int n) {
    int chunk = (n + t->split - 1) / t->split;
    uint64_t seeds[DN_MAX_SPLIT] = {0};
    /* only models with dropout consume randomness here, so that a split run
     * shuffles exactly like a single-threaded one */
    for (int i = 0; i < t->split; i++)
        if (t->split > 1 && t->needs_rng) seeds[i] = dn_rng_u64(&t->rng);
    if (t->split > 1) {
#pragma omp parallel for schedule(static, 1) num_threads(t->split)
        for (int i = 0; i < t->split; i++) step_part(t, i, n, chunk, seeds[i]);
    } else {
        /* no parallel construct around it, not even an inactive one: a
         * layer's own parallel region inside one is nested, and libgomp
         * starts new threads for a nested team at every region */
        step_part(t, 0, n, chunk, 0);
    }
    double loss = 0.0;
    for (int i = 0; i < t->split; i++) loss += t->tloss[i];
    return loss;
}

static size_t count_correct(const trainer *t) {
    size_t correct = 0;
    for (int i = 0; i < t->split; i++) correct += t->tcorrect[i];
    return correct;
}

/* Runs one epoch; returns DN_E_DIVERGED or DN_E_CANCELLED to stop. */
static dn_status run_epoch(trainer *t, int epoch, double *loss_out, double *acc_out,
                           double *secs_out, dn_error *err) {
    const dn_train_opts *o = &t->o;
    size_t batches = (t->ntrain + (size_t)t->batch - 1) / (size_t)t->batch;
    float lr = o->lr;
    double t0 = dn_now(), loss_sum = 0.0;
    size_t seen = 0, correct = 0;
    int full = (size_t)t->batch == t->ntrain && !dn_augment_enabled(o);
    if (!full) shuffle(t);
    for (size_t b = 0; b < batches; b++) {
        size_t first = b * (size_t)t->batch;
        int n = (int)(t->ntrain - first < (size_t)t->batch ? t->ntrain - first : (size_t)t->batch);
        lr = dn_schedule_lr(o, epoch - 1, b, batches); /* per-epoch schedules ignore b */
        /* full batch without augmentation: the same data every step */
        if (!full || !t->x_loaded) load_batch(t, first, n);
        t->x_loaded = full;
        double loss = step(t, n);
        /* A mean cross-entropy above 1000 means logits of order 1000: the
         * run has exploded even if the numbers are still finite. */
        if (!isfinite(loss) || loss / n > 1e3) {
            restore(t->m, t->good_params, t->good_state);
            return dn_fail(err, DN_E_DIVERGED,
                           "training diverged: loss is %s at epoch %d, batch %zu; try a smaller "
                           "learning rate (now %g)",
                           isnan(loss)   ? "NaN"
                           : isinf(loss) ? "infinite"
                                         : "exploding",
                           epoch, b + 1, (double)lr);
        }
        correct += count_correct(t);
        if (t->split > 1)
            dn_optim_step_sum_clear(&t->opt, t->m->params, t->tgrad, t->split, lr, t->split);
        else
            dn_optim_step_sum_clear(&t->opt, t->m->params, &t->grad, 1, lr, dn_get_threads());
        loss_sum += loss;
        seen += (size_t)n;
        if (o->progress && ((b + 1) % (o->progress_every ? o->progress_every : 1) == 0)) {
            double now = dn_now();
            dn_progress p = {.epoch = epoch,
                             .epochs = o->epochs,
                             .batch = b + 1,
                             .batches = batches,
                             .images_done = seen,
                             .loss = loss_sum / seen,
                             .images_per_sec = seen / (now - t0 + 1e-9),
                             .elapsed = t->seconds_before + now - t->start,
                             .val_accuracy = -1,
                             .lr = lr};
            if (o->progress(&p, o->progress_user)) {
                restore(t->m, t->good_params, t->good_state);
                return dn_fail(err, DN_E_CANCELLED, "training cancelled");
            }
        }
    }
    *loss_out = loss_sum / (double)seen;
    *acc_out = (double)correct / (double)seen;
    *secs_out = dn_now() - t0;
    return DN_OK;
}

/* ================================================================ checkpoints */

static dn_status save_checkpoint(trainer *t, dn_error *err) {
    dn_checkpoint ck = {.opts = t->o,
                        .epoch = t->epoch,
                        .threads = dn_get_threads(),
                        .split = t->split,
                        .data_count = t->ds->count,
                        .labels_crc = t->labels_crc,
                        .images_crc = t->images_crc,
                        .rng = t->rng,
                        .opt_step = t->opt.step,
                        .nmoments = dn_optim_moments(t->o.optimizer),
                        .moments = {t->opt.m, t->opt.v},
                        .ntrain = t->ntrain,
                        .order = t->order,
                        .best_epoch = t->r.best_epoch,
                        .best_accuracy = t->best,
                        .train_loss = t->r.final_train_loss,
                        .seconds = t->seconds_before + dn_now() - t->start,
                        .history = t->history,
                        .note = (char *)t->o.checkpoint_note,
                        .model = t->m};
    ck.opts.progress = NULL;
    ck.opts.progress_user = NULL;
    ck.opts.checkpoint = ck.opts.checkpoint_note = NULL;
    if (t->r.best_epoch && t->o.keep_best) {
        ck.best_params = t->best_params;
        ck.best_state = t->best_state;
    }
    return dn_checkpoint_save(t->o.checkpoint, &ck, err);
}

/* Replaces m's metadata by a copy of src's. */
static dn_status copy_meta(dn_model *m, const dn_model *src) {
    for (size_t i = 0; i < m->nmeta; i++) {
        free(m->meta[i].key);
        free(m->meta[i].value);
    }
    m->nmeta = 0;
    dn_status st = DN_OK;
    for (size_t i = 0; i < src->nmeta && st == DN_OK; i++)
        st = dn_model_set_meta(m, src->meta[i].key, src->meta[i].value);
    return st;
}

/* Puts the state saved in ck into a freshly initialised trainer and its
 * model, after checking that both match what the checkpoint was made with. */
static dn_status trainer_restore(trainer *t, const dn_checkpoint *ck, dn_error *err) {
    dn_model *m = t->m;
    const dn_model *src = ck->model;
    if (strcmp(m->arch, src->arch) || m->nparams != src->nparams || m->nstate != src->nstate)
        return dn_fail(err, DN_E_ARG,
                       "the model (%.200s) does not have the checkpoint's "
                       "architecture (%.200s)",
                       m->arch, src->arch);
    if (t->ds->count != ck->data_count)
        return dn_fail(err, DN_E_ARG,
                       "the checkpoint was made on %zu training images, this data set has %zu; "
                       "resume with the data the run started with",
                       ck->data_count, t->ds->count);
    if (t->labels_crc != ck->labels_crc || t->images_crc != ck->images_crc)
        return dn_fail(err, DN_E_ARG,
                       "the training data differs from the data the checkpoint was made on "
                       "(the %s do not match); resume with the data the run started with",
                       t->labels_crc != ck->labels_crc ? "labels" : "images");
    if (ck->ntrain != t->ntrain || ck->best_epoch > ck->epoch)
        return dn_fail(err, DN_E_ARG, "the checkpoint does not fit this data set");
    memcpy(m->params, src->params, sizeof(float) * m->nparams);
    memcpy(m->state, src->state, sizeof(float) * m->nstate);
    if (copy_meta(m, src) != DN_OK) return dn_fail(err, DN_E_NOMEM, "out of memory");
    float *moments[2] = {t->opt.m, t->opt.v};
    for (int k = 0; k < ck->nmoments && k < 2; k++)
        if (moments[k]) memcpy(moments[k], ck->moments[k], sizeof(float) * m->nparams);
    t->opt.step = ck->opt_step;
    t->rng = ck->rng;
    memcpy(t->order, ck->order, sizeof *t->order * t->ntrain);
    if (ck->best_params) {
        memcpy(t->best_params, ck->best_params, sizeof(float) * m->nparams);
        memcpy(t->best_state, ck->best_state, sizeof(float) * m->nstate);
    }
    t->best = ck->best_accuracy;
    t->epoch = ck->epoch;
    t->r.epochs_run = ck->epoch;
    t->r.best_epoch = ck->best_epoch;
    t->r.final_train_loss = ck->train_loss;
    t->seconds_before = ck->seconds;
    if (ck->history && ck->history[0]) {
        size_t len = strlen(ck->history);
        if (!(t->history = malloc(len + 1))) return dn_fail(err, DN_E_NOMEM, "out of memory");
        memcpy(t->history, ck->history, len + 1);
        t->history_len = len;
        t->history_cap = len + 1;
    }
    return DN_OK;
}

/* ================================================================ the loop */

/* Runs epochs t->epoch+1 .. epochs, then records the results. */
static dn_status train_loop(trainer *t, dn_error *err) {
    const dn_train_opts *o = &t->o;
    dn_model *m = t->m;
    dn_status st = DN_OK;
    t->start = dn_now();
    snapshot(m, t->good_params, t->good_state);
    /* A full batch makes an epoch one step of milliseconds, less than its
     * checkpoint's writes and fsyncs (the tutorial's 3,000 took 46 s with
     * one per epoch, 39 s with none): such a run writes one every hundredth
     * of its epochs, and after the last. */
    int every = (size_t)t->batch == t->ntrain && o->epochs >= 200 ? o->epochs / 100 : 1;
    for (int epoch = t->epoch + 1; st == DN_OK && epoch <= o->epochs; epoch++) {
        double loss = 0, acc = 0, secs = 0, vacc = -1.0, vloss = NAN;
        st = run_epoch(t, epoch, &loss, &acc, &secs, err);
        if (st != DN_OK) break;
        if (t->nval) validate(t, &vacc, &vloss);
        snapshot(m, t->good_params, t->good_state);
        if (t->nval && vacc > t->best) {
            t->best = vacc;
            t->r.best_epoch = epoch;
            snapshot(m, t->best_params, t->best_state);
        }
        t->epoch = t->r.epochs_run = epoch;
        t->r.final_train_loss = loss;
        if (history_add(t, &(dn_epoch_record){epoch, loss, acc, vacc}) != DN_OK)
            st = dn_fail(err, DN_E_NOMEM, "out of memory");
        if (st == DN_OK && o->checkpoint && (epoch % every == 0 || epoch == o->epochs))
            st = save_checkpoint(t, err);
        if (st == DN_OK && o->progress) {
            size_t batches = (t->ntrain + (size_t)t->batch - 1) / (size_t)t->batch;
            dn_progress p = {.epoch = epoch,
                             .epochs = o->epochs,
                             .batch = batches,
                             .batches = batches,
                             .images_done = t->ntrain,
                             .loss = loss,
                             .images_per_sec = t->ntrain / (secs + 1e-9),
                             .elapsed = t->seconds_before + dn_now() - t->start,
                             .epoch_done = 1,
                             .val_accuracy = vacc,
                             .val_loss = vloss,
                             .train_accuracy = acc,
                             .epoch_seconds = secs,
                             .lr = dn_schedule_lr(o, epoch - 1, batches - 1, batches)};
            if (o->progress(&p, o->progress_user))
                st = dn_fail(err, DN_E_CANCELLED, "training cancelled");
        }
    }
    if (t->history) dn_model_set_meta(m, "history", t->history);
    if (st == DN_OK && o->keep_best && t->nval && t->r.best_epoch)
        restore(m, t->best_params, t->best_state);
    t->r.best_val_accuracy = t->best;
    t->r.seconds = t->seconds_before + dn_now() - t->start;
    if (st == DN_OK && t->nval) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.6f", t->best);
        dn_model_set_meta(m, "val_accuracy", buf);
        snprintf(buf, sizeof buf, "%d", t->r.best_epoch);
        dn_model_set_meta(m, "best_epoch", buf);
    }
    return st;
}

dn_status dn_train(dn_model *m, const dn_dataset *ds, const dn_train_opts *o, dn_train_result *res,
                   dn_error *err) {
    trainer t;
    dn_status st = trainer_init(&t, m, ds, o, o->checkpoint != NULL, err);
    if (st == DN_OK) {
        record_settings(m, o, &t);
        st = train_loop(&t, err);
    }
    if (res) *res = t.r;
    trainer_free(&t);
    return st;
}

dn_status dn_train_resume(dn_model *m, const dn_dataset *ds, const dn_checkpoint *ck,
                          const dn_train_opts *o, dn_train_result *res, dn_error *err) {
    dn_train_opts merged = ck->opts;
    merged.progress = o ? o->progress : NULL;
    merged.progress_user = o ? o->progress_user : NULL;
    merged.progress_every = o ? o->progress_every : 1;
    merged.checkpoint = o ? o->checkpoint : NULL;
    merged.checkpoint_note = o ? o->checkpoint_note : NULL;
    trainer t;
    dn_status st = trainer_init(&t, m, ds, &merged, 1, err);
    if (st == DN_OK) st = trainer_restore(&t, ck, err);
    if (st == DN_OK) st = train_loop(&t, err);
    if (res) *res = t.r;
    trainer_free(&t);
    return st;
}
