/*
 * monitor.h — the training monitor's internals, for tests: a monitor
 * without a server and its request handler (request -> response, no
 * sockets).  The public functions (dn_monitor_*) are declared in digitnet.h;
 * the routes and the JSON of GET /api/train are described in monitor.c and
 * docs/dashboard.md.
 */
#ifndef DN_SERVER_MONITOR_H
#define DN_SERVER_MONITOR_H

#include "digitnet.h"
#include "server/api.h"

#define DN_MONITOR_MAX_POINTS 20000     /* default bound on stored batch points */
#define DN_MONITOR_POINTS_PER_EPOCH 150 /* batch points recorded per epoch, about */

/* Creates the monitor's state like dn_monitor_start, without listening
 * (o->host and o->port are ignored).  Release it with dn_monitor_stop. */
dn_status dn_monitor_create_unserved(const dn_monitor_opts *o, dn_monitor **out, dn_error *err);

/* Answers one request (what the HTTP workers call).  Never fails;
 * release res with dn_api_response_free. */
void dn_monitor_handle(dn_monitor *mon, const dn_api_request *req, dn_api_response *res);

#endif
