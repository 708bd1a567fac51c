/*
 * model.h — the model's internals, shared by model.c, modelfile.c,
 * train.c and the inference code.
 *
 * A model is a list of layers plus ONE parameter buffer and ONE state
 * buffer (batch-norm running statistics); layers hold views into them.
 * An executor (dn_exec) owns everything that depends on the batch:
 * activations, aux data kept for backward, scratch. Gradients live in a
 * buffer of the caller (the trainer) laid out like the parameters.
 */
#ifndef DN_MODEL_H
#define DN_MODEL_H

#include "layers/layer.h"
#include "spec.h"

#define DN_INPUT_C 1
#define DN_INPUT_H 28
#define DN_INPUT_W 28
#define DN_CLASSES 10

typedef struct dn_meta_kv {
    char *key, *value;
} dn_meta_kv;

struct dn_model {
    int nlayers;
    dn_layer layers[DN_MAX_LAYERS];
    float *params; /* nparams floats, all layers' parameters back to back */
    size_t nparams;
    float *state; /* nstate floats */
    size_t nstate;
    char arch[1024]; /* canonical architecture */
    dn_meta_kv *meta;
    size_t nmeta, meta_cap;
    char *summary; /* built lazily by dn_model_summary */
};

/* Builds a model from a parsed spec, allocating zeroed buffers (no init). */
dn_status dn_model_build(const dn_spec *spec, dn_model **out, dn_error *err);
/* Initialises parameters and state from seed. */
void dn_model_init_params(dn_model *m, uint64_t seed);

typedef struct dn_exec {
    const dn_model *m;
    int max_batch, threads;
    float *buf;                    /* one allocation: activations, aux, work, probs, grads */
    float *act[DN_MAX_LAYERS + 1]; /* act[i+1] = output of layer i; act[0] is the caller's x */
    float *aux[DN_MAX_LAYERS];
    float *work;
    float *prep[DN_MAX_LAYERS]; /* ops->prepare's values (inference executors), else NULL */
    float *probs;               /* [max_batch, 10] */
    float *grad_a, *grad_b;     /* backward ping-pong, [max_batch, widest layer] (train only) */
    float inv_temp;             /* 1 / the model's temperature, applied when not training */
    /* Fused executors (DN_EXEC_FUSED): layer i's forward runs the fused[i]
     * layers after it too, whose outputs are then its own (act[j+1] is
     * act[i+1]); relu[i] and post[i] say how (dn_layer_ctx); absorbed[j]:
     * layer j's forward runs inside the layer before it. pooled[i]: the
     * last of those is a max pool (absorbed 2), whose output is its own;
     * layer i then writes only that, and its own output and its ReLU's
     * are never written. In training a ReLU's backward may run inside a
     * neighbour's: skip_backward[j] is 1 when it runs inside the max pool
     * or convolution after it (relu_in[j+1]), 2 inside the batch norm
     * before it. */
    unsigned char fused[DN_MAX_LAYERS], relu[DN_MAX_LAYERS], absorbed[DN_MAX_LAYERS];
    unsigned char pooled[DN_MAX_LAYERS];
    unsigned char skip_backward[DN_MAX_LAYERS], relu_in[DN_MAX_LAYERS];
    float *post[DN_MAX_LAYERS];
} dn_exec;

/* dn_exec_init's mode, a sum of:
 *   DN_EXEC_TRAIN  the buffers backward needs (aux, gradients);
 *   DN_EXEC_FUSED  layers run as one where that saves passes over the
 *                  activations: a convolution or dense layer (in inference
 *                  with the batch norm after it folded into its outputs),
 *                  or a batch norm, with the ReLU after it, and a Winograd
 *                  convolution with a 2x2 max pool after those; in
 *                  training a ReLU's backward inside the batch norm before
 *                  it or the max pool or convolution after it. The
 *                  absorbed layers' own outputs are not kept, and guided
 *                  backpropagation needs every ReLU: the inside view
 *                  (explain.c) runs unfused. */
