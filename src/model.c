/*
 * model.c — builds networks from specs and runs them: the forward pass,
 * the backward pass (chain rule layer by layer, last to first), inference
 * contexts and evaluation. Metadata and accessors live here too.
 *
 * Memory: one parameter buffer and one state buffer per model, one buffer
 * per executor (activations + aux + scratch), allocated once; the training
 * step and each inference request allocate nothing.
 */
#include "model.h"

#include <math.h>
#include <string.h>

/* Floats of per-image scratch any one layer may need (256 MB). */
#define MAX_SCRATCH (1u << 26)

/* ================================================================ building */

dn_status dn_model_build(const dn_spec *spec, dn_model **out, dn_error *err) {
    *out = NULL;
    dn_model *m = calloc(1, sizeof *m);
    if (!m) return dn_fail(err, DN_E_NOMEM, "out of memory");
    dn_shape shape = {DN_INPUT_C, DN_INPUT_H, DN_INPUT_W};
    size_t np = 0, ns = 0;
    m->nlayers = spec->count;
    for (int i = 0; i < spec->count; i++) {
        dn_layer *l = &m->layers[i];
        l->cfg = spec->layers[i];
        l->ops = dn_layer_ops_for(l->cfg.kind);
        l->in = shape;
        /* He init when a ReLU follows (directly or after batch norm) */
        for (int j = i + 1; j < spec->count && j <= i + 2; j++)
            if (spec->layers[j].kind == DN_L_RELU) l->init_gain_relu = 1;
        dn_status st = l->ops->setup(l, err);
        if (st != DN_OK) {
            free(m);
            return st;
        }
        l->param_offset = np;
        np += l->nparams;
        ns += l->nstate;
        shape = l->out;
        if (dn_shape_size(shape) == 0 || dn_shape_size(shape) > (1u << 24)) {
            st = dn_fail(err, DN_E_ARG, "layer %d (%s) has an unusable output size", i + 1,
                         l->ops->name);
            free(m);
            return st;
        }
        /* per-image scratch (a convolution's im2col matrix) within 256 MB, so
         * no executor size below can wrap, also where size_t has 32 bits */
        if (l->aux_per_sample > MAX_SCRATCH || l->ops->work_size(l, 1, 1) > MAX_SCRATCH) {
            st = dn_fail(err, DN_E_ARG,
                         "layer %d (%s) needs more than %u floats of scratch per image", i + 1,
                         l->ops->name, (unsigned)MAX_SCRATCH);
            free(m);
            return st;
        }
    }
    if (dn_shape_size(shape) != DN_CLASSES) {
        free(m);
        return dn_fail(err, DN_E_ARG,
                       "the network must end with %d outputs (one per digit), this one ends "
                       "with %zu; finish with fc10",
                       DN_CLASSES, dn_shape_size(shape));
    }
    if (np > (size_t)1 << 28) {
        free(m);
        return dn_fail(err, DN_E_ARG, "network has too many parameters (%zu)", np);
    }
    m->nparams = np;
    m->nstate = ns;
    m->params = dn_calloc(np, sizeof(float));
    m->state = dn_calloc(ns, sizeof(float));
    if (!m->params || !m->state || dn_spec_format(spec, m->arch, sizeof m->arch) != DN_OK) {
        dn_model_free(m);
        return dn_fail(err, DN_E_NOMEM, "out of memory");
    }
    size_t so = 0;
    for (int i = 0; i < m->nlayers; i++) {
        m->layers[i].w = m->params + m->layers[i].param_offset;
        m->layers[i].state = m->state + so;
        so += m->layers[i].nstate;
    }
    *out = m;
    return DN_OK;
}

void dn_model_init_params(dn_model *m, uint64_t seed) {
    dn_rng rng;
    dn_rng_seed(&rng, seed);
    for (int i = 0; i < m->nlayers; i++) m->layers[i].ops->init(&m->layers[i], &rng);
}

