/*
 * digitnet.h — the one public header of libdigitnet.
 *
 * digitnet trains and runs neural networks (MLPs and CNNs) for handwritten
 * digit recognition, written from scratch in C11.  This header is the manual:
 * every function says what it takes, what it returns and who owns what.
 *
 * Conventions
 *   - Every fallible function returns a dn_status.  DN_OK is 0.  On failure a
 *     human-readable message naming the file or argument at fault is written
 *     to the optional dn_error (pass NULL when you do not want it).
 *   - The library never prints and never exits.
 *   - Objects come in create/free pairs; free functions accept NULL.
 *   - Images are 8-bit grayscale, row-major, 0 = background, 255 = ink
 *     (the MNIST convention).  Network inputs are floats in [0, 1].
 *   - There is no hidden global state except the worker-thread count, which
 *     is process-wide because OpenMP and BLAS are (see dn_set_threads).
 */
#ifndef DIGITNET_H
#define DIGITNET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the functions libdigitnet exports; the library is built with
 * -fvisibility=hidden, so nothing else is visible to programs using it. */
#if defined(__GNUC__) && __GNUC__ >= 4
#define DN_API __attribute__((visibility("default")))
#else
#define DN_API
#endif

#define DN_VERSION_MAJOR 0
#define DN_VERSION_MINOR 3
#define DN_VERSION_PATCH 0
#define DN_VERSION_STRING "0.3.0"

/* ======================================================================== */
/* Errors                                                                   */
/* ======================================================================== */

typedef enum dn_status {
    DN_OK = 0,
    DN_E_NOMEM,       /* an allocation failed */
    DN_E_IO,          /* a file could not be opened, read or written */
    DN_E_FORMAT,      /* input is malformed (bad magic, truncated, checksum...) */
    DN_E_ARG,         /* an argument is invalid (bad architecture string...) */
    DN_E_UNSUPPORTED, /* valid input that this build cannot handle */
    DN_E_DIVERGED,    /* training loss became NaN or infinite */
    DN_E_CANCELLED,   /* a callback asked to stop */
    DN_E_NODATA,      /* an image holds no ink / a dataset is empty */
    DN_E_LIMIT,       /* input over a size or work budget (an image's pixels, a decode) */
} dn_status;

/* Detailed message of the last failure of a call that was given this. */
typedef struct dn_error {
    char msg[512];
} dn_error;

/* A static, generic description of a status code. Never NULL; not to be freed. */
DN_API const char *dn_strerror(dn_status status);

/* Library version as "MAJOR.MINOR.PATCH" (static; not to be freed). */
DN_API const char *dn_version(void);

/* Sets the number of worker threads used by training and inference
 * (OpenMP and, when built with it, OpenBLAS).  n <= 0 means all cores.
 * With n == 1 every computation is sequential and bit-reproducible. */
DN_API void dn_set_threads(int n);
/* The number of worker threads in force (all cores until dn_set_threads). */
DN_API int dn_get_threads(void);

/* Writes size bytes to path atomically: a new temporary file beside it
 * (PATH.tmp.RANDOM, created exclusively, never through a link), fsync,
 * rename over PATH, fsync of the directory. PATH must be a regular file or
 * a new name: a directory, device, FIFO or socket is refused (DN_E_ARG).
 * On failure PATH is untouched and no temporary file is left behind;
 * messages name PATH. Every file digitnet writes goes through this. */
DN_API dn_status dn_write_atomic(const char *path, const void *data, size_t size, dn_error *err);

/* Checks, before any work, that path can be written the way
 * dn_write_atomic writes it: the name is not empty, it is a regular file
 * or new, and a temporary file can be created beside it (created and
 * removed at once). DN_E_ARG or DN_E_IO with a message naming path. */
DN_API dn_status dn_output_check(const char *path, dn_error *err);

/* ======================================================================== */
/* Datasets                                                                 */
/* ======================================================================== */

/* A set of equally sized grayscale images with optional labels.
 * The struct is plain data; dn_dataset_free releases images and labels. */
typedef struct dn_dataset {
    size_t count;          /* number of images */
    int rows, cols;        /* image size, 28x28 for MNIST */
    unsigned char *images; /* count*rows*cols bytes, owned */
    unsigned char *labels; /* count bytes in 0..9, owned; NULL when unlabeled */
} dn_dataset;

