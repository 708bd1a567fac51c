/*
 * monitor.c — the live training dashboard (public API in digitnet.h, the
 * socket-free parts for tests in monitor.h).
 *
 * A dn_monitor is a record of one training run guarded by one mutex:
 * training writes to it through dn_monitor_progress (a dn_progress_fn) and
 * the end-of-run calls; the HTTP workers of http.c read it through
 * dn_monitor_handle.  Nothing here prints; the library's training loop
 * does not know the monitor exists.
 *
 * Every recorded point gets the next sequence number of one counter, so a
 * client that has seen everything up to N asks GET /api/train?since=N and
 * receives only what is newer; a page opened in the middle of a run asks
 * since=0 and gets the whole history kept so far.
 *
 * Memory: batch points live in one array of max_points entries allocated
 * up front.  When it is full every other point is dropped and from then on
 * only every second candidate is recorded (the stride doubles each time),
 * so the kept points stay evenly spread over the whole run.  Epoch points
 * (one per epoch) are all kept in an array that grows by doubling.
 *
 * Routes (JSON errors are {"error": "..."}, as in api.c):
 *   GET /  /train.js /train.css /favicon.svg   the embedded page
 *   GET /api/train?since=N                     the state and points, below
 *   GET /healthz                               {"status":"ok"}
 * 404 for other paths, 405 (with Allow: GET, HEAD) for other methods, 400
 * for a since that is not a whole number.  The JSON is documented field by
 * field in docs/dashboard.md.
 */
#include "server/monitor.h"
#include "internal.h"
#include "server/assets.h"
#include "server/http.h"
#include "server/json.h"

#include <math.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

/* One point of the loss curve: the mean loss over the batches since the
 * previous point of the same epoch. */
typedef struct batch_point {
    uint64_t seq;
    int epoch;
    size_t batch;
    double progress; /* epochs done, fractional: epoch - 1 + batch / batches */
    double loss, images_per_sec, elapsed;
} batch_point;

/* One finished epoch. Unknown values are NAN (epochs from dn_monitor_seed). */
typedef struct epoch_point {
    uint64_t seq;
    int epoch;
    double train_loss, train_acc, val_loss, val_acc;
    double seconds, images_per_sec, elapsed, lr;
} epoch_point;

struct dn_monitor {
    pthread_mutex_t mu;
    dn_http *http;
    char *title, *detail, *message;
    const char *state; /* one of the static names below */
    double started;    /* wall clock (Unix seconds) at creation */
    uint64_t seq;      /* the last sequence number handed out */

    batch_point *bp;
    size_t nbp, max_points;
    size_t stride; /* record every stride-th candidate: doubles at each thinning */
    epoch_point *ep;
    size_t nep, cap_ep;

    /* the newest report */
    int epoch, epochs;
    size_t batch, batches;
    double progress, loss, images_per_sec, elapsed, lr;
    double reported_at; /* dn_now() of the newest report, 0 before any */
    /* for the ETA: the first report of this process */
    double first_at, first_progress;
    /* for the windowed loss: the last point recorded in the current epoch */
    int win_epoch;
    size_t win_batch, win_images;
    double win_sum; /* loss sum (mean * images) at that point */

    double best_val;
    int best_epoch;
    int have_test;
    dn_eval test;
};

static const char *const RUNNING_STATES[] = {"starting", "running", "testing"};
static const char *const FINAL_STATES[] = {"done", "failed", "cancelled"};

static const char *state_name(const char *s, const char *const *names, size_t n) {
    for (size_t i = 0; s && i < n; i++)
        if (!strcmp(s, names[i])) return names[i];
    return NULL;
}

static int is_final(const dn_monitor *mon) {
    return state_name(mon->state, FINAL_STATES, 3) != NULL;
}

/* ======================================================================== */
/* Life cycle                                                               */
/* ======================================================================== */

void dn_monitor_opts_default(dn_monitor_opts *o) {
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 8080;
    o->max_points = DN_MONITOR_MAX_POINTS;
}

/* Replaces *dst by a copy of src (NULL = none). 0 ok, -1 out of memory. */
static int set_text(char **dst, const char *src) {
    char *copy = NULL;
    if (src && src[0] && !(copy = strdup(src))) return -1;
    free(*dst);
    *dst = copy;
    return 0;
}

