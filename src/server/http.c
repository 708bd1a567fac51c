/*
 * http.c — a small, strict HTTP/1.1 server (contract in http.h): sockets,
 * connections, deadlines and answers.  Request heads are parsed by
 * request.c; server.c runs the drawing page and API of api.c on it.
 *
 * Why our own: the subset a JSON API and a few static files need is small,
 * and every answer, errors included, must carry the same headers and follow
 * the same limits.  libmicrohttpd 0.9.75 (Debian 12's) could not do that:
 * its own error pages lacked our headers and for some requests were sent
 * twice, a long query string stalled the connection, pipelined requests
 * were lost, and nothing bounded how long a request's head may take.
 *
 * What this file decides, deliberately, for every handler:
 *   - threads: one acceptor, and one thread per open connection, which
 *     reads a request, calls the handler and writes the answer.  A slow
 *     request delays only its own connection: /healthz never waits behind
 *     an image decode (the API bounds how many decodes and inferences run
 *     at once, see api.c);
 *   - limits: at most 128 connections, 16 per client address (an IPv6 /64
 *     counts as one address; the excess is
 *     closed as soon as it is accepted: this is what keeps slow clients from
 *     one address from starving the others); a request head (request line
 *     and headers) of at most 16 KiB with a target of at most 8 KiB and 100
 *     header fields; a body of at most DN_API_MAX_BODY;
 *   - deadlines: 30 s for a kept-alive connection to start its next request,
 *     10 s from a request's first byte to the end of its head (408 after),
 *     30 s from the end of the head to the end of its body, 30 s to send an
 *     answer;
 *   - strictness: one Content-Length, digits only; Transfer-Encoding only
 *     "chunked", never with a Content-Length (request smuggling); HTTP/1.1
 *     needs Host; HTTP/1.0 and 1.1 only (505); no folded header lines;
 *     every error closes the connection after its answer;
 *   - pipelining: requests sent back to back on one connection are answered
 *     one after the other, in order;
 *   - headers: every answer, the server's own errors included, is sent with
 *     nosniff, no-referrer and a strict Content-Security-Policy (the page
 *     loads nothing from elsewhere).
 */
#include "server/http.h"
#include "internal.h"
#include "server/api.h"
#include "server/json.h"
#include "server/request.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONN_LIMIT 128
#define PER_IP_LIMIT 16
#define HEAD_MAX DN_HTTP_HEAD_MAX
#define IDLE_TIMEOUT 30.0  /* seconds to start the next request */
#define HEAD_DEADLINE 10.0 /* from a request's first byte to the end of its head */
#define BODY_DEADLINE 30.0 /* from the end of the head to the end of the body */
#define SEND_DEADLINE 30.0 /* to send one answer */
#define LINGER_TIME 2.0    /* reading (and dropping) what a refused client still sends */
#define LINGER_LIMIT (16u << 20)
#ifndef MSG_MORE
#define MSG_MORE 0
#endif
#define STOP_GRACE 3 /* seconds for answers in flight when the server stops */

typedef struct conn conn;

struct dn_http {
    int listen_fd;
    int wake[2]; /* a byte written here stops the acceptor */
    pthread_t acceptor;
    dn_http_handler handler;
    void *user;
    int port;
    pthread_mutex_t mu; /* guards the fields below */
    pthread_cond_t idle;
    conn *open[CONN_LIMIT];
    int nopen;
    int stopping;
};

/* One open connection: its socket and the bytes read but not yet used. */
struct conn {
    dn_http *h;
    int fd;
    struct sockaddr_storage peer;
    char in[HEAD_MAX + 1]; /* one more byte: the NUL that ends a parsed head */
    size_t pos, len;       /* unread bytes are in[pos..len) */
    dn_http_head head;     /* the request being served */
};

/* ======================================================================== */
/* Socket input and output with deadlines                                   */
/* ======================================================================== */