/* Frees what the dataset owns and zeroes it. Accepts NULL. */
DN_API void dn_dataset_free(dn_dataset *ds);

/* Reads an IDX image file (magic 0x00000803) and, when labels_path is not
 * NULL, the matching IDX label file (0x00000801).  Either may be gzipped
 * (detected by content, not name).  Validates magic, dimensions, lengths,
 * label range (0..9) and a limit of 100M items.  On success *out owns the
 * data; on failure *out is left empty. */
DN_API dn_status dn_idx_load(const char *images_path, const char *labels_path, dn_dataset *out,
                             dn_error *err);

/* Loads the MNIST-named pair from a directory: split "train" reads
 * train-images-idx3-ubyte / train-labels-idx1-ubyte, split "test" reads
 * t10k-*; each may also be named with ".gz" or with "." before "idx"
 * (train-images.idx3-ubyte).  Works for Fashion-MNIST unchanged. */
DN_API dn_status dn_mnist_load(const char *dir, const char *split, dn_dataset *out, dn_error *err);

/* Reads a Kaggle digit-recognizer CSV: a header line, then either
 * "label,pixel0..pixel783" rows (labels set) or "pixel0..pixel783" rows
 * (labels NULL).  Pixels must be integers 0..255. */
DN_API dn_status dn_csv_load(const char *path, dn_dataset *out, dn_error *err);

/* Writes images (and labels when not NULL) as IDX files, optionally gzipped.
 * Each file is written atomically (temporary file, fsync, rename). */
DN_API dn_status dn_idx_save(const dn_dataset *ds, const char *images_path, const char *labels_path,
                             int gzip, dn_error *err);

/* Writes a Kaggle-format CSV (with a label column when ds->labels is set),
 * atomically. */
DN_API dn_status dn_csv_save(const dn_dataset *ds, const char *path, dn_error *err);

/* ======================================================================== */
/* Models                                                                   */
/* ======================================================================== */

typedef struct dn_model dn_model;

/* Builds a network for 28x28x1 inputs and 10 classes from an architecture
 * string (see docs/architecture.md):
 *   "784-128-64-10"           an MLP; hidden layers get the activation `act`
 *   "mlp", "lenet5", "cnn"    named presets
 *   "conv5x5x32-relu-pool2-conv5x5x64-relu-pool2-fc128-relu-drop0.5-fc10"
 * act is "relu", "sigmoid" or "tanh" (NULL means relu) and only applies to
 * the bare-number MLP form.  Parameters are initialised (He for ReLU,
 * Xavier otherwise) from `seed`.  *out is owned by the caller. */
DN_API dn_status dn_model_create(const char *arch, const char *act, uint64_t seed, dn_model **out,
                                 dn_error *err);
/* Frees a model and everything it owns (strings it returned included).
 * Accepts NULL. */
DN_API void dn_model_free(dn_model *m);

/* A deep copy (parameters, state and metadata). On success *out is a new
 * model owned by the caller (dn_model_free); on failure *out is NULL. */
DN_API dn_status dn_model_clone(const dn_model *m, dn_model **out, dn_error *err);

/* Saves atomically, as dn_write_atomic: a crash at any moment leaves either
 * the old or the new file. */
DN_API dn_status dn_model_save(const dn_model *m, const char *path, dn_error *err);
/* As dn_model_save, with the parameters stored as IEEE binary16 (rounded to
 * nearest): half the size, for downloads such as the static page
 * (docs/site.md). dn_model_load reads them back as float32; the rounding
 * moves each parameter by at most 1/2048 of its size, or by 2^-25 below
 * 2^-14 (binary16's subnormals). DN_E_ARG when a parameter is beyond
 * binary16's range (65504). */
DN_API dn_status dn_model_save_half(const dn_model *m, const char *path, dn_error *err);

/* Loads and validates a model file (magic, version, architecture, sizes,
 * CRC-32 of the whole file). On success *out is a new model owned by the
 * caller (dn_model_free); on failure *out is NULL and err says why. */
DN_API dn_status dn_model_load(const char *path, dn_model **out, dn_error *err);

/* The canonical architecture string, e.g. "fc128-relu-fc64-relu-fc10"
 * (owned by the model). */
DN_API const char *dn_model_arch(const dn_model *m);
/* A multi-line, human-readable layer table (owned by the model; valid
 * until the next call or dn_model_free). */