dn_status dn_monitor_create_unserved(const dn_monitor_opts *o, dn_monitor **out, dn_error *err) {
    *out = NULL;
    dn_monitor_opts def;
    dn_monitor_opts_default(&def);
    if (!o) o = &def;
    size_t max_points = o->max_points ? o->max_points : def.max_points;
    if (max_points < 16 || max_points > 10000000)
        return dn_fail(err, DN_E_ARG, "max_points %zu is not in 16..10000000", max_points);
    dn_monitor *mon = dn_calloc(1, sizeof *mon);
    if (!mon) return dn_fail(err, DN_E_NOMEM, "out of memory");
    mon->bp = dn_calloc(max_points, sizeof *mon->bp);
    if (!mon->bp || set_text(&mon->title, o->title) || set_text(&mon->detail, o->detail)) {
        dn_monitor_stop(mon);
        return dn_fail(err, DN_E_NOMEM, "out of memory");
    }
    if (pthread_mutex_init(&mon->mu, NULL) != 0) {
        free(mon->bp);
        free(mon->title);
        free(mon->detail);
        free(mon);
        return dn_fail(err, DN_E_NOMEM, "cannot create a mutex");
    }
    mon->max_points = max_points;
    mon->stride = 1;
    mon->state = RUNNING_STATES[0];
    mon->started = (double)time(NULL);
    mon->progress = mon->loss = mon->images_per_sec = mon->lr = NAN;
    mon->best_val = -1;
    *out = mon;
    return DN_OK;
}

static void serve(void *user, const dn_api_request *req, dn_api_response *res) {
    dn_monitor_handle(user, req, res);
}

dn_status dn_monitor_start(const dn_monitor_opts *o, dn_monitor **out, dn_error *err) {
    *out = NULL;
    dn_monitor_opts def;
    dn_monitor_opts_default(&def);
    if (!o) o = &def;
    dn_http_addr addr;
    dn_status st = dn_http_resolve(o->host, o->port, &addr, err);
    if (st != DN_OK) return st;
    dn_monitor *mon;
    if ((st = dn_monitor_create_unserved(o, &mon, err)) != DN_OK) return st;
    st = dn_http_start(&addr, serve, mon, &mon->http, err);
    if (st != DN_OK) {
        dn_monitor_stop(mon);
        return st;
    }
    *out = mon;
    return DN_OK;
}

int dn_monitor_port(const dn_monitor *mon) {
    return mon->http ? dn_http_port(mon->http) : 0;
}

void dn_monitor_stop(dn_monitor *mon) {
    if (!mon) return;
    dn_http_stop(mon->http);                              /* no request runs after this */
    if (mon->max_points) pthread_mutex_destroy(&mon->mu); /* set once the mutex exists */
    free(mon->bp);
    free(mon->ep);
    free(mon->title);
    free(mon->detail);
    free(mon->message);
    free(mon);
}

/* ======================================================================== */
/* Recording                                                                */
/* ======================================================================== */

dn_status dn_monitor_describe(dn_monitor *mon, const char *title, const char *detail) {
    pthread_mutex_lock(&mon->mu);
    int bad = set_text(&mon->title, title) || set_text(&mon->detail, detail);
    pthread_mutex_unlock(&mon->mu);
    return bad ? DN_E_NOMEM : DN_OK;
}

/* Drops every other batch point (keeping the newer of each pair) and halves
 * the recording rate. */
static void thin(dn_monitor *mon) {
    size_t k = 0;
    for (size_t i = 1; i < mon->nbp; i += 2) mon->bp[k++] = mon->bp[i];
    mon->nbp = k;
    mon->stride *= 2;
}

static void add_batch_point(dn_monitor *mon, double loss) {
    if (mon->nbp == mon->max_points) thin(mon);
    mon->bp[mon->nbp++] = (batch_point){.seq = ++mon->seq,
                                        .epoch = mon->epoch,
                                        .batch = mon->batch,
                                        .progress = mon->progress,
                                        .loss = loss,
                                        .images_per_sec = mon->images_per_sec,
                                        .elapsed = mon->elapsed};
}

/* Appends an epoch point; -1 when out of memory (the point is lost). */
static int add_epoch_point(dn_monitor *mon, epoch_point e) {
    if (mon->nep == mon->cap_ep) {
        size_t cap = mon->cap_ep ? 2 * mon->cap_ep : 64;
        epoch_point *n = realloc(mon->ep, cap * sizeof *n);
        if (!n) return -1;
        mon->ep = n;
        mon->cap_ep = cap;
    }
    e.seq = ++mon->seq;
    mon->ep[mon->nep++] = e;
    if (e.val_acc >= 0 && e.val_acc > mon->best_val) {
        mon->best_val = e.val_acc;
        mon->best_epoch = e.epoch;
    }
    return 0;
}

