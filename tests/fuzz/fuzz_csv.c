/*
 * fuzz_csv.c — fuzz target for dn_csv_load (Kaggle digit-recognizer CSV).
 *
 * Input layout: the whole input is the CSV file.
 *
 * Checks: no crash, leak or undefined behaviour; on success the dataset
 * holds count >= 1 images of 28x28 with every pixel byte readable and, when
 * labeled, labels 0..9; on failure the output is empty and the message
 * names the file.
 */
#include "fuzz_common.h"

static fuzz_file csv_file;

int fuzz_one_csv(const uint8_t *data, size_t size) {
    fuzz_file_open(&csv_file, "csv");
    fuzz_file_write(&csv_file, data, size);
    dn_dataset ds;
    memset(&ds, 0xa5, sizeof ds); /* the loader must clear it */
    dn_error err = {{0}};
    dn_status st = dn_csv_load(csv_file.path, &ds, &err);
    if (st != DN_OK) {
        fuzz_check_failure(st, &err);
        FUZZ_CHECK(ds.count == 0 && ds.images == NULL && ds.labels == NULL);
        FUZZ_CHECK(strstr(err.msg, csv_file.path) != NULL);
        return 0;
    }
    FUZZ_CHECK(ds.count >= 1 && ds.images != NULL && ds.rows == 28 && ds.cols == 28);
    fuzz_touch(ds.images, ds.count * 784);
    for (size_t i = 0; ds.labels && i < ds.count; i++) FUZZ_CHECK(ds.labels[i] <= 9);
    dn_dataset_free(&ds);
    return 0;
}

/* Closes the scratch file (the regression test calls it at the end). */
void fuzz_cleanup_csv(void) {
    fuzz_file_close(&csv_file);
}

#ifndef DN_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_one_csv(data, size);
}
#endif