dn_status dn_model_create(const char *arch, const char *act, uint64_t seed, dn_model **out,
                          dn_error *err) {
    *out = NULL;
    dn_spec spec;
    dn_status st = dn_spec_parse(arch, act, &spec, err);
    if (st != DN_OK) return st;
    st = dn_model_build(&spec, out, err);
    if (st != DN_OK) return st;
    dn_model_init_params(*out, seed);
    return DN_OK;
}

void dn_model_free(dn_model *m) {
    if (!m) return;
    for (size_t i = 0; i < m->nmeta; i++) {
        free(m->meta[i].key);
        free(m->meta[i].value);
    }
    free(m->meta);
    free(m->params);
    free(m->state);
    free(m->summary);
    free(m);
}

dn_status dn_model_clone(const dn_model *m, dn_model **out, dn_error *err) {
    dn_spec spec;
    *out = NULL;
    dn_status st = dn_spec_parse(m->arch, NULL, &spec, err);
    if (st == DN_OK) st = dn_model_build(&spec, out, err);
    if (st != DN_OK) return st;
    memcpy((*out)->params, m->params, sizeof(float) * m->nparams);
    memcpy((*out)->state, m->state, sizeof(float) * m->nstate);
    for (size_t i = 0; i < m->nmeta && st == DN_OK; i++)
        st = dn_model_set_meta(*out, m->meta[i].key, m->meta[i].value);
    if (st != DN_OK) {
        dn_model_free(*out);
        *out = NULL;
        return dn_fail(err, st, "out of memory");
    }
    return DN_OK;
}

/* ================================================================ accessors */

const char *dn_model_arch(const dn_model *m) {
    return m->arch;
}

size_t dn_model_param_count(const dn_model *m) {
    return m->nparams;
}

int dn_model_input_size(const dn_model *m) {
    return DN_INPUT_C * DN_INPUT_H * DN_INPUT_W;
}

int dn_model_classes(const dn_model *m) {
    return DN_CLASSES;
}

const char *dn_model_summary(dn_model *m) {
    if (m->summary) return m->summary;
    size_t cap = 128 + (size_t)m->nlayers * 96;
    char *s = malloc(cap);
    if (!s) return "";
    size_t n = (size_t)snprintf(s, cap, "%-4s %-10s %-14s %-14s %10s\n", "#", "layer", "input",
                                "output", "params");
    for (int i = 0; i < m->nlayers && n < cap; i++) {
        const dn_layer *l = &m->layers[i];
        char in[32], o[32];
        snprintf(in, sizeof in, "%dx%dx%d", l->in.c, l->in.h, l->in.w);
        snprintf(o, sizeof o, "%dx%dx%d", l->out.c, l->out.h, l->out.w);
        n += (size_t)snprintf(s + n, cap - n, "%-4d %-10s %-14s %-14s %10zu\n", i + 1, l->ops->name,
                              in, o, l->nparams);
    }
    m->summary = s;
    return s;
}

/* ================================================================ metadata */

dn_status dn_model_set_meta(dn_model *m, const char *key, const char *value) {
    if (!m || !key || !*key || !value) return DN_E_ARG;
    /* the one key the library reads back: it changes every probability */
    if (!strcmp(key, "temperature") && dn_temperature_parse(value) == 0) return DN_E_ARG;
    for (size_t i = 0; i < m->nmeta; i++)
        if (!strcmp(m->meta[i].key, key)) {
            char *v = strdup(value);
            if (!v) return DN_E_NOMEM;
            free(m->meta[i].value);
            m->meta[i].value = v;
            return DN_OK;
        }
    if (m->nmeta == m->meta_cap) {
        size_t cap = m->meta_cap ? m->meta_cap * 2 : 16;
        dn_meta_kv *nm = realloc(m->meta, cap * sizeof *nm);
        if (!nm) return DN_E_NOMEM;
        m->meta = nm;
        m->meta_cap = cap;
    }
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return DN_E_NOMEM;
    }
    m->meta[m->nmeta++] = (dn_meta_kv){k, v};
    return DN_OK;
}

const char *dn_model_get_meta(const dn_model *m, const char *key) {
    for (size_t i = 0; i < m->nmeta; i++)
        if (!strcmp(m->meta[i].key, key)) return m->meta[i].value;
    return NULL;
}