DN_API const char *dn_model_summary(dn_model *m);
/* The number of trainable parameters. */
DN_API size_t dn_model_param_count(const dn_model *m);
/* The number of input values a model takes per image (784 = 28x28). */
DN_API int dn_model_input_size(const dn_model *m);
/* The number of classes it tells apart (10). */
DN_API int dn_model_classes(const dn_model *m);

/* Free-form metadata, key -> value strings (training settings, accuracy,
 * per-epoch history). set copies key and value (replacing an earlier
 * value of the key); DN_E_ARG for a NULL or empty key or a NULL value. */
DN_API dn_status dn_model_set_meta(dn_model *m, const char *key, const char *value);
/* The value of key (owned by the model), NULL when absent. */
DN_API const char *dn_model_get_meta(const dn_model *m, const char *key);
/* Iterates metadata: sets *key and *value (owned by the model) of entry i
 * and returns 1; returns 0 past the end. */
DN_API int dn_model_meta_at(const dn_model *m, size_t i, const char **key, const char **value);

/* ======================================================================== */
/* Inference                                                                */
/* ======================================================================== */

/* An inference context: activation buffers for up to max_batch inputs over
 * a model that it only reads.  Several contexts may share one model and run
 * concurrently in different threads; one context is not thread-safe.
 * A context uses the dn_get_threads() threads in force when it is created
 * (a server running one context per worker sets 1 first).
 * The model must outlive the context, and a context reads the parameters
 * once, when it is created (it keeps the transformed weights of Winograd
 * convolutions): create it after training, not before. */
typedef struct dn_infer dn_infer;

/* Creates a context for batches of 1..1,048,576 inputs (DN_E_ARG
 * otherwise); *out is owned by the caller (dn_infer_free), NULL on
 * failure. */
DN_API dn_status dn_infer_create(const dn_model *m, size_t max_batch, dn_infer **out,
                                 dn_error *err);
/* Frees a context. Accepts NULL. */
DN_API void dn_infer_free(dn_infer *ctx);

/* x: n*784 floats in [0,1]; probs: n*10 floats written (softmax outputs).
 * n may exceed max_batch; the work is then chunked. ctx, x and probs must
 * not be NULL (DN_E_ARG). */
DN_API dn_status dn_infer_run(dn_infer *ctx, const float *x, size_t n, float *probs, dn_error *err);

/* Convenience: classifies n images x (n*784 floats in [0,1]) into probs
 * (n*10 floats, required), with a context allocated for the call. */
DN_API dn_status dn_model_predict(const dn_model *m, const float *x, size_t n, float *probs,
                                  dn_error *err);

/* Converts count_pixels 8-bit pixels src to floats dst in [0,1] (v/255). */
DN_API void dn_model_inputs_from_pixels(const unsigned char *src, size_t count_pixels, float *dst);

/* Evaluation over a labeled dataset. */
typedef struct dn_eval {
    size_t count, correct;
    double loss;              /* mean cross-entropy */
    double accuracy;          /* correct / count */
    size_t confusion[10][10]; /* [true][predicted] */
    double ece;               /* expected calibration error, 15 bins (see below) */
    size_t unsure;            /* images dn_probs_unsure flags */
    size_t unsure_correct;    /* of those, how many were right all the same */
} dn_eval;

/* Classifies every image of a labeled 28x28 dataset and fills *out:
 * counts, accuracy, mean loss, the confusion matrix, the calibration error
 * and how many answers were unsure. */
DN_API dn_status dn_model_evaluate(const dn_model *m, const dn_dataset *ds, dn_eval *out,
                                   dn_error *err);

#define DN_ENSEMBLE_MAX 8
/* The same for an ensemble: the k models (1..DN_ENSEMBLE_MAX, each at its
 * own temperature) classify every image and their probabilities are
 * averaged; the answer, the loss, the calibration error and "unsure" are
 * those of the mean. With k = 1 it is dn_model_evaluate. */
DN_API dn_status dn_models_evaluate(const dn_model *const *models, int k, const dn_dataset *ds,
                                    dn_eval *out, dn_error *err);

