/*
 * api.c — request -> response for the web API (contract in api.h).
 *
 * Pure apart from inference and the --collect files: no sockets, no
 * printing.  Each request is parsed and validated before it touches the
 * network; a bad upload is always an error response, never a crash.  The
 * sections: the context pool, small helpers, input parsing (JSON pixels and
 * images), the route handlers, and the router.
 */
#include "internal.h"
#include "server/api.h"
#include "server/assets.h"
#include "server/json.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

/* One worker's contexts: inference, and explaining (kept apart because an
 * explaining context also keeps the data of the backward pass). */
typedef struct slot {
    dn_infer *infer;
    dn_explain *explain;
} slot;

struct dn_api {
    const dn_model *model;
    dn_collect *collect;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot *all;   /* every context, for freeing */
    slot **free; /* stack of idle slots */
    size_t n, idle;
};

/* ======================================================================== */
/* Context pool                                                             */
/* ======================================================================== */

dn_status dn_api_create(const dn_model *m, size_t contexts, dn_collect *collect, dn_api **out,
                        dn_error *err) {
    *out = NULL;
    if (!m || contexts < 1 || contexts > 1024)
        return dn_fail(err, DN_E_ARG, "need a model and 1..1024 inference contexts");
    if (dn_model_input_size(m) != 784 || dn_model_classes(m) != 10)
        return dn_fail(err, DN_E_UNSUPPORTED, "the server needs a 784-input, 10-class model");
    dn_api *a = dn_calloc(1, sizeof *a);
    if (!a) return dn_fail(err, DN_E_NOMEM, "out of memory");
    a->model = m;
    a->all = dn_calloc(contexts, sizeof *a->all);
    a->free = dn_calloc(contexts, sizeof *a->free);
    if (!a->all || !a->free) {
        free(a->all);
        free(a->free);
        free(a);
        return dn_fail(err, DN_E_NOMEM, "out of memory");
    }
    if (pthread_mutex_init(&a->mu, NULL) != 0) {
        free(a->all);
        free(a->free);
        free(a);
        return dn_fail(err, DN_E_NOMEM, "cannot create a mutex");
    }
    if (pthread_cond_init(&a->cv, NULL) != 0) {
        pthread_mutex_destroy(&a->mu);
        free(a->all);
        free(a->free);
        free(a);
        return dn_fail(err, DN_E_NOMEM, "cannot create a condition variable");
    }
    for (size_t i = 0; i < contexts; i++) {
        dn_status s = dn_infer_create(m, 1, &a->all[i].infer, err);
        if (s == DN_OK) s = dn_explain_create(m, &a->all[i].explain, err);
        if (s != DN_OK) {
            a->n = i + 1; /* free what exists; collect stays the caller's */
            a->collect = NULL;
            dn_api_free(a);
            return s;
        }
        a->free[i] = &a->all[i];
    }
    a->n = a->idle = contexts;
    a->collect = collect;
    *out = a;
    return DN_OK;
}

void dn_api_free(dn_api *a) {
    if (!a) return;
    for (size_t i = 0; i < a->n; i++) {
        dn_infer_free(a->all[i].infer);
        dn_explain_free(a->all[i].explain);
    }
    dn_collect_free(a->collect);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a->all);
    free(a->free);
    free(a);
}

static slot *pool_take(dn_api *a) {
    pthread_mutex_lock(&a->mu);
    while (a->idle == 0) pthread_cond_wait(&a->cv, &a->mu);
    slot *ctx = a->free[--a->idle];
    pthread_mutex_unlock(&a->mu);
    return ctx;
}

