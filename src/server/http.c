/*
 * http.c — libmicrohttpd glue (contract in http.h): a daemon that hands
 * every request to a handler, and the public dn_server_* functions that
 * run the drawing page and API of api.c on it.
 *
 * What this file decides, deliberately, for every handler:
 *   - threads: MHD's internal polling with a fixed pool of `workers` threads;
 *     the API holds the same number of inference contexts, so a request never
 *     waits for one in practice and the model is never copied per request;
 *   - limits: at most 128 connections (2 per worker thread when that is
 *     more: libmicrohttpd splits the limit between its threads, and a thread
 *     left with none never stops), 16 per client address, 64 KiB of MHD
 *     memory per connection, 30 s idle timeout.  The per-address limit is
 *     what keeps slow clients (slowloris) from one address from starving the
 *     others; the total is eight addresses' worth.  Request bodies are
 *     collected here (no PostProcessor) into a buffer bounded by
 *     DN_API_MAX_BODY (so at most 256 MiB for 128 connections).  A
 *     Content-Length over the bound is answered 413 before reading the body;
 *     a chunked body that grows past it is discarded and answered 413 when it
 *     ends (libmicrohttpd 0.9 refuses a response queued mid-body; newer
 *     versions accept it and answer at once); a client that sends more than
 *     16 MiB past the bound, or is still sending a body 30 s after its
 *     headers (a trickle that never ends), has its connection cut;
 *   - headers: every answer is sent with nosniff, no-referrer and a strict
 *     Content-Security-Policy (the page loads nothing from elsewhere);
 *   - silence: MHD's messages go to a logger that drops them.
 */
#include "server/http.h"
#include "internal.h"
#include "server/api.h"
#include "server/json.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define CONN_LIMIT 128
#define CONN_PER_WORKER 2
#define PER_IP_LIMIT 16
#define CONN_MEMORY (64 * 1024)
#define IDLE_TIMEOUT 30
#define BODY_DEADLINE 30.0 /* seconds from the end of the headers */
#define DRAIN_LIMIT (16u << 20)

struct dn_http {
    struct MHD_Daemon *daemon;
    dn_http_handler handler;
    void *user;
    int port;
};

struct dn_server {
    dn_http *http;
    dn_api *api;
};

/* Per-request state, created on the first call for a request. */
typedef struct request_state {
    unsigned char *body;
    size_t size, cap;
    size_t dropped; /* bytes discarded after the body grew too large */
    double start;   /* dn_now() when the headers were complete */
    int too_large;  /* the body exceeds DN_API_MAX_BODY */
    int answered;   /* a response was queued early */
} request_state;

void dn_server_opts_default(dn_server_opts *o) {
    o->host = "127.0.0.1";
    o->port = 8080;
    o->workers = 4;
    o->collect_dir = NULL;
}

/* ======================================================================== */
/* Responses                                                                */
/* ======================================================================== */

/* Queues r (taking its body) with the common headers. */
static enum MHD_Result send_response(struct MHD_Connection *c, dn_api_response *r, int must_close) {
    struct MHD_Response *resp;
    int status = r->status;
    const char *type = r->content_type, *allow = r->allow;
    if (r->owned) {
        resp = MHD_create_response_from_buffer_with_free_callback(r->body_size, r->owned, free);
        if (resp) r->owned = NULL; /* MHD frees it now */
    } else {
        resp =
            MHD_create_response_from_buffer(r->body_size, (void *)r->body, MHD_RESPMEM_PERSISTENT);
    }
    dn_api_response_free(r);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
                            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    if (must_close) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result send_error(struct MHD_Connection *c, int status, const char *msg,
                                  int must_close) {
    dn_api_response r;
    dn_api_error(&r, status, msg);
    return send_response(c, &r, must_close);
}

static const char TOO_LARGE[] = "the request body is larger than 2 MiB";

/* ======================================================================== */
/* Requests                                                                 */
/* ======================================================================== */

/* Counts the headers named cls's name (case-insensitively). */
typedef struct header_count {
    const char *name;
    int n;
} header_count;

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value) {
    header_count *h = cls;
    (void)kind, (void)value;
    if (key && !strcasecmp(key, h->name)) h->n++;
    return MHD_YES;
}

