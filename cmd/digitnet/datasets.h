/*
 * datasets.h — data sets named on the command line, shared by predict,
 * convert and show: the format of a path is inferred (or given), image
 * folders are listed, read and written, and IDX/CSV go through the library.
 *
 * Formats
 *   folder  a directory with one subfolder per label, 0 .. 9, of images
 *           (PNG, JPEG, PGM, PPM); without such subfolders, a flat directory
 *           of unlabeled images. Written as PNG files 00001.png, ... per label.
 *   idx     an images file *idx3-ubyte[.gz] with its labels file alongside
 *           (images -> labels, idx3 -> idx1 in the name), or a directory of
 *           MNIST-named files together with a split (train or test).
 *   csv     a Kaggle digit-recognizer CSV (with or without a label column).
 *
 * Nothing here prints or exits: failures come back as a dn_status and a
 * message in dn_error, like the library.
 */
#ifndef DN_CLI_DATASETS_H
#define DN_CLI_DATASETS_H

#include "digitnet.h"
#include <stdio.h>

typedef enum ds_format { DS_AUTO, DS_FOLDER, DS_IDX, DS_CSV } ds_format;

/* How image folders are read and IDX files written. */
typedef struct ds_opts {
    int normalize;     /* pass folder images through dn_image_normalize */
    int invert;        /* invert folder images (dark ink on light, as-is mode) */
    const char *split; /* "train" or "test" for an IDX directory; may be NULL */
    int gzip;          /* write IDX gzipped (also implied by a .gz name) */
} ds_opts;

/* "folder", "idx" or "csv"; DS_AUTO for anything else. */
ds_format ds_format_parse(const char *s);
const char *ds_format_name(ds_format f);

/* The format of an existing source path, DS_AUTO when it cannot be told; a
 * directory holds IDX files when it has no subfolders 0..9 but *idx3* files. */
ds_format ds_guess_source(const char *path);
/* The format of a destination path, DS_AUTO when it cannot be told. */
ds_format ds_guess_dest(const char *path, const char *split);

/* Reads a data set; on failure *out is empty and err names the file. */
dn_status ds_load(const char *path, ds_format f, const ds_opts *o, dn_dataset *out, dn_error *err);

/* Reads the data set that --data PATH names for a command (train, test):
 *   - a directory of MNIST-named IDX files: its `split` (train or test);
 *   - a folder tree with subfolders 0..9 of images (read as ds_load's
 *     folder format, with o->normalize and o->invert), ordered round-robin
 *     across labels so that any tail of it (the validation images) holds
 *     every digit;
 *   - a Kaggle CSV file, or an IDX images file with its labels beside it.
 * The data must be labeled. When nothing usable is found the message says
 * what was looked for. *is_split is set to 1 when PATH was a directory of
 * IDX files (so another split of it exists), 0 otherwise (may be NULL). */
dn_status ds_load_data(const char *path, const char *split, const ds_opts *o, dn_dataset *out,
                       int *is_split, dn_error *err);

/* Writes a data set. Files are written atomically; a folder is built under
 * a temporary name and renamed into place, and must not exist already
 * (an empty directory is replaced). */
dn_status ds_save(const dn_dataset *ds, const char *path, ds_format f, const ds_opts *o,
                  dn_error *err);

/* A growable list of paths. */
typedef struct ds_paths {
    char **v;
    size_t n, cap;
} ds_paths;

void ds_paths_free(ds_paths *l);

/* 1 when the name ends in .png, .jpg, .jpeg, .pgm, .ppm or .pnm (any case). */
int ds_is_image_name(const char *name);

/* 1 when the path names an IDX file (by name: "idx3"/"idx1", or by magic). */
int ds_is_idx_file(const char *path);

/* Opens path for reading only when it is a regular file, without ever
 * waiting (a FIFO is refused, not opened for good); NULL otherwise. */
FILE *ds_fopen_regular(const char *path);

/* 1 for a directory (following symlinks). */
int ds_is_dir(const char *path);

/* Appends the image files of dir (not hidden ones), sorted by name, walking
 * subfolders (also sorted, after the files) when recursive. */
dn_status ds_list_images(const char *dir, int recursive, ds_paths *out, dn_error *err);

/* Loads one image file as a 28x28 digit: through dn_image_normalize, or, when
 * normalize is 0, as stored (it must then be 28x28). invert flips it first. */
dn_status ds_image_digit(const dn_image *img, int normalize, int invert, unsigned char out[784],
                         dn_error *err);

/* Fine-tuning data: the labeled 28x28 digits at user_path (read with o)
 * first, repeated so they make up about a tenth of an epoch (*reps times,
 * 1..1000; *mine of them), then all of the MNIST training set in
 * mnist_dir, whose tail stays the validation set. */
dn_status ds_load_finetune(const char *user_path, const char *mnist_dir, const ds_opts *o,
                           dn_dataset *out, size_t *mine, size_t *reps, dn_error *err);

/* The last n images of ds (n <= ds->count) as a view into its buffers:
 * the validation split training holds out. Not to be freed. */
dn_dataset ds_tail(const dn_dataset *ds, size_t n);

/* printf into err->msg; returns st. */
dn_status ds_fail(dn_error *err, dn_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
