/*
 * http.h — the embedded web server: libmicrohttpd around the API of api.h.
 *
 * dn_server_start binds, starts a fixed pool of worker threads (each with
 * its own inference context) and returns; requests are served in the
 * background until dn_server_stop.  The server never prints: failures are
 * reported through dn_error.  The declarations (dn_server_*) are public
 * and live in digitnet.h.
 */
#ifndef DN_SERVER_HTTP_H
#define DN_SERVER_HTTP_H

#include "digitnet.h"

#endif
