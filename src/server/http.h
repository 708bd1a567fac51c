/*
 * http.h — the embedded web server: a strict HTTP/1.1 server around a request handler.
 *
 * A dn_http daemon binds an address, serves each connection on its own
 * thread and hands every complete request (method, path, raw query, body)
 * to one handler function, whose dn_api_response it sends back with the
 * common security headers.  Two handlers use it: the drawing page and JSON API of
 * api.h (`digitnet serve`, the public dn_server_* functions declared in
 * digitnet.h) and the training dashboard of monitor.h (`digitnet train
 * --serve`).  Limits, timeouts and headers are the same for both and are
 * described at the top of http.c.  Nothing here prints: failures are
 * reported through dn_error.
 */
#ifndef DN_SERVER_HTTP_H
#define DN_SERVER_HTTP_H

#include "digitnet.h"
#include "server/api.h"

#include <sys/socket.h>

/* Answers one request; must fill res (see dn_api_response) and never fail.
 * Called concurrently from the connection threads (at most 128 at once). */
typedef void (*dn_http_handler)(void *user, const dn_api_request *req, dn_api_response *res);

typedef struct dn_http dn_http;

/* An address to bind: plain data, no ownership. */
typedef struct dn_http_addr {
    struct sockaddr_storage sa; /* IPv4 or IPv6 address with the port */
    int family;                 /* AF_INET or AF_INET6 */
    char host[256];             /* as given, for messages */
    int port;                   /* as given (0 = any free port) */
} dn_http_addr;

/* Resolves host (numeric address or name; NULL or "" = "127.0.0.1") and
 * port (0..65535, 0 = any free port) to its first IPv4 or IPv6 address.
 * DN_E_ARG for a bad host or port. */
dn_status dn_http_resolve(const char *host, int port, dn_http_addr *out, dn_error *err);

/* Starts serving on addr, calling handler(user, ...) for every request.
 * DN_E_IO when the address cannot be bound.  user must outlive the daemon.
 * *out is released with dn_http_stop. */
dn_status dn_http_start(const dn_http_addr *addr, dn_http_handler handler, void *user,
                        dn_http **out, dn_error *err);

/* The port actually bound (the chosen one when port 0 was asked for). */
int dn_http_port(const dn_http *h);

/* Stops accepting, lets running requests finish (answers still being sent
 * after a few seconds are cut), frees the daemon. Accepts NULL. */
void dn_http_stop(dn_http *h);

#endif