static void pool_give(dn_api *a, slot *ctx) {
    pthread_mutex_lock(&a->mu);
    a->free[a->idle++] = ctx;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

/* ======================================================================== */
/* Responses                                                                */
/* ======================================================================== */

static const char JSON_TYPE[] = "application/json";
static const char OOM_BODY[] = "{\"error\":\"out of memory\"}";

void dn_api_response_free(dn_api_response *res) {
    if (!res) return;
    free(res->owned);
    memset(res, 0, sizeof *res);
}

void dn_api_respond_json(dn_api_response *res, int status, dn_strbuf *b) {
    size_t len;
    char *body = dn_strbuf_take(b, &len);
    memset(res, 0, sizeof *res);
    res->content_type = JSON_TYPE;
    if (!body) {
        res->status = 500;
        res->body = (const unsigned char *)OOM_BODY;
        res->body_size = sizeof OOM_BODY - 1;
        return;
    }
    res->status = status;
    res->owned = (unsigned char *)body;
    res->body = res->owned;
    res->body_size = len;
}

void dn_api_error(dn_api_response *res, int status, const char *msg) {
    dn_strbuf b = {0};
    dn_strbuf_puts(&b, "{\"error\":");
    dn_strbuf_json_string(&b, msg, strlen(msg));
    dn_strbuf_puts(&b, "}");
    dn_api_respond_json(res, status, &b);
}

static void method_not_allowed(dn_api_response *res, const char *allow) {
    char msg[96];
    snprintf(msg, sizeof msg, "method not allowed; use %s", allow);
    dn_api_error(res, 405, msg);
    res->allow = allow;
}

/* Maps a library status to an HTTP status for errors about the input: an
 * unknown image format is a malformed upload (400), like a corrupt one. */
static int input_status(dn_status s) {
    switch (s) {
    case DN_E_NOMEM:
        return 500;
    case DN_E_NODATA:
        return 422;
    case DN_E_LIMIT:
        return 413;
    default:
        return 400;
    }
}

/* ======================================================================== */
/* Inputs                                                                   */
/* ======================================================================== */

typedef enum body_kind { BODY_JSON, BODY_IMAGE, BODY_UNSUPPORTED } body_kind;

/* JSON for application/json or +json, an image for any image/ type; for no type,
 * octet-stream and form-urlencoded (what plain `curl --data-binary` sends)
 * the body is sniffed: a '{' means JSON. */
static body_kind kind_of(const dn_api_request *req) {
    const char *ct = req->content_type ? req->content_type : "";
    while (*ct == ' ' || *ct == '\t') ct++;
    size_t n = strcspn(ct, "; \t");
    if ((n == 16 && !strncasecmp(ct, "application/json", 16)) ||
        (n > 17 && !strncasecmp(ct, "application/", 12) && !strncasecmp(ct + n - 5, "+json", 5)))
        return BODY_JSON;
    if (n > 6 && !strncasecmp(ct, "image/", 6)) return BODY_IMAGE;
    if (n == 0 || (n == 24 && !strncasecmp(ct, "application/octet-stream", 24)) ||
        (n == 33 && !strncasecmp(ct, "application/x-www-form-urlencoded", 33))) {
        size_t i = 0;
        while (i < req->body_size && isspace(req->body[i])) i++;
        return i < req->body_size && req->body[i] == '{' ? BODY_JSON : BODY_IMAGE;
    }
    return BODY_UNSUPPORTED;
}

/* Decodes and normalises an uploaded image. */
static int image_input(const dn_api_request *req, unsigned char out[784], char *msg,
                       size_t msg_size) {
    dn_image img = {0};
    dn_error err = {{0}};
    /* the decoder reads the size from the header itself (a sniffer of our
     * own can be fooled where the decoder is not) and holds the decode to
     * the server's budgets before and while it decodes */
    const dn_image_limits lim = {DN_API_MAX_PIXELS, DN_API_MAX_DECODE_MEMORY,
                                 DN_API_MAX_DECODE_WORK};
    dn_status s = dn_image_decode_limited(req->body, req->body_size, &lim, &img, &err);
    if (s == DN_OK) {
        s = dn_image_normalize(&img, out, &err);
        dn_image_free(&img);
    }
    if (s != DN_OK) {
        snprintf(msg, msg_size, "%s", err.msg[0] ? err.msg : dn_strerror(s));
        return input_status(s);
    }
    return 0;
}

/* Reads "pixels": exactly 784 finite numbers in 0..255, or in 0..1 when
 * none exceeds 1. */
static int pixels_input(const dn_json_doc *doc, unsigned char out[784], char *msg,
                        size_t msg_size) {
    const dn_json_node *px = dn_json_get(doc, &doc->nodes[0], "pixels");
    if (!px || px->type != DN_JSON_ARRAY || px->len != 784) {
        snprintf(msg, msg_size, "expected {\"pixels\": [784 numbers]} (28x28, row-major)");
        return 400;
    }
    double v[784], max = 0;
    size_t i = 0;
    for (const dn_json_node *c = dn_json_child(doc, px); c; c = dn_json_next(doc, c), i++) {
        if (c->type != DN_JSON_NUMBER || c->number < 0 || c->number > 255) {
            snprintf(msg, msg_size, "pixels[%zu] is not a number in 0..255", i);
            return 400;
        }
        v[i] = c->number;
        if (v[i] > max) max = v[i];
    }
    double scale = max <= 1.0 ? 255.0 : 1.0;
    for (i = 0; i < 784; i++) out[i] = (unsigned char)lround(v[i] * scale);
    return 0;
}

/* Parses the body (JSON or image) into a 28x28 input.  doc receives the
 * parsed JSON (empty for images) so callers can read more fields. */
static int parse_input(const dn_api_request *req, dn_json_doc *doc, unsigned char out[784],
                       char *msg, size_t msg_size) {
    memset(doc, 0, sizeof *doc);
    if (req->body_size == 0) {
        snprintf(msg, msg_size, "the request body is empty; send an image or JSON pixels");
        return 400;
    }
    switch (kind_of(req)) {
    case BODY_JSON:
        if (dn_json_parse((const char *)req->body, req->body_size, doc, msg, msg_size)) return 400;
        if (doc->nodes[0].type != DN_JSON_OBJECT) {
            snprintf(msg, msg_size, "expected a JSON object");
            return 400;
        }
        return pixels_input(doc, out, msg, msg_size);
    case BODY_IMAGE:
        return image_input(req, out, msg, msg_size);
    default:
        snprintf(msg, msg_size,
                 "unsupported content type '%s'; send image/png, image/jpeg or application/json",
                 req->content_type);
        return 415;
    }
}

/* parse_input while holding a context: decodes and parses run at most as
 * many at once as there are contexts, so hostile uploads take a bounded
 * share of the machine, and requests that decode nothing (the page, the
 * health check) never wait behind them. */
static int read_input(dn_api *a, const dn_api_request *req, dn_json_doc *doc,
                      unsigned char out[784], char *msg, size_t msg_size) {
    slot *ctx = pool_take(a);
    int st = parse_input(req, doc, out, msg, msg_size);
    pool_give(a, ctx);
    return st;
}

static int hexval(char c) {
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* The value of `key` in a query string, percent-decoded into buf (values
 * longer than size-1 bytes are cut). Returns -1 when the key is absent. */
static int query_get(const char *query, const char *key, char *buf, size_t size) {
    size_t klen = strlen(key);
    for (const char *p = query; p && *p;) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == klen && !strncmp(p, key, klen)) { /* "?key" alone: an empty value */
            if (size) buf[0] = '\0';
            return 0;
        }
        if (len > klen && !strncmp(p, key, klen) && p[klen] == '=') {
            size_t o = 0;
            for (size_t i = klen + 1; i < len && o + 1 < size; i++) {
                if (p[i] == '%' && i + 2 < len && isxdigit((unsigned char)p[i + 1]) &&
                    isxdigit((unsigned char)p[i + 2])) {
                    buf[o++] = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
                    i += 2;
                } else
                    buf[o++] = p[i] == '+' ? ' ' : p[i];
            }
            buf[o] = '\0';
            return 0;
        }
        p = end ? end + 1 : NULL;
    }
    return -1;
}

