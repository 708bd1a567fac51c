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
 *         the model, as in the .dnm format:
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
 * the architecture must rebuild to exactly P and S, the order must be a
 * permutation of 0..T-1, and the file must end exactly after the last
 * tensor, so a crafted file cannot make the trainer read out of bounds.
 */
#include "checkpoint.h"
#include "optim.h"

#include <limits.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <zlib.h>

#define MAGIC "DNCKPT01"
#define VERSION 2u
#define MAX_META 4096u
#define MAX_KEY 256u
#define MAX_VALUE (1u << 20)
#define MAX_TEXT (1u << 26)
#define MAX_FILE (sizeof(size_t) > 4 ? (size_t)1 << 36 : (size_t)-1)
#define WBUF 65536

/* ================================================================ writing */

/* A streaming writer. With fd < 0 it only counts bytes (the sizing pass). */
typedef struct ckw {
    int fd, err; /* err: errno of the first failure, 0 while fine */
    unsigned char *buf;
    size_t used, total, flushed, kill_at;
    uLong crc;
} ckw;

/* Writes the buffer out; crc: whether its bytes count towards the checksum. */
static void flush(ckw *w, int crc) {
    if (w->err || w->fd < 0 || !w->used) return;
    if (crc) w->crc = crc32(w->crc, w->buf, (uInt)w->used);
    w->err = dn_write_all(w->fd, w->buf, w->used);
    if (w->err) return;
    w->flushed += w->used;
    w->used = 0;
    if (w->kill_at && w->flushed >= w->kill_at) raise(SIGKILL); /* test hook, see the header */
}

static void put(ckw *w, const void *data, size_t n) {
    const unsigned char *p = data;
    w->total += n;
    if (w->fd < 0) return;
    while (n > 0 && !w->err) {
        size_t k = WBUF - w->used < n ? WBUF - w->used : n;
        memcpy(w->buf + w->used, p, k);
        w->used += k;
        p += k;
        n -= k;
        if (w->used == WBUF) flush(w, 1);
    }
}

static void put_u32(ckw *w, uint32_t v) {
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    put(w, x, 4);
}

static void put_u64(ckw *w, uint64_t v) {
    put_u32(w, (uint32_t)v);
    put_u32(w, (uint32_t)(v >> 32));
}

static void put_i32(ckw *w, int v) {
    put_u32(w, (uint32_t)v);
}

static void put_f32(ckw *w, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    put_u32(w, u);
}

static void put_f64(ckw *w, double d) {
    uint64_t u;
    memcpy(&u, &d, 8);
    put_u64(w, u);
}

static void put_str(ckw *w, const char *s) {
    size_t n = s ? strlen(s) : 0;
    put_u32(w, (uint32_t)n);
    put(w, s ? s : "", n);
}

static void put_floats(ckw *w, const float *f, size_t n) {
    if (w->fd < 0) {
        w->total += 4 * n;
        return;
    }
    for (size_t i = 0; i < n; i++) put_f32(w, f[i]);
}

static void put_opts(ckw *w, const dn_train_opts *o) {
    put_i32(w, o->epochs);
    put_i32(w, o->batch);
    put_f32(w, o->lr);
    put_u32(w, (uint32_t)o->optimizer);
    put_f32(w, o->momentum);
    put_i32(w, o->nesterov);
    put_f32(w, o->beta1);
    put_f32(w, o->beta2);
    put_f32(w, o->eps);
    put_f32(w, o->weight_decay);
    put_u32(w, (uint32_t)o->schedule);
    put_i32(w, o->step_epochs);
    put_f32(w, o->gamma);
    put_f32(w, o->lr_min);
    put_u64(w, o->seed);
    put_u64(w, o->val_count);
    put_i32(w, o->keep_best);
    put_i32(w, o->aug_shift);
    put_f32(w, o->aug_rotate);
    put_f32(w, o->aug_scale);
    put_f32(w, o->aug_elastic);
    put_f32(w, o->warmup);
    put_f32(w, o->label_smoothing);
}