int dn_model_meta_at(const dn_model *m, size_t i, const char **key, const char **value) {
    if (i >= m->nmeta) return 0;
    *key = m->meta[i].key;
    *value = m->meta[i].value;
    return 1;
}

/* ================================================================ executor */

/* 1 when layer i of a planned executor runs the batch norm after it. */
static int folds_bn(const dn_exec *e, const dn_model *m, int i) {
    return e->fused[i] && m->layers[i + 1].cfg.kind == DN_L_BATCHNORM &&
           m->layers[i].cfg.kind != DN_L_BATCHNORM;
}

/* Which layers run as one in e (see DN_EXEC_FUSED). */
static void plan_fusion(dn_exec *e, const dn_model *m, int train) {
    const dn_layer *L = m->layers;
    int n = m->nlayers;
    for (int i = 0; i < n; i++) {
        dn_layer_kind k = L[i].cfg.kind;
        int j = i + 1, affine = k == DN_L_CONV || k == DN_L_DENSE;
        if (!train && affine && j < n && L[j].cfg.kind == DN_L_BATCHNORM) j++;
        if ((k == DN_L_BATCHNORM || affine) && j < n && L[j].cfg.kind == DN_L_RELU) {
            e->relu[i] = 1;
            /* a batch norm's backward masks the ReLU's gradient itself */
            if (train && k == DN_L_BATCHNORM) e->skip_backward[j] = 2;
            j++;
        }
        for (int q = i + 1; q < j; q++) e->absorbed[q] = 1;
        /* a 2x2 max pool after those, in a Winograd convolution's output:
         * the pool keeps its own output (and its backward) */
        if (k == DN_L_CONV && j < n && L[j].cfg.kind == DN_L_MAXPOOL && L[j].cfg.k == 2 &&
            L[j].cfg.stride == 2 && dn_conv_pools(&L[i])) {
            e->pooled[i] = 1;
            e->absorbed[j++] = 2;
        }
        e->fused[i] = (unsigned char)(j - i - 1);
        i = j - 1;
    }
    /* a ReLU's backward before a max pool or a convolution: theirs, which
     * pass dx back only where their input, the ReLU's output, is positive
     * (the pool: where its output, the chosen input, is) */
    for (int i = 0; train && i + 1 < n; i++)
        if (L[i].cfg.kind == DN_L_RELU && !e->skip_backward[i] &&
            (L[i + 1].cfg.kind == DN_L_MAXPOOL || L[i + 1].cfg.kind == DN_L_CONV)) {
            e->skip_backward[i] = 1;
            e->relu_in[i + 1] = 1;
        }
}