/* ======================================================================== */
/* Looking inside: layer outputs, saliency, first-layer weights             */
/* ======================================================================== */

/* Appends n floats as "min", "max" and "data": a base64 string of bytes q
 * with v ~ min + (max - min) * q / 255 (all zero when min == max). The bytes
 * are encoded as they are made, three at a time: nothing is allocated. */
static void put_quantised(dn_strbuf *b, const float *v, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    float lo = v[0], hi = v[0];
    for (size_t i = 1; i < n; i++) {
        if (v[i] < lo) lo = v[i];
        if (v[i] > hi) hi = v[i];
    }
    float scale = hi > lo ? 255.0f / (hi - lo) : 0.0f;
    dn_strbuf_printf(b, "\"min\":%.6g,\"max\":%.6g,\"data\":\"", (double)lo, (double)hi);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t w = 0;
        for (size_t k = 0; k < 3; k++)
            w = w << 8 | (i + k < n ? (uint32_t)lrintf((v[i + k] - lo) * scale) : 0u);
        char q[4] = {tab[w >> 18 & 63], tab[w >> 12 & 63], i + 1 < n ? tab[w >> 6 & 63] : '=',
                     i + 2 < n ? tab[w & 63] : '='};
        dn_strbuf_append(b, q, 4);
    }
    dn_strbuf_puts(b, "\"");
}