enum { IO_OK = 1, IO_EOF = 0, IO_ERR = -1, IO_TIMEOUT = -2, IO_FULL = -3 };

/* Waits until fd is ready for `events` or the deadline passes. */
static int wait_fd(int fd, short events, double deadline) {
    for (;;) {
        double left = deadline - dn_now();
        if (left <= 0) return IO_TIMEOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r > 0) return IO_OK;
        if (r == 0) continue; /* re-checks the clock */
        if (errno != EINTR) return IO_ERR;
    }
}

/* Reads more bytes into c->in, moving the unread ones to the front first. */
static int fill(conn *c, double deadline) {
    if (c->pos) {
        memmove(c->in, c->in + c->pos, c->len - c->pos);
        c->len -= c->pos;
        c->pos = 0;
    }
    if (c->len == HEAD_MAX) return IO_FULL;
    for (;;) {
        int w = wait_fd(c->fd, POLLIN, deadline);
        if (w != IO_OK) return w;
        ssize_t n = recv(c->fd, c->in + c->len, HEAD_MAX - c->len, MSG_DONTWAIT);
        if (n > 0) {
            c->len += (size_t)n;
            return IO_OK;
        }
        if (n == 0) return IO_EOF;
        if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) return IO_ERR;
    }
}

/* Copies n body bytes to dst: first what is buffered, then from the socket. */
static int read_exact(conn *c, unsigned char *dst, size_t n, double deadline) {
    size_t have = c->len - c->pos < n ? c->len - c->pos : n;
    memcpy(dst, c->in + c->pos, have);
    c->pos += have;
    while (have < n) {
        int w = wait_fd(c->fd, POLLIN, deadline);
        if (w != IO_OK) return w;
        ssize_t r = recv(c->fd, dst + have, n - have, MSG_DONTWAIT);
        if (r > 0)
            have += (size_t)r;
        else if (r == 0)
            return IO_EOF;
        else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
            return IO_ERR;
    }
    return IO_OK;
}

static int send_all(int fd, const void *data, size_t n, int more, double deadline) {
    const char *p = data;
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT | (more ? MSG_MORE : 0));
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int r = wait_fd(fd, POLLOUT, deadline);
            if (r != IO_OK) return r;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else {
            return IO_ERR;
        }
    }
    return IO_OK;
}

/* ======================================================================== */
/* Responses                                                                */
/* ======================================================================== */

static const struct {
    int status;
    const char *text;
} reasons[] = {{100, "Continue"},
               {200, "OK"},
               {201, "Created"},
               {400, "Bad Request"},
               {403, "Forbidden"},
               {404, "Not Found"},
               {405, "Method Not Allowed"},
               {408, "Request Timeout"},
               {413, "Content Too Large"},
               {414, "URI Too Long"},
               {415, "Unsupported Media Type"},
               {417, "Expectation Failed"},
               {422, "Unprocessable Content"},
               {431, "Request Header Fields Too Large"},
               {500, "Internal Server Error"},
               {501, "Not Implemented"},
               {503, "Service Unavailable"},
               {505, "HTTP Version Not Supported"},
               {507, "Insufficient Storage"}};

static const char *reason(int status) {
    for (size_t i = 0; i < sizeof reasons / sizeof *reasons; i++)
        if (reasons[i].status == status) return reasons[i].text;
    return "Unknown";
}

