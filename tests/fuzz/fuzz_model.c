/*
 * fuzz_model.c — fuzz target for dn_model_load (the .dnm model file).
 *
 * Input layout: byte 0 holds flags, the rest is the model file.
 *   bit 0  the harness rewrites the last 4 bytes with the CRC-32 of the
 *          bytes before them, so mutations get past the checksum and reach
 *          the header, architecture, metadata and tensor parsing; without
 *          it the checksum test itself is exercised
 *
 * Checks: no crash, leak or undefined behaviour; on failure *out is NULL
 * and the message names the file; on success the model answers every
 * accessor (architecture, summary, metadata), its canonical architecture
 * rebuilds the same network (dn_model_clone), and one inference runs and
 * yields probabilities in [0, 1] summing to 1 whenever they are finite
 * (a file may legally hold NaN weights).
 */
#include "fuzz_common.h"

#include <math.h>

static fuzz_file model_file;

/* Runs one input through the model and checks the output. */
static void model_infer(const dn_model *m) {
    if (dn_model_param_count(m) > ((size_t)1 << 20)) return; /* keep executions fast */
    float x[784], probs[10];
    for (int i = 0; i < 784; i++) x[i] = (float)(i % 29) / 28.0f;
    dn_infer *ctx = NULL;
    dn_error err = {{0}};
    dn_status st = dn_infer_create(m, 1, &ctx, &err);
    if (st != DN_OK) {
        fuzz_check_failure(st, &err);
        return;
    }
    st = dn_infer_run(ctx, x, 1, probs, &err);
    FUZZ_CHECK(st == DN_OK);
    double sum = 0;
    int finite = 1;
    for (int k = 0; k < 10; k++) {
        if (!isfinite(probs[k])) finite = 0;
        sum += probs[k];
    }
    if (finite) {
        for (int k = 0; k < 10; k++) FUZZ_CHECK(probs[k] >= 0.0f && probs[k] <= 1.0f);
        FUZZ_CHECK(fabs(sum - 1.0) < 1e-3);
    }
    dn_infer_free(ctx);
}

int fuzz_one_model(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned flags = data[0];
    size_t n = size - 1;
    uint8_t *file = fuzz_copy(data + 1, n);
    if ((flags & 1) && n >= 4) {
        uLong crc = crc32(0L, file, (uInt)(n - 4));
        for (int i = 0; i < 4; i++) file[n - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
    }
    fuzz_file_open(&model_file, "model");
    fuzz_file_write(&model_file, file, n);
    free(file);

    dn_model *m = (dn_model *)(void *)&model_file; /* a sentinel the loader must reset */
    dn_error err = {{0}};
    dn_status st = dn_model_load(model_file.path, &m, &err);
    if (st != DN_OK) {
        fuzz_check_failure(st, &err);
        FUZZ_CHECK(m == NULL);
        FUZZ_CHECK(strstr(err.msg, model_file.path) != NULL);
        return 0;
    }
    FUZZ_CHECK(m != NULL);
    const char *arch = dn_model_arch(m);
    FUZZ_CHECK(arch != NULL && arch[0] != '\0');
    FUZZ_CHECK(dn_model_input_size(m) == 784 && dn_model_classes(m) == 10);
    const char *summary = dn_model_summary(m);
    FUZZ_CHECK(summary != NULL);
    fuzz_touch(summary, strlen(summary));
    const char *key, *value;
    for (size_t i = 0; dn_model_meta_at(m, i, &key, &value); i++) {
        FUZZ_CHECK(key != NULL && value != NULL);
        FUZZ_CHECK(dn_model_get_meta(m, key) != NULL);
        fuzz_touch(value, strlen(value));
    }
    dn_model *copy = NULL;
    st = dn_model_clone(m, &copy, &err);
    FUZZ_CHECK(st == DN_OK);
    FUZZ_CHECK(strcmp(dn_model_arch(copy), arch) == 0);
    FUZZ_CHECK(dn_model_param_count(copy) == dn_model_param_count(m));
    dn_model_free(copy);
    model_infer(m);
    dn_model_free(m);
    return 0;
}

/* Closes the scratch file (the regression test calls it at the end). */
void fuzz_cleanup_model(void) {
    fuzz_file_close(&model_file);
}

#ifndef DN_FUZZ_NO_MAIN
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    dn_set_threads(1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_one_model(data, size);
}
#endif
