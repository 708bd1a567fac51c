/*
 * fuzz_api.c — fuzz target for dn_api_handle, the function the HTTP server
 * calls for every request, with JSON and image bodies on POST /api/predict
 * and POST /api/samples (plus the other routes, less often).
 *
 * The model is a tiny untrained 784-16-10 network created once.  Two APIs
 * share it: one without a --collect directory (samples answer 403) and one
 * collecting into a temporary directory (see fuzz_tmpdir), which is emptied
 * every 64 stored samples and removed at exit.
 *
 * Input layout: two bytes of request settings, then the body.
 *   byte 0  bits 0-2  content type (table below), or with bit 4 the path
 *           bit 3     /api/samples instead of /api/predict
 *           bit 4     not a POST to the API: GET (or PUT with bit 5) of
 *                     one of eight paths
 *           bits 5-7  for POSTs, the query string (table below); 7 takes
 *                     it from the body, up to the first newline
 *   byte 1  bit 0     recompute the CRC of every PNG chunk of the body
 *           bit 1     use the API without a collect directory
 *
 * Checks: no crash, leak or undefined behaviour; every response has a
 * status the API documents (never 500: nothing here runs out of memory),
 * a content type and a readable body; 405 carries an Allow value; every JSON
 * answer parses with the server's own strict reader and is an object, with
 * "error" on failures and the documented fields on success.
 */
#include "fuzz_common.h"
#include "server/api.h"
#include "server/json.h"

typedef struct api_fuzz_state {
    int ready;
    dn_model *model;
    dn_api *plain;       /* no collect directory */
    dn_api *collecting;  /* collects into dir */
    dn_collect *collect; /* owned by `collecting`, read for its count */
    char dir[256];
} api_fuzz_state;

static api_fuzz_state api_fz;

static const char *const api_types[8] = {NULL,
                                         "application/json",
                                         "image/png",
                                         "image/jpeg",
                                         "application/octet-stream",
                                         "application/x-www-form-urlencoded",
                                         "text/plain",
                                         " application/ld+json; charset=utf-8"};
static const char *const api_queries[7] = {
    NULL, "", "label=3", "label=%37", "label=12", "a=b&label=0", "label=+&label=4"};
static const char *const api_paths[8] = {"/",        "/index.html", "/app.js",      "/style.css",
                                         "/healthz", "/api/model",  "/api/predict", "/missing"};

static void api_remove_files(void) {
    static const char *const names[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                        "train-images-idx3-ubyte.tmp",
                                        "train-labels-idx1-ubyte.tmp", ".lock"};
    char path[512];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", api_fz.dir, names[i]);
        unlink(path);
    }
}

/* (Re)creates the collecting API over an empty directory. */
static void api_open_collecting(void) {
    api_remove_files();
    dn_error err = {{0}};
    FUZZ_CHECK(dn_collect_open(api_fz.dir, &api_fz.collect, &err) == DN_OK);
    FUZZ_CHECK(dn_api_create(api_fz.model, 1, api_fz.collect, &api_fz.collecting, &err) == DN_OK);
}

static void api_setup(void) {
    if (api_fz.ready) return;
    dn_set_threads(1);
    dn_error err = {{0}};
    FUZZ_CHECK(dn_model_create("784-16-10", NULL, 1, &api_fz.model, &err) == DN_OK);
    FUZZ_CHECK(dn_api_create(api_fz.model, 1, NULL, &api_fz.plain, &err) == DN_OK);
    snprintf(api_fz.dir, sizeof api_fz.dir, "%s/digitnet-fuzz-api-XXXXXX", fuzz_tmpdir());
    FUZZ_CHECK(mkdtemp(api_fz.dir) != NULL);
    api_open_collecting();
    api_fz.ready = 1;
}

/* Frees everything and removes the collect directory. */
void fuzz_cleanup_api(void) {
    if (!api_fz.ready) return;
    dn_api_free(api_fz.collecting);
    dn_api_free(api_fz.plain);
    dn_model_free(api_fz.model);
    api_remove_files();
    rmdir(api_fz.dir);
    memset(&api_fz, 0, sizeof api_fz);
}

static int api_known_status(int s) {
    static const int ok[] = {200, 201, 400, 403, 404, 405, 413, 415, 422, 507};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (s == ok[i]) return 1;
    return 0;
}