/* Sends r (and frees it) with the common headers; IO_OK when all went out. */
static int send_response(conn *c, dn_api_response *r, int head_only, int must_close) {
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    dn_strbuf b = {0};
    dn_strbuf_printf(&b, "HTTP/1.1 %d %s\r\nDate: %s\r\n", r->status, reason(r->status), date);
    dn_strbuf_printf(&b, "Content-Type: %s\r\nContent-Length: %zu\r\n", r->content_type,
                     r->body_size);
    if (r->allow) dn_strbuf_printf(&b, "Allow: %s\r\n", r->allow);
    dn_strbuf_puts(&b, "Cache-Control: no-cache\r\n"
                       "X-Content-Type-Options: nosniff\r\n"
                       "Referrer-Policy: no-referrer\r\n"
                       "Content-Security-Policy: default-src 'self'; img-src 'self' data: blob:; "
                       "object-src 'none'; base-uri 'none'; form-action 'none'; "
                       "frame-ancestors 'none'\r\n");
    if (must_close) dn_strbuf_puts(&b, "Connection: close\r\n");
    dn_strbuf_puts(&b, "\r\n");
    size_t n = 0;
    char *text = dn_strbuf_take(&b, &n);
    double deadline = dn_now() + SEND_DEADLINE;
    int ok = text ? IO_OK : IO_ERR;
    int body = !head_only && r->body_size;
    if (ok == IO_OK) ok = send_all(c->fd, text, n, body, deadline);
    if (ok == IO_OK && body) ok = send_all(c->fd, r->body, r->body_size, 0, deadline);
    free(text);
    dn_api_response_free(r);
    return ok;
}

static int send_error(conn *c, int status, const char *msg) {
    dn_api_response r;
    dn_api_error(&r, status, msg);
    return send_response(c, &r, 0, 1);
}

/* ======================================================================== */
/* Request bodies                                                           */
/* ======================================================================== */

/* Reads one line of a chunked body (chunk size or trailer) into line. */
static int chunk_line(conn *c, char *line, size_t size, double deadline) {
    for (;;) {
        char *nl = memchr(c->in + c->pos, '\n', c->len - c->pos);
        if (nl) {
            size_t n = (size_t)(nl - (c->in + c->pos));
            if (n >= size) return IO_FULL;
            memcpy(line, c->in + c->pos, n);
            if (n && line[n - 1] == '\r') n--;
            line[n] = '\0';
            c->pos += (size_t)(nl - (c->in + c->pos)) + 1;
            return IO_OK;
        }
        if (c->len - c->pos >= size) return IO_FULL;
        int r = fill(c, deadline);
        if (r != IO_OK) return r;
    }
}

/* The body of a request: 0 when read, else the status to answer (or -1 to
 * close without one: the client went away or broke the framing). */
static int read_body(conn *c, const dn_http_head *q, unsigned char **body, size_t *size) {
    double deadline = dn_now() + BODY_DEADLINE;
    *body = NULL;
    *size = 0;
    if (!q->chunked) {
        if (q->length <= 0) return 0;
        unsigned char *b = malloc((size_t)q->length);
        if (!b) return 503;
        int r = read_exact(c, b, (size_t)q->length, deadline);
        if (r != IO_OK) {
            free(b);
            return r == IO_TIMEOUT ? 408 : -1;
        }
        *body = b;
        *size = (size_t)q->length;
        return 0;
    }
    size_t cap = 0, n = 0;
    unsigned char *b = NULL;
    char line[256];
    int status = 0;
    for (;;) {
        int r = chunk_line(c, line, sizeof line, deadline);
        if (r != IO_OK) {
            status = r == IO_TIMEOUT ? 408 : r == IO_FULL ? 400 : -1;
            break;
        }
        unsigned long long len = 0;
        int digits = 0;
        const char *s = line;
        for (int d; (d = dn_http_hexdigit((unsigned char)*s)) >= 0; s++, digits++)
            if (len <= DN_API_MAX_BODY) len = len * 16 + (unsigned)d;
        if (!digits || (*s && *s != ';' && *s != ' ' && *s != '\t')) {
            status = 400;
            break;
        }
        if (len == 0) { /* the last chunk, then trailer lines up to an empty one */
            int lines = 0;
            while ((r = chunk_line(c, line, sizeof line, deadline)) == IO_OK && line[0])
                if (++lines > DN_HTTP_FIELDS_MAX) break;
            status = r != IO_OK ? (r == IO_TIMEOUT ? 408 : -1) : line[0] ? 431 : 0;
            break;
        }
        if (len > DN_API_MAX_BODY - n) {
            status = 413;
            break;
        }
        if (n + len > cap) {
            size_t ncap = cap ? cap : 16384;
            while (ncap < n + len) ncap *= 2;
            unsigned char *nb = realloc(b, ncap);
            if (!nb) {
                status = 503;
                break;
            }
            b = nb;
            cap = ncap;
        }
        r = read_exact(c, b + n, (size_t)len, deadline);
        if (r == IO_OK) r = chunk_line(c, line, sizeof line, deadline);
        if (r != IO_OK || line[0]) {
            status = r == IO_TIMEOUT ? 408 : r == IO_OK ? 400 : -1;
            break;
        }
        n += (size_t)len;
    }
    if (status) {
        free(b);
        return status;
    }
    *body = b;
    *size = n;
    return 0;
}

