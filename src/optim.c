/*
 * optim.c — SGD, SGD with (Nesterov) momentum, and Adam, each one flat
 * loop over all parameters; L2 weight decay adds wd * w to the gradient.
 *
 *   sgd       w -= lr * g
 *   momentum  v = mu v + g;  w -= lr * v            (Nesterov: w -= lr (g + mu v))
 *   adam      m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *             w -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
 */
#include "optim.h"

#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

int dn_optim_moments(dn_optimizer kind) {
    return kind == DN_OPT_SGD ? 0 : kind == DN_OPT_ADAM ? 2 : 1;
}

dn_status dn_optim_init(dn_optim *o, const dn_train_opts *opts, size_t nparams, dn_error *err) {
    memset(o, 0, sizeof *o);
    o->kind = opts->optimizer;
    o->momentum = opts->momentum;
    o->nesterov = opts->nesterov;
    o->beta1 = opts->beta1;
    o->beta2 = opts->beta2;
    o->eps = opts->eps;
    o->weight_decay = opts->weight_decay;
    o->n = nparams;
    if (o->kind != DN_OPT_SGD) {
        o->m = dn_calloc(nparams, sizeof(float));
        if (!o->m) return dn_fail(err, DN_E_NOMEM, "out of memory for optimiser state");
    }
    if (o->kind == DN_OPT_ADAM) {
        o->v = dn_calloc(nparams, sizeof(float));
        if (!o->v) {
            dn_optim_free(o);
            return dn_fail(err, DN_E_NOMEM, "out of memory for optimiser state");
        }
    }
    return DN_OK;
}

void dn_optim_free(dn_optim *o) {
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
}

/* g[lo:hi] summed over the k buffers (in a fixed order), into out: with
 * one buffer it is returned as it is. */
static const float *grad_sum(const float *const *g, int k, size_t lo, size_t hi,
                             float *restrict out) {
    if (k == 1) return g[0] + lo;
    size_t n = hi - lo;
    const float *restrict g0 = g[0] + lo, *restrict g1 = g[1] + lo;
    for (size_t i = 0; i < n; i++) out[i] = g0[i] + g1[i];
    for (int j = 2; j < k; j++) {
        const float *restrict gj = g[j] + lo;
        for (size_t i = 0; i < n; i++) out[i] += gj[i];
    }
    return out;
}

/* Updates w[lo:hi], a block of at most UPDATE_BLOCK elements at a time.
 * Each element's arithmetic is independent of the range split, so results
 * do not depend on how many threads share the work; the loops have no
 * branches, so they vectorise. */
#define UPDATE_BLOCK 1024
static void update_block(dn_optim *o, float *restrict w, const float *restrict g, float lr,
                         float c1, float c2, size_t lo, size_t n) {
    float wd = o->weight_decay;
    w += lo;
    switch (o->kind) {
    case DN_OPT_SGD:
        for (size_t i = 0; i < n; i++) w[i] -= lr * (g[i] + wd * w[i]);
        break;
    case DN_OPT_MOMENTUM: {
        float mu = o->momentum, *restrict v = o->m + lo;
        if (o->nesterov)
            for (size_t i = 0; i < n; i++) {
                float gi = g[i] + wd * w[i];
                v[i] = mu * v[i] + gi;
                w[i] -= lr * (gi + mu * v[i]);
            }
        else
            for (size_t i = 0; i < n; i++) {
                float gi = g[i] + wd * w[i];
                v[i] = mu * v[i] + gi;
                w[i] -= lr * v[i];
            }
        break;
    }
    case DN_OPT_ADAM: {
        float b1 = o->beta1, b2 = o->beta2, eps = o->eps;
        float *restrict m = o->m + lo, *restrict v = o->v + lo;
        for (size_t i = 0; i < n; i++) {
            float gi = g[i] + wd * w[i];
            m[i] = b1 * m[i] + (1.0f - b1) * gi;
            v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
            w[i] -= lr * (m[i] * c1) / (sqrtf(v[i] * c2) + eps);
        }
        break;
    }
    }
}

/* With clear (the same k buffers as g, writable), each block is zeroed
 * once it is used, while it is still in cache. */
static void update_range(dn_optim *o, float *w, const float *const *g, float *const *clear, int k,
                         float lr, float c1, float c2, size_t lo, size_t hi) {
    float sum[UPDATE_BLOCK];
    for (size_t b = lo; b < hi; b += UPDATE_BLOCK) {
        size_t e = hi - b < UPDATE_BLOCK ? hi : b + UPDATE_BLOCK;
        update_block(o, w, grad_sum(g, k, b, e, sum), lr, c1, c2, b, e - b);
        if (clear)
            for (int j = 0; j < k; j++) memset(clear[j] + b, 0, sizeof(float) * (e - b));
    }
}