static void put_floats(dn_strbuf *b, const float *v, size_t n) {
    dn_strbuf_puts(b, "[");
    for (size_t i = 0; i < n; i++) dn_strbuf_printf(b, "%s%.4g", i ? "," : "", (double)v[i]);
    dn_strbuf_puts(b, "]");
}

/* The layers the page shows: what each stage hands on (after a
 * nonlinearity, a pooling or deskewing) and the logits. */
static int shown_layer(const char *name, int i, int last) {
    static const char *const kinds[] = {"relu",    "sigmoid", "tanh",  "maxpool",
                                        "avgpool", "gap",     "deskew"};
    if (i == last) return 1;
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
        if (!strcmp(name, kinds[k])) return 1;
    return 0;
}

/* Runs the network on x once with the explaining context e: probs, and
 * ,"explain":{...} (see api.h) appended to b. */
static dn_status explain(dn_explain *e, const float *x, float probs[10], dn_strbuf *b,
                         dn_error *err) {
    float sal[784], guided[784];
    dn_status s = dn_explain_run(e, x, probs, sal, err);
    if (s == DN_OK) s = dn_explain_guided(e, guided, err);
    if (s != DN_OK) return s;
    int top = 0;
    for (int k = 1; k < 10; k++)
        if (probs[k] > probs[top]) top = k;
    dn_strbuf_printf(b, ",\"explain\":{\"class\":%d,\"saliency\":", top);
    put_floats(b, sal, 784);
    dn_strbuf_puts(b, ",\"guided\":");
    put_floats(b, guided, 784);
    dn_strbuf_puts(b, ",\"layers\":[");
    int n = dn_explain_layer_count(e), first = 1;
    for (int i = 0; i < n; i++) {
        dn_tensor_view v = dn_explain_layer(e, i);
        if (!v.data || !shown_layer(v.name, i, n - 1)) continue;
        dn_strbuf_printf(b, "%s{\"layer\":%d,\"name\":\"%s\",\"c\":%d,\"h\":%d,\"w\":%d,",
                         first ? "" : ",", i + 1, v.name, v.c, v.h, v.w);
        put_quantised(b, v.data, (size_t)v.c * v.h * v.w);
        dn_strbuf_puts(b, "}");
        first = 0;
    }
    dn_strbuf_puts(b, "]}");
    return DN_OK;
}

static void handle_weights(dn_api *a, const dn_api_request *req, dn_api_response *res) {
    (void)req;
    dn_tensor_view w = dn_model_first_weights(a->model);
    if (!w.data) {
        dn_api_error(res, 404, "the model's first layer does not look at the image directly");
        return;
    }
    size_t map = (size_t)w.h * w.w;
    dn_strbuf b = {0};
    dn_strbuf_printf(&b, "{\"name\":\"%s\",\"c\":%d,\"h\":%d,\"w\":%d,\"maps\":[", w.name, w.c, w.h,
                     w.w);
    for (int k = 0; k < w.c; k++) {
        dn_strbuf_puts(&b, k ? ",{" : "{");
        put_quantised(&b, w.data + (size_t)k * map, map);
        dn_strbuf_puts(&b, "}");
    }
    dn_strbuf_puts(&b, "]}");
    dn_api_respond_json(res, 200, &b);
}

/* ======================================================================== */
/* Handlers                                                                 */
/* ======================================================================== */

/* One context for the whole request: the decode, then one run of the
 * network (the explaining one when ?explain=1, whose forward pass gives the
 * probabilities too). */
