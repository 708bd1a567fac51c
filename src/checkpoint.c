/*
 * checkpoint.c — the training checkpoint file (.ckpt): save (atomic,
 * streamed) and load (validated). It does not train; train.c decides what
 * goes in and how a run resumes from it.
 *
 * Layout, all integers little-endian, floats IEEE-754 binary32 (f64:
 * binary64), signed values as two's complement, version 2 (version 1 files,
 * without the two version-2 fields, still load):
 *
 *   size  field
 *   8     magic "DNCKPT01"
 *   4     u32 format version (2)
 *   4     u32 flags (0; reserved)
 *         training options (dn_train_opts without callbacks):
 *   4+4   u32 epochs, u32 batch
 *   4     f32 lr
 *   4+4   u32 optimizer (0 sgd, 1 momentum, 2 adam), f32 momentum
 *   4     u32 nesterov
 *   4*4   f32 beta1, beta2, eps, weight_decay
 *   4+4   u32 schedule (0 constant, 1 step, 2 cosine, 3 onecycle), u32 step_epochs
 *   4+4   f32 gamma, f32 lr_min
 *   8+8   u64 seed, u64 val_count
 *   4+4   u32 keep_best, u32 aug_shift
 *   4*3   f32 aug_rotate, aug_scale, aug_elastic
 *   4+4   f32 warmup, f32 label_smoothing (version 2 only)
 *         the run:
 *   4     u32 epochs completed E (1..epochs)
 *   4+4   u32 worker threads, u32 threads sharing one batch
 *   8     u64 training images N (validation tail included)
 *   4+4   u32 CRC-32 of the N labels, u32 CRC-32 of the N*784 pixels
 *   4*8   u64 RNG state s[0..3] (xoshiro256**)
 *   8+8   f64 last epoch's mean train loss, f64 seconds trained so far
 *   4+8   u32 best epoch (0 = none), f64 its validation accuracy
 *   4     u32 has_best: 1 when best-epoch tensors follow the model
 *   8+4   u64 optimiser steps, u32 moment buffers K (0 sgd, 1 momentum, 2 adam)
 *   8     u64 T = N - val_count, then T x u32: the data order of epoch E
 *   4+H   u32 H, history "epoch:loss:acc:val;..." (as in the model's metadata)
 *   4+C   u32 C, the caller's note (free text, e.g. where the data came from)
 *         the model section of the .dnm format (written and read by
 *         dn_model_put and dn_model_get in modelfile.c):
 *   8+8   u64 parameter count P, u64 state count S
 *   4+A   u32 A, architecture string
 *   4     u32 metadata entries M, then M x {u32 len, key, u32 len, value}
 *   4*P   parameters; 4*S state
 *         tensors:
 *   K*4*P optimiser moments (momentum velocity; Adam m then v)
 *   4*P+4*S  best-epoch parameters and state, when has_best
 *   4     u32 CRC-32 (zlib) of every byte before it
 *
 * Loading checks the CRC before parsing, then every field: enums and ranges,
 * the architecture must rebuild to exactly P and S with finite values
 * (the model file's rules), the settings are the trainer's to judge when
 * the run resumes, the order must be a
 * permutation of 0..T-1, and the file must end exactly after the last
 * tensor, so a crafted file cannot make the trainer read out of bounds.
 */
#include "checkpoint.h"
#include "binio.h"
#include "optim.h"

#include <limits.h>
#include <math.h>
#include <signal.h>
#include <string.h>

#define MAGIC "DNCKPT01"
#define VERSION 2u
#define MAX_TEXT (1u << 26)
#define MAX_FILE (sizeof(size_t) > 4 ? (size_t)1 << 36 : (size_t)-1)

/* ================================================================ writing */