/* ======================================================================== */
/* Connections                                                              */
/* ======================================================================== */

/* The message of a status that read_body returns. */
static const char *body_error(int status) {
    return status == 408   ? "the request body took longer than 30 s to arrive"
           : status == 413 ? "the request body is larger than 2 MiB"
           : status == 503 ? "out of memory"
                           : "the request body is malformed";
}

/* Serves one request on c; 1 to go on with the next, 0 to close. */
static int serve_one(conn *c) {
    dn_http *h = c->h;
    /* wait for the first byte of a request (idle; empty lines before it
     * are skipped, also when they arrive on their own), then for the whole
     * head (deadline) */
    double idle = dn_now() + IDLE_TIMEOUT;
    for (;;) {
        while (c->pos < c->len && (c->in[c->pos] == '\r' || c->in[c->pos] == '\n')) c->pos++;
        if (c->pos < c->len) break;
        c->pos = c->len = 0;
        if (fill(c, idle) != IO_OK) return 0;
    }
    double deadline = dn_now() + HEAD_DEADLINE;
    size_t end, scanned = 0; /* bytes after c->pos known to hold no end of head */
    while ((end = dn_http_head_end(c->in, c->pos + scanned, c->len)) == 0) {
        scanned = c->len - c->pos > 2 ? c->len - c->pos - 2 : 0;
        int r = fill(c, deadline);
        if (r == IO_FULL) {
            int long_target = !memchr(c->in, '\n', c->len);
            send_error(c, long_target ? 414 : 431,
                       long_target ? "the request target is longer than 8 KiB"
                                   : "the request head is larger than 16 KiB");
            return 0;
        }
        if (r == IO_TIMEOUT) send_error(c, 408, "the request head took longer than 10 s");
        if (r != IO_OK) return 0;
    }
    char *text = c->in + c->pos;
    if (memchr(text, '\0', end - c->pos)) {
        send_error(c, 400, "the request head holds a NUL byte");
        return 0;
    }
    dn_http_head *q = &c->head;
    char saved = c->in[end]; /* the head as a string, for a moment */
    c->in[end] = '\0';
    const char *why = NULL;
    int st = dn_http_parse_head(text, q, &why);
    c->in[end] = saved;
    c->pos = end;
    if (st) {
        send_error(c, st, why);
        return 0;
    }
    if (q->expect_continue && q->minor >= 1 && (q->chunked || q->length > 0)) {
        static const char go_on[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (send_all(c->fd, go_on, sizeof go_on - 1, 0, dn_now() + SEND_DEADLINE) != IO_OK) {
            return 0;
        }
    }
    unsigned char *body = NULL;
    size_t size = 0;
    st = read_body(c, q, &body, &size);
    if (st) {
        if (st > 0) send_error(c, st, body_error(st));
        return 0;
    }
    dn_api_request req = {
        .method = q->method,
        .path = q->path,
        .query = q->query,
        .content_type = q->content_type[0] ? q->content_type : NULL,
        .body = body,
        .body_size = size,
    };
    dn_api_response res;
    h->handler(h->user, &req, &res);
    free(body);
    pthread_mutex_lock(&h->mu);
    int stopping = h->stopping;
    pthread_mutex_unlock(&h->mu);
    int keep = !q->close && !stopping;
    int ok = send_response(c, &res, q->head_only, !keep);
    return ok == IO_OK && keep;
}

/* Closes c's socket gently: the answer already sent is not lost to a reset
 * because of bytes the client is still sending (an oversized body). */
static void linger_close(int fd) {
    shutdown(fd, SHUT_WR);
    double deadline = dn_now() + LINGER_TIME;
    char sink[16384];
    size_t dropped = 0;
    while (dropped < LINGER_LIMIT && wait_fd(fd, POLLIN, deadline) == IO_OK) {
        ssize_t n = recv(fd, sink, sizeof sink, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) break;
        if (n > 0) dropped += (size_t)n;
    }
}

/* Unregisters and closes c (lingering first when asked) and frees it. */
static void forget(dn_http *h, conn *c, int linger) {
    if (linger) linger_close(c->fd);
    pthread_mutex_lock(&h->mu);
    for (int i = 0; i < h->nopen; i++)
        if (h->open[i] == c) {
            h->open[i] = h->open[--h->nopen];
            break;
        }
    close(c->fd); /* under the lock: dn_http_stop never shuts down a reused descriptor */
    if (h->nopen == 0) pthread_cond_broadcast(&h->idle);
    pthread_mutex_unlock(&h->mu);
    free(c);
}

static void *conn_main(void *arg) {
    conn *c = arg;
    while (serve_one(c)) {
    }
    forget(c->h, c, 1);
    return NULL;
}

static int same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
    if (a->ss_family != b->ss_family) return 0;
    if (a->ss_family == AF_INET)
        return !memcmp(&((const struct sockaddr_in *)a)->sin_addr,
                       &((const struct sockaddr_in *)b)->sin_addr, sizeof(struct in_addr));
    if (a->ss_family == AF_INET6)
        /* one IPv6 client commonly has a whole /64: count it as one address */
        return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                       &((const struct sockaddr_in6 *)b)->sin6_addr, 8);
    return 0;
}

