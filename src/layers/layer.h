/*
 * layer.h — the contract every layer kind implements.
 *
 * A layer maps a batch of n inputs of shape `in` (NCHW, flat per sample) to
 * n outputs of shape `out`. Its forward and backward live side by side in
 * one file per kind (dense.c, conv2d.c, ...). Layers own nothing: their
 * parameters are views into the model's one parameter buffer, their
 * gradients are written wherever the caller's context points, and every
 * scratch byte comes from the caller's workspace. So a model can run in
 * several threads at once, each with its own context.
 *
 * Backward ACCUMULATES parameter gradients (+=); the model zeroes them once
 * per step. dx may be NULL when the input gradient is not needed (first
 * layer), which saves the most expensive product of a dense first layer.
 */
#ifndef DN_LAYER_H
#define DN_LAYER_H

#include "internal.h"

typedef struct dn_shape {
    int c, h, w;
} dn_shape;

static inline size_t dn_shape_size(dn_shape s) {
    return (size_t)s.c * (size_t)s.h * (size_t)s.w;
}

typedef enum dn_layer_kind {
    DN_L_DENSE,
    DN_L_RELU,
    DN_L_SIGMOID,
    DN_L_TANH,
    DN_L_CONV,
    DN_L_MAXPOOL,
    DN_L_AVGPOOL,
    DN_L_DROPOUT,
    DN_L_BATCHNORM,
    DN_L_GAP,
    DN_L_FLATTEN,
    DN_L_DESKEW,
    DN_L_KINDS
} dn_layer_kind;

/* What the architecture string says about one layer. */
typedef struct dn_layer_cfg {
    dn_layer_kind kind;
    int units;              /* dense: outputs */
    int k, stride, pad, ch; /* conv: kernel, stride, padding, output channels; pool: k, stride */
    float p;                /* dropout probability */
} dn_layer_cfg;

/* Per-call context supplied by the model (training or inference). */
typedef struct dn_layer_ctx {
    int train;         /* 1: training mode (dropout active, batch statistics) */
    dn_rng *rng;       /* dropout masks */
    float *aux;        /* aux_per_sample * n floats kept from forward for backward (or
                        * aux_per_batch, see dn_layer) */
    float *work;       /* scratch of ops->work_size(l, n, threads) floats */
    float *gw;         /* where backward accumulates parameter gradients */
    float *state;      /* writable persistent state in training (batch-norm running stats) */
    int threads;       /* threads the layer may use */
    int guided;        /* backward for guided backpropagation: ReLU also drops negative dy */
    const float *prep; /* what ops->prepare wrote (inference executors only), else NULL */
    /* Layers run as one (see dn_exec_init). relu: the ReLU after this layer
     * runs inside it: forward writes max(y, 0); batch norm's backward
     * (training) also receives the ReLU's dy and applies its mask. post
     * (inference, convolution and dense layers): the batch norm after this
     * layer, folded in: y * post[o] + post[units + o] for output o. */
    int relu;
    const float *post;
    int pool;        /* a convolution's forward: the 2x2 max pool after it (and after its
                      * batch norm and ReLU) runs inside it; y is the pool's output */
    float *pool_aux; /* then: the pool's aux (the chosen inputs), or NULL */
    int relu_in;     /* max pool's or convolution's backward (training): the input is a ReLU's
                      * output, whose backward runs inside it (dx only where the input is
                      * positive; the pool looks at its output, the chosen input) */
} dn_layer_ctx;

typedef struct dn_layer dn_layer;

typedef struct dn_layer_ops {
    const char *name;
    /* Computes out, nparams, nstate, aux_per_sample (or aux_per_batch) from
     * in and cfg. */
    dn_status (*setup)(dn_layer *l, dn_error *err);
    /* Scratch floats needed for a batch of n with `threads` threads. */
    size_t (*work_size)(const dn_layer *l, int n, int threads);
    /* Initialises l->w (and l->state). */
    void (*init)(dn_layer *l, dn_rng *rng);
    void (*forward)(const dn_layer *l, const float *x, float *y, int n, dn_layer_ctx *c);
    void (*backward)(const dn_layer *l, const float *x, const float *y, const float *dy, float *dx,
                     int n, dn_layer_ctx *c);
    /* Optional (NULL: nothing to prepare). Values derived from the
     * parameters alone that an inference executor computes once, when it
     * is created, rather than in every forward pass: returns how many
     * floats they take and, when prep is not NULL, writes them there. */
    size_t (*prepare)(const dn_layer *l, float *prep);
} dn_layer_ops;

