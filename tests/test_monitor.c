/*
 * test_monitor.c — the training monitor: its routes and statuses through
 * dn_monitor_handle (no sockets), the JSON of /api/train for a simulated
 * run (batch points per epoch, the windowed loss, epoch points, best
 * epoch, since=N, states and the final test evaluation), the bound on
 * stored points, seeding from a checkpoint's history, reports racing
 * requests, and one real server on a free port spoken to over a socket.
 */
#include "check.h"
#include "checkpoint.h"
#include "digitnet.h"
#include "server/json.h"
#include "server/monitor.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

static int contains(const unsigned char *body, size_t size, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= size; i++)
        if (!memcmp(body + i, needle, n)) return 1;
    return 0;
}

static int request(dn_monitor *mon, const char *method, const char *path, const char *query,
                   dn_api_response *res) {
    dn_api_request req = {.method = method, .path = path, .query = query};
    dn_monitor_handle(mon, &req, res);
    return res->status;
}

/* GET /api/train?since=N parsed into doc; 0 when it answered 200 with JSON. */
static int get_state(dn_monitor *mon, unsigned long long since, dn_json_doc *doc) {
    char q[48];
    snprintf(q, sizeof q, "since=%llu", since);
    dn_api_response res;
    int status = request(mon, "GET", "/api/train", q, &res);
    char msg[128];
    int bad = status != 200 ||
              dn_json_parse((const char *)res.body, res.body_size, doc, msg, sizeof msg) != 0;
    if (bad) fprintf(stderr, "GET /api/train: %d %.*s\n", status, (int)res.body_size, res.body);
    dn_api_response_free(&res);
    return bad ? -1 : 0;
}

static const dn_json_node *field(const dn_json_doc *d, const char *key) {
    return dn_json_get(d, &d->nodes[0], key);
}

static double number(const dn_json_doc *d, const char *key) {
    const dn_json_node *n = field(d, key);
    return n && n->type == DN_JSON_NUMBER ? n->number : NAN;
}

static int is_null(const dn_json_doc *d, const char *key) {
    const dn_json_node *n = field(d, key);
    return n && n->type == DN_JSON_NULL;
}

static int has_string(const dn_json_doc *d, const char *key, const char *want) {
    const dn_json_node *n = field(d, key);
    return n && n->type == DN_JSON_STRING && !strcmp(n->str, want);
}

static size_t count(const dn_json_doc *d, const char *key) {
    const dn_json_node *n = field(d, key);
    return n && n->type == DN_JSON_ARRAY ? n->len : (size_t)-1;
}

static double member(const dn_json_doc *d, const dn_json_node *obj, const char *key) {
    const dn_json_node *n = dn_json_get(d, obj, key);
    return n && n->type == DN_JSON_NUMBER ? n->number : NAN;
}

/* Reports one simulated epoch of `batches` batches of 10 images whose batch
 * loss is `base + b / batches` (so window means are known), then its end. */
static void run_epoch(dn_monitor *mon, int epoch, int epochs, size_t batches, double base,
                      double val_acc) {
    double sum = 0;
    for (size_t b = 1; b <= batches; b++) {
        sum += 10 * (base + (double)b / (double)batches);
        dn_progress p = {.epoch = epoch,
                         .epochs = epochs,
                         .batch = b,
                         .batches = batches,
                         .images_done = 10 * b,
                         .loss = sum / (10.0 * (double)b),
                         .images_per_sec = 1000,
                         .elapsed = (epoch - 1) * 10.0 + (double)b / (double)batches * 10,
                         .val_accuracy = -1,
                         .lr = 0.01};
        CHECK(dn_monitor_progress(&p, mon) == 0);
    }
    dn_progress e = {.epoch = epoch,
                     .epochs = epochs,
                     .batch = batches,
                     .batches = batches,
                     .images_done = 10 * batches,
                     .loss = sum / (10.0 * (double)batches),
                     .images_per_sec = 1000,
                     .elapsed = epoch * 10.0,
                     .epoch_done = 1,
                     .val_accuracy = val_acc,
                     .val_loss = val_acc >= 0 ? 1 - val_acc : NAN,
                     .train_accuracy = 0.5 + 0.01 * epoch,
                     .epoch_seconds = 10,
                     .lr = 0.01};
    CHECK(dn_monitor_progress(&e, mon) == 0);
}

