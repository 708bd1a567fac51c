/*
 * fuzz_idx.c — fuzz target for dn_idx_load (IDX image and label files, raw
 * or gzipped).
 *
 * Input layout: byte 0 holds flags, the rest becomes one or two files.
 *   bit 0  a label file is given: bytes 1..2 (little-endian) are its length
 *          L (cut to what is there), the next L bytes are the label file and
 *          the remainder is the image file; otherwise everything after byte 0
 *          is the image file and no label path is passed
 *   bit 1  the image file is gzipped by the harness before it is written
 *   bit 2  the label file is gzipped by the harness
 * Gzipping in the harness lets mutations of the IDX structure reach the
 * parser through a valid stream; gzip bytes in the input itself exercise
 * the stream checks (CRC, truncation, members, trailing bytes).
 *
 * Checks: no crash, leak or undefined behaviour; on success the dataset is
 * consistent (count >= 1, sides 1..4096, every pixel byte readable, labels
 * 0..9 when a label file was given, none otherwise); on failure the output
 * is empty and the message names one of the two files.
 */
#include "fuzz_common.h"

static fuzz_file idx_images_file, idx_labels_file;

static void idx_write(fuzz_file *f, const uint8_t *p, size_t n, int gz) {
    if (!gz) {
        fuzz_file_write(f, p, n);
        return;
    }
    uint8_t *z;
    size_t zn;
    fuzz_gzip(p, n, &z, &zn);
    fuzz_file_write(f, z, zn);
    free(z);
}

int fuzz_one_idx(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned flags = data[0];
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    const uint8_t *lab = NULL;
    size_t lab_n = 0;
    if (flags & 1) {
        if (n < 2) return 0;
        lab_n = (size_t)p[0] | (size_t)p[1] << 8;
        p += 2;
        n -= 2;
        if (lab_n > n) lab_n = n;
        lab = p;
        p += lab_n;
        n -= lab_n;
    }
    fuzz_file_open(&idx_images_file, "idx-images");
    idx_write(&idx_images_file, p, n, flags & 2);
    if (lab) {
        fuzz_file_open(&idx_labels_file, "idx-labels");
        idx_write(&idx_labels_file, lab, lab_n, flags & 4);
    }

    dn_dataset ds;
    memset(&ds, 0xa5, sizeof ds); /* the loader must clear it */
    dn_error err = {{0}};
    const char *labels_path = lab ? idx_labels_file.path : NULL;
    dn_status st = dn_idx_load(idx_images_file.path, labels_path, &ds, &err);
    if (st != DN_OK) {
        fuzz_check_failure(st, &err);
        FUZZ_CHECK(ds.count == 0 && ds.images == NULL && ds.labels == NULL);
        FUZZ_CHECK(strstr(err.msg, idx_images_file.path) ||
                   (labels_path && strstr(err.msg, labels_path)));
        return 0;
    }
    FUZZ_CHECK(ds.count >= 1 && ds.images != NULL);
    FUZZ_CHECK(ds.rows >= 1 && ds.rows <= 4096 && ds.cols >= 1 && ds.cols <= 4096);
    fuzz_touch(ds.images, ds.count * (size_t)ds.rows * (size_t)ds.cols);
    FUZZ_CHECK((ds.labels != NULL) == (lab != NULL));
    for (size_t i = 0; ds.labels && i < ds.count; i++) FUZZ_CHECK(ds.labels[i] <= 9);
    dn_dataset_free(&ds);
    FUZZ_CHECK(ds.images == NULL && ds.labels == NULL);
    return 0;
}

/* Closes the scratch files (the regression test calls it at the end). */
void fuzz_cleanup_idx(void) {
    fuzz_file_close(&idx_images_file);
    fuzz_file_close(&idx_labels_file);
}

#ifndef DN_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_one_idx(data, size);
}
#endif