/* ---- Calibration and "not sure" (docs/calibration.md) ----
 * A network's softmax is usually over-confident. Temperature scaling
 * divides the logits by one number T > 0 before the softmax, which keeps
 * every argmax (the accuracy) and makes the top probability mean what it
 * says: of the answers given with probability 0.9, about 90% are right.
 * The expected calibration error (ECE) measures how far off that is:
 * answers are put into 15 bins by their top probability, and
 * ECE = sum over bins of (bin size / N) * |accuracy - mean probability|. */

#define DN_TEMPERATURE_MIN 0.05
#define DN_TEMPERATURE_MAX 20.0
/* The model's temperature: its "temperature" metadata, 1 when absent.
 * Every inference path (dn_infer_run, dn_model_predict, dn_model_evaluate,
 * the server, explanations) applies it; training does not. A context
 * (dn_infer, dn_explain) reads it when it is created. The metadata
 * key only accepts a number in [DN_TEMPERATURE_MIN, DN_TEMPERATURE_MAX]
 * (dn_model_set_meta and loading refuse others). */
DN_API double dn_model_temperature(const dn_model *m);

/* Fits the temperature that minimises the cross-entropy of m on the
 * labeled 28x28 images ds (a validation split, never the test set) and
 * stores it in m's metadata. *temperature (may be NULL) receives it. The
 * fit starts from T = 1 whatever m held before. DN_E_ARG for an unlabeled
 * or empty ds. */
DN_API dn_status dn_model_calibrate(dn_model *m, const dn_dataset *ds, double *temperature,
                                    dn_error *err);

#define DN_UNSURE_BELOW 0.8
/* An answer is unsure when its top probability is below DN_UNSURE_BELOW:
 * with a calibrated model, when it is wrong about one time in five or more.
 * Sets *best and *runner_up (either may be NULL) to the two most probable
 * digits of probs[10] and returns 1 when unsure, 0 otherwise. */
DN_API int dn_probs_unsure(const float *probs, int *best, int *runner_up);

/* ======================================================================== */
/* Training                                                                 */
/* ======================================================================== */

typedef enum dn_optimizer { DN_OPT_SGD, DN_OPT_MOMENTUM, DN_OPT_ADAM } dn_optimizer;
/* Learning-rate schedules (docs/optimisers.md). constant, step and cosine
 * change the rate once per epoch; onecycle changes it every step: a linear
 * rise from 0 to lr over the first `warmup` fraction of all steps, then a
 * linear fall to lr_min at the last step. */
typedef enum dn_schedule {
    DN_SCHED_CONSTANT,
    DN_SCHED_STEP,
    DN_SCHED_COSINE,
    DN_SCHED_ONECYCLE
} dn_schedule;

/* Progress reported to the caller; the library itself never prints. */
typedef struct dn_progress {
    int epoch, epochs;     /* 1-based epoch */
    size_t batch, batches; /* 1-based batch within the epoch */
    size_t images_done;    /* images seen this epoch */
    double loss;           /* running mean train loss this epoch */
    double images_per_sec; /* this epoch so far */
    double elapsed;        /* seconds since training started */
    int epoch_done;        /* 1 on the end-of-epoch report */
    double val_accuracy;   /* at epoch end; -1 when no validation set */
    double val_loss;       /* at epoch end */
    double train_accuracy; /* at epoch end, over the epoch's batches */
    double epoch_seconds;  /* at epoch end */
    double lr;             /* learning rate in use */
} dn_progress;

/* Return non-zero to stop training (dn_train then returns DN_E_CANCELLED). */
typedef int (*dn_progress_fn)(const dn_progress *p, void *user);

