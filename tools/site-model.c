/*
 * site-model.c — the model file of the static page (make site): loads IN
 * with the library's loader and writes it to OUT with its parameters as
 * binary16 (fp16, half the download) or unchanged (fp32).
 *
 *   site-model IN OUT fp16|fp32
 */
#include "digitnet.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 4 || (strcmp(argv[3], "fp16") != 0 && strcmp(argv[3], "fp32") != 0)) {
        fprintf(stderr, "usage: site-model IN OUT fp16|fp32\n");
        return 2;
    }
    dn_model *m = NULL;
    dn_error err = {{0}};
    dn_status st = dn_model_load(argv[1], &m, &err);
    if (st == DN_OK && dn_model_input_size(m) == 784 && dn_model_classes(m) == 10) {
        st = strcmp(argv[3], "fp16") == 0 ? dn_model_save_half(m, argv[2], &err)
                                          : dn_model_save(m, argv[2], &err);
    } else if (st == DN_OK) {
        st = DN_E_UNSUPPORTED;
        snprintf(err.msg, sizeof err.msg, "%s: the page needs a 784-input, 10-class model",
                 argv[1]);
    }
    dn_model_free(m);
    if (st != DN_OK) {
        fprintf(stderr, "site-model: %s\n", err.msg);
        return 1;
    }
    return 0;
}