dn_status dn_exec_init(dn_exec *e, const dn_model *m, int max_batch, int threads, int mode,
                       dn_error *err) {
    memset(e, 0, sizeof *e);
    int train = (mode & DN_EXEC_TRAIN) != 0;
    if (max_batch <= 0) return dn_fail(err, DN_E_ARG, "batch size must be positive");
    if (threads <= 0) threads = 1;
    e->m = m;
    e->max_batch = max_batch;
    e->threads = threads;
    e->inv_temp = (float)(1.0 / dn_model_temperature(m));
    /* counted in 64 bits: with a 32-bit size_t (WebAssembly) a product could wrap */
    uint64_t nb = (uint64_t)max_batch, total = 0;
    size_t widest = 784, work = 0;
    if (mode & DN_EXEC_FUSED) plan_fusion(e, m, train);
        /* Every region starts on a cache line (64 bytes, 16 floats), as the
         * buffer does: a region after one of odd length (a batch norm's kept
         * statistics, 1 + 4 C floats) once shifted every later row of
         * activations off its line, and vector loads across two lines cost the
         * cnn preset 6%. */
#define LINE(n) (((uint64_t)(n) + 15) / 16 * 16)
    for (int i = 0; i < m->nlayers; i++)
        if (folds_bn(e, m, i)) total += LINE(2 * (uint64_t)m->layers[i + 1].in.c);
    for (int i = 0; i < m->nlayers; i++) {
        const dn_layer *l = &m->layers[i];
        /* aux (kept for backward) exists only in training executors */
        if (e->absorbed[i] != 1) total += LINE(nb * (uint64_t)dn_shape_size(l->out));
        total += train ? LINE(nb * l->aux_per_sample + l->aux_per_batch) : 0;
        size_t w = l->ops->work_size(l, max_batch, threads);
        if (w > work) work = w;
        if (dn_shape_size(l->out) > widest) widest = dn_shape_size(l->out);
    }
    total += LINE(work) + LINE(nb * DN_CLASSES);
    if (train) total += 2 * LINE(nb * widest);
    size_t prep[DN_MAX_LAYERS] = {0};
    for (int i = 0; i < m->nlayers && !train; i++) {
        const dn_layer *l = &m->layers[i];
        prep[i] = l->ops->prepare ? l->ops->prepare(l, NULL) : 0;
        total += LINE(prep[i]);
    }
    if (total > ((uint64_t)1 << 34) / sizeof(float) || total > SIZE_MAX / sizeof(float))
        return dn_fail(err, DN_E_NOMEM, "batch of %d needs too much memory", max_batch);
    void *buf = NULL; /* on a cache line, as dn_calloc's buffers */
    if (posix_memalign(&buf, 64, (total ? (size_t)total : 1) * sizeof(float)) != 0) buf = NULL;
    e->buf = buf;
    if (!e->buf)
        return dn_fail(err, DN_E_NOMEM, "out of memory allocating %zu MB of activations",
                       (size_t)total * sizeof(float) >> 20);
    float *p = e->buf;
    for (int i = 0; i < m->nlayers; i++) {
        const dn_layer *l = &m->layers[i];
        if (e->absorbed[i] == 1) {
            e->act[i + 1] = e->act[i];
        } else {
            e->act[i + 1] = p;
            p += LINE(nb * dn_shape_size(l->out));
        }
        e->aux[i] = train && (l->aux_per_sample || l->aux_per_batch) ? p : NULL;
        p += train ? LINE(nb * l->aux_per_sample + l->aux_per_batch) : 0;
    }
    e->work = p;
    p += LINE(work);
    e->probs = p;
    p += LINE(nb * DN_CLASSES);
    if (train) {
        e->grad_a = p;
        e->grad_b = p + LINE(nb * widest);
        p += 2 * LINE(nb * widest);
    }
    for (int i = 0; i < m->nlayers; i++)
        if (folds_bn(e, m, i)) { /* the batch norm after layer i, folded into it */
            const dn_layer *bn = &m->layers[i + 1];
            e->post[i] = p;
            dn_batchnorm_fold(bn, p, p + bn->in.c);
            p += LINE(2 * (size_t)bn->in.c);
        }
    for (int i = 0; i < m->nlayers; i++)
        if (prep[i]) {
            e->prep[i] = p;
            m->layers[i].ops->prepare(&m->layers[i], p);
            p += LINE(prep[i]);
        }
#undef LINE
    return DN_OK;
}

void dn_exec_free(dn_exec *e) {
    if (!e) return;
    free(e->buf);
    memset(e, 0, sizeof *e);
}

/* Layers first.. onwards, from e->act[first], over rows [r0, r0 + n) of
 * the batch, the layers using `threads` threads. */