typedef struct dn_train_opts {
    int epochs; /* default 10 */
    int batch;  /* default 64; 0 = full batch (all training images) */
    float lr;   /* default 0.01, whatever the optimizer (the digitnet command
                 * picks 0.1 for sgd, 0.05 for momentum, 0.001 for adam) */
    dn_optimizer optimizer;
    float momentum;          /* default 0.9 */
    int nesterov;            /* default 0 */
    float beta1, beta2, eps; /* Adam; defaults 0.9, 0.999, 1e-8 */
    float weight_decay;      /* L2 coefficient, default 0 */
    dn_schedule schedule;    /* default constant */
    int step_epochs;         /* step schedule: multiply by gamma every step_epochs */
    float gamma;             /* default 0.1 */
    float lr_min;            /* cosine and onecycle floor, default 0 */
    float warmup;            /* onecycle: fraction of steps spent rising, default 0.3 */
    float label_smoothing;   /* targets (1-s) one-hot + s/10, 0..0.5; default 0 */
    uint64_t seed;           /* shuffling, dropout, augmentation */
    size_t val_count;        /* images held out of the END of train; default 5000 */
    int keep_best;           /* restore the parameters of the best validation epoch; default 1 */
    /* augmentation (applied on the fly to training images only) */
    int aug_shift;           /* max shift in pixels, 0 = off; at most 28 */
    float aug_rotate;        /* max rotation in degrees, 0 = off; at most 360 */
    float aug_scale;         /* max relative scale change (0.1 = +-10%), 0 = off; at most 0.9 */
    float aug_elastic;       /* elastic alpha (pixels), 0 = off, at most 100; sigma fixed at 4 */
    dn_progress_fn progress; /* may be NULL */
    void *progress_user;
    size_t progress_every; /* call progress every N batches (default 1) */
    /* Crash safety. When checkpoint is not NULL, the whole training state
     * (model, optimiser, RNG, data order, best epoch, history, these
     * options) is written to that path atomically after every finished
     * epoch, so a run killed at any moment can continue with
     * dn_train_resume. A failed write stops training with DN_E_IO.
     * checkpoint_note is free text stored with it for the caller (for
     * example where the data came from); may be NULL. Both default NULL;
     * the strings are borrowed for the duration of the call. */
    const char *checkpoint;
    const char *checkpoint_note;
} dn_train_opts;

/* Fills the defaults listed above. */
DN_API void dn_train_opts_default(dn_train_opts *o);

/* One finished epoch of a training history. */
typedef struct dn_epoch_record {
    int epoch;             /* 1-based */
    double train_loss;     /* mean over the epoch's batches */
    double train_accuracy; /* 0..1 */
    double val_accuracy;   /* 0..1; -1 when there was no validation */
} dn_epoch_record;

/* Reads a training history as it is stored (the "history" metadata of a
 * trained model, dn_checkpoint_info.history): writes up to max epochs to
 * out and returns how many well-formed ones the text holds (call with
 * max 0 to count them).  Malformed or non-finite entries are skipped; text
 * may be NULL. */
DN_API size_t dn_history_parse(const char *text, dn_epoch_record *out, size_t max);

/* dn_history_parse of m's "history" metadata: 0 when it has none. */
DN_API size_t dn_model_history(const dn_model *m, dn_epoch_record *out, size_t max);

/* Result of a training run. */
typedef struct dn_train_result {
    int epochs_run;
    int best_epoch; /* 1-based, 0 when no validation */
    double best_val_accuracy;
    double final_train_loss;
    double seconds;
} dn_train_result;

/* Trains m on train (labels required).  The last o->val_count images are
 * held out for validation and best-epoch selection.  Records settings and
 * per-epoch history into the model's metadata.  On DN_E_DIVERGED and
 * DN_E_CANCELLED the model keeps the parameters of the last finished epoch
 * and res->epochs_run says which one that is (0: none).  res may be NULL;
 * otherwise it is filled on every return. */
DN_API dn_status dn_train(dn_model *m, const dn_dataset *train, const dn_train_opts *o,
                          dn_train_result *res, dn_error *err);

/* A training checkpoint loaded from disk (see dn_train_opts.checkpoint). */
typedef struct dn_checkpoint dn_checkpoint;

/* Loads and validates a checkpoint file: magic "DNCKPT01", version, CRC-32
 * of the whole file, every field and size (format at the top of
 * src/checkpoint.c).  *out is owned by the caller (dn_checkpoint_free);
 * NULL on failure. */
DN_API dn_status dn_checkpoint_load(const char *path, dn_checkpoint **out, dn_error *err);
/* Frees a checkpoint. Accepts NULL. */
DN_API void dn_checkpoint_free(dn_checkpoint *ck);

/* What a checkpoint holds, to rebuild the run around it. */
typedef struct dn_checkpoint_info {
    int epoch;            /* epochs completed, 1..opts.epochs */
    int threads;          /* dn_get_threads() of the run that wrote it */
    size_t data_count;    /* images of the training set, validation tail included */
    const char *arch;     /* the model's architecture, for dn_model_create */
    const char *note;     /* the run's checkpoint_note, "" when none */
    dn_train_opts opts;   /* the stored settings; callbacks and checkpoint fields NULL */
    const char *history;  /* the finished epochs, for dn_history_parse; "" when none */
    int best_epoch;       /* the best validation epoch so far, 0 = none */
    double best_accuracy; /* its validation accuracy */
    double seconds;       /* training time spent so far */
} dn_checkpoint_info;

