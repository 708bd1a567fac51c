/*
 * collect.h — the --collect dataset of `digitnet serve` (collect.c): the
 * user's own digits appended to an MNIST-layout IDX pair, crash-safe.
 */
#ifndef DN_DATA_COLLECT_H
#define DN_DATA_COLLECT_H

#include "internal.h"

#define DN_COLLECT_MAX 100000 /* samples in a --collect dataset */

typedef struct dn_collect dn_collect;

/* A dataset of the user's own digits in DIR, in the MNIST layout so that
 * `--data DIR` reads it: DIR/train-images-idx3-ubyte (28x28 images) and
 * DIR/train-labels-idx1-ubyte.  An append writes the new image and label
 * at the ends of the files and syncs them, then the new count into each
 * header (images first), each synced: 785 bytes, whatever the size of the
 * dataset.  A crash at any moment leaves every acknowledged sample;
 * opening cuts a torn tail and, when the headers' counts differ, keeps the
 * smaller.  An exclusive lock (DIR/.lock) keeps two servers from appending
 * to one directory.  Appends are serialised by an internal mutex. */

/* Opens (creating DIR when missing) and loads what is there. */
dn_status dn_collect_open(const char *dir, dn_collect **out, dn_error *err);
/* Appends one normalised 28x28 image with its label (0..9); *count receives
 * the new number of samples.  DN_E_UNSUPPORTED when DN_COLLECT_MAX is
 * reached.  On failure the dataset keeps its previous samples. */
dn_status dn_collect_append(dn_collect *c, const unsigned char image[784], int label, size_t *count,
                            dn_error *err);
size_t dn_collect_count(dn_collect *c);
void dn_collect_free(dn_collect *c);

#endif