/* ---------------------------------------------------------------- tests */

static void test_routes(void) {
    dn_monitor *mon = NULL;
    CHECK_OK(dn_monitor_create_unserved(NULL, &mon, NULL));
    dn_api_response res;
    CHECK(request(mon, "GET", "/", NULL, &res) == 200);
    CHECK(res.content_type && !strncmp(res.content_type, "text/html", 9));
    CHECK(res.body_size > 0 && contains(res.body, res.body_size, "train.js"));
    dn_api_response_free(&res);
    const char *ok[] = {"/train.js",    "/train.css",  "/base.css",
                        "/favicon.svg", "/train.html", "/healthz"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        CHECK_MSG(request(mon, "GET", ok[i], NULL, &res) == 200, "%s", ok[i]);
        dn_api_response_free(&res);
        CHECK_MSG(request(mon, "HEAD", ok[i], NULL, &res) == 200, "HEAD %s", ok[i]);
        dn_api_response_free(&res);
    }
    /* the drawing page is not part of the dashboard */
    const char *missing[] = {"/index.html", "/app.js", "/api/model",  "/api/predict", "",
                             "/api/train/", "//",      "/../train.js"};
    for (size_t i = 0; i < sizeof missing / sizeof *missing; i++) {
        CHECK_MSG(request(mon, "GET", missing[i], NULL, &res) == 404, "'%s'", missing[i]);
        CHECK(res.body_size && contains(res.body, res.body_size, "\"error\""));
        dn_api_response_free(&res);
    }
    CHECK(request(mon, "POST", "/api/train", NULL, &res) == 405);
    CHECK(res.allow && !strcmp(res.allow, "GET, HEAD"));
    dn_api_response_free(&res);
    CHECK(request(mon, "DELETE", "/", NULL, &res) == 405);
    dn_api_response_free(&res);
    CHECK(request(mon, NULL, NULL, NULL, &res) == 404);
    dn_api_response_free(&res);
    const char *bad[] = {
        "since=abc",   "since=", "since=-1", "since=1.5", "since=12345678901234567890",
        "x=1&since=2x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_MSG(request(mon, "GET", "/api/train", bad[i], &res) == 400, "%s", bad[i]);
        dn_api_response_free(&res);
    }
    CHECK(request(mon, "GET", "/api/train", "other=1&since=0", &res) == 200);
    dn_api_response_free(&res);
    CHECK(request(mon, "GET", "/api/train", NULL, &res) == 200);
    dn_api_response_free(&res);
    dn_monitor_stop(mon);
    dn_monitor_stop(NULL);

    dn_monitor_opts o;
    dn_monitor_opts_default(&o);
    o.max_points = 3;
    mon = NULL;
    CHECK(dn_monitor_create_unserved(&o, &mon, NULL) == DN_E_ARG && !mon);
}