static void handle_predict(dn_api *a, const dn_api_request *req, dn_api_response *res) {
    char msg[600], q[8];
    int want_explain = 0;
    if (!query_get(req->query, "explain", q, sizeof q)) {
        if (!strcmp(q, "1") || !strcmp(q, "true"))
            want_explain = 1;
        else if (strcmp(q, "0") && strcmp(q, "false")) {
            dn_api_error(res, 400, "explain must be 1 or 0");
            return;
        }
    }
    unsigned char img[784];
    dn_json_doc doc;
    slot *ctx = pool_take(a);
    int st = parse_input(req, &doc, img, msg, sizeof msg);
    dn_json_free(&doc);
    if (st) {
        pool_give(a, ctx);
        dn_api_error(res, st, msg);
        return;
    }
    float x[784], probs[10];
    dn_model_inputs_from_pixels(img, 784, x);
    dn_error err = {{0}};
    dn_strbuf inside = {0};
    dn_status s = want_explain ? explain(ctx->explain, x, probs, &inside, &err)
                               : dn_infer_run(ctx->infer, x, 1, probs, &err);
    pool_give(a, ctx);
    if (s != DN_OK) {
        dn_strbuf_free(&inside);
        dn_api_error(res, 500, err.msg[0] ? err.msg : "inference failed");
        return;
    }
    int best, runner_up, unsure = dn_probs_unsure(probs, &best, &runner_up);
    dn_strbuf b = {0};
    dn_strbuf_printf(&b, "{\"label\":%d,\"unsure\":%s,\"runner_up\":%d,\"probabilities\":[", best,
                     unsure ? "true" : "false", runner_up);
    /* JSON has no NaN: a value that is not finite goes out as null */
    for (int k = 0; k < 10; k++) {
        if (k) dn_strbuf_puts(&b, ",");
        if (isfinite(probs[k]))
            dn_strbuf_printf(&b, "%.6g", (double)probs[k]);
        else
            dn_strbuf_puts(&b, "null");
    }
    dn_strbuf_puts(&b, "],\"image\":[");
    for (int i = 0; i < 784; i++) dn_strbuf_printf(&b, "%s%d", i ? "," : "", img[i]);
    dn_strbuf_puts(&b, "]");
    if (inside.len) dn_strbuf_append(&b, inside.data, inside.len);
    if (inside.failed) b.failed = 1; /* out of memory: answered as such */
    dn_strbuf_free(&inside);
    dn_strbuf_puts(&b, "}");
    dn_api_respond_json(res, 200, &b);
}

static void handle_samples(dn_api *a, const dn_api_request *req, dn_api_response *res) {
    if (!a->collect) {
        dn_api_error(res, 403,
                     "collecting samples is disabled; start the server with --collect DIR");
        return;
    }
    char msg[600];
    unsigned char img[784];
    dn_json_doc doc;
    int st = read_input(a, req, &doc, img, msg, sizeof msg);
    int label = -1;
    if (!st) {
        const dn_json_node *ln = doc.count ? dn_json_get(&doc, &doc.nodes[0], "label") : NULL;
        char q[16];
        if (ln) {
            if (ln->type == DN_JSON_NUMBER && ln->number >= 0 && ln->number <= 9 &&
                ln->number == floor(ln->number))
                label = (int)ln->number;
        } else if (!query_get(req->query, "label", q, sizeof q) && q[0] >= '0' && q[0] <= '9' &&
                   !q[1])
            label = q[0] - '0';
        if (label < 0) {
            st = 400;
            snprintf(msg, sizeof msg,
                     "a label 0..9 is required: ?label=D with an image, or \"label\": D in JSON");
        }
    }
    dn_json_free(&doc);
    if (st) {
        dn_api_error(res, st, msg);
        return;
    }
    size_t count = 0;
    dn_error err = {{0}};
    dn_status s = dn_collect_append(a->collect, img, label, &count, &err);
    if (s == DN_E_UNSUPPORTED) {
        dn_api_error(res, 507, err.msg); /* full: says how many */
        return;
    }
    if (s != DN_OK) { /* the details (paths, errno) are the server's, not the client's */
        dn_api_error(res, 500, "the sample could not be stored: the server's collection failed");
        return;
    }
    dn_strbuf b = {0};
    dn_strbuf_printf(&b, "{\"stored\":true,\"label\":%d,\"count\":%zu}", label, count);
    dn_api_respond_json(res, 201, &b);
}