static double forward_layers(dn_exec *e, int first, int r0, int n, int threads,
                             const unsigned char *labels, int train, dn_rng *rng, float *state) {
    const dn_model *m = e->m;
    for (int i = first; i < m->nlayers; i++) {
        const dn_layer *l = &m->layers[i];
        dn_layer_ctx c = {.train = train,
                          .rng = rng,
                          .aux = e->aux[i],
                          .work = e->work,
                          .state = state ? state + (l->state - m->state) : NULL,
                          .threads = threads,
                          .prep = e->prep[i],
                          .relu = e->relu[i],
                          .post = e->post[i]};
        /* the output of the last layer that runs inside this one (a max pool
         * writes its own) */
        int last = i + e->fused[i];
        if (e->pooled[i]) c.pool = 1, c.pool_aux = e->aux[last];
        size_t in = dn_shape_size(l->in), out = dn_shape_size(m->layers[last].out);
        l->ops->forward(l, e->act[i] + (size_t)r0 * in, e->act[last + 1] + (size_t)r0 * out, n, &c);
        i = last; /* the layers that ran inside layer i */
    }
    return dn_softmax_xent_forward(e->act[m->nlayers] + (size_t)r0 * DN_CLASSES,
                                   labels ? labels + r0 : NULL, e->probs + (size_t)r0 * DN_CLASSES,
                                   n, DN_CLASSES, train ? 1.0f : e->inv_temp);
}

/* 1 for a network whose inference treats each row on its own with no
 * scratch space (dense layers and element-wise activations): a batch can
 * then be cut into parts, one per thread. */
static int rows_apart(const dn_model *m) {
    for (int i = 0; i < m->nlayers; i++) {
        dn_layer_kind k = m->layers[i].cfg.kind;
        if (k != DN_L_DENSE && k != DN_L_RELU && k != DN_L_SIGMOID && k != DN_L_TANH) return 0;
    }
    return 1;
}

/* A batch of inference at least this long on such a network goes in one
 * part per thread, each through every layer: no barrier between layers
 * (which cost the MLP's batch of 1,000 a quarter of its time on 2
 * threads). Every row is computed as it would be in one part. */
#define PART_MIN 256
#define MAX_PARTS 16

double dn_exec_forward(dn_exec *e, const float *x, const unsigned char *labels, int n, int train,
                       dn_rng *rng, float *state) {
    e->act[0] = (float *)x;
    int parts = e->threads < MAX_PARTS ? e->threads : MAX_PARTS;
    if (train || parts < 2 || n < PART_MIN * parts || !rows_apart(e->m))
        return forward_layers(e, 0, 0, n, e->threads, labels, train, rng, state);
    double loss[MAX_PARTS] = {0};
    int chunk = (n + parts - 1) / parts;
#pragma omp parallel for schedule(static, 1) num_threads(parts)
    for (int t = 0; t < parts; t++) {
        int r0 = t * chunk, k = n - r0 < chunk ? n - r0 : chunk;
        if (k > 0) loss[t] = forward_layers(e, 0, r0, k, 1, labels, 0, NULL, NULL);
    }
    double sum = 0.0;
    for (int t = 0; t < parts; t++) sum += loss[t];
    return sum;
}

int dn_exec_reads_pixels(const dn_exec *e) {
    /* (a ReLU fused into that layer runs after it, in place: see forward_px) */
    return e->m->nlayers > 0 && dn_dense_reads_pixels(&e->m->layers[0]) && !e->post[0];
}

double dn_exec_forward_px(dn_exec *e, const unsigned char *const *rows, const unsigned char *labels,
                          int n, int train, dn_rng *rng, float *state) {
    e->act[0] = NULL;
    dn_dense_forward_px(&e->m->layers[0], rows, DN_PIXEL_SCALE, e->act[1], n);
    /* from layer 1 on, even when it is a ReLU fused into layer 0: it then
     * runs on its own, in place (act[2] is act[1]) */
    return forward_layers(e, 1, 0, n, e->threads, labels, train, rng, state);
}

/* Backward through the layers, last to `stop`, from dL/dlogits already in
 * e->grad_a; returns where dL/dy of layer stop - 1 is. dinput (may be
 * NULL) receives dL/dx of the network's input when stop is 0. */
