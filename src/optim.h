/*
 * optim.h — optimisers over flat parameter/gradient buffers, and learning
 * rate schedules. See docs/optimisers.md for the update rules.
 */
#ifndef DN_OPTIM_H
#define DN_OPTIM_H

#include "internal.h"

typedef struct dn_optim {
    dn_optimizer kind;
    float momentum, beta1, beta2, eps, weight_decay;
    int nesterov;
    size_t n;
    float *m, *v; /* first / second moment (v only for Adam); owned */
    long step;
} dn_optim;

/* How many moment buffers the optimiser keeps: 0 (SGD), 1 (momentum), 2 (Adam). */
int dn_optim_moments(dn_optimizer kind);

dn_status dn_optim_init(dn_optim *o, const dn_train_opts *opts, size_t nparams, dn_error *err);
void dn_optim_free(dn_optim *o);
/* One update of w from gradient g (already averaged over the batch). */
void dn_optim_step(dn_optim *o, float *w, const float *g, float lr);
/* The same update from the sum of k gradient buffers (per-thread parts of
 * one batch), summed in buffer order, with the parameters split across
 * `threads` threads. */
void dn_optim_step_sum(dn_optim *o, float *w, const float *const *grads, int k, float lr,
                       int threads);
/* The same, and leaves the k buffers zeroed: each block is cleared as soon
 * as it is used, while it is in cache, so the next batch can accumulate
 * into them without a pass of its own. */
void dn_optim_step_sum_clear(dn_optim *o, float *w, float *const *grads, int k, float lr,
                             int threads);
/* Learning rate for step `step` (0-based) of `steps` in a 0-based epoch:
 * constant, step and cosine depend on the epoch only, onecycle on the
 * position of the step in the whole run. */
float dn_schedule_lr(const dn_train_opts *o, int epoch, size_t step, size_t steps);

#endif