/* Fills *out; its strings are owned by ck and live as long as it. */
DN_API void dn_checkpoint_describe(const dn_checkpoint *ck, dn_checkpoint_info *out);

/* Continues the run saved in ck for its remaining epochs, with the settings
 * stored in it: the result is what the uninterrupted dn_train would have
 * produced, bit for bit when dn_get_threads() equals info.threads.
 *   m      a model of the checkpoint's architecture (e.g. from
 *          dn_model_create(info.arch, NULL, 0, ...)), owned by the caller;
 *          its parameters, state and metadata are replaced by ck's first.
 *   train  the same data set the run started with: its size and the
 *          checksums of labels and pixels must match (DN_E_ARG otherwise).
 *   o      only progress, progress_user, progress_every, checkpoint and
 *          checkpoint_note are used; every training setting comes from ck.
 *          May be NULL (no progress reports, no further checkpoints).
 * Returns like dn_train; ck is only read and may be used again. */
DN_API dn_status dn_train_resume(dn_model *m, const dn_dataset *train, const dn_checkpoint *ck,
                                 const dn_train_opts *o, dn_train_result *res, dn_error *err);

/* Parses "sgd", "momentum", "nesterov" (DN_OPT_MOMENTUM; the caller sets
 * nesterov) or "adam". Returns DN_E_ARG for unknown names. */
DN_API dn_status dn_optimizer_parse(const char *name, dn_optimizer *out);
/* Parses "constant", "step", "cosine" or "onecycle". Returns DN_E_ARG for
 * unknown names. */
DN_API dn_status dn_schedule_parse(const char *name, dn_schedule *out);

/* The name dn_optimizer_parse reads for o ("sgd", "momentum", "adam"; "?"
 * for a value out of range). */
DN_API const char *dn_optimizer_name(dn_optimizer o);

/* The name dn_schedule_parse reads for s ("?" for a value out of range). */
DN_API const char *dn_schedule_name(dn_schedule s);

/* ======================================================================== */
/* Images and MNIST-style normalisation                                     */
/* ======================================================================== */

/* An 8-bit grayscale image as decoded from a file, before normalisation:
 * pixels are luminance as stored (0 = black, 255 = white). */
typedef struct dn_image {
    int width, height;
    unsigned char *pixels; /* width*height bytes, row-major, owned */
} dn_image;

/* Frees the pixels and zeroes the image. Accepts NULL. */
DN_API void dn_image_free(dn_image *img);

/* Decodes PNG, JPEG, PGM or PPM (binary and ASCII) from memory, detected by
 * content. Colour is converted to luminance and alpha is composited over
 * white. Truncated or corrupt data and unknown formats are errors; an image
 * over the default budgets below is DN_E_LIMIT. On success *out owns the
 * pixels. */
DN_API dn_status dn_image_decode(const void *data, size_t size, dn_image *out, dn_error *err);

/* What one decode may cost, checked from the decoder's own reading of the
 * header before any pixel is decoded, then while it decodes:
 *   max_pixels  width x height (default 50,000,000)
 *   max_memory  bytes the JPEG decoder may allocate (a progressive JPEG
 *               keeps every coefficient; default 1 GiB)
 *   max_work    JPEG decoding work, counted as pixels x components per
 *               scan (8 times that for arithmetic coding, which decodes
 *               several times slower), so a file of hundreds of tiny
 *               progressive scans is refused as it is read (default
 *               50,000,000 x 3 x 16)
 * Zero fields take the defaults. */
typedef struct dn_image_limits {
    unsigned long long max_pixels, max_memory, max_work;
} dn_image_limits;

/* dn_image_decode under the given limits (NULL: the defaults); a budget
 * exceeded is DN_E_LIMIT with a message saying which. */
DN_API dn_status dn_image_decode_limited(const void *data, size_t size,
                                         const dn_image_limits *limits, dn_image *out,
                                         dn_error *err);

/* Reads a whole file (at most 256 MiB) and decodes it. */
DN_API dn_status dn_image_load(const char *path, dn_image *out, dn_error *err);