/* A batch report: the current values, and a batch point about
 * DN_MONITOR_POINTS_PER_EPOCH / stride times per epoch. */
static void on_batch(dn_monitor *mon, const dn_progress *p) {
    if (p->epoch != mon->win_epoch) { /* a new epoch: the window restarts */
        mon->win_epoch = p->epoch;
        mon->win_batch = mon->win_images = 0;
        mon->win_sum = 0;
    }
    int due = p->batch == p->batches ||
              (p->batch - mon->win_batch) * DN_MONITOR_POINTS_PER_EPOCH >= p->batches * mon->stride;
    if (!due || p->images_done <= mon->win_images) return;
    double sum = p->loss * (double)p->images_done;
    double loss = (sum - mon->win_sum) / (double)(p->images_done - mon->win_images);
    mon->win_batch = p->batch;
    mon->win_images = p->images_done;
    mon->win_sum = sum;
    add_batch_point(mon, loss);
}

int dn_monitor_progress(const dn_progress *p, void *monitor) {
    dn_monitor *mon = monitor;
    if (!mon || !p) return 0;
    double now = dn_now();
    pthread_mutex_lock(&mon->mu);
    if (is_final(mon)) {
        pthread_mutex_unlock(&mon->mu);
        return 0;
    }
    if (mon->state != RUNNING_STATES[1]) { /* starting's message is over */
        mon->state = RUNNING_STATES[1];
        set_text(&mon->message, NULL);
    }
    mon->epoch = p->epoch;
    mon->epochs = p->epochs;
    mon->batch = p->batch;
    mon->batches = p->batches;
    mon->progress = p->epoch_done || !p->batches
                        ? (double)p->epoch
                        : (double)(p->epoch - 1) + (double)p->batch / (double)p->batches;
    mon->loss = p->loss;
    mon->images_per_sec = p->images_per_sec;
    mon->elapsed = p->elapsed;
    mon->lr = p->lr;
    mon->reported_at = now;
    if (mon->first_at == 0) {
        mon->first_at = now;
        mon->first_progress = mon->progress;
    }
    if (p->epoch_done) {
        epoch_point e = {.epoch = p->epoch,
                         .train_loss = p->loss,
                         .train_acc = p->train_accuracy,
                         .val_loss = p->val_accuracy >= 0 ? p->val_loss : NAN,
                         .val_acc = p->val_accuracy >= 0 ? p->val_accuracy : NAN,
                         .seconds = p->epoch_seconds,
                         .images_per_sec = p->images_per_sec,
                         .elapsed = p->elapsed,
                         .lr = p->lr};
        add_epoch_point(mon, e);
    } else {
        on_batch(mon, p);
    }
    pthread_mutex_unlock(&mon->mu);
    return 0;
}

dn_status dn_monitor_seed(dn_monitor *mon, const dn_monitor_past *past) {
    if (!mon || !past || (past->count && !past->epochs)) return DN_E_ARG;
    dn_status st = DN_OK;
    pthread_mutex_lock(&mon->mu);
    for (size_t i = 0; i < past->count && st == DN_OK; i++) {
        const dn_epoch_record *r = &past->epochs[i];
        epoch_point e = {.epoch = r->epoch,
                         .train_loss = r->train_loss,
                         .train_acc = r->train_accuracy,
                         .val_loss = NAN,
                         .val_acc = r->val_accuracy >= 0 ? r->val_accuracy : NAN,
                         .seconds = NAN,
                         .images_per_sec = NAN,
                         .elapsed = NAN,
                         .lr = NAN};
        if (add_epoch_point(mon, e) != 0) st = DN_E_NOMEM;
    }
    mon->epoch = past->epoch;
    mon->epochs = past->epochs_total;
    mon->progress = past->epoch;
    mon->elapsed = past->seconds;
    if (past->best_epoch > 0) {
        mon->best_val = past->best_accuracy;
        mon->best_epoch = past->best_epoch;
    }
    pthread_mutex_unlock(&mon->mu);
    return st;
}

dn_status dn_monitor_set_state(dn_monitor *mon, const char *state, const char *message) {
    const char *name = state_name(state, RUNNING_STATES, 3);
    if (!mon || !name) return DN_E_ARG;
    dn_status st = DN_OK;
    pthread_mutex_lock(&mon->mu);
    if (is_final(mon))
        st = DN_E_ARG;
    else if (set_text(&mon->message, message))
        st = DN_E_NOMEM;
    else
        mon->state = name;
    pthread_mutex_unlock(&mon->mu);
    return st;
}