#define DN_EXEC_TRAIN 1
#define DN_EXEC_FUSED 2
dn_status dn_exec_init(dn_exec *e, const dn_model *m, int max_batch, int threads, int mode,
                       dn_error *err);
void dn_exec_free(dn_exec *e);

/* Forward pass over n <= max_batch inputs x [n, 784]; writes e->probs
 * (softmax of logits / temperature when train is 0, see calibrate.c) and
 * returns the summed cross-entropy when labels is not NULL (else 0).
 * train: dropout active, batch statistics; then state (may be NULL only
 * when no layer has state) receives running-statistics updates. */
double dn_exec_forward(dn_exec *e, const float *x, const unsigned char *labels, int n, int train,
                       dn_rng *rng, float *state);

/* Inputs as rows of pixels, rows[i] the i-th image's 784 bytes (each
 * worth DN_PIXEL_SCALE times its value, as dn_model_inputs_from_pixels
 * makes them), read in place by the first layer: only where
 * dn_exec_reads_pixels holds (a thin dense first layer). The same passes
 * as dn_exec_forward and dn_exec_backward, equal to them within
 * rounding. */
#define DN_PIXEL_SCALE (1.0f / 255.0f)
int dn_exec_reads_pixels(const dn_exec *e);
double dn_exec_forward_px(dn_exec *e, const unsigned char *const *rows, const unsigned char *labels,
                          int n, int train, dn_rng *rng, float *state);
void dn_exec_backward_px(dn_exec *e, const unsigned char *const *rows, const unsigned char *labels,
                         int n, float *grad, float scale, float smoothing);

/* Backward pass after a training forward: accumulates dL/dparams into grad
 * (laid out like m->params), with L = scale * summed loss against targets
 * (1 - smoothing) one-hot + smoothing / 10. */
void dn_exec_backward(dn_exec *e, const float *x, const unsigned char *labels, int n, float *grad,
                      float scale, float smoothing);

/* Backward from a given dL/dlogits [n, 10] (for example a one-hot vector,
 * giving the gradient of one class's logit). dinput [n, 784] (may be NULL)
 * receives the gradient with respect to the input; train = 0 treats batch
 * norm and dropout as in inference (after a forward with train = 0 on an
 * executor made with train = 1, so that backward data is kept).  guided = 1
 * runs guided backpropagation instead of the true gradient: every ReLU also
 * stops negative gradients, so only paths that raise the output remain. */
void dn_exec_backward_from(dn_exec *e, const float *x, const float *dlogits, int n, float *grad,
                           float *dinput, int train, int guided);

/* calibrate.c: a "temperature" metadata value, or 0 when it is not a
 * number in [DN_TEMPERATURE_MIN, DN_TEMPERATURE_MAX]. */
double dn_temperature_parse(const char *s);

/* The expected calibration error's bins, by top probability. */
#define DN_ECE_BINS 15
typedef struct dn_ece {
    size_t count[DN_ECE_BINS], correct[DN_ECE_BINS];
    double conf[DN_ECE_BINS];
} dn_ece;
void dn_ece_add(dn_ece *e, float confidence, int correct);
double dn_ece_value(const dn_ece *e);

/* The model section shared by model files and checkpoints (modelfile.c):
 * u64 parameter count P, u64 state count S, the architecture, the metadata
 * (u32 count, then key and value strings), P parameters (float32, or
 * binary16 with half) and S state values as float32.  dn_model_get rebuilds the architecture,
 * checks it against P and S and every value (finite, at most 1e6 in size, variances not negative)
 * and gives a new model in *out; with exact the section must end r's bytes, otherwise more may
 * follow. */
struct dn_bw;
struct dn_br;
void dn_model_put(struct dn_bw *w, const dn_model *m, int half);
dn_status dn_model_get(struct dn_br *r, int exact, int half, const char *path, dn_model **out,
                       dn_error *err);

#endif