static float *backward_layers(dn_exec *e, int stop, int n, float *grad, float *dinput, int train,
                              int guided) {
    const dn_model *m = e->m;
    float *dy = e->grad_a, *dx = e->grad_b;
    for (int i = m->nlayers - 1; i >= stop; i--) {
        const dn_layer *l = &m->layers[i];
        /* a ReLU whose backward runs inside the max pool after it (1) or
         * the batch norm before it (2) */
        if (e->skip_backward[i] == 1 || (e->skip_backward[i] == 2 && i > stop)) continue;
        dn_layer_ctx c = {.train = train,
                          .aux = e->aux[i],
                          .work = e->work,
                          .gw = grad + l->param_offset,
                          .threads = e->threads,
                          .guided = guided,
                          .relu = e->relu[i],
                          .relu_in = e->relu_in[i]};
        float *target = i > 0 ? dx : dinput;
        l->ops->backward(l, e->act[i], e->act[i + 1], dy, target, n, &c);
        float *t = dy;
        dy = dx;
        dx = t;
    }
    return dy;
}

void dn_exec_backward(dn_exec *e, const float *x, const unsigned char *labels, int n, float *grad,
                      float scale, float smoothing) {
    dn_softmax_xent_backward(e->probs, labels, e->grad_a, n, DN_CLASSES, scale, smoothing);
    e->act[0] = (float *)x;
    backward_layers(e, 0, n, grad, NULL, 1, 0);
}

void dn_exec_backward_px(dn_exec *e, const unsigned char *const *rows, const unsigned char *labels,
                         int n, float *grad, float scale, float smoothing) {
    dn_softmax_xent_backward(e->probs, labels, e->grad_a, n, DN_CLASSES, scale, smoothing);
    const float *dy = backward_layers(e, 1, n, grad, NULL, 1, 0);
    const dn_layer *l = &e->m->layers[0];
    dn_dense_backward_px(l, rows, DN_PIXEL_SCALE, dy, n, grad + l->param_offset);
}

void dn_exec_backward_from(dn_exec *e, const float *x, const float *dlogits, int n, float *grad,
                           float *dinput, int train, int guided) {
    memcpy(e->grad_a, dlogits, sizeof(float) * (size_t)n * DN_CLASSES);
    e->act[0] = (float *)x;
    backward_layers(e, 0, n, grad, dinput, train, guided);
}

/* ================================================================ inference */

struct dn_infer {
    dn_exec exec;
};

dn_status dn_infer_create(const dn_model *m, size_t max_batch, dn_infer **out, dn_error *err) {
    *out = NULL;
    if (max_batch == 0 || max_batch > 1u << 20)
        return dn_fail(err, DN_E_ARG, "max_batch %zu is out of range", max_batch);
    dn_infer *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return dn_fail(err, DN_E_NOMEM, "out of memory");
    dn_status st =
        dn_exec_init(&ctx->exec, m, (int)max_batch, dn_get_threads(), DN_EXEC_FUSED, err);
    if (st != DN_OK) {
        free(ctx);
        return st;
    }
    *out = ctx;
    return DN_OK;
}

void dn_infer_free(dn_infer *ctx) {
    if (!ctx) return;
    dn_exec_free(&ctx->exec);
    free(ctx);
}

dn_status dn_infer_run(dn_infer *ctx, const float *x, size_t n, float *probs, dn_error *err) {
    if (!ctx || (n && (!x || !probs)))
        return dn_fail(err, DN_E_ARG, "dn_infer_run: the context, x and probs are required");
    size_t mb = (size_t)ctx->exec.max_batch;
    for (size_t i = 0; i < n; i += mb) {
        int k = (int)(n - i < mb ? n - i : mb);
        dn_exec_forward(&ctx->exec, x + i * 784, NULL, k, 0, NULL, NULL);
        memcpy(probs + i * DN_CLASSES, ctx->exec.probs, sizeof(float) * (size_t)k * DN_CLASSES);
    }
    return DN_OK;
}

dn_status dn_model_predict(const dn_model *m, const float *x, size_t n, float *probs,
                           dn_error *err) {
    if (!m || (n && (!x || !probs)))
        return dn_fail(err, DN_E_ARG, "dn_model_predict: the model, x and probs are required");
    dn_infer *ctx;
    dn_status st = dn_infer_create(m, n < 256 ? (n ? n : 1) : 256, &ctx, err);
    if (st != DN_OK) return st;
    st = dn_infer_run(ctx, x, n, probs, err);
    dn_infer_free(ctx);
    return st;
}