static void step_sum(dn_optim *o, float *w, const float *const *grads, float *const *clear, int k,
                     float lr, int threads) {
    o->step++;
    float c1 = 1.0f, c2 = 1.0f;
    if (o->kind == DN_OPT_ADAM) {
        c1 = 1.0f / (1.0f - powf(o->beta1, (float)o->step));
        c2 = 1.0f / (1.0f - powf(o->beta2, (float)o->step));
    }
    size_t n = o->n;
    if (threads < 2 || n < 4096) {
        update_range(o, w, grads, clear, k, lr, c1, c2, 0, n);
        return;
    }
#pragma omp parallel num_threads(threads)
    {
#ifdef _OPENMP
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
#else
        int t = 0, nt = 1;
#endif
        /* 16-float aligned chunks keep the loops vectorised and unshared */
        size_t per = ((n + (size_t)nt - 1) / (size_t)nt + 15) & ~(size_t)15;
        size_t lo = (size_t)t * per, hi = lo + per < n ? lo + per : n;
        if (lo < hi) update_range(o, w, grads, clear, k, lr, c1, c2, lo, hi);
    }
}

void dn_optim_step_sum(dn_optim *o, float *w, const float *const *grads, int k, float lr,
                       int threads) {
    step_sum(o, w, grads, NULL, k, lr, threads);
}

void dn_optim_step_sum_clear(dn_optim *o, float *w, float *const *grads, int k, float lr,
                             int threads) {
    step_sum(o, w, (const float *const *)grads, grads, k, lr, threads);
}

void dn_optim_step(dn_optim *o, float *w, const float *g, float lr) {
    dn_optim_step_sum(o, w, &g, 1, lr, 1);
}

float dn_schedule_lr(const dn_train_opts *o, int epoch, size_t step, size_t steps) {
    switch (o->schedule) {
    case DN_SCHED_CONSTANT:
        return o->lr;
    case DN_SCHED_STEP: {
        int k = o->step_epochs > 0 ? epoch / o->step_epochs : 0;
        return o->lr * powf(o->gamma, (float)k);
    }
    case DN_SCHED_COSINE: {
        double t = o->epochs > 0 ? (double)epoch / o->epochs : 0.0;
        return (float)(o->lr_min + 0.5 * (o->lr - o->lr_min) * (1.0 + cos(3.141592653589793 * t)));
    }
    case DN_SCHED_ONECYCLE: {
        /* the middle of this step as a fraction of the whole run */
        double total = (double)o->epochs * (double)(steps ? steps : 1);
        double p = ((double)epoch * (double)(steps ? steps : 1) + (double)step + 0.5) / total;
        if (p < o->warmup) return (float)(o->lr * p / o->warmup);
        return (float)(o->lr_min + (o->lr - o->lr_min) * (1.0 - p) / (1.0 - o->warmup));
    }
    }
    return o->lr;
}

/* The names of optimisers and schedules, in enum order: the one table the
 * parsers, the model's recorded settings and the CLI's messages use. */
static const char *const optimizer_names[] = {"sgd", "momentum", "adam"};
static const char *const schedule_names[] = {"constant", "step", "cosine", "onecycle"};

dn_status dn_optimizer_parse(const char *name, dn_optimizer *out) {
    if (!strcmp(name, "nesterov")) name = "momentum";
    for (int i = 0; i <= DN_OPT_ADAM; i++)
        if (!strcmp(name, optimizer_names[i])) {
            *out = (dn_optimizer)i;
            return DN_OK;
        }
    return DN_E_ARG;
}

dn_status dn_schedule_parse(const char *name, dn_schedule *out) {
    for (int i = 0; i <= DN_SCHED_ONECYCLE; i++)
        if (!strcmp(name, schedule_names[i])) {
            *out = (dn_schedule)i;
            return DN_OK;
        }
    return DN_E_ARG;
}

const char *dn_optimizer_name(dn_optimizer o) {
    return (unsigned)o <= DN_OPT_ADAM ? optimizer_names[o] : "?";
}

const char *dn_schedule_name(dn_schedule s) {
    return (unsigned)s <= DN_SCHED_ONECYCLE ? schedule_names[s] : "?";
}