dn_status dn_monitor_finish(dn_monitor *mon, const dn_eval *test, const char *state,
                            const char *message) {
    const char *name = state_name(state, FINAL_STATES, 3);
    if (!mon || !name) return DN_E_ARG;
    dn_status st = DN_OK;
    pthread_mutex_lock(&mon->mu);
    if (set_text(&mon->message, message)) st = DN_E_NOMEM;
    if (!is_final(mon) && mon->reported_at > 0) /* freeze the clock */
        mon->elapsed += dn_now() - mon->reported_at;
    mon->state = name;
    mon->have_test = test != NULL;
    if (test) mon->test = *test;
    pthread_mutex_unlock(&mon->mu);
    return st;
}

/* ======================================================================== */
/* The JSON of GET /api/train                                               */
/* ======================================================================== */

/* A number, or null when it is not finite. */
static void num(dn_strbuf *b, const char *key, double v) {
    if (isfinite(v))
        dn_strbuf_printf(b, ",\"%s\":%.6g", key, v);
    else
        dn_strbuf_printf(b, ",\"%s\":null", key);
}

/* A string member, or null when s is NULL. */
static void str(dn_strbuf *b, const char *key, const char *s) {
    dn_strbuf_printf(b, ",\"%s\":", key);
    if (s)
        dn_strbuf_json_string(b, s, strlen(s));
    else
        dn_strbuf_puts(b, "null");
}

/* Estimated seconds left: the average pace of this process so far applied
 * to the epochs still to run. NAN when it cannot be told yet. */
static double eta(const dn_monitor *mon, double now) {
    if (strcmp(mon->state, "running")) return is_final(mon) ? 0 : NAN;
    double done = mon->progress - mon->first_progress;
    if (!(done > 0.01) || mon->epochs <= 0) return NAN;
    double left = (now - mon->first_at) / done * ((double)mon->epochs - mon->progress);
    return left > 0 ? left : 0;
}

/* Writes the state and every point newer than `since`; called locked. */
static void write_state(const dn_monitor *mon, uint64_t since, dn_strbuf *b) {
    double now = dn_now();
    /* the clock runs on between reports while the run is in progress */
    double elapsed = mon->elapsed;
    if (!is_final(mon) && mon->reported_at > 0) elapsed += now - mon->reported_at;
    dn_strbuf_printf(b, "{\"seq\":%llu", (unsigned long long)mon->seq);
    str(b, "state", mon->state);
    str(b, "message", mon->message);
    str(b, "title", mon->title ? mon->title : "");
    str(b, "detail", mon->detail ? mon->detail : "");
    dn_strbuf_printf(b,
                     ",\"started\":%.0f,\"epoch\":%d,\"epochs\":%d,\"batch\":%zu,\"batches\":%zu",
                     mon->started, mon->epoch, mon->epochs, mon->batch, mon->batches);
    num(b, "progress", mon->progress);
    num(b, "loss", mon->loss);
    num(b, "images_per_sec", mon->images_per_sec);
    num(b, "elapsed", isfinite(elapsed) ? elapsed : 0);
    num(b, "eta", eta(mon, now));
    num(b, "lr", mon->lr);
    num(b, "best_val_accuracy", mon->best_val >= 0 ? mon->best_val : NAN);
    dn_strbuf_printf(b, ",\"best_epoch\":%d,\"batch_points_kept\":%zu", mon->best_epoch, mon->nbp);

    /* points are in sequence order: find the first one past `since` */
    size_t lo = 0, hi = mon->nbp;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (mon->bp[mid].seq <= since)
            lo = mid + 1;
        else
            hi = mid;
    }
    dn_strbuf_puts(b, ",\"batch_points\":[");
    for (size_t i = lo; i < mon->nbp; i++) {
        const batch_point *p = &mon->bp[i];
        dn_strbuf_printf(b, "%s{\"seq\":%llu,\"epoch\":%d,\"batch\":%zu", i > lo ? "," : "",
                         (unsigned long long)p->seq, p->epoch, p->batch);
        num(b, "progress", p->progress);
        num(b, "loss", p->loss);
        num(b, "images_per_sec", p->images_per_sec);
        num(b, "elapsed", p->elapsed);
        dn_strbuf_puts(b, "}");
    }
    dn_strbuf_puts(b, "],\"epoch_points\":[");
    int first = 1;
    for (size_t i = 0; i < mon->nep; i++) {
        const epoch_point *e = &mon->ep[i];
        if (e->seq <= since) continue;
        dn_strbuf_printf(b, "%s{\"seq\":%llu,\"epoch\":%d", first ? "" : ",",
                         (unsigned long long)e->seq, e->epoch);
        first = 0;
        num(b, "train_loss", e->train_loss);
        num(b, "train_accuracy", e->train_acc);
        num(b, "val_loss", e->val_loss);
        num(b, "val_accuracy", e->val_acc);
        num(b, "seconds", e->seconds);
        num(b, "images_per_sec", e->images_per_sec);
        num(b, "elapsed", e->elapsed);
        num(b, "lr", e->lr);
        dn_strbuf_puts(b, "}");
    }
    dn_strbuf_puts(b, "],\"test\":");
    if (!mon->have_test) {
        dn_strbuf_puts(b, "null}");
        return;
    }
    const dn_eval *t = &mon->test;
    dn_strbuf_printf(b, "{\"count\":%zu,\"correct\":%zu", t->count, t->correct);
    num(b, "accuracy", t->accuracy);
    num(b, "loss", t->loss);
    dn_strbuf_puts(b, ",\"confusion\":[");
    for (int i = 0; i < 10; i++) {
        dn_strbuf_puts(b, i ? ",[" : "[");
        for (int j = 0; j < 10; j++) dn_strbuf_printf(b, "%s%zu", j ? "," : "", t->confusion[i][j]);
        dn_strbuf_puts(b, "]");
    }
    dn_strbuf_puts(b, "]}}");
}