static void put_opts(dn_bw *w, const dn_train_opts *o) {
    dn_bw_i32(w, o->epochs);
    dn_bw_i32(w, o->batch);
    dn_bw_f32(w, o->lr);
    dn_bw_u32(w, (uint32_t)o->optimizer);
    dn_bw_f32(w, o->momentum);
    dn_bw_i32(w, o->nesterov);
    dn_bw_f32(w, o->beta1);
    dn_bw_f32(w, o->beta2);
    dn_bw_f32(w, o->eps);
    dn_bw_f32(w, o->weight_decay);
    dn_bw_u32(w, (uint32_t)o->schedule);
    dn_bw_i32(w, o->step_epochs);
    dn_bw_f32(w, o->gamma);
    dn_bw_f32(w, o->lr_min);
    dn_bw_u64(w, o->seed);
    dn_bw_u64(w, o->val_count);
    dn_bw_i32(w, o->keep_best);
    dn_bw_i32(w, o->aug_shift);
    dn_bw_f32(w, o->aug_rotate);
    dn_bw_f32(w, o->aug_scale);
    dn_bw_f32(w, o->aug_elastic);
    dn_bw_f32(w, o->warmup);
    dn_bw_f32(w, o->label_smoothing);
}

/* Everything but the trailing CRC. */
static void put_checkpoint(dn_bw *w, const dn_checkpoint *ck) {
    const dn_model *m = ck->model;
    dn_bw_put(w, MAGIC, 8);
    dn_bw_u32(w, VERSION);
    dn_bw_u32(w, 0);
    put_opts(w, &ck->opts);
    dn_bw_i32(w, ck->epoch);
    dn_bw_i32(w, ck->threads);
    dn_bw_i32(w, ck->split);
    dn_bw_u64(w, ck->data_count);
    dn_bw_u32(w, ck->labels_crc);
    dn_bw_u32(w, ck->images_crc);
    for (int i = 0; i < 4; i++) dn_bw_u64(w, ck->rng.s[i]);
    dn_bw_f64(w, ck->train_loss);
    dn_bw_f64(w, ck->seconds);
    dn_bw_i32(w, ck->best_epoch);
    dn_bw_f64(w, ck->best_accuracy);
    dn_bw_u32(w, ck->best_params != NULL);
    dn_bw_u64(w, (uint64_t)ck->opt_step);
    dn_bw_i32(w, ck->nmoments);
    dn_bw_u64(w, ck->ntrain);
    for (size_t i = 0; i < ck->ntrain; i++) dn_bw_u32(w, (uint32_t)ck->order[i]);
    dn_bw_str(w, ck->history);
    dn_bw_str(w, ck->note);
    dn_model_put(w, m, 0);
    for (int k = 0; k < ck->nmoments; k++) dn_bw_floats(w, ck->moments[k], m->nparams);
    if (ck->best_params) {
        dn_bw_floats(w, ck->best_params, m->nparams);
        dn_bw_floats(w, ck->best_state, m->nstate);
    }
}

/* The test hook (see the header): a crash once half the file is written. */
static void kill_when_half_written(const dn_bw *w, void *ctx) {
    if (w->flushed >= *(const size_t *)ctx) raise(SIGKILL);
}

dn_status dn_checkpoint_save(const char *path, const dn_checkpoint *ck, dn_error *err) {
    if (ck->ntrain > UINT32_MAX || strlen(ck->model->arch) > 1023 ||
        (ck->history && strlen(ck->history) > MAX_TEXT) ||
        (ck->note && strlen(ck->note) > MAX_TEXT))
        return dn_fail(err, DN_E_ARG, "%s: training state too large for a checkpoint", path);
    dn_bw w = {.fd = -1, .count_only = 1};
    put_checkpoint(&w, ck); /* the sizing pass, for the test hook */
    size_t kill_at = 0;
    long hook = DN_TEST_HOOK("DIGITNET_TEST_KILL_IN_SAVE");
    if (hook >= 0 && hook == ck->epoch) kill_at = (w.total + 4) / 2;
    dn_atomic_file f;
    dn_status st = dn_atomic_open(&f, path, err);
    if (st == DN_OK) {
        w = (dn_bw){.fd = f.fd};
        if (kill_at) w.on_flush = kill_when_half_written, w.ctx = &kill_at;
        put_checkpoint(&w, ck);
        dn_bw_flush(&w, 1);
        dn_bw_u32(&w, w.crc); /* the CRC itself is not checksummed */
        dn_bw_flush(&w, 0);
        st = dn_atomic_commit(&f, w.err, err);
    }
    free(w.buf);
    return st;
}

/* ================================================================ loading */

/* n floats into a new buffer (at least one element); NULL (r->bad set) on
 * failure. */