static void test_run(void) {
    dn_monitor_opts o;
    dn_monitor_opts_default(&o);
    o.title = "lenet5 \"quoted\" \xff";
    o.detail = "adam";
    dn_monitor *mon = NULL;
    CHECK_OK(dn_monitor_create_unserved(&o, &mon, NULL));
    dn_json_doc d;

    /* before any report */
    CHECK(get_state(mon, 0, &d) == 0);
    CHECK(has_string(&d, "state", "starting"));
    CHECK(number(&d, "seq") == 0 && count(&d, "batch_points") == 0);
    CHECK(count(&d, "epoch_points") == 0 && is_null(&d, "test") && is_null(&d, "eta"));
    CHECK(is_null(&d, "message") && is_null(&d, "best_val_accuracy"));
    CHECK(has_string(&d, "title", "lenet5 \"quoted\" \xef\xbf\xbd"));
    dn_json_free(&d);
    CHECK_OK(dn_monitor_set_state(mon, "starting", "loading the data"));
    CHECK(get_state(mon, 0, &d) == 0);
    CHECK(has_string(&d, "message", "loading the data"));
    dn_json_free(&d);

    /* epoch 1 of 3: 1000 batches give about 150 points, the last one included */
    run_epoch(mon, 1, 3, 1000, 1.0, 0.80);
    CHECK(get_state(mon, 0, &d) == 0);
    CHECK(has_string(&d, "state", "running") && is_null(&d, "message"));
    size_t n1 = count(&d, "batch_points");
    CHECK_MSG(n1 >= 140 && n1 <= 160, "%zu points in an epoch", n1);
    CHECK(count(&d, "epoch_points") == 1);
    CHECK(number(&d, "epoch") == 1 && number(&d, "epochs") == 3 && number(&d, "batches") == 1000);
    CHECK_NEAR(number(&d, "best_val_accuracy"), 0.80, 1e-9);
    CHECK(number(&d, "best_epoch") == 1);
    CHECK_NEAR(number(&d, "progress"), 1.0, 1e-9);
    CHECK(number(&d, "eta") >= 0); /* 2 epochs left at the pace so far */
    const dn_json_node *pts = field(&d, "batch_points");
    const dn_json_node *last = NULL, *second = NULL, *first = dn_json_child(&d, pts);
    double prev_seq = 0;
    int increasing = 1;
    for (const dn_json_node *p = first; p; p = dn_json_next(&d, p)) {
        increasing &= member(&d, p, "seq") > prev_seq;
        prev_seq = member(&d, p, "seq");
        second = last;
        last = p;
    }
    CHECK(increasing);
    CHECK(last && member(&d, last, "batch") == 1000 && member(&d, last, "progress") == 1.0);
    /* the point's loss is the mean over its window of batches (b1, b2] */
    if (last && second) {
        double b1 = member(&d, second, "batch"), b2 = 1000, mean = 0;
        for (double b = b1 + 1; b <= b2; b++) mean += 1.0 + b / 1000;
        mean /= b2 - b1;
        CHECK_NEAR(member(&d, last, "loss"), mean, 1e-4);
    }
    CHECK(first && member(&d, first, "batch") <= 7);
    const dn_json_node *ep = dn_json_child(&d, field(&d, "epoch_points"));
    CHECK(ep && member(&d, ep, "epoch") == 1);
    CHECK(ep && fabs(member(&d, ep, "val_accuracy") - 0.80) < 1e-9);
    CHECK(ep && fabs(member(&d, ep, "val_loss") - 0.20) < 1e-9);
    CHECK(ep && member(&d, ep, "seconds") == 10 && member(&d, ep, "lr") == 0.01);
    double seq1 = number(&d, "seq");
    CHECK(seq1 == (double)n1 + 1);
    dn_json_free(&d);

    /* epoch 2 without validation: only what is new comes with since */
    run_epoch(mon, 2, 3, 1000, 0.5, -1);
    CHECK(get_state(mon, (unsigned long long)seq1, &d) == 0);
    size_t n2 = count(&d, "batch_points");
    CHECK_MSG(n2 >= 140 && n2 <= 160, "%zu new points", n2);
    CHECK(count(&d, "epoch_points") == 1);
    ep = dn_json_child(&d, field(&d, "epoch_points"));
    CHECK(ep && dn_json_get(&d, ep, "val_accuracy")->type == DN_JSON_NULL);
    CHECK(ep && dn_json_get(&d, ep, "val_loss")->type == DN_JSON_NULL);
    const dn_json_node *p0 = dn_json_child(&d, field(&d, "batch_points"));
    CHECK(p0 && member(&d, p0, "seq") == seq1 + 1 && member(&d, p0, "epoch") == 2);
    double seq2 = number(&d, "seq");
    CHECK(number(&d, "best_epoch") == 1);
    dn_json_free(&d);
    CHECK(get_state(mon, (unsigned long long)seq2, &d) == 0);
    CHECK(count(&d, "batch_points") == 0 && count(&d, "epoch_points") == 0);
    dn_json_free(&d);
    CHECK(get_state(mon, 0, &d) == 0); /* a page opened now gets everything */
    CHECK(count(&d, "batch_points") == n1 + n2 && count(&d, "epoch_points") == 2);
    dn_json_free(&d);

    /* a better epoch 3, then the end-of-run calls */
    run_epoch(mon, 3, 3, 1000, 0.2, 0.90);
    CHECK_OK(dn_monitor_set_state(mon, "testing", "evaluating on the test set"));
    CHECK(dn_monitor_set_state(mon, "done", NULL) == DN_E_ARG);
    CHECK(dn_monitor_set_state(mon, NULL, NULL) == DN_E_ARG);
    CHECK(dn_monitor_finish(mon, NULL, "finished", NULL) == DN_E_ARG);
    CHECK(get_state(mon, 0, &d) == 0);
    CHECK(has_string(&d, "state", "testing") && is_null(&d, "eta"));
    CHECK(number(&d, "best_epoch") == 3);
    dn_json_free(&d);
    dn_eval ev = {.count = 20, .correct = 17, .loss = 0.4, .accuracy = 0.85};
    for (int i = 0; i < 10; i++) ev.confusion[i][i] = i < 7 ? 2 : 1;
    ev.confusion[7][1] = ev.confusion[8][2] = ev.confusion[9][3] = 1;
    CHECK_OK(dn_monitor_finish(mon, &ev, "done", "saved m.dnm"));
    CHECK(dn_monitor_set_state(mon, "running", NULL) == DN_E_ARG);
    run_epoch(mon, 4, 4, 10, 0.1, 0.99); /* late reports change nothing */
    CHECK(get_state(mon, 0, &d) == 0);
    CHECK(has_string(&d, "state", "done") && has_string(&d, "message", "saved m.dnm"));
    CHECK(number(&d, "eta") == 0 && number(&d, "epochs") == 3 && number(&d, "epoch") == 3);
    CHECK(count(&d, "epoch_points") == 3);
    const dn_json_node *t = field(&d, "test");
    CHECK(t && t->type == DN_JSON_OBJECT);
    if (t && t->type == DN_JSON_OBJECT) {
        CHECK(member(&d, t, "count") == 20 && member(&d, t, "correct") == 17);
        CHECK_NEAR(member(&d, t, "accuracy"), 0.85, 1e-9);
        const dn_json_node *cm = dn_json_get(&d, t, "confusion");
        CHECK(cm && cm->type == DN_JSON_ARRAY && cm->len == 10);
        double total = 0, diag = 0;
        int i = 0;
        for (const dn_json_node *row = cm ? dn_json_child(&d, cm) : NULL; row;
             row = dn_json_next(&d, row), i++) {
            CHECK(row->type == DN_JSON_ARRAY && row->len == 10);
            int j = 0;
            for (const dn_json_node *c = dn_json_child(&d, row); c; c = dn_json_next(&d, c), j++) {
                total += c->number;
                if (i == j) diag += c->number;
            }
        }
        CHECK(total == 20 && diag == 17);
    }
    double frozen = number(&d, "elapsed");
    dn_json_free(&d);
    usleep(20000);
    CHECK(get_state(mon, 0, &d) == 0);
    CHECK(number(&d, "elapsed") == frozen); /* the clock stops with the run */
    dn_json_free(&d);
    CHECK_OK(dn_monitor_finish(mon, NULL, "failed", "disk full")); /* replaces */
    CHECK(get_state(mon, 0, &d) == 0);
    CHECK(has_string(&d, "state", "failed") && is_null(&d, "test"));
    dn_json_free(&d);
    CHECK_OK(dn_monitor_describe(mon, "new title", NULL));
    CHECK(get_state(mon, 0, &d) == 0);
    CHECK(has_string(&d, "title", "new title") && has_string(&d, "detail", ""));
    dn_json_free(&d);
    dn_monitor_stop(mon);
}

