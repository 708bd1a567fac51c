/*
 * server.c — the public dn_server_* functions of digitnet.h: the drawing
 * page and JSON API of api.c (with its optional --collect store) served by
 * the HTTP server of http.c.
 */
#include "internal.h"
#include "server/api.h"
#include "server/http.h"

struct dn_server {
    dn_http *http;
    dn_api *api;
};

void dn_server_opts_default(dn_server_opts *o) {
    o->host = "127.0.0.1";
    o->port = 8080;
    o->workers = 4;
    o->collect_dir = NULL;
}

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
    if (st == DN_OK) st = dn_http_start(&addr, serve_api, s->api, &s->http, err);
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