/* Re-encodes MHD's decoded query arguments as a query string for the API. */
static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value) {
    dn_strbuf *b = cls;
    const char *parts[2] = {key, value};
    if (b->len) dn_strbuf_puts(b, "&");
    for (int i = 0; i < 2 && parts[i]; i++) {
        if (i) dn_strbuf_puts(b, "=");
        for (const unsigned char *p = (const unsigned char *)parts[i]; *p; p++) {
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                *p == '-' || *p == '_' || *p == '.' || *p == '~')
                dn_strbuf_append(b, (const char *)p, 1);
            else
                dn_strbuf_printf(b, "%%%02X", *p);
        }
    }
    return MHD_YES;
}

/* Parses a Content-Length value; 1 when it exceeds the body limit. */
static int declared_too_large(const char *v) {
    unsigned long long n = 0;
    for (; *v == ' ' || *v == '\t'; v++) {
    }
    for (; *v >= '0' && *v <= '9'; v++) {
        n = n * 10 + (unsigned)(*v - '0');
        if (n > DN_API_MAX_BODY) return 1;
    }
    return 0;
}

/* Appends a chunk of the body; 0 ok, -1 out of memory. Sets too_large. */
static int take_chunk(request_state *st, const char *data, size_t n) {
    if (st->too_large) {
        st->dropped += n;
        return 0;
    }
    if (n > DN_API_MAX_BODY - st->size) {
        st->too_large = 1;
        free(st->body);
        st->body = NULL;
        st->size = st->cap = 0;
        st->dropped = n;
        return 0;
    }
    if (st->size + n > st->cap) {
        size_t ncap = st->cap ? st->cap : 16384;
        while (ncap < st->size + n) ncap *= 2;
        if (ncap > DN_API_MAX_BODY) ncap = DN_API_MAX_BODY;
        unsigned char *nb = realloc(st->body, ncap);
        if (!nb) return -1;
        st->body = nb;
        st->cap = ncap;
    }
    memcpy(st->body + st->size, data, n);
    st->size += n;
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    dn_http *h = cls;
    request_state *st = *con_cls;
    if (!st) { /* headers are in; the body (if any) follows in later calls */
        st = dn_calloc(1, sizeof *st);
        if (!st) return MHD_NO;
        *con_cls = st;
        st->start = dn_now();
        /* two lengths: which one a proxy in front used is anybody's guess
         * (request smuggling), so the request is refused and the
         * connection closed, before any of the body is read */
        header_count lengths = {MHD_HTTP_HEADER_CONTENT_LENGTH, 0};
        MHD_get_connection_values(c, MHD_HEADER_KIND, count_header, &lengths);
        if (lengths.n > 1) {
            st->answered = 1;
            return send_error(c, 400, "more than one Content-Length header", 1);
        }
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && declared_too_large(cl)) {
            st->too_large = st->answered = 1;
            return send_error(c, 413, TOO_LARGE, 1);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        int was_large = st->too_large;
        if (take_chunk(st, upload_data, n)) return MHD_NO;
        if (st->too_large && st->dropped > DRAIN_LIMIT) return MHD_NO; /* cut the connection */
        if (dn_now() - st->start > BODY_DEADLINE) return MHD_NO;
        /* Answer at once when MHD allows it mid-body; otherwise at the end. */
        if (st->too_large && !was_large && !st->answered &&
            send_error(c, 413, TOO_LARGE, 1) == MHD_YES)
            st->answered = 1;
        return MHD_YES;
    }
    if (st->answered) return MHD_YES;
    st->answered = 1;
    if (st->too_large) return send_error(c, 413, TOO_LARGE, 1);

    dn_strbuf q = {0};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, &q);
    char *query = dn_strbuf_take(&q, NULL);
    dn_api_request req = {
        .method = method,
        .path = url,
        .query = query,
        .content_type =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
        .body = st->body,
        .body_size = st->size,
    };
    dn_api_response res;
    h->handler(h->user, &req, &res);
    free(query);
    return send_response(c, &res, 0);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode code) {
    request_state *st = *con_cls;
    if (!st) return;
    free(st->body);
    free(st);
    *con_cls = NULL;
}

static void drop_log(void *cls, const char *fmt, va_list ap) {}

/* ======================================================================== */
/* The daemon                                                               */
/* ======================================================================== */