/* Everything but the trailing CRC. */
static void put_checkpoint(ckw *w, const dn_checkpoint *ck) {
    const dn_model *m = ck->model;
    put(w, MAGIC, 8);
    put_u32(w, VERSION);
    put_u32(w, 0);
    put_opts(w, &ck->opts);
    put_i32(w, ck->epoch);
    put_i32(w, ck->threads);
    put_i32(w, ck->split);
    put_u64(w, ck->data_count);
    put_u32(w, ck->labels_crc);
    put_u32(w, ck->images_crc);
    for (int i = 0; i < 4; i++) put_u64(w, ck->rng.s[i]);
    put_f64(w, ck->train_loss);
    put_f64(w, ck->seconds);
    put_i32(w, ck->best_epoch);
    put_f64(w, ck->best_accuracy);
    put_u32(w, ck->best_params != NULL);
    put_u64(w, (uint64_t)ck->opt_step);
    put_i32(w, ck->nmoments);
    put_u64(w, ck->ntrain);
    for (size_t i = 0; i < ck->ntrain; i++) put_u32(w, (uint32_t)ck->order[i]);
    put_str(w, ck->history);
    put_str(w, ck->note);
    put_u64(w, m->nparams);
    put_u64(w, m->nstate);
    put_str(w, m->arch);
    put_u32(w, (uint32_t)m->nmeta);
    for (size_t i = 0; i < m->nmeta; i++) {
        put_str(w, m->meta[i].key);
        put_str(w, m->meta[i].value);
    }
    put_floats(w, m->params, m->nparams);
    put_floats(w, m->state, m->nstate);
    for (int k = 0; k < ck->nmoments; k++) put_floats(w, ck->moments[k], m->nparams);
    if (ck->best_params) {
        put_floats(w, ck->best_params, m->nparams);
        put_floats(w, ck->best_state, m->nstate);
    }
}

dn_status dn_checkpoint_save(const char *path, const dn_checkpoint *ck, dn_error *err) {
    if (ck->ntrain > UINT32_MAX || strlen(ck->model->arch) > 1023 ||
        (ck->history && strlen(ck->history) > MAX_TEXT) ||
        (ck->note && strlen(ck->note) > MAX_TEXT))
        return dn_fail(err, DN_E_ARG, "%s: training state too large for a checkpoint", path);
    ckw w = {.fd = -1};
    put_checkpoint(&w, ck); /* the sizing pass, for the test hook */
    long hook = DN_TEST_HOOK("DIGITNET_TEST_KILL_IN_SAVE");
    if (hook >= 0 && hook == ck->epoch) w.kill_at = (w.total + 4) / 2;
    w.total = 0;
    w.crc = crc32(0L, Z_NULL, 0);
    if (!(w.buf = malloc(WBUF))) return dn_fail(err, DN_E_NOMEM, "%s: out of memory", path);
    dn_atomic_file f;
    dn_status st = dn_atomic_open(&f, path, err);
    if (st == DN_OK) {
        w.fd = f.fd;
        put_checkpoint(&w, ck);
        flush(&w, 1);
        put_u32(&w, (uint32_t)w.crc); /* the CRC itself is not checksummed */
        flush(&w, 0);
        st = dn_atomic_commit(&f, w.err, err);
    }
    free(w.buf);
    return st;
}

/* ================================================================ loading */

typedef struct rbuf {
    const unsigned char *p;
    size_t len, pos;
    int bad;
} rbuf;

static uint32_t get_u32(rbuf *r) {
    if (r->bad || r->len - r->pos < 4) {
        r->bad = 1;
        return 0;
    }
    const unsigned char *x = r->p + r->pos;
    r->pos += 4;
    return (uint32_t)x[0] | (uint32_t)x[1] << 8 | (uint32_t)x[2] << 16 | (uint32_t)x[3] << 24;
}

static uint64_t get_u64(rbuf *r) {
    uint64_t lo = get_u32(r);
    return (uint64_t)get_u32(r) << 32 | lo;
}

static int get_i32(rbuf *r) {
    uint32_t u = get_u32(r);
    if (u > INT32_MAX) r->bad = 1; /* every signed field is non-negative */
    return (int)(u & INT32_MAX);
}

