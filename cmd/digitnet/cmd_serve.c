/*
 * cmd_serve.c — `digitnet serve`: the web page and JSON API over a model.
 *
 *   digitnet serve [MODEL] [--host ADDR] [--port N] [--collect DIR] [--workers N]
 *
 * Loads the model, starts the server, prints the URL (with the real port
 * when --port 0 asked for any free one) and serves until SIGINT or SIGTERM,
 * then stops the workers and frees everything.  The signals are blocked in
 * every thread and taken synchronously with sigwait, so no handler runs in
 * the middle of a request.
 */
#include "cli.h"
#include "server/http.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static const char USAGE[] =
    "usage: digitnet serve [MODEL] [--host ADDR] [--port N] [--collect DIR] [--workers N]\n"
    "\n"
    "Serves a drawing page and a JSON API for the model (default: the bundled one).\n"
    "\n"
    "  --host ADDR     address to bind (default 127.0.0.1; 0.0.0.0 opens it to the network)\n"
    "  --port N        TCP port (default 8080; 0 picks a free one and prints it)\n"
    "  --collect DIR   save digits taught on the page to DIR/train-{images,labels}-idx*-ubyte\n"
    "                  (readable with --data DIR); without it teaching is disabled\n"
    "  --workers N     request threads, each with its own inference context (default 4)\n"
    "\n"
    "API: POST /api/predict (PNG/JPEG body or JSON {\"pixels\":[784]}), GET /api/model,\n"
    "     POST /api/samples?label=D (image body) or JSON {\"pixels\":[784],\"label\":D},\n"
    "     GET /healthz.\n";

/* Matches "--name VALUE" and "--name=VALUE"; advances *i past the value. */
static int option(const char *name, int argc, char **argv, int *i, const char **value) {
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != '\0') return 0;
    *value = *i + 1 < argc ? argv[++*i] : NULL;
    return 1;
}

int cmd_serve(int argc, char **argv) {
    const char *cmd = "serve", *model_path = NULL, *v;
    dn_server_opts o;
    dn_server_opts_default(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        long n;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(USAGE, stdout);
            return EXIT_OK;
        } else if (option("--host", argc, argv, &i, &v)) {
            if (!v || !*v) return cli_usage_error(cmd, "--host needs an address");
            o.host = v;
        } else if (option("--port", argc, argv, &i, &v)) {
            if (!v) return cli_usage_error(cmd, "--port needs a number");
            if (cli_parse_long(cmd, "--port", v, 0, 65535, &n)) return EXIT_USAGE;
            o.port = (int)n;
        } else if (option("--workers", argc, argv, &i, &v)) {
            if (!v) return cli_usage_error(cmd, "--workers needs a number");
            if (cli_parse_long(cmd, "--workers", v, 1, 256, &n)) return EXIT_USAGE;
            o.workers = (int)n;
        } else if (option("--collect", argc, argv, &i, &v)) {
            if (!v || !*v) return cli_usage_error(cmd, "--collect needs a directory");
            o.collect_dir = v;
        } else if (a[0] == '-' && a[1] != '\0') {
            return cli_usage_error(cmd, "unknown option '%s'", a);
        } else if (!model_path) {
            model_path = a;
        } else {
            return cli_usage_error(cmd, "unexpected argument '%s'", a);
        }
    }
    if (!model_path) model_path = cli_default_model();
    dn_model *m = cli_load_model(cmd, model_path);
    if (!m) return EXIT_RUNTIME;
    /* Concurrency comes from the worker pool; one request is one thread. */
    dn_set_threads(1);

    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, &old); /* the server threads inherit this */
    signal(SIGPIPE, SIG_IGN);

    dn_server *srv = NULL;
    dn_error err = {{0}};
    if (dn_server_start(m, &o, &srv, &err) != DN_OK) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        dn_model_free(m);
        return cli_error(cmd, "%s", err.msg);
    }
    int v6 = strchr(o.host, ':') != NULL;
    printf("digitnet: serving http://%s%s%s:%d/\n", v6 ? "[" : "", o.host, v6 ? "]" : "",
           dn_server_port(srv));
    if (o.collect_dir) printf("digitnet: taught digits are saved in %s\n", o.collect_dir);
    fflush(stdout);
    fprintf(stderr, "digitnet: model %s; press Ctrl-C to stop\n", model_path);

    int sig = 0;
    while (sigwait(&stop, &sig) != 0) {
    }
    fprintf(stderr, "digitnet: %s received, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    dn_server_stop(srv);
    dn_model_free(m);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return EXIT_OK;
}