/* Takes a new connection on, or closes it when a limit is reached. */
static void admit(dn_http *h, int fd, const struct sockaddr_storage *peer) {
    conn *c = NULL;
    pthread_mutex_lock(&h->mu);
    int same = 0;
    for (int i = 0; i < h->nopen; i++) same += same_address(&h->open[i]->peer, peer);
    if (!h->stopping && h->nopen < CONN_LIMIT && same < PER_IP_LIMIT &&
        (c = dn_calloc(1, sizeof *c)) != NULL) {
        c->h = h;
        c->fd = fd;
        c->peer = *peer;
        h->open[h->nopen++] = c;
    }
    pthread_mutex_unlock(&h->mu);
    if (!c) {
        close(fd);
        return;
    }
    pthread_attr_t attr;
    pthread_t t;
    int ok = !pthread_attr_init(&attr);
    if (ok) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        ok = !pthread_create(&t, &attr, conn_main, c);
        pthread_attr_destroy(&attr);
    }
    if (!ok) forget(h, c, 0); /* no thread: never keep the acceptor waiting */
}

static void *accept_main(void *arg) {
    dn_http *h = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = h->listen_fd, .events = POLLIN},
                              {.fd = h->wake[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno != EINTR) poll(NULL, 0, 50); /* keep accepting; never spin */
            continue;
        }
        if (p[1].revents) break;
        if (!(p[0].revents & POLLIN)) continue;
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        int fd = accept(h->listen_fd, (struct sockaddr *)&peer, &len);
        if (fd < 0) { /* EAGAIN: the client went away (the socket is non-blocking) */
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                poll(NULL, 0, 50); /* out of descriptors: let connections finish */
            continue;
        }
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        admit(h, fd, &peer);
    }
    return NULL;
}

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