static float *get_floats(dn_br *r, size_t n) {
    if (r->bad || dn_br_left(r) / 4 < n) {
        r->bad = 1;
        return NULL;
    }
    float *f = dn_calloc(n ? n : 1, sizeof(float));
    if (!f) {
        r->bad = 1;
        return NULL;
    }
    dn_br_floats(r, f, n);
    return f;
}

/* The stored settings; the others (callbacks, checkpoint path) stay empty
 * for the caller to fill.  Version 1 had no warm-up and no smoothing. */
static void get_opts(dn_br *r, dn_train_opts *o, uint32_t version) {
    memset(o, 0, sizeof *o);
    o->epochs = dn_br_i32(r);
    o->batch = dn_br_i32(r);
    o->lr = dn_br_f32(r);
    o->optimizer = (dn_optimizer)dn_br_u32(r);
    o->momentum = dn_br_f32(r);
    o->nesterov = dn_br_i32(r) != 0;
    o->beta1 = dn_br_f32(r);
    o->beta2 = dn_br_f32(r);
    o->eps = dn_br_f32(r);
    o->weight_decay = dn_br_f32(r);
    o->schedule = (dn_schedule)dn_br_u32(r);
    o->step_epochs = dn_br_i32(r);
    o->gamma = dn_br_f32(r);
    o->lr_min = dn_br_f32(r);
    o->seed = dn_br_u64(r);
    o->val_count = (size_t)dn_br_u64(r);
    o->keep_best = dn_br_i32(r) != 0;
    o->aug_shift = dn_br_i32(r);
    o->aug_rotate = dn_br_f32(r);
    o->aug_scale = dn_br_f32(r);
    o->aug_elastic = dn_br_f32(r);
    if (version >= 2) {
        o->warmup = dn_br_f32(r);
        o->label_smoothing = dn_br_f32(r);
    }
    o->progress_every = 1;
}

/* 1 when order[0..n) is a permutation of 0..n-1. */
static int is_permutation(const size_t *order, size_t n) {
    unsigned char *seen = dn_calloc(n ? n : 1, 1);
    if (!seen) return -1;
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        ok = order[i] < n && !seen[order[i]];
        if (ok) seen[order[i]] = 1;
    }
    free(seen);
    return ok;
}

static dn_status parse(dn_br *r, dn_checkpoint *ck, uint32_t version, const char *path,
                       dn_error *err) {
    get_opts(r, &ck->opts, version);
    ck->epoch = dn_br_i32(r);
    ck->threads = dn_br_i32(r);
    ck->split = dn_br_i32(r);
    ck->data_count = (size_t)dn_br_u64(r);
    ck->labels_crc = dn_br_u32(r);
    ck->images_crc = dn_br_u32(r);
    for (int i = 0; i < 4; i++) ck->rng.s[i] = dn_br_u64(r);
    ck->train_loss = dn_br_f64(r);
    ck->seconds = dn_br_f64(r);
    ck->best_epoch = dn_br_i32(r);
    ck->best_accuracy = dn_br_f64(r);
    uint32_t has_best = dn_br_u32(r);
    uint64_t steps = dn_br_u64(r);
    ck->nmoments = dn_br_i32(r);
    uint64_t ntrain = dn_br_u64(r);
    /* the settings themselves are the trainer's to judge (dn_train_resume);
     * here only what the rest of the file depends on */
    int known = ck->opts.optimizer <= DN_OPT_ADAM && ck->opts.schedule <= DN_SCHED_ONECYCLE;
    if (r->bad || !known || ck->epoch < 1 || ck->epoch > ck->opts.epochs || ck->threads < 1 ||
        ck->threads > 1024 || ck->split < 1 || ck->split > 1024 || ck->best_epoch > ck->epoch ||
        has_best > 1 || (has_best && !ck->best_epoch) || steps > (uint64_t)LONG_MAX ||
        ck->nmoments != dn_optim_moments(ck->opts.optimizer) ||
        ck->opts.val_count >= ck->data_count || ntrain != ck->data_count - ck->opts.val_count ||
        ntrain > (r->len - r->pos) / 4 || !(ck->best_accuracy >= -1 && ck->best_accuracy <= 1) ||
        !(ck->seconds >= 0) || !isfinite(ck->train_loss))
        return dn_fail(err, DN_E_FORMAT, "%s: training settings are malformed", path);
    ck->opt_step = (long)steps;
    ck->ntrain = (size_t)ntrain;
    ck->order = dn_calloc(ck->ntrain, sizeof *ck->order);
    if (!ck->order) return dn_fail(err, DN_E_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < ck->ntrain; i++) ck->order[i] = dn_br_u32(r);
    int perm = is_permutation(ck->order, ck->ntrain);
    if (perm < 0) return dn_fail(err, DN_E_NOMEM, "%s: out of memory", path);
    if (!perm) return dn_fail(err, DN_E_FORMAT, "%s: the stored data order is malformed", path);
    ck->history = dn_br_str(r, MAX_TEXT);
    ck->note = ck->history ? dn_br_str(r, MAX_TEXT) : NULL;
    if (r->bad) return dn_fail(err, DN_E_FORMAT, "%s: history or note is malformed", path);
    dn_status st = dn_model_get(r, 0, 0, path, &ck->model, err);
    if (st != DN_OK) return st;
    size_t np = ck->model->nparams, ns = ck->model->nstate;
    for (int k = 0; k < ck->nmoments; k++) ck->moments[k] = get_floats(r, np);
    if (has_best) {
        ck->best_params = get_floats(r, np);
        ck->best_state = get_floats(r, ns);
    }
    if (r->bad || r->pos != r->len)
        return dn_fail(err, DN_E_FORMAT, "%s: tensor section has the wrong size", path);
    return DN_OK;
}