void dn_model_inputs_from_pixels(const unsigned char *restrict src, size_t count_pixels,
                                 float *restrict dst) {
    for (size_t i = 0; i < count_pixels; i++) dst[i] = src[i] * DN_PIXEL_SCALE;
}

dn_status dn_models_evaluate(const dn_model *const *models, int k, const dn_dataset *ds,
                             dn_eval *out, dn_error *err) {
    memset(out, 0, sizeof *out);
    if (k < 1 || k > DN_ENSEMBLE_MAX)
        return dn_fail(err, DN_E_ARG, "an ensemble has 1 to %d models, not %d", DN_ENSEMBLE_MAX, k);
    if (!ds->labels) return dn_fail(err, DN_E_ARG, "evaluation needs a labeled dataset");
    if (ds->rows * ds->cols != 784)
        return dn_fail(err, DN_E_ARG, "images are %dx%d, the model expects 28x28", ds->rows,
                       ds->cols);
    enum { B = 500 };
    dn_exec e[DN_ENSEMBLE_MAX];
    int ready = 0;
    dn_status st = DN_OK;
    for (; ready < k && st == DN_OK; ready++)
        st = dn_exec_init(&e[ready], models[ready], B, dn_get_threads(), DN_EXEC_FUSED, err);
    if (st != DN_OK) ready--; /* the one that failed freed itself */
    float *x = st == DN_OK ? malloc(sizeof(float) * B * 784) : NULL;
    float *mean = st == DN_OK && k > 1 ? malloc(sizeof(float) * B * DN_CLASSES) : NULL;
    if (st == DN_OK && (!x || (k > 1 && !mean))) st = dn_fail(err, DN_E_NOMEM, "out of memory");
    double loss = 0.0;
    dn_ece ece;
    memset(&ece, 0, sizeof ece);
    for (size_t i = 0; st == DN_OK && i < ds->count; i += B) {
        int n = (int)(ds->count - i < B ? ds->count - i : B);
        dn_model_inputs_from_pixels(ds->images + i * 784, (size_t)n * 784, x);
        const float *probs = e[0].probs;
        if (k == 1) {
            loss += dn_exec_forward(&e[0], x, ds->labels + i, n, 0, NULL, NULL);
        } else { /* the mean of the models' probabilities, and its cross-entropy */
            memset(mean, 0, sizeof(float) * (size_t)n * DN_CLASSES);
            for (int q = 0; q < k; q++) {
                dn_exec_forward(&e[q], x, NULL, n, 0, NULL, NULL);
                for (size_t j = 0; j < (size_t)n * DN_CLASSES; j++) mean[j] += e[q].probs[j];
            }
            for (size_t j = 0; j < (size_t)n * DN_CLASSES; j++) mean[j] /= (float)k;
            for (int j = 0; j < n; j++) {
                float p = mean[(size_t)j * DN_CLASSES + ds->labels[i + j]];
                loss -= log(p > 1e-30f ? p : 1e-30f);
            }
            probs = mean;
        }
        for (int j = 0; j < n; j++) {
            const float *p = probs + (size_t)j * DN_CLASSES;
            int pred, truth = ds->labels[i + j];
            int unsure = dn_probs_unsure(p, &pred, NULL);
            out->confusion[truth][pred]++;
            out->correct += pred == truth;
            out->unsure += unsure;
            out->unsure_correct += unsure && pred == truth;
            dn_ece_add(&ece, p[pred], pred == truth);
        }
    }
    if (st == DN_OK) {
        out->ece = dn_ece_value(&ece);
        out->count = ds->count;
        out->loss = ds->count ? loss / (double)ds->count : 0.0;
        out->accuracy = ds->count ? (double)out->correct / (double)ds->count : 0.0;
    }
    free(mean);
    free(x);
    for (int q = 0; q < ready; q++) dn_exec_free(&e[q]);
    return st;
}

dn_status dn_model_evaluate(const dn_model *m, const dn_dataset *ds, dn_eval *out, dn_error *err) {
    return dn_models_evaluate(&m, 1, ds, out, err);
}