static int bound_port(int fd) {
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    if (getsockname(fd, (struct sockaddr *)&sa, &len)) return 0;
    if (sa.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&sa)->sin_port);
    if (sa.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
    return 0;
}

dn_status dn_http_start(const dn_http_addr *addr, dn_http_handler handler, void *user,
                        dn_http **out, dn_error *err) {
    *out = NULL;
    dn_http *h = dn_calloc(1, sizeof *h);
    if (!h) return dn_fail(err, DN_E_NOMEM, "out of memory");
    h->handler = handler;
    h->user = user;
    h->listen_fd = h->wake[0] = h->wake[1] = -1;
    int step = 0; /* what has been made, for undoing */
    int e = 0;
    const char *what = "cannot listen on";
    if (pthread_mutex_init(&h->mu, NULL) == 0) step = 1;
    if (step == 1 && pthread_cond_init(&h->idle, NULL) == 0) step = 2;
    if (step == 2 && pipe(h->wake) == 0) step = 3;
    if (step == 3) {
        fcntl(h->wake[0], F_SETFD, FD_CLOEXEC);
        fcntl(h->wake[1], F_SETFD, FD_CLOEXEC);
        h->listen_fd = socket(addr->family, SOCK_STREAM, 0);
        if (h->listen_fd >= 0) fcntl(h->listen_fd, F_SETFD, FD_CLOEXEC);
        int one = 1;
        socklen_t len =
            addr->family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
        if (h->listen_fd >= 0 &&
            setsockopt(h->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
            bind(h->listen_fd, (const struct sockaddr *)&addr->sa, len) == 0 &&
            listen(h->listen_fd, 256) == 0 &&
            fcntl(h->listen_fd, F_SETFL, fcntl(h->listen_fd, F_GETFL) | O_NONBLOCK) == 0)
            step = 4;
        else
            e = errno;
    }
    if (step == 4) {
        h->port = bound_port(h->listen_fd);
        if (pthread_create(&h->acceptor, NULL, accept_main, h) == 0)
            step = 5;
        else
            what = "cannot start a thread to serve", e = 0;
    }
    if (step == 5) {
        *out = h;
        return DN_OK;
    }
    if (step >= 3) {
        if (h->listen_fd >= 0) close(h->listen_fd);
        close(h->wake[0]);
        close(h->wake[1]);
    }
    if (step >= 2) pthread_cond_destroy(&h->idle);
    if (step >= 1) pthread_mutex_destroy(&h->mu);
    free(h);
    if (step < 3) return dn_fail(err, DN_E_NOMEM, "cannot set up the server: out of resources");
    return dn_fail(err, DN_E_IO, "%s %s port %d%s%s", what, addr->host, addr->port, e ? ": " : "",
                   e ? strerror(e) : "");
}

int dn_http_port(const dn_http *h) {
    return h->port;
}

void dn_http_stop(dn_http *h) {
    if (!h) return;
    pthread_mutex_lock(&h->mu);
    h->stopping = 1;
    pthread_mutex_unlock(&h->mu);
    char byte = 1;
    while (write(h->wake[1], &byte, 1) < 0 && errno == EINTR) {
    }
    pthread_join(h->acceptor, NULL);
    close(h->listen_fd);
    /* wake every connection: each finishes the request it is in and ends;
     * answers still being sent after STOP_GRACE seconds are cut */
    pthread_mutex_lock(&h->mu);
    for (int i = 0; i < h->nopen; i++) shutdown(h->open[i]->fd, SHUT_RD);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += STOP_GRACE;
    while (h->nopen && pthread_cond_timedwait(&h->idle, &h->mu, &until) != ETIMEDOUT) {
    }
    for (int i = 0; i < h->nopen; i++) shutdown(h->open[i]->fd, SHUT_RDWR);
    while (h->nopen) pthread_cond_wait(&h->idle, &h->mu);
    pthread_mutex_unlock(&h->mu);
    close(h->wake[0]);
    close(h->wake[1]);
    pthread_cond_destroy(&h->idle);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