/* Checks a JSON answer against the documented shapes. */
static void api_check_json(const dn_api_request *req, const dn_api_response *res) {
    dn_json_doc doc;
    char msg[128];
    int rc = dn_json_parse((const char *)res->body, res->body_size, &doc, msg, sizeof msg);
    if (rc != 0)
        fprintf(stderr, "invalid JSON answer (%s): %.*s\n", msg, (int)res->body_size,
                (const char *)res->body);
    FUZZ_CHECK(rc == 0);
    const dn_json_node *root = &doc.nodes[0];
    FUZZ_CHECK(root->type == DN_JSON_OBJECT);
    if (res->status >= 400) {
        const dn_json_node *e = dn_json_get(&doc, root, "error");
        FUZZ_CHECK(e && e->type == DN_JSON_STRING && e->len > 0);
    } else if (res->status == 200 && !strcmp(req->path, "/api/predict")) {
        const dn_json_node *label = dn_json_get(&doc, root, "label");
        const dn_json_node *probs = dn_json_get(&doc, root, "probabilities");
        const dn_json_node *image = dn_json_get(&doc, root, "image");
        FUZZ_CHECK(label && label->type == DN_JSON_NUMBER && label->number >= 0 &&
                   label->number <= 9);
        FUZZ_CHECK(probs && probs->type == DN_JSON_ARRAY && probs->len == 10);
        FUZZ_CHECK(image && image->type == DN_JSON_ARRAY && image->len == 784);
    } else if (res->status == 201) {
        const dn_json_node *stored = dn_json_get(&doc, root, "stored");
        FUZZ_CHECK(stored && stored->type == DN_JSON_TRUE);
    }
    dn_json_free(&doc);
}

int fuzz_one_api(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    api_setup();
    unsigned b0 = data[0], b1 = data[1];
    const uint8_t *body = data + 2;
    size_t body_size = size - 2;
    char query[257];
    dn_api_request req = {0};
    if (b0 & 16) {
        req.method = b0 & 32 ? "PUT" : "GET";
        req.path = api_paths[b0 & 7];
    } else {
        req.method = "POST";
        req.path = b0 & 8 ? "/api/samples" : "/api/predict";
        req.content_type = api_types[b0 & 7];
        unsigned q = (b0 >> 5) & 7;
        if (q < 7) {
            req.query = api_queries[q];
        } else {
            const uint8_t *nl = memchr(body, '\n', body_size);
            size_t qn = nl ? (size_t)(nl - body) : body_size;
            if (qn > sizeof query - 1) qn = sizeof query - 1;
            memcpy(query, body, qn);
            query[qn] = '\0';
            req.query = query;
            body += nl ? qn + 1 : qn;
            body_size -= nl ? qn + 1 : qn;
        }
    }
    uint8_t *copy = fuzz_copy(body, body_size);
    if (b1 & 1) fuzz_png_fix_crcs(copy, body_size);
    req.body = copy;
    req.body_size = body_size;

    dn_api *api = b1 & 2 ? api_fz.plain : api_fz.collecting;
    dn_api_response res;
    dn_api_handle(api, &req, &res);
    if (!api_known_status(res.status))
        fprintf(stderr, "status %d: %.*s\n", res.status, (int)res.body_size,
                (const char *)res.body);
    FUZZ_CHECK(api_known_status(res.status));
    FUZZ_CHECK(res.content_type != NULL);
    FUZZ_CHECK(res.body_size == 0 || res.body != NULL);
    fuzz_touch(res.body, res.body_size);
    FUZZ_CHECK((res.status == 405) == (res.allow != NULL));
    if (res.status == 403) FUZZ_CHECK(api == api_fz.plain);
    if (!strcmp(res.content_type, "application/json")) api_check_json(&req, &res);
    dn_api_response_free(&res);
    free(copy);

    if (dn_collect_count(api_fz.collect) >= 64) {
        dn_api_free(api_fz.collecting);
        api_open_collecting();
    }
    return 0;
}

#ifndef DN_FUZZ_NO_MAIN
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    api_setup();
    atexit(fuzz_cleanup_api);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_one_api(data, size);
}
#endif