static void handle_model(dn_api *a, const dn_api_request *req, dn_api_response *res) {
    (void)req;
    const dn_model *m = a->model;
    dn_strbuf b = {0};
    const char *arch = dn_model_arch(m);
    dn_strbuf_puts(&b, "{\"arch\":");
    dn_strbuf_json_string(&b, arch, strlen(arch));
    dn_strbuf_printf(&b, ",\"params\":%zu,\"accuracy\":", dn_model_param_count(m));
    const char *acc = dn_model_get_meta(m, "test_accuracy");
    char *end = NULL;
    double v = acc ? strtod(acc, &end) : NAN;
    if (acc && end != acc && *end == '\0' && isfinite(v))
        dn_strbuf_printf(&b, "%.6g", v);
    else
        dn_strbuf_puts(&b, "null");
    dn_strbuf_printf(&b, ",\"input\":%d,\"classes\":%d,\"version\":\"%s\",\"collect\":%s",
                     dn_model_input_size(m), dn_model_classes(m), dn_version(),
                     a->collect ? "true" : "false");
    dn_strbuf_printf(&b, ",\"samples\":%zu,\"meta\":{",
                     a->collect ? dn_collect_count(a->collect) : (size_t)0);
    const char *k, *val;
    for (size_t i = 0; dn_model_meta_at(m, i, &k, &val); i++) {
        if (i) dn_strbuf_puts(&b, ",");
        dn_strbuf_json_string(&b, k, strlen(k));
        dn_strbuf_puts(&b, ":");
        dn_strbuf_json_string(&b, val, strlen(val));
    }
    dn_strbuf_puts(&b, "}}");
    dn_api_respond_json(res, 200, &b);
}

void dn_api_respond_static(dn_api_response *res, int status, const char *type, const void *data,
                           size_t size) {
    memset(res, 0, sizeof *res);
    res->status = status;
    res->content_type = type;
    res->body = data;
    res->body_size = size;
}

/* ======================================================================== */
/* Router                                                                   */
/* ======================================================================== */

/* The drawing page's files; train.* belong to the training dashboard
 * (monitor.c) and are not served here. */
static const dn_asset *find_asset(const char *path) {
    if (path[0] != '/' || !strncmp(path, "/train.", 7)) return NULL;
    const char *name = !strcmp(path, "/") ? "index.html" : path + 1;
    for (const dn_asset *as = dn_assets; as->name; as++)
        if (!strcmp(as->name, name)) return as;
    return NULL;
}

static void handle_health(dn_api *a, const dn_api_request *req, dn_api_response *res) {
    static const char health[] = "{\"status\":\"ok\"}";
    (void)a, (void)req;
    dn_api_respond_static(res, 200, JSON_TYPE, health, sizeof health - 1);
}

/* The routes besides the page's files; GET routes also answer HEAD. */
static const struct route {
    const char *path;
    int post; /* the one method: POST, else GET (and HEAD) */
    void (*handle)(dn_api *, const dn_api_request *, dn_api_response *);
} routes[] = {
    {"/api/predict", 1, handle_predict}, {"/api/samples", 1, handle_samples},
    {"/api/model", 0, handle_model},     {"/api/model/weights", 0, handle_weights},
    {"/healthz", 0, handle_health},
};

void dn_api_handle(dn_api *a, const dn_api_request *req, dn_api_response *res) {
    const char *m = req->method ? req->method : "";
    const char *path = req->path ? req->path : "";
    int get = !strcmp(m, "GET") || !strcmp(m, "HEAD"), post = !strcmp(m, "POST");
    memset(res, 0, sizeof *res);
    if (req->body_size > DN_API_MAX_BODY) {
        dn_api_error(res, 413, "the request body is larger than 2 MiB");
        return;
    }
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        const struct route *r = &routes[i];
        if (strcmp(path, r->path)) continue;
        if (r->post ? post : get)
            r->handle(a, req, res);
        else
            method_not_allowed(res, r->post ? "POST" : "GET, HEAD");
        return;
    }
    const dn_asset *as = find_asset(path);
    if (!as)
        dn_api_error(res, 404, "not found");
    else if (!get)
        method_not_allowed(res, "GET, HEAD");
    else
        dn_api_respond_static(res, 200, as->mime, as->data, as->size);
}
