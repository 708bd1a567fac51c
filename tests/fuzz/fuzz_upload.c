/*
 * fuzz_upload.c — fuzz target for the path an uploaded image takes on the
 * server: POST /api/predict through dn_api_handle, with the server's decode
 * limits on (pixels, memory and decoder work, as `digitnet serve` runs).
 *
 * A slow input is a finding here: tests/fuzz/run-fuzz runs this target with
 * a short per-input timeout (see UPLOAD_TIMEOUT there), so an image whose
 * decode escapes the work budget stops the campaign like a crash does.
 *
 * Input layout: one byte of settings, then the body.
 *   byte 0  bits 0-1  content type: image/png, image/jpeg,
 *                     image/x-portable-graymap, application/octet-stream
 *           bit 2     ?explain=1 (the inside view: a backward pass too)
 *           bit 3     recompute the CRC of every PNG chunk of the body
 *
 * Checks: no crash, leak or undefined behaviour; the status is one an
 * upload may get (200, 400, 413, 415, 422); the answer is a JSON object
 * that the server's own strict reader accepts, with "error" on failures and
 * a label 0..9 on success.
 */
#include "fuzz_common.h"
#include "server/api.h"
#include "server/json.h"

typedef struct upload_fuzz_state {
    int ready;
    dn_model *model;
    dn_api *api;
} upload_fuzz_state;

static upload_fuzz_state upload_fz;

static const char *const upload_types[4] = {"image/png", "image/jpeg", "image/x-portable-graymap",
                                            "application/octet-stream"};

static void upload_setup(void) {
    if (upload_fz.ready) return;
    dn_set_threads(1);
    dn_error err = {{0}};
    FUZZ_CHECK(dn_model_create("conv3x3x4-pool2-relu-fc10", NULL, 1, &upload_fz.model, &err) ==
               DN_OK);
    FUZZ_CHECK(dn_api_create(upload_fz.model, 1, NULL, &upload_fz.api, &err) == DN_OK);
    upload_fz.ready = 1;
}

void fuzz_cleanup_upload(void) {
    if (!upload_fz.ready) return;
    dn_api_free(upload_fz.api);
    dn_model_free(upload_fz.model);
    memset(&upload_fz, 0, sizeof upload_fz);
}

int fuzz_one_upload(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    upload_setup();
    unsigned b0 = data[0];
    size_t body_size = size - 1;
    uint8_t *body = fuzz_copy(data + 1, body_size);
    if (b0 & 8) fuzz_png_fix_crcs(body, body_size);
    dn_api_request req = {.method = "POST",
                          .path = "/api/predict",
                          .query = b0 & 4 ? "explain=1" : NULL,
                          .content_type = upload_types[b0 & 3],
                          .body = body,
                          .body_size = body_size};
    dn_api_response res;
    dn_api_handle(upload_fz.api, &req, &res);
    int s = res.status;
    if (s != 200 && s != 400 && s != 413 && s != 415 && s != 422)
        fprintf(stderr, "status %d: %.*s\n", s, (int)res.body_size, (const char *)res.body);
    FUZZ_CHECK(s == 200 || s == 400 || s == 413 || s == 415 || s == 422);
    FUZZ_CHECK(res.content_type && !strcmp(res.content_type, "application/json"));
    dn_json_doc doc;
    char msg[128];
    FUZZ_CHECK(dn_json_parse((const char *)res.body, res.body_size, &doc, msg, sizeof msg) == 0);
    const dn_json_node *root = &doc.nodes[0];
    FUZZ_CHECK(root->type == DN_JSON_OBJECT);
    if (s == 200) {
        const dn_json_node *label = dn_json_get(&doc, root, "label");
        FUZZ_CHECK(label && label->type == DN_JSON_NUMBER && label->number >= 0 &&
                   label->number <= 9);
        FUZZ_CHECK(!(b0 & 4) == !dn_json_get(&doc, root, "explain"));
    } else {
        const dn_json_node *e = dn_json_get(&doc, root, "error");
        FUZZ_CHECK(e && e->type == DN_JSON_STRING && e->len > 0);
    }
    dn_json_free(&doc);
    dn_api_response_free(&res);
    free(body);
    return 0;
}

#ifndef DN_FUZZ_NO_MAIN
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    upload_setup();
    atexit(fuzz_cleanup_upload);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_one_upload(data, size);
}
#endif