/* Writes 8-bit grayscale pixels as a PNG, atomically. */
DN_API dn_status dn_png_save_gray(const char *path, const unsigned char *pixels, int width,
                                  int height, dn_error *err);

/* Encodes 8-bit grayscale pixels as a PNG in memory; *out is malloc'd and
 * owned by the caller. */
DN_API dn_status dn_png_encode_gray(const unsigned char *pixels, int width, int height,
                                    unsigned char **out, size_t *out_size, dn_error *err);

/* Turns an arbitrary image into a 28x28 MNIST-style digit (white ink on
 * black, fitted in 20x20 keeping aspect ratio, centred by centre of mass),
 * see docs/normalisation.md. Returns DN_E_NODATA for blank images. */
DN_API dn_status dn_image_normalize(const dn_image *img, unsigned char out[784], dn_error *err);

/* ======================================================================== */
/* HTTP server (the drawing page and the JSON API, see docs/api.md)         */
/* ======================================================================== */

typedef struct dn_server dn_server;

typedef struct dn_server_opts {
    const char *host;        /* numeric address or name to bind; default "127.0.0.1" */
    int port;                /* default 8080; 0 picks a free port (see dn_server_port) */
    int workers;             /* inference contexts: requests decoded or run at once; default 4 */
    const char *collect_dir; /* where POST /api/samples appends; NULL disables it */
} dn_server_opts;

/* Fills the defaults listed above. */
DN_API void dn_server_opts_default(dn_server_opts *o);

/* Starts serving the model (borrowed: it must outlive the server).  Fails
 * with DN_E_ARG for a bad host or option, DN_E_IO when the address cannot
 * be bound or the collect directory cannot be opened.  *out is owned by the
 * caller and released with dn_server_stop. */
DN_API dn_status dn_server_start(const dn_model *m, const dn_server_opts *o, dn_server **out,
                                 dn_error *err);

/* The port actually bound (the chosen one when opts.port was 0). */
DN_API int dn_server_port(const dn_server *s);

/* Stops accepting, waits for running requests, frees everything. Accepts NULL. */
DN_API void dn_server_stop(dn_server *s);

/* ======================================================================== */
/* Looking inside: activations, first-layer weights, saliency               */
/* ======================================================================== */

/* A read-only view of numbers owned by the library: c maps of h x w floats,
 * row-major (for a dense layer's output: c units, h = w = 1). */
typedef struct dn_tensor_view {
    const char *name; /* layer kind, "dense", "conv", "relu"...; NULL when empty */
    int c, h, w;
    const float *data;
} dn_tensor_view;

typedef struct dn_explain dn_explain;

/* A context for explaining single images with model m (borrowed; it must
 * outlive the context). Allocates once; one context per thread. */
DN_API dn_status dn_explain_create(const dn_model *m, dn_explain **out, dn_error *err);
/* Frees a context. Accepts NULL. */
DN_API void dn_explain_free(dn_explain *e);

/* Classifies x [784] (floats in [0,1]) into probs [10] and writes the
 * saliency map saliency [784]: the gradient of the winning class's logit
 * with respect to each input pixel (inference mode). Afterwards
 * dn_explain_layer describes this image. */
DN_API dn_status dn_explain_run(dn_explain *e, const float *x, float *probs, float *saliency,
                                dn_error *err);
/* Guided backpropagation [784] for the class and image of the last
 * dn_explain_run: the same backward pass, but every ReLU also stops
 * negative gradients. Its positive part shows the strokes that raised the
 * winning score (see docs/saliency.md). DN_E_ARG before any run. */
DN_API dn_status dn_explain_guided(dn_explain *e, float *guided, dn_error *err);
/* The number of layers whose outputs dn_explain_layer shows. */
DN_API int dn_explain_layer_count(const dn_explain *e);
/* The output of layer i (0-based) for the last image run; empty before
 * (and for i out of range). The data is owned by e and changes with the
 * next run. */
DN_API dn_tensor_view dn_explain_layer(const dn_explain *e, int i);

/* The first layer's weights as pictures: a dense layer on the 784 pixels
 * gives c = units maps of 28x28; a convolution on the image gives c =
 * filters maps of k x k. Empty when the first parameterised layer sees
 * something else. Owned by the model. */
DN_API dn_tensor_view dn_model_first_weights(const dn_model *m);

/* ======================================================================== */
/* Live training dashboard (see docs/dashboard.md)                          */
/* ======================================================================== */