/* A long run with a small bound: points stay bounded and evenly spread. */
static void test_bound(void) {
    dn_monitor_opts o;
    dn_monitor_opts_default(&o);
    o.max_points = 100;
    dn_monitor *mon = NULL;
    CHECK_OK(dn_monitor_create_unserved(&o, &mon, NULL));
    for (int e = 1; e <= 40; e++) run_epoch(mon, e, 40, 500, 1.0 / e, 0.5 + e * 0.01);
    dn_json_doc d;
    CHECK(get_state(mon, 0, &d) == 0);
    size_t n = count(&d, "batch_points");
    CHECK_MSG(n >= 50 && n <= 100, "%zu points kept", n);
    CHECK(number(&d, "batch_points_kept") == (double)n);
    CHECK(count(&d, "epoch_points") == 40);
    double lo = 1e9, hi = 0, prev = 0, widest = 0;
    for (const dn_json_node *p = dn_json_child(&d, field(&d, "batch_points")); p;
         p = dn_json_next(&d, p)) {
        double x = member(&d, p, "progress");
        if (prev > 0 && x - prev > widest) widest = x - prev;
        prev = x;
        if (x < lo) lo = x;
        if (x > hi) hi = x;
    }
    CHECK_MSG(lo < 1.0 && hi == 40.0, "points span %g..%g", lo, hi);
    CHECK_MSG(widest <= 2.0, "largest gap %g epochs", widest);
    dn_json_free(&d);
    dn_monitor_stop(mon);
}

