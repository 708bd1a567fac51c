/*
 * checkpoint.h — the training checkpoint: everything a run needs to carry
 * on exactly where it stopped. checkpoint.c owns the file format, train.c
 * fills the struct before saving and consumes it when resuming.
 */
#ifndef DN_CHECKPOINT_H
#define DN_CHECKPOINT_H

#include "model.h"

/* A loaded checkpoint owns every pointer below (dn_checkpoint_free releases
 * them). The trainer fills one on the stack with BORROWED pointers to save
 * it; such a struct is never freed. */
struct dn_checkpoint {
    dn_train_opts opts; /* settings; callbacks and checkpoint fields NULL */
    int epoch;          /* epochs completed, 1..opts.epochs */
    int threads, split; /* dn_get_threads() of the run; threads sharing one batch */
    size_t data_count;  /* images in the training set, validation tail included */
    uint32_t labels_crc, images_crc;
    dn_rng rng;        /* the trainer's RNG after the epoch */
    long opt_step;     /* optimiser steps taken */
    int nmoments;      /* optimiser moment buffers: 0 sgd, 1 momentum, 2 adam */
    float *moments[2]; /* model->nparams floats each */
    size_t ntrain;     /* images trained on per epoch */
    size_t *order;     /* ntrain indices: the data order of the last epoch */
    int best_epoch;    /* 0 when no validation yet */
    double best_accuracy, train_loss, seconds;
    float *best_params, *best_state; /* NULL when not kept */
    char *history, *note;            /* NULL means "" */
    dn_model *model;                 /* parameters, state, architecture, metadata */
};

/* Writes ck to path atomically (path.tmp, fsync, rename, fsync of the
 * directory), streaming with a small buffer so a large model is not copied
 * in memory. On failure no path.tmp is left and path is untouched.
 *
 * Test hook (test builds only, see DN_TEST_HOOK in internal.h): when
 * DIGITNET_TEST_KILL_IN_SAVE equals ck->epoch, the process raises SIGKILL
 * on itself after half of the temporary file is written, to prove a crash
 * mid-save is harmless. */
dn_status dn_checkpoint_save(const char *path, const dn_checkpoint *ck, dn_error *err);

#endif