static float get_f32(rbuf *r) {
    uint32_t u = get_u32(r);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static double get_f64(rbuf *r) {
    uint64_t u = get_u64(r);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* A length-prefixed string of at most max bytes, without NULs, as a new
 * buffer; NULL when malformed or out of memory (r->bad set). */
static char *get_str(rbuf *r, uint32_t max) {
    uint32_t n = get_u32(r);
    if (r->bad || n > max || r->len - r->pos < n || memchr(r->p + r->pos, 0, n)) {
        r->bad = 1;
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (!s) {
        r->bad = 1;
        return NULL;
    }
    memcpy(s, r->p + r->pos, n);
    s[n] = 0;
    r->pos += n;
    return s;
}

/* n floats into f; 0 when they are not all there. */
static int get_floats_into(rbuf *r, float *f, size_t n) {
    if (r->bad || (r->len - r->pos) / 4 < n) {
        r->bad = 1;
        return 0;
    }
    for (size_t i = 0; i < n; i++) f[i] = get_f32(r);
    return 1;
}

/* n floats into a new buffer (at least one element); NULL on failure. */
static float *get_floats(rbuf *r, size_t n) {
    if (r->bad || (r->len - r->pos) / 4 < n) {
        r->bad = 1;
        return NULL;
    }
    float *f = dn_calloc(n ? n : 1, sizeof(float));
    if (!f) {
        r->bad = 1;
        return NULL;
    }
    get_floats_into(r, f, n);
    return f;
}

/* The stored settings; the others (callbacks, checkpoint path) stay empty
 * for the caller to fill.  Version 1 had no warm-up and no smoothing. */
static void get_opts(rbuf *r, dn_train_opts *o, uint32_t version) {
    memset(o, 0, sizeof *o);
    o->epochs = get_i32(r);
    o->batch = get_i32(r);
    o->lr = get_f32(r);
    o->optimizer = (dn_optimizer)get_u32(r);
    o->momentum = get_f32(r);
    o->nesterov = get_i32(r) != 0;
    o->beta1 = get_f32(r);
    o->beta2 = get_f32(r);
    o->eps = get_f32(r);
    o->weight_decay = get_f32(r);
    o->schedule = (dn_schedule)get_u32(r);
    o->step_epochs = get_i32(r);
    o->gamma = get_f32(r);
    o->lr_min = get_f32(r);
    o->seed = get_u64(r);
    o->val_count = (size_t)get_u64(r);
    o->keep_best = get_i32(r) != 0;
    o->aug_shift = get_i32(r);
    o->aug_rotate = get_f32(r);
    o->aug_scale = get_f32(r);
    o->aug_elastic = get_f32(r);
    if (version >= 2) {
        o->warmup = get_f32(r);
        o->label_smoothing = get_f32(r);
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

static dn_status parse_model(rbuf *r, dn_checkpoint *ck, const char *path, dn_error *err) {
    uint64_t np = get_u64(r), ns = get_u64(r);
    char *arch = get_str(r, 1023);
    if (r->bad) return dn_fail(err, DN_E_FORMAT, "%s: model header is malformed", path);
    dn_spec spec;
    dn_status st = dn_spec_parse(arch, NULL, &spec, NULL);
    if (st == DN_OK) st = dn_model_build(&spec, &ck->model, NULL);
    if (st == DN_OK && (ck->model->nparams != np || ck->model->nstate != ns)) st = DN_E_FORMAT;
    if (st != DN_OK) {
        st = dn_fail(err, st == DN_E_NOMEM ? st : DN_E_FORMAT,
                     "%s: architecture '%.200s' does not match the stored tensors", path, arch);
        free(arch);
        return st;
    }
    free(arch);
    uint32_t count = get_u32(r);
    if (count > MAX_META) r->bad = 1;
    for (uint32_t i = 0; i < count && !r->bad; i++) {
        char *k = get_str(r, MAX_KEY), *v = k ? get_str(r, MAX_VALUE) : NULL;
        if (v && dn_model_set_meta(ck->model, k, v) != DN_OK) r->bad = 1;
        free(k);
        free(v);
    }
    get_floats_into(r, ck->model->params, np);
    get_floats_into(r, ck->model->state, ns);
    return r->bad ? dn_fail(err, DN_E_FORMAT, "%s: model section is malformed", path) : DN_OK;
}

static dn_status parse(rbuf *r, dn_checkpoint *ck, uint32_t version, const char *path,
                       dn_error *err) {
    get_opts(r, &ck->opts, version);
    ck->epoch = get_i32(r);
    ck->threads = get_i32(r);
    ck->split = get_i32(r);
    ck->data_count = (size_t)get_u64(r);
    ck->labels_crc = get_u32(r);
    ck->images_crc = get_u32(r);
    for (int i = 0; i < 4; i++) ck->rng.s[i] = get_u64(r);
    ck->train_loss = get_f64(r);
    ck->seconds = get_f64(r);
    ck->best_epoch = get_i32(r);
    ck->best_accuracy = get_f64(r);
    uint32_t has_best = get_u32(r);
    uint64_t steps = get_u64(r);
    ck->nmoments = get_i32(r);
    uint64_t ntrain = get_u64(r);
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
    for (size_t i = 0; i < ck->ntrain; i++) ck->order[i] = get_u32(r);
    int perm = is_permutation(ck->order, ck->ntrain);
    if (perm < 0) return dn_fail(err, DN_E_NOMEM, "%s: out of memory", path);
    if (!perm) return dn_fail(err, DN_E_FORMAT, "%s: the stored data order is malformed", path);
    ck->history = get_str(r, MAX_TEXT);
    ck->note = ck->history ? get_str(r, MAX_TEXT) : NULL;
    if (r->bad) return dn_fail(err, DN_E_FORMAT, "%s: history or note is malformed", path);
    dn_status st = parse_model(r, ck, path, err);
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
    rbuf r = {data, size, 8, 0};
    if (size < 8 || memcmp(data, MAGIC, 8) != 0) {
        free(data);
        return dn_fail(err, DN_E_FORMAT, "%s: not a digitnet training checkpoint (bad magic)",
                       path);
    }
    uint32_t version = get_u32(&r), flags = get_u32(&r);
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
    rbuf tail = {data, size, size - 4, 0};
    if (get_u32(&tail) != dn_checksum(data, size - 4)) {
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