static void test_seed(void) {
    dn_monitor *mon = NULL;
    CHECK_OK(dn_monitor_create_unserved(NULL, &mon, NULL));
    /* a checkpoint's history as stored, through the one parser */
    const char history[] = "1:0.50000:0.80000:0.90000;2:0.30000:0.90000:0.95000;garbage;"
                           "3:0.20000:0.93000:-1.00000";
    dn_epoch_record e3s[4];
    size_t n = dn_history_parse(history, e3s, 4);
    CHECK(n == 3 && e3s[2].epoch == 3 && e3s[2].val_accuracy == -1);
    CHECK(dn_history_parse(history, NULL, 0) == 3 && dn_history_parse(NULL, NULL, 0) == 0);
    CHECK(dn_history_parse("0:1:0.5:0.5;2:nan:0.5:0.5;3:1:0.5", NULL, 0) == 0);
    /* a long history: 20,000 entries, every one counted */
    size_t big = 20000, len = 0;
    char *longh = malloc(big * 40);
    for (size_t i = 0; longh && i < big; i++)
        len += (size_t)snprintf(longh + len, 40, "%s%zu:0.5:0.9:-1", i ? ";" : "", i + 1);
    CHECK(longh && dn_history_parse(longh, NULL, 0) == big);
    free(longh);
    dn_epoch_record other[2];
    CHECK(dn_history_parse("4:1:0.5:0.5:12.5;5:1:0.5:0.5x", other, 2) == 1 && other[0].epoch == 4);
    dn_monitor_past past = {e3s, n, 3, 5, 2, 0.95, 12.5};
    CHECK_OK(dn_monitor_seed(mon, &past));
    CHECK(dn_monitor_seed(mon, NULL) == DN_E_ARG);
    dn_json_doc d;
    CHECK(get_state(mon, 0, &d) == 0);
    CHECK(count(&d, "epoch_points") == 3);
    CHECK(number(&d, "epoch") == 3 && number(&d, "epochs") == 5);
    CHECK(number(&d, "best_epoch") == 2);
    CHECK_NEAR(number(&d, "best_val_accuracy"), 0.95, 1e-9);
    CHECK_NEAR(number(&d, "elapsed"), 12.5, 1e-9);
    const dn_json_node *e = dn_json_child(&d, field(&d, "epoch_points"));
    CHECK(e && member(&d, e, "epoch") == 1 && member(&d, e, "train_loss") == 0.5);
    CHECK(e && dn_json_get(&d, e, "seconds")->type == DN_JSON_NULL);
    const dn_json_node *e3 = e ? dn_json_next(&d, dn_json_next(&d, e)) : NULL;
    CHECK(e3 && dn_json_get(&d, e3, "val_accuracy")->type == DN_JSON_NULL);
    dn_json_free(&d);
    /* the run continues at epoch 4 */
    run_epoch(mon, 4, 5, 100, 0.1, 0.97);
    CHECK(get_state(mon, 0, &d) == 0);
    CHECK(count(&d, "epoch_points") == 4 && number(&d, "best_epoch") == 4);
    dn_json_free(&d);
    dn_monitor_stop(mon);
}

