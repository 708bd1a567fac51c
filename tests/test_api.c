/*
 * test_api.c — the web API without sockets: the JSON reader on its own
 * (grammar, limits, UTF-8), every route and error status of dn_api_handle
 * with an untrained model, the --collect files (appends, restart, the
 * crash-repair rule) and concurrent requests sharing the context pool.
 */
#include "check.h"
#include "digitnet.h"
#include "model.h"
#include "server/api.h"
#include "server/json.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <signal.h>
#include <sys/wait.h>
#include <zlib.h>

/* ---------------------------------------------------------------- JSON */

static int parses(const char *s) {
    dn_json_doc d;
    char msg[128];
    int ok = dn_json_parse(s, strlen(s), &d, msg, sizeof msg) == 0;
    dn_json_free(&d);
    return ok;
}

static void test_json(void) {
    const char *good[] = {"0",
                          "-0",
                          "1.5e+3",
                          "[]",
                          "{}",
                          " [1, 2 ]\n",
                          "\"\\u00e9\"",
                          "\"\\ud83d\\ude00\"",
                          "\"\xc3\xa9\"",
                          "true",
                          "{\"a\":null}",
                          "[false,[{}]]",
                          "1E-7"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        CHECK_MSG(parses(good[i]), "should parse: %s", good[i]);
    const char *bad[] = {"",
                         "01",
                         "1.",
                         ".5",
                         "+1",
                         "-",
                         "1e",
                         "1e999",
                         "[1,]",
                         "{\"a\"}",
                         "{a:1}",
                         "[1 2]",
                         "nul",
                         "\"abc",
                         "\"\\x\"",
                         "\"\\ud800\"",
                         "\"\\udc00x\"",
                         "\"\xc0\xaf\"",
                         "\"\xed\xa0\x80\"",
                         "\"\xf4\x90\x80\x80\"",
                         "\"a\tb\"",
                         "[1] 2",
                         "\xef\xbb\xbf[]",
                         "NaN",
                         "Infinity",
                         "[" /* unterminated */};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_MSG(!parses(bad[i]), "should be rejected: %s", bad[i]);

    /* Depth: DN_JSON_MAX_DEPTH levels pass, one more fails. */
    char deep[2 * DN_JSON_MAX_DEPTH + 3];
    for (int extra = 0; extra < 2; extra++) {
        int n = DN_JSON_MAX_DEPTH + extra;
        memset(deep, '[', (size_t)n);
        memset(deep + n, ']', (size_t)n);
        deep[2 * n] = '\0';
        CHECK_MSG(parses(deep) == !extra, "depth %d", n);
    }

    /* Node limit. */
    size_t count = DN_JSON_MAX_NODES + 10, len = 2 * count + 2;
    char *many = malloc(len);
    CHECK(many != NULL);
    if (many) {
        many[0] = '[';
        for (size_t i = 0; i < count; i++) {
            many[1 + 2 * i] = '0';
            many[2 + 2 * i] = i + 1 < count ? ',' : ']';
        }
        dn_json_doc d;
        char msg[128];
        CHECK(dn_json_parse(many, 2 * count + 1, &d, msg, sizeof msg) != 0);
        CHECK(strstr(msg, "too many") != NULL);
        free(many);
    }

    /* Values, keys, decoding; the input need not be NUL-terminated. */
    const char text[] = "{\"pixels\":[1,2.5,-3e2],\"k\\u00e9y\":\"a\\nb\\u20ac\",\"t\":true}XX";
    dn_json_doc d;
    char msg[128];
    CHECK(dn_json_parse(text, sizeof text - 3, &d, msg, sizeof msg) == 0);
    if (d.count) {
        const dn_json_node *root = &d.nodes[0];
        const dn_json_node *px = dn_json_get(&d, root, "pixels");
        CHECK(px && px->type == DN_JSON_ARRAY && px->len == 3);
        const dn_json_node *c = dn_json_child(&d, px);
        CHECK(c && c->number == 1.0);
        c = dn_json_next(&d, c);
        CHECK(c && c->number == 2.5);
        c = dn_json_next(&d, c);
        CHECK(c && c->number == -300.0);
        CHECK(dn_json_next(&d, c) == NULL);
        const dn_json_node *s = dn_json_get(&d, root, "k\xc3\xa9y");
        CHECK(s && s->type == DN_JSON_STRING && s->len == 6 &&
              !memcmp(s->str, "a\nb\xe2\x82\xac", 6));
        CHECK(dn_json_get(&d, root, "missing") == NULL);
        CHECK(dn_json_get(&d, px, "pixels") == NULL);
    }
    dn_json_free(&d);
    CHECK(dn_json_parse("[1,", 3, &d, msg, sizeof msg) != 0 && strstr(msg, "byte 3"));

    /* Writer: escapes and invalid UTF-8 replaced. */
    dn_strbuf b = {0};
    dn_strbuf_json_string(&b, "a\"\\\n\x01\xff\xc3\xa9", 8);
    dn_strbuf_printf(&b, "%d", 42);
    size_t n;
    char *out = dn_strbuf_take(&b, &n);
    CHECK(out && !strcmp(out, "\"a\\\"\\\\\\u000a\\u0001\\ufffd\xc3\xa9\"42") && n == strlen(out));
    free(out);
    dn_strbuf empty = {0};
    out = dn_strbuf_take(&empty, &n);
    CHECK(out && out[0] == '\0' && n == 0);
    free(out);
    CHECK(dn_utf8_valid((const unsigned char *)"\xe2\x82\xac", 3));
    CHECK(!dn_utf8_valid((const unsigned char *)"\xe2\x82", 2));
}

/* ---------------------------------------------------------------- API */

typedef struct call_result {
    int status;
    char body[16384];
    const char *allow, *type;
} call_result;

static void call(dn_api *api, const char *method, const char *path, const char *query,
                 const char *ctype, const void *body, size_t size, call_result *r) {
    dn_api_request req = {method, path, query, ctype, body, size};
    dn_api_response res;
    dn_api_handle(api, &req, &res);
    r->status = res.status;
    r->allow = res.allow;
    r->type = res.content_type;
    size_t n = res.body_size < sizeof r->body - 1 ? res.body_size : sizeof r->body - 1;
    memcpy(r->body, res.body, n);
    r->body[n] = '\0';
    dn_api_response_free(&res);
}

static int is_json_error(const call_result *r) {
    return !strncmp(r->body, "{\"error\":\"", 10) && r->type &&
           !strcmp(r->type, "application/json");
}

/* A 28x28 digit "1": a thick vertical bar. */
static void draw_one(unsigned char img[784]) {
    memset(img, 0, 784);
    for (int y = 5; y < 23; y++)
        for (int x = 12; x < 16; x++) img[y * 28 + x] = 255;
}

static char *pixels_json(const unsigned char img[784], const char *extra) {
    char *s = malloc(784 * 4 + 64);
    if (!s) return NULL;
    size_t o = (size_t)sprintf(s, "{\"pixels\":[");
    for (int i = 0; i < 784; i++) o += (size_t)sprintf(s + o, "%s%d", i ? "," : "", img[i]);
    sprintf(s + o, "]%s}", extra ? extra : "");
    return s;
}

/* Weights within the loader's bounds can still overflow deep down: in
 * this model of +-1e6 weights, sums of opposite infinities make the logits
 * and probabilities NaN. The answer stays valid JSON (null for each). */
static void test_overflow_json(void) {
    dn_model *m = NULL;
    CHECK_OK(dn_model_create("784-16-16-16-16-16-16-16-10", "relu", 1, &m, &check_err_));
    if (!m) return;
    for (size_t i = 0; i < m->nparams; i++) m->params[i] = i % 3 ? 1e6f : -1e6f;
    dn_api *api = NULL;
    CHECK_OK(dn_api_create(m, 1, NULL, &api, &check_err_));
    unsigned char img[784];
    draw_one(img);
    char *js = pixels_json(img, NULL);
    call_result r;
    call(api, "POST", "/api/predict", NULL, "application/json", js, strlen(js), &r);
    CHECK_MSG(r.status == 200 && strstr(r.body, "\"probabilities\":[null"), "%d %.80s", r.status,
              r.body);
    dn_json_doc doc;
    char msg[128];
    CHECK_MSG(dn_json_parse(r.body, strlen(r.body), &doc, msg, sizeof msg) == 0, "%s", msg);
    dn_json_free(&doc);
    free(js);
    dn_api_free(api);
    dn_model_free(m);
}

/* A real JPEG whose frame header declares 60000x60000 is refused (413)
 * from the decoder's own reading of the header, also with a stray byte
 * after APP0 (which a hand-written header sniffer gave up on, letting the
 * file through to a full decode). */
static void test_jpeg_bombs(dn_api *api) {
    FILE *f = fopen("tests/fuzz/corpus/image/jpeg-gray-baseline", "rb");
    CHECK(f != NULL);
    if (!f) return;
    unsigned char j[4096], k[4097];
    int selector = fgetc(f); /* the fuzz harness's first byte, not the image's */
    size_t n = selector == EOF ? 0 : fread(j, 1, sizeof j, f);
    fclose(f);
    size_t sof = 0, app0_end = 0;
    for (size_t i = 2; i + 9 < n && !sof; i++) {
        if (j[i] == 0xFF && j[i + 1] == 0xE0 && !app0_end)
            app0_end = i + 2 + ((size_t)j[i + 2] << 8 | j[i + 3]);
        if (j[i] == 0xFF && j[i + 1] == 0xC0) sof = i;
    }
    CHECK(sof && app0_end);
    if (!sof || !app0_end) return;
    j[sof + 5] = j[sof + 7] = 60000 >> 8;
    j[sof + 6] = j[sof + 8] = 60000 & 0xFF;
    call_result r;
    call(api, "POST", "/api/predict", NULL, "image/jpeg", j, n, &r);
    CHECK_MSG(r.status == 413 && strstr(r.body, "60000x60000"), "%d %s", r.status, r.body);
    memcpy(k, j, app0_end);
    k[app0_end] = 0x00; /* libjpeg skips it with a warning, and decodes on */
    memcpy(k + app0_end + 1, j + app0_end, n - app0_end);
    call(api, "POST", "/api/predict", NULL, "image/jpeg", k, n + 1, &r);
    CHECK_MSG(r.status == 413 && strstr(r.body, "60000x60000"), "stray byte: %d %s", r.status,
              r.body);
}

static void test_routes(dn_api *api, const unsigned char *png, size_t png_size) {
    call_result r;
    call(api, "GET", "/healthz", NULL, NULL, NULL, 0, &r);
    CHECK(r.status == 200 && !strcmp(r.body, "{\"status\":\"ok\"}"));
    call(api, "HEAD", "/healthz", NULL, NULL, NULL, 0, &r);
    CHECK(r.status == 200);
    call(api, "GET", "/", NULL, NULL, NULL, 0, &r);
    CHECK(r.status == 200 && !strncmp(r.type, "text/html", 9) && strstr(r.body, "<canvas"));
    call(api, "GET", "/app.js", NULL, NULL, NULL, 0, &r);
    CHECK(r.status == 200 && !strncmp(r.type, "text/javascript", 15));
    call(api, "GET", "/style.css", NULL, NULL, NULL, 0, &r);
    CHECK(r.status == 200 && !strncmp(r.type, "text/css", 8));
    call(api, "GET", "/base.css", NULL, NULL, NULL, 0, &r);
    CHECK(r.status == 200 && !strncmp(r.type, "text/css", 8));
    call(api, "GET", "/train.js", NULL, NULL, NULL, 0, &r); /* the dashboard's, not served here */
    CHECK(r.status == 404);
    call(api, "GET", "/nope", NULL, NULL, NULL, 0, &r);
    CHECK(r.status == 404 && is_json_error(&r));
    call(api, "GET", "/../etc/passwd", NULL, NULL, NULL, 0, &r);
    CHECK(r.status == 404);
    call(api, "POST", "/", NULL, NULL, "x", 1, &r);
    CHECK(r.status == 405 && r.allow && !strcmp(r.allow, "GET, HEAD") && is_json_error(&r));
    call(api, "GET", "/api/predict", NULL, NULL, NULL, 0, &r);
    CHECK(r.status == 405 && r.allow && !strcmp(r.allow, "POST"));
    call(api, "PUT", "/api/samples", NULL, NULL, NULL, 0, &r);
    CHECK(r.status == 405 && r.allow && !strcmp(r.allow, "POST"));

    call(api, "GET", "/api/model", NULL, NULL, NULL, 0, &r);
    CHECK(r.status == 200 && strstr(r.body, "\"arch\":\"") && strstr(r.body, "\"accuracy\":null"));
    CHECK(strstr(r.body, "\"params\":25450") != NULL);

    /* predict: JSON pixels (0..255 and 0..1), PNG */
    unsigned char img[784];
    draw_one(img);
    char *js = pixels_json(img, NULL);
    call(api, "POST", "/api/predict", NULL, "application/json; charset=utf-8", js, strlen(js), &r);
    CHECK_MSG(r.status == 200, "%d %s", r.status, r.body);
    CHECK(strstr(r.body, "\"label\":") && strstr(r.body, "\"probabilities\":["));
    CHECK(strstr(r.body, "\"image\":[0,0,0") != NULL);
    free(js);
    char unit[8000];
    size_t o = (size_t)sprintf(unit, "{\"pixels\":[");
    for (int i = 0; i < 784; i++)
        o += (size_t)sprintf(unit + o, "%s%s", i ? "," : "", img[i] ? "1" : "0");
    sprintf(unit + o, "]}");
    call(api, "POST", "/api/predict", NULL, NULL, unit, strlen(unit), &r); /* sniffed */
    CHECK(r.status == 200 && strstr(r.body, ",255,255,255,255,"));
    call(api, "POST", "/api/predict", NULL, "image/png", png, png_size, &r);
    CHECK_MSG(r.status == 200, "%d %s", r.status, r.body);
    call(api, "POST", "/api/predict", NULL, "application/octet-stream", png, png_size, &r);
    CHECK(r.status == 200);

    /* predict: errors */
    call(api, "POST", "/api/predict", NULL, "image/png", png, png_size / 2, &r);
    CHECK(r.status == 400 && is_json_error(&r));
    call(api, "POST", "/api/predict", NULL, "image/png", "GIF89a", 6, &r);
    CHECK(r.status == 400 && is_json_error(&r));
    call(api, "POST", "/api/predict", NULL, "image/png", NULL, 0, &r);
    CHECK(r.status == 400);
    call(api, "POST", "/api/predict", NULL, "text/plain", "{}", 2, &r);
    CHECK(r.status == 415 && is_json_error(&r));
    const char *bad_json[] = {"{\"pixels\":[1,2,3]}", "[1,2]",           "{\"pixels\":\"x\"}", "{",
                              "{\"pixels\":[1]} {}",  "{\"a\":\"\xff\"}"};
    for (size_t i = 0; i < sizeof bad_json / sizeof *bad_json; i++) {
        call(api, "POST", "/api/predict", NULL, "application/json", bad_json[i],
             strlen(bad_json[i]), &r);
        CHECK_MSG(r.status == 400 && is_json_error(&r), "%s -> %d", bad_json[i], r.status);
    }
    const char *out_of_range[] = {"-1", "255.5", "1e3", "true", "null", "[0]"};
    for (size_t i = 0; i < sizeof out_of_range / sizeof *out_of_range; i++) {
        o = (size_t)sprintf(unit, "{\"pixels\":[");
        for (int k = 0; k < 783; k++) o += (size_t)sprintf(unit + o, "0,");
        sprintf(unit + o, "%s]}", out_of_range[i]);
        call(api, "POST", "/api/predict", NULL, "application/json", unit, strlen(unit), &r);
        CHECK_MSG(r.status == 400 && strstr(r.body, "pixels[783]"), "%s -> %d %s", out_of_range[i],
                  r.status, r.body);
    }
    unsigned char blank[784] = {0};
    unsigned char *bpng = NULL;
    size_t bsize = 0;
    CHECK_OK(dn_png_encode_gray(blank, 28, 28, &bpng, &bsize, NULL));
    call(api, "POST", "/api/predict", NULL, "image/png", bpng, bsize, &r);
    CHECK(r.status == 422 && is_json_error(&r));
    free(bpng);
    /* A header declaring a huge image is refused before decoding. */
    unsigned char bomb[64];
    memcpy(bomb, png, 33);
    bomb[16] = 0, bomb[17] = 1, bomb[18] = 0, bomb[19] = 0; /* width 65536 */
    bomb[20] = 0, bomb[21] = 1, bomb[22] = 0, bomb[23] = 0;
    uint32_t crc = (uint32_t)crc32(0L, bomb + 12, 17); /* a valid IHDR: type and data */
    for (int k = 0; k < 4; k++) bomb[29 + k] = (unsigned char)(crc >> (24 - 8 * k));
    call(api, "POST", "/api/predict", NULL, "image/png", bomb, 33, &r);
    CHECK_MSG(r.status == 413 && strstr(r.body, "65536x65536"), "%d %s", r.status, r.body);
    test_jpeg_bombs(api);
    const char pgm_bomb[] = "P5\n# comment\n100000 100000\n255\n";
    const char pnm_wrap[] = "P5 99999999999999 99999999999999 255\n"; /* product overflows */
    call(api, "POST", "/api/predict", NULL, "image/x-portable-graymap", pnm_wrap,
         sizeof pnm_wrap - 1, &r);
    CHECK(r.status == 413);
    /* a JPEG cut right after a frame header declaring 65535x65535 */
    static const unsigned char jpeg_bomb[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00,
                                              0x00, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0xFF,
                                              0xFF, 0xFF, 0xFF, 0x01, 0x01, 0x11, 0x00};
    call(api, "POST", "/api/predict", NULL, "image/jpeg", jpeg_bomb, sizeof jpeg_bomb, &r);
    CHECK_MSG(r.status == 413 && strstr(r.body, "65535x65535"), "%d %s", r.status, r.body);
    call(api, "POST", "/api/predict", NULL, "image/x-portable-graymap", pgm_bomb,
         sizeof pgm_bomb - 1, &r);
    CHECK(r.status == 413);
    call(api, "POST", "/api/predict", NULL, "image/png", png, DN_API_MAX_BODY + 1, &r);
    CHECK(r.status == 413 && is_json_error(&r));
}

static void test_samples(dn_api *with, dn_api *without, const unsigned char *png, size_t png_size,
                         const char *dir) {
    call_result r;
    call(without, "POST", "/api/samples", "label=1", "image/png", png, png_size, &r);
    CHECK(r.status == 403 && strstr(r.body, "--collect"));
    call(with, "POST", "/api/samples", "label=1", "image/png", png, png_size, &r);
    CHECK_MSG(r.status == 201 && strstr(r.body, "\"count\":1"), "%d %s", r.status, r.body);
    call(with, "POST", "/api/samples", "x=2&label=%37", "image/png", png, png_size, &r);
    CHECK(r.status == 201 && strstr(r.body, "\"label\":7") && strstr(r.body, "\"count\":2"));
    unsigned char img[784];
    draw_one(img);
    char *js = pixels_json(img, ",\"label\":4");
    call(with, "POST", "/api/samples", NULL, "application/json", js, strlen(js), &r);
    CHECK(r.status == 201 && strstr(r.body, "\"count\":3"));
    free(js);
    const char *bad_q[] = {NULL, "label=", "label=10", "label=a", "label=-1", "lab=1"};
    for (size_t i = 0; i < sizeof bad_q / sizeof *bad_q; i++) {
        call(with, "POST", "/api/samples", bad_q[i], "image/png", png, png_size, &r);
        CHECK_MSG(r.status == 400 && is_json_error(&r), "query %s", bad_q[i] ? bad_q[i] : "-");
    }
    js = pixels_json(img, ",\"label\":3.5");
    call(with, "POST", "/api/samples", "label=3", "application/json", js, strlen(js), &r);
    CHECK(r.status == 400);
    free(js);
    call(with, "GET", "/api/model", NULL, NULL, NULL, 0, &r);
    CHECK(strstr(r.body, "\"collect\":true") && strstr(r.body, "\"samples\":3"));

    /* The files are an MNIST-named IDX pair. */
    dn_dataset ds = {0};
    CHECK_OK(dn_mnist_load(dir, "train", &ds, NULL));
    CHECK(ds.count == 3 && ds.rows == 28 && ds.cols == 28);
    if (ds.count == 3 && ds.labels) {
        CHECK(ds.labels[0] == 1 && ds.labels[1] == 7 && ds.labels[2] == 4);
        CHECK(!memcmp(ds.images + 2 * 784, img, 784));
    }
    dn_dataset_free(&ds);
}

static void test_collect_files(const char *dir) {
    /* A second opener is refused while the first holds the lock. */
    dn_collect *c = NULL, *c2 = NULL;
    dn_error err = {{0}};
    CHECK_OK(dn_collect_open(dir, &c, NULL));
    CHECK(dn_collect_open(dir, &c2, &err) == DN_E_IO && strstr(err.msg, "in use"));
    CHECK(c && dn_collect_count(c) == 3);
    unsigned char img[784];
    draw_one(img);
    size_t n = 0;
    CHECK(dn_collect_append(c, img, 12, &n, NULL) == DN_E_ARG);
    CHECK_OK(dn_collect_append(c, img, 9, &n, NULL));
    CHECK(n == 4);
    dn_collect_free(c);

    /* Simulate a crash between the two renames: one image more than labels. */
    char ip[512], lp[512];
    snprintf(ip, sizeof ip, "%s/train-images-idx3-ubyte", dir);
    snprintf(lp, sizeof lp, "%s/train-labels-idx1-ubyte", dir);
    FILE *f = fopen(lp, "r+b");
    CHECK(f != NULL);
    if (f) {
        unsigned char hdr[8] = {0, 0, 8, 1, 0, 0, 0, 3};
        CHECK(fwrite(hdr, 1, 8, f) == 8);
        fclose(f);
        CHECK(truncate(lp, 8 + 3) == 0);
    }
    CHECK_OK(dn_collect_open(dir, &c, NULL));
    CHECK(c && dn_collect_count(c) == 3);
    struct stat st;
    CHECK(stat(ip, &st) == 0 && st.st_size == 16 + 3 * 784); /* repaired */
    dn_collect_free(c);

    /* SIGKILL at each stage of an append (tests the hook in collect.c):
     * every acknowledged sample survives, and the one being appended is
     * either wholly there (after its last header) or not at all */
    for (int stage = 1; stage <= 4; stage++) {
        CHECK_OK(dn_collect_open(dir, &c, NULL));
        size_t before = c ? dn_collect_count(c) : 0;
        unsigned char mark[784];
        memset(mark, 0, sizeof mark);
        mark[stage] = 200; /* an image of its own, to find it again */
        if (c) CHECK_OK(dn_collect_append(c, mark, stage, &n, NULL));
        dn_collect_free(c);
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            char v[16];
            snprintf(v, sizeof v, "%d", stage);
            setenv("DIGITNET_TEST_KILL_IN_APPEND", v, 1);
            dn_collect *k = NULL;
            if (dn_collect_open(dir, &k, NULL) == DN_OK) dn_collect_append(k, img, 7, NULL, NULL);
            _exit(3); /* not reached: the hook kills */
        }
        int ws = 0;
        CHECK(pid > 0 && waitpid(pid, &ws, 0) == pid && WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
        CHECK_OK(dn_collect_open(dir, &c, NULL));
        size_t after = c ? dn_collect_count(c) : 0;
        CHECK_MSG(after == before + 1 + (stage == 4), "stage %d: %zu samples, had %zu + 1", stage,
                  after, before);
        dn_collect_free(c);
        dn_dataset ds = {0};
        CHECK_OK(dn_idx_load(ip, lp, &ds, NULL));
        CHECK_MSG(ds.count == after, "stage %d: the files hold %zu samples", stage, ds.count);
        if (ds.count > before) /* the acknowledged sample, intact */
            CHECK(!memcmp(ds.images + before * 784, mark, 784) && ds.labels[before] == stage);
        dn_dataset_free(&ds);
        CHECK(stat(ip, &st) == 0 && (size_t)st.st_size == 16 + after * 784);
    }

    /* A corrupt file is reported, not repaired. */
    CHECK(truncate(ip, 16 + 784 + 5) == 0);
    CHECK(dn_collect_open(dir, &c, &err) == DN_E_FORMAT && strstr(err.msg, "IDX"));
    unlink(ip);
    unlink(lp);
    char tmp_lock[600];
    snprintf(tmp_lock, sizeof tmp_lock, "%s/.lock", dir);
    unlink(tmp_lock);
}

/* ---------------------------------------------------------------- threads */

typedef struct worker_arg {
    dn_api *api;
    const unsigned char *png;
    size_t png_size;
    int ok;
} worker_arg;

static void *worker(void *p) {
    worker_arg *a = p;
    for (int i = 0; i < 40; i++) {
        dn_api_request req = {"POST", "/api/predict", NULL, "image/png", a->png, a->png_size};
        dn_api_response res;
        dn_api_handle(a->api, &req, &res);
        a->ok += res.status == 200;
        dn_api_response_free(&res);
    }
    return NULL;
}

/* Length of the base64 string JSON node n once decoded, or -1. */
static long base64_len(const dn_json_node *n) {
    if (!n || n->type != DN_JSON_STRING || n->len % 4) return -1;
    long len = (long)n->len / 4 * 3;
    if (n->len && n->str[n->len - 1] == '=') len--;
    if (n->len > 1 && n->str[n->len - 2] == '=') len--;
    return len;
}

/* ?explain=1: the fields of api.h, checked against dn_explain directly. */
static void test_explain(dn_api *api, const dn_model *m) {
    unsigned char img[784];
    draw_one(img);
    char *js = pixels_json(img, NULL);
    dn_api_request req = {"POST",
                          "/api/predict",
                          "explain=1",
                          "application/json",
                          (const unsigned char *)js,
                          js ? strlen(js) : 0};
    dn_api_response res;
    dn_api_handle(api, &req, &res);
    CHECK_MSG(res.status == 200, "explain: %d", res.status);
    dn_json_doc doc = {0};
    char msg[128];
    CHECK(dn_json_parse((const char *)res.body, res.body_size, &doc, msg, sizeof msg) == 0);
    const dn_json_node *root = doc.count ? &doc.nodes[0] : NULL;
    const dn_json_node *e = root ? dn_json_get(&doc, root, "explain") : NULL;
    const dn_json_node *label = root ? dn_json_get(&doc, root, "label") : NULL;
    CHECK(e && e->type == DN_JSON_OBJECT && label);
    if (e && label) {
        const dn_json_node *cls = dn_json_get(&doc, e, "class");
        const dn_json_node *sal = dn_json_get(&doc, e, "saliency");
        const dn_json_node *gd = dn_json_get(&doc, e, "guided");
        const dn_json_node *layers = dn_json_get(&doc, e, "layers");
        CHECK(cls && cls->number == label->number);
        CHECK(sal && sal->len == 784 && gd && gd->len == 784);
        /* the same numbers as the library gives, to the 4 digits sent */
        float x[784], probs[10], want[784], wguided[784];
        dn_model_inputs_from_pixels(img, 784, x);
        dn_explain *ex = NULL;
        CHECK_OK(dn_explain_create(m, &ex, NULL));
        CHECK_OK(dn_explain_run(ex, x, probs, want, NULL));
        CHECK_OK(dn_explain_guided(ex, wguided, NULL));
        dn_explain_free(ex);
        int bad = 0, i = 0;
        /* one run of the network: the probabilities are the explaining pass's */
        const dn_json_node *pr = dn_json_get(&doc, root, "probabilities");
        for (const dn_json_node *c = pr ? dn_json_child(&doc, pr) : NULL; c;
             c = dn_json_next(&doc, c), i++)
            bad += fabs(c->number - probs[i]) > 1e-5 * fabs(probs[i]) + 1e-9;
        CHECK_MSG(pr && pr->len == 10 && bad == 0, "%d probabilities differ from dn_explain's",
                  bad);
        bad = i = 0;
        for (const dn_json_node *c = sal ? dn_json_child(&doc, sal) : NULL; c;
             c = dn_json_next(&doc, c), i++)
            bad += fabs(c->number - want[i]) > 1e-3 * fabs(want[i]) + 1e-9;
        i = 0;
        for (const dn_json_node *c = gd ? dn_json_child(&doc, gd) : NULL; c;
             c = dn_json_next(&doc, c), i++)
            bad += fabs(c->number - wguided[i]) > 1e-3 * fabs(wguided[i]) + 1e-9;
        CHECK_MSG(bad == 0, "%d saliency values differ from dn_explain's", bad);
        /* 784-32-10 shows its ReLU (layer 2) and the logits (layer 3) */
        CHECK(layers && layers->type == DN_JSON_ARRAY && layers->len == 2);
        int k = 0;
        for (const dn_json_node *l = layers ? dn_json_child(&doc, layers) : NULL; l;
             l = dn_json_next(&doc, l), k++) {
            const dn_json_node *n = dn_json_get(&doc, l, "layer"), *c = dn_json_get(&doc, l, "c"),
                               *lo = dn_json_get(&doc, l, "min"), *hi = dn_json_get(&doc, l, "max");
            CHECK(n && n->number == (k ? 3 : 2) && c && c->number == (k ? 10 : 32));
            CHECK(lo && hi && lo->number <= hi->number && (k || lo->number == 0));
            CHECK(base64_len(dn_json_get(&doc, l, "data")) == (k ? 10 : 32));
        }
    }
    dn_json_free(&doc);
    dn_api_response_free(&res);

    /* any other value is a 400, an empty one and a bare ?explain included */
    static const char *bad[] = {"explain=yes", "explain", "explain=", "a=1&explain", "explain&a=1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        req.query = bad[i];
        dn_api_handle(api, &req, &res);
        CHECK_MSG(res.status == 400, "?%s: %d", bad[i], res.status);
        dn_api_response_free(&res);
    }
    req.query = "explain=0";
    dn_api_handle(api, &req, &res);
    CHECK(res.status == 200 && !strstr((const char *)res.body, "explain"));
    dn_api_response_free(&res);
    free(js);

    /* the first layer's weights: 32 pictures of 28x28 */
    dn_api_request wr = {"GET", "/api/model/weights", NULL, NULL, NULL, 0};
    dn_api_handle(api, &wr, &res);
    CHECK(res.status == 200);
    CHECK(dn_json_parse((const char *)res.body, res.body_size, &doc, msg, sizeof msg) == 0);
    const dn_json_node *maps = doc.count ? dn_json_get(&doc, &doc.nodes[0], "maps") : NULL;
    CHECK(maps && maps->len == 32);
    int good = 0;
    for (const dn_json_node *c = maps ? dn_json_child(&doc, maps) : NULL; c;
         c = dn_json_next(&doc, c))
        good += base64_len(dn_json_get(&doc, c, "data")) == 784;
    CHECK(good == 32);
    dn_json_free(&doc);
    dn_api_response_free(&res);
    wr.method = "POST";
    dn_api_handle(api, &wr, &res);
    CHECK(res.status == 405);
    dn_api_response_free(&res);
}

int main(void) {
    test_json();

    dn_model *m = NULL;
    dn_error err = {{0}};
    CHECK_OK(dn_model_create("784-32-10", "relu", 1, &m, &err));
    if (!m) return check_report("test_api");

    unsigned char img[784], *png = NULL;
    size_t png_size = 0;
    draw_one(img);
    CHECK_OK(dn_png_encode_gray(img, 28, 28, &png, &png_size, NULL));

    char dir[] = "/tmp/dn-test-api-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char cdir[64];
    snprintf(cdir, sizeof cdir, "%s/collect", dir);
    dn_collect *collect = NULL;
    CHECK_OK(dn_collect_open(cdir, &collect, NULL));
    dn_api *with = NULL, *without = NULL;
    CHECK_OK(dn_api_create(m, 2, collect, &with, NULL));
    CHECK_OK(dn_api_create(m, 1, NULL, &without, NULL));
    dn_api *none = NULL;
    CHECK(dn_api_create(m, 0, NULL, &none, NULL) == DN_E_ARG && !none);
    test_overflow_json();

    if (with && without && png) {
        test_routes(without, png, png_size);
        test_explain(without, m);
        test_samples(with, without, png, png_size, cdir);
        dn_model_set_meta(m, "test_accuracy", "0.9812");
        call_result r;
        call(with, "GET", "/api/model", NULL, NULL, NULL, 0, &r);
        CHECK(strstr(r.body, "\"accuracy\":0.9812") != NULL);

        /* 4 threads share 2 contexts. */
        pthread_t t[4];
        worker_arg args[4];
        for (int i = 0; i < 4; i++) {
            args[i] = (worker_arg){with, png, png_size, 0};
            CHECK(pthread_create(&t[i], NULL, worker, &args[i]) == 0);
        }
        for (int i = 0; i < 4; i++) {
            pthread_join(t[i], NULL);
            CHECK(args[i].ok == 40);
        }
    }
    dn_api_free(with); /* also closes the collector */
    dn_api_free(without);
    test_collect_files(cdir);
    rmdir(cdir);
    rmdir(dir);
    free(png);
    dn_model_free(m);
    return check_report("test_api");
}