/* ======================================================================== */
/* Requests                                                                 */
/* ======================================================================== */

static const char JSON_TYPE[] = "application/json";
static const char HEALTH[] = "{\"status\":\"ok\"}";

/* Reads ?since=N (absent = 0). -1 when it is not a whole number. */
static int parse_since(const char *query, uint64_t *since) {
    *since = 0;
    for (const char *p = query; p && *p;) {
        size_t len = strcspn(p, "&");
        if (len >= 6 && !strncmp(p, "since=", 6)) {
            size_t digits = len - 6;
            if (digits == 0 || digits > 19) return -1;
            uint64_t v = 0;
            for (size_t i = 6; i < len; i++) {
                if (p[i] < '0' || p[i] > '9') return -1;
                v = v * 10 + (uint64_t)(p[i] - '0');
            }
            *since = v;
            return 0;
        }
        p += len;
        if (*p == '&') p++;
    }
    return 0;
}

/* The page's files: "/" is train.html; nothing of the drawing page. */
static const dn_asset *find_asset(const char *path) {
    static const char *const names[] = {"train.html", "train.js", "train.css", "base.css",
                                        "favicon.svg"};
    if (path[0] != '/') return NULL;
    const char *name = path[1] ? path + 1 : names[0];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i])) continue;
        for (const dn_asset *as = dn_assets; as->name; as++)
            if (!strcmp(as->name, name)) return as;
    }
    return NULL;
}

void dn_monitor_handle(dn_monitor *mon, const dn_api_request *req, dn_api_response *res) {
    static const char allow[] = "GET, HEAD";
    const char *m = req->method ? req->method : "";
    const char *path = req->path ? req->path : "";
    int get = !strcmp(m, "GET") || !strcmp(m, "HEAD");
    memset(res, 0, sizeof *res);
    const dn_asset *as = NULL;
    int api = !strcmp(path, "/api/train"), health = !strcmp(path, "/healthz");
    if (!api && !health && !(as = find_asset(path))) {
        dn_api_error(res, 404, "not found");
        return;
    }
    if (!get) {
        dn_api_error(res, 405, "method not allowed; use GET, HEAD");
        res->allow = allow;
        return;
    }
    if (as) {
        dn_api_respond_static(res, 200, as->mime, as->data, as->size);
        return;
    }
    if (health) {
        dn_api_respond_static(res, 200, JSON_TYPE, HEALTH, sizeof HEALTH - 1);
        return;
    }
    uint64_t since;
    if (parse_since(req->query, &since)) {
        dn_api_error(res, 400, "since must be a whole number of at most 19 digits");
        return;
    }
    dn_strbuf b = {0};
    pthread_mutex_lock(&mon->mu);
    write_state(mon, since, &b);
    pthread_mutex_unlock(&mon->mu);
    dn_api_respond_json(res, 200, &b);
}
