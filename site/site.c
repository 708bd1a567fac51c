/*
 * site.c — the static page's WebAssembly module: the web API of
 * src/server/api.c answered inside the browser, so the page needs no
 * server (docs/site.md).
 *
 * site.js hands each request to site_handle (method, path, query, content
 * type and body, as http.c would) and reads the answer back with
 * site_status, site_body and site_body_size. The model is a file in the
 * module's memory file system, loaded by site_load with the same loader
 * (and the same checks) as every other digitnet program; a model that
 * fails to load leaves the previous one in place. There is no collector:
 * /api/samples answers 403, and the page keeps taught digits itself.
 * One thread, one inference context.
 */
#include "server/api.h"
#include "server/assets.h"

#include <emscripten.h>
#include <string.h>

/* The page's files come from the static host, not from the module. */
const dn_asset dn_assets[] = {{NULL, NULL, NULL, 0}};

static dn_model *model;
static dn_api *api;
static dn_api_response res;
static dn_error last_error;

/* Loads the model file at path (in the module's file system) and answers
 * requests with it from then on. 0 on success; otherwise -1 and
 * site_error() says why, and the model loaded before stays. */
EMSCRIPTEN_KEEPALIVE int site_load(const char *path) {
    dn_model *m = NULL;
    dn_api *a = NULL;
    dn_error err = {{0}};
    dn_status st = dn_model_load(path, &m, &err);
    if (st == DN_OK) st = dn_api_create(m, 1, NULL, &a, &err);
    if (st != DN_OK) {
        dn_model_free(m);
        last_error = err;
        return -1;
    }
    dn_api_response_free(&res);
    memset(&res, 0, sizeof res);
    dn_api_free(api);
    dn_model_free(model);
    model = m;
    api = a;
    return 0;
}

EMSCRIPTEN_KEEPALIVE const char *site_error(void) {
    return last_error.msg;
}

/* Answers one request; returns its HTTP status. The answer stays readable
 * until the next call. */
EMSCRIPTEN_KEEPALIVE int site_handle(const char *method, const char *path, const char *query,
                                     const char *content_type, const unsigned char *body,
                                     size_t body_size) {
    dn_api_response_free(&res);
    memset(&res, 0, sizeof res);
    if (!api) {
        dn_api_error(&res, 503, "no model is loaded");
        return res.status;
    }
    dn_api_request req = {method,       path, query && *query ? query : NULL,
                          content_type, body, body_size};
    dn_api_handle(api, &req, &res);
    return res.status;
}

EMSCRIPTEN_KEEPALIVE const unsigned char *site_body(void) {
    return res.body;
}
EMSCRIPTEN_KEEPALIVE size_t site_body_size(void) {
    return res.body_size;
}
EMSCRIPTEN_KEEPALIVE const char *site_content_type(void) {
    return res.content_type ? res.content_type : "";
}
