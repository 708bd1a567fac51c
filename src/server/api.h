/*
 * api.h — the HTTP API as plain functions: a request (method, path, query,
 * content type, body bytes) goes in, a response (status, content type, body)
 * comes out.  No sockets here, so every route and error path is testable
 * directly; http.c only moves bytes between the socket and dn_api_handle.
 *
 * Routes (all JSON answers are UTF-8; errors are {"error": "..."}):
 *   GET  /  /index.html /app.js /style.css  the embedded page (dn_assets)
 *   GET  /healthz        {"status":"ok"}
 *   GET  /api/model      {"arch","params","accuracy"(number|null),"input",
 *                         "classes","version","collect","samples","meta"}
 *   POST /api/predict    body: an image (PNG, JPEG, PGM/PPM; Content-Type
 *                        image/<any> or application/octet-stream) normalised
 *                        MNIST-style, or JSON {"pixels":[784 numbers]} that
 *                        is already 28x28 (0..255, or 0..1 when no value
 *                        exceeds 1) and used as is.
 *                        -> {"label","probabilities":[10],"image":[784 ints]}
 *                        With ?explain=1 also "explain": {"class",
 *                        "saliency":[784],"guided":[784],"layers":[{"layer",
 *                        "name","c","h","w","min","max","data":base64}]}
 *                        (docs/api.md).
 *   GET  /api/model/weights  the first layer's weights as pictures:
 *                        {"name","c","h","w","maps":[{"min","max","data"}]};
 *                        404 when the first layer does not see the image.
 *   POST /api/samples    body: an image with ?label=D, or JSON
 *                        {"pixels":[784], "label":D}; appends the normalised
 *                        digit to the --collect dataset -> 201
 *                        {"stored":true,"label","count"}; 403 when disabled.
 * Statuses: 400 malformed body, 404 unknown path, 405 wrong method (with an
 * Allow value), 413 body over DN_API_MAX_BODY or image over DN_API_MAX_PIXELS,
 * 415 unsupported content type, 422 blank image, 500/503 internal.
 *
 * dn_api is re-entrant: any number of threads may call dn_api_handle at once.
 * Inference uses a fixed pool of contexts created up front, each a dn_infer
 * and a dn_explain (a request waits for a free one); decoding and parsing a
 * body holds a context too, so at most that many bodies are decoded at
 * once.  Routes that decode nothing never wait.  The model is shared
 * read-only.
 */
#ifndef DN_SERVER_API_H
#define DN_SERVER_API_H

#include "data/collect.h"
#include "digitnet.h"
#include "server/json.h"

#include <stddef.h>

#define DN_API_MAX_BODY (2u << 20)        /* bytes */
#define DN_API_MAX_PIXELS (4096u * 4096u) /* decoded image area */
/* A JPEG decode's memory (a progressive file keeps every coefficient) and
 * work (pixels x components per scan, 8 times that for arithmetic coding): a
 * 4096x4096 colour baseline JPEG fits, hundreds of progressive scans do
 * not. */
#define DN_API_MAX_DECODE_MEMORY (128ull << 20)
#define DN_API_MAX_DECODE_WORK (4096ull * 4096 * 3 * 2)

typedef struct dn_api dn_api;

/* Creates the API over a model (borrowed: it must outlive the dn_api) with
 * `contexts` inference contexts (>= 1).  collect may be NULL (POST
 * /api/samples then answers 403); otherwise the dn_api takes ownership. */
dn_status dn_api_create(const dn_model *m, size_t contexts, dn_collect *collect, dn_api **out,
                        dn_error *err);
/* Frees the contexts and the collector. Accepts NULL. No request may be
 * running. */
void dn_api_free(dn_api *api);

typedef struct dn_api_request {
    const char *method;       /* "GET", "POST", ... */
    const char *path;         /* decoded path without the query: "/api/predict" */
    const char *query;        /* raw query string without '?', percent-encoded; may be NULL */
    const char *content_type; /* may be NULL */
    const unsigned char *body;
    size_t body_size;
} dn_api_request;

typedef struct dn_api_response {
    int status;
    const char *content_type; /* static string */
    const char *allow;        /* static; set for 405 (the Allow header), else NULL */
    const unsigned char *body;
    size_t body_size;
    unsigned char *owned; /* malloc'd body to free, or NULL when body is static */
} dn_api_response;

/* Answers one request.  Never fails: out-of-memory becomes a static 500
 * answer.  Release the response with dn_api_response_free. */
void dn_api_handle(dn_api *api, const dn_api_request *req, dn_api_response *res);
void dn_api_response_free(dn_api_response *res);

/* Hands a finished JSON buffer to res with the status (a static 500 when
 * building the buffer ran out of memory). */
void dn_api_respond_json(dn_api_response *res, int status, dn_strbuf *b);
/* Points res at a static body (not copied, not freed). */
void dn_api_respond_static(dn_api_response *res, int status, const char *type, const void *data,
                           size_t size);

/* Fills res with {"error": msg} and the status (used by http.c for errors
 * it detects itself, such as an oversized body). */
void dn_api_error(dn_api_response *res, int status, const char *msg);

#endif