dn_status dn_http_resolve(const char *host, int port, dn_http_addr *out, dn_error *err) {
    memset(out, 0, sizeof *out);
    if (!host || !host[0]) host = "127.0.0.1";
    if (port < 0 || port > 65535) return dn_fail(err, DN_E_ARG, "port %d is not in 0..65535", port);
    char port_str[8];
    snprintf(port_str, sizeof port_str, "%d", port);
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host, port_str, &hints, &ai);
    if (gai != 0)
        return dn_fail(err, DN_E_ARG, "cannot use host '%s': %s", host, gai_strerror(gai));
    const struct addrinfo *use = ai;
    while (use && use->ai_family != AF_INET && use->ai_family != AF_INET6) use = use->ai_next;
    if (!use || use->ai_addrlen > sizeof out->sa) {
        freeaddrinfo(ai);
        return dn_fail(err, DN_E_ARG, "host '%s' has no IPv4 or IPv6 address", host);
    }
    memcpy(&out->sa, use->ai_addr, use->ai_addrlen);
    out->family = use->ai_family;
    snprintf(out->host, sizeof out->host, "%s", host);
    out->port = port;
    freeaddrinfo(ai);
    return DN_OK;
}

dn_status dn_http_start(const dn_http_addr *addr, int workers, dn_http_handler handler, void *user,
                        dn_http **out, dn_error *err) {
    *out = NULL;
    if (workers < 1 || workers > 256)
        return dn_fail(err, DN_E_ARG, "workers %d is not in 1..256", workers);
    dn_http *h = dn_calloc(1, sizeof *h);
    if (!h) return dn_fail(err, DN_E_NOMEM, "out of memory");
    h->handler = handler;
    h->user = user;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (addr->family == AF_INET6) flags |= MHD_USE_IPv6;
    unsigned conns = CONN_LIMIT;
    if (conns < CONN_PER_WORKER * (unsigned)workers) conns = CONN_PER_WORKER * (unsigned)workers;
    errno = 0;
    h->daemon = MHD_start_daemon(
        flags, (uint16_t)addr->port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
        (const struct sockaddr *)&addr->sa, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)workers,
        MHD_OPTION_CONNECTION_LIMIT, conns, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)PER_IP_LIMIT, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, h, MHD_OPTION_EXTERNAL_LOGGER, drop_log, NULL, MHD_OPTION_END);
    if (!h->daemon) {
        int e = errno;
        free(h);
        return dn_fail(err, DN_E_IO, "cannot listen on %s port %d%s%s", addr->host, addr->port,
                       e ? ": " : "", e ? strerror(e) : "");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info && info->port ? info->port : addr->port;
    *out = h;
    return DN_OK;
}

int dn_http_port(const dn_http *h) {
    return h->port;
}

void dn_http_stop(dn_http *h) {
    if (!h) return;
    MHD_stop_daemon(h->daemon);
    free(h);
}

/* ======================================================================== */
/* The drawing page and API: dn_server                                      */
/* ======================================================================== */

static void serve_api(void *user, const dn_api_request *req, dn_api_response *res) {
    dn_api_handle(user, req, res);
}

dn_status dn_server_start(const dn_model *m, const dn_server_opts *o, dn_server **out,
                          dn_error *err) {
    *out = NULL;
    dn_server_opts def;
    dn_server_opts_default(&def);
    if (!o) o = &def;
    const char *host = o->host && o->host[0] ? o->host : def.host;
    if (o->port < 0 || o->port > 65535)
        return dn_fail(err, DN_E_ARG, "port %d is not in 0..65535", o->port);
    if (o->workers < 1 || o->workers > 256)
        return dn_fail(err, DN_E_ARG, "workers %d is not in 1..256", o->workers);
    dn_http_addr addr;
    dn_status st = dn_http_resolve(host, o->port, &addr, err);
    if (st != DN_OK) return st;

    dn_server *s = dn_calloc(1, sizeof *s);
    dn_collect *collect = NULL;
    st = s ? DN_OK : dn_fail(err, DN_E_NOMEM, "out of memory");
    if (st == DN_OK && o->collect_dir) st = dn_collect_open(o->collect_dir, &collect, err);
    if (st == DN_OK) {
        st = dn_api_create(m, (size_t)o->workers, collect, &s->api, err);
        if (st != DN_OK) dn_collect_free(collect);
    }
    if (st == DN_OK) st = dn_http_start(&addr, o->workers, serve_api, s->api, &s->http, err);
    if (st != DN_OK) {
        dn_server_stop(s);
        return st;
    }
    *out = s;
    return DN_OK;
}

int dn_server_port(const dn_server *s) {
    return dn_http_port(s->http);
}

void dn_server_stop(dn_server *s) {
    if (!s) return;
    dn_http_stop(s->http);
    dn_api_free(s->api);
    free(s);
}