/* ---------------------------------------------------------------- threads */

typedef struct reader_arg {
    dn_monitor *mon;
    int failures;
} reader_arg;

static void *reader(void *p) {
    reader_arg *a = p;
    for (int i = 0; i < 200; i++) {
        dn_json_doc d;
        if (get_state(a->mon, (unsigned long long)(i * 7), &d) != 0)
            a->failures++;
        else
            dn_json_free(&d);
    }
    return NULL;
}

static void test_threads(void) {
    dn_monitor *mon = NULL;
    CHECK_OK(dn_monitor_create_unserved(NULL, &mon, NULL));
    reader_arg a = {mon, 0};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, reader, &a) == 0);
    for (int e = 1; e <= 20; e++) run_epoch(mon, e, 20, 300, 1.0, 0.9);
    pthread_join(th, NULL);
    CHECK(a.failures == 0);
    dn_monitor_stop(mon);
}

/* ---------------------------------------------------------------- sockets */

/* Sends a raw request to 127.0.0.1:port; the answer (up to size-1 bytes). */
static int http_get(int port, const char *req, char *buf, size_t size) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    size_t n = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        write(fd, req, strlen(req)) == (ssize_t)strlen(req)) {
        ssize_t r;
        while (n + 1 < size && (r = read(fd, buf + n, size - 1 - n)) > 0) n += (size_t)r;
    }
    buf[n] = 0;
    close(fd);
    return (int)n;
}

static void test_server(void) {
    dn_monitor_opts o;
    dn_monitor_opts_default(&o);
    o.port = 0;
    o.title = "socket test";
    dn_monitor *mon = NULL;
    dn_error err = {{0}};
    CHECK_OK(dn_monitor_start(&o, &mon, &err));
    if (!mon) return;
    int port = dn_monitor_port(mon);
    CHECK(port > 0 && port < 65536);
    run_epoch(mon, 1, 2, 50, 1.0, 0.5);
    static char buf[1 << 16];
    http_get(port, "GET /api/train?since=0 HTTP/1.0\r\nHost: x\r\n\r\n", buf, sizeof buf);
    CHECK_MSG(!strncmp(buf, "HTTP/1.1 200", 12), "%.40s", buf);
    CHECK(strstr(buf, "Content-Security-Policy: default-src 'self'") != NULL);
    CHECK(strstr(buf, "\"title\":\"socket test\"") != NULL);
    CHECK(strstr(buf, "\"state\":\"running\"") != NULL);
    http_get(port, "GET / HTTP/1.0\r\n\r\n", buf, sizeof buf);
    CHECK(!strncmp(buf, "HTTP/1.1 200", 12) && strstr(buf, "<script src=\"/train.js\"") != NULL);
    http_get(port, "PUT /api/train HTTP/1.0\r\nContent-Length: 0\r\n\r\n", buf, sizeof buf);
    CHECK_MSG(!strncmp(buf, "HTTP/1.1 405", 12) && strstr(buf, "Allow: GET, HEAD"), "%.40s", buf);
    http_get(port, "POST /api/train HTTP/1.0\r\nContent-Length: 99999999\r\n\r\n", buf, sizeof buf);
    CHECK_MSG(!strncmp(buf, "HTTP/1.1 413", 12), "%.40s", buf);

    /* the same port again: a clear error, nothing leaked */
    dn_monitor *other = NULL;
    o.port = port;
    CHECK(dn_monitor_start(&o, &other, &err) == DN_E_IO && !other);
    CHECK(strstr(err.msg, "cannot listen") != NULL);
    o.host = "no such host.invalid";
    CHECK(dn_monitor_start(&o, &other, &err) == DN_E_ARG && !other);
    o.host = NULL;
    o.port = 70000;
    CHECK(dn_monitor_start(&o, &other, &err) == DN_E_ARG && !other);
    dn_monitor_stop(mon);
}

int main(void) {
    test_routes();
    test_run();
    test_bound();
    test_seed();
    test_threads();
    test_server();
    return check_report("test_monitor");
}