struct dn_layer {
    const dn_layer_ops *ops;
    dn_layer_cfg cfg;
    dn_shape in, out;
    size_t nparams;        /* floats in the parameter buffer */
    size_t nstate;         /* floats of non-trained state (saved with the model) */
    size_t aux_per_sample; /* floats kept per sample between forward and backward */
    size_t aux_per_batch;  /* or per batch, for a layer with no aux_per_sample */
    float *w;              /* view: parameters */
    float *state;          /* view: state */
    size_t param_offset;   /* offset of w in the model's flat buffer */
    int init_gain_relu;    /* 1: He init (a ReLU follows), 0: Xavier */
};

const dn_layer_ops *dn_layer_ops_for(dn_layer_kind kind);

extern const dn_layer_ops dn_dense_ops, dn_relu_ops, dn_sigmoid_ops, dn_tanh_ops, dn_conv_ops,
    dn_maxpool_ops, dn_avgpool_ops, dn_dropout_ops, dn_batchnorm_ops, dn_gap_ops, dn_flatten_ops,
    dn_deskew_ops;

/* deskew.c: y(i, j) = x(i, j + alpha (i - cy)) for one H x W image, read
 * with linear interpolation along the row (zero outside). */
void dn_deskew_apply(const float *x, float *y, int H, int W, float alpha, float cy);

/* The fused layers' epilogue over the outputs of one sample, channel by
 * channel (rows of P values of `channels` in all, y at channel 0), for
 * channels o_lo .. o_hi - 1: c->post's scale and shift, then c->relu's
 * max(v, 0) (0 for NaN, as in the ReLU layer). */
static inline void dn_layer_epilogue(float *y, int o_lo, int o_hi, int channels, size_t P,
                                     const dn_layer_ctx *c) {
    for (int o = o_lo; o < o_hi; o++) {
        float *r = y + (size_t)o * P;
        for (size_t q = 0; c->post && q < P; q++) r[q] = r[q] * c->post[o] + c->post[channels + o];
        for (size_t q = 0; c->relu && q < P; q++) r[q] = r[q] > 0.0f ? r[q] : 0.0f;
    }
}

/* conv2d.c: 1 when convolution l can run the 2x2 max pool after it in
 * its output (the Winograd path: each tile's outputs are one window). */
int dn_conv_pools(const dn_layer *l);

/* batchnorm.c: the per-channel scale and shift of batch norm layer bn at
 * inference (running statistics), y = scale x + shift, to fold into the
 * layer before it. */
void dn_batchnorm_fold(const dn_layer *bn, float *scale, float *shift);

/* dense.c: a dense layer as the network's first, reading its input as
 * rows of pixels (rows[i] the i-th input's bytes, each worth `scale`
 * times its value) without a float copy; only where dn_dense_reads_pixels
 * holds (a thin layer, the tutorial network's 784-10). Backward
 * accumulates the parameters' gradient (there is no input gradient). */
int dn_dense_reads_pixels(const dn_layer *l);
void dn_dense_forward_px(const dn_layer *l, const unsigned char *const *rows, float scale, float *y,
                         int n);
void dn_dense_backward_px(const dn_layer *l, const unsigned char *const *rows, float scale,
                          const float *dy, int n, float *gw);

/* Fused softmax + cross-entropy over n rows of `classes` logits, each
 * multiplied by inv_temp first (1 in training; 1/T for a model calibrated
 * at temperature T, see calibrate.c). probs receives the softmax; returns
 * the summed loss (not the mean). labels may be NULL (inference). */
double dn_softmax_xent_forward(const float *logits, const unsigned char *labels, float *probs,
                               int n, int classes, float inv_temp);
/* dlogits = (probs - onehot(labels)) * scale. */
void dn_softmax_xent_backward(const float *probs, const unsigned char *labels, float *dlogits,
                              int n, int classes, float scale, float smoothing);

#endif