/* A training monitor records the progress of one training run (loss per
 * batch, accuracy per epoch, speed, the final test evaluation) and serves
 * it over HTTP: a page at / that draws it live, and the JSON at
 * GET /api/train?since=N.  Every function is thread-safe: training reports
 * from its thread while the server's threads answer requests.  Memory is
 * bounded: at most max_points batch points are kept (when full, every
 * other one is dropped and later ones are recorded at half the rate, so
 * they stay evenly spread over the run); every epoch point is kept. */
typedef struct dn_monitor dn_monitor;

typedef struct dn_monitor_opts {
    const char *host;   /* numeric address or name to bind; default "127.0.0.1" */
    int port;           /* default 8080; 0 picks a free port (see dn_monitor_port) */
    const char *title;  /* the page's heading, e.g. the architecture; copied; may be NULL */
    const char *detail; /* a line under it, e.g. the settings; copied; may be NULL */
    size_t max_points;  /* batch points kept, 16..10,000,000; default 20,000 */
} dn_monitor_opts;

/* Fills the defaults listed above. */
DN_API void dn_monitor_opts_default(dn_monitor_opts *o);

/* Starts serving the dashboard in background threads; its state is
 * "starting" until the first progress report.  Fails with DN_E_ARG for a
 * bad host, port or max_points, DN_E_IO when the address cannot be bound.
 * *out is owned by the caller and released with dn_monitor_stop. */
DN_API dn_status dn_monitor_start(const dn_monitor_opts *o, dn_monitor **out, dn_error *err);

/* The port actually bound (the chosen one when opts.port was 0). */
DN_API int dn_monitor_port(const dn_monitor *mon);

/* Stops the server, waits for running requests, frees everything. Accepts NULL. */
DN_API void dn_monitor_stop(dn_monitor *mon);

/* Replaces the heading and the line under it (copied; NULL = empty). */
DN_API dn_status dn_monitor_describe(dn_monitor *mon, const char *title, const char *detail);

/* A dn_progress_fn: pass it as dn_train_opts.progress with the monitor as
 * progress_user, or call it from your own callback with the same report.
 * Batch reports update the current epoch, batch, loss, images/s, elapsed
 * time and ETA, and about 150 per epoch become batch points (whatever
 * progress_every is); an end-of-epoch report adds an epoch point (train
 * loss and accuracy, validation loss and accuracy, seconds).  Sets the
 * state to "running" (clearing the message of another state) unless the
 * run is finished.  Returns 0 (never asks training to stop). */
DN_API int dn_monitor_progress(const dn_progress *p, void *monitor);

/* What a resumed run has done already (from its checkpoint: see
 * dn_checkpoint_info and dn_history_parse). */
typedef struct dn_monitor_past {
    const dn_epoch_record *epochs; /* the finished epochs */
    size_t count;
    int epoch, epochs_total; /* epochs completed, of how many */
    int best_epoch;          /* 0 = none */
    double best_accuracy;    /* the best epoch's validation accuracy */
    double seconds;          /* training time so far */
} dn_monitor_past;

/* For a resumed run: adds an epoch point for each finished epoch (train
 * loss and accuracy, validation accuracy; seconds and validation loss are
 * not known), the best epoch and the elapsed time.  Call it before
 * training continues.  past is only read. */
DN_API dn_status dn_monitor_seed(dn_monitor *mon, const dn_monitor_past *past);

/* Sets a state of a run in progress: "starting", "running" or "testing"
 * (evaluating after training), with an optional message shown beside it
 * (copied; NULL = none).  DN_E_ARG for any other state or once the run is
 * finished. */
DN_API dn_status dn_monitor_set_state(dn_monitor *mon, const char *state, const char *message);

/* Ends the run: state "done", "failed" or "cancelled" (DN_E_ARG for any
 * other), an optional message (e.g. why it failed; copied; NULL = none) and
 * the evaluation on the test set, whose accuracy and 10x10 confusion matrix
 * the page then shows (test may be NULL).  The progress values freeze; the
 * dashboard keeps serving until dn_monitor_stop.  Calling it again replaces
 * the state, message and test evaluation. */
DN_API dn_status dn_monitor_finish(dn_monitor *mon, const dn_eval *test, const char *state,
                                   const char *message);

#ifdef __cplusplus
}
#endif
#endif /* DIGITNET_H */