dn_status dn_checkpoint_load(const char *path, dn_checkpoint **out, dn_error *err) {
    *out = NULL;
    unsigned char *data;
    size_t size;
    dn_status st = dn_read_file(path, MAX_FILE, &data, &size, err);
    if (st != DN_OK) return st;
    dn_br r = {data, size, 8, 0};
    if (size < 8 || memcmp(data, MAGIC, 8) != 0) {
        free(data);
        return dn_fail(err, DN_E_FORMAT, "%s: not a digitnet training checkpoint (bad magic)",
                       path);
    }
    uint32_t version = dn_br_u32(&r), flags = dn_br_u32(&r);
    if (r.bad || size < 20) {
        free(data);
        return dn_fail(err, DN_E_FORMAT, "%s: truncated checkpoint (%zu bytes)", path, size);
    }
    if (version < 1 || version > VERSION || flags != 0) {
        free(data);
        return dn_fail(
            err, DN_E_UNSUPPORTED,
            "%s: checkpoint format version %u (flags %u), this digitnet reads versions 1 to "
            "%u",
            path, version, flags, VERSION);
    }
    dn_br tail = {data, size, size - 4, 0};
    if (dn_br_u32(&tail) != dn_checksum(data, size - 4)) {
        free(data);
        return dn_fail(err, DN_E_FORMAT,
                       "%s: checksum mismatch: the checkpoint is corrupt or truncated", path);
    }
    dn_checkpoint *ck = calloc(1, sizeof *ck);
    if (!ck) {
        free(data);
        return dn_fail(err, DN_E_NOMEM, "%s: out of memory", path);
    }
    r.len = size - 4;
    st = parse(&r, ck, version, path, err);
    free(data);
    if (st != DN_OK) {
        dn_checkpoint_free(ck);
        return st;
    }
    *out = ck;
    return DN_OK;
}

void dn_checkpoint_free(dn_checkpoint *ck) {
    if (!ck) return;
    free(ck->moments[0]);
    free(ck->moments[1]);
    free(ck->order);
    free(ck->best_params);
    free(ck->best_state);
    free(ck->history);
    free(ck->note);
    dn_model_free(ck->model);
    free(ck);
}

void dn_checkpoint_describe(const dn_checkpoint *ck, dn_checkpoint_info *out) {
    memset(out, 0, sizeof *out);
    out->epoch = ck->epoch;
    out->threads = ck->threads;
    out->data_count = ck->data_count;
    out->arch = ck->model->arch;
    out->note = ck->note ? ck->note : "";
    out->opts = ck->opts;
    out->history = ck->history ? ck->history : "";
    out->best_epoch = ck->best_epoch;
    out->best_accuracy = ck->best_accuracy;
    out->seconds = ck->seconds;
}
