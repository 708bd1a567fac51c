/*
 * cmd_serve.c — `digitnet serve`: the web page and JSON API over a model.
 *
 *   digitnet serve [MODEL] [--host ADDR] [--port N] [--collect DIR] [--workers N]
 *
 * Loads the model, starts the server, prints the URL (with the real port
 * when --port 0 asked for any free one) and serves until SIGINT or SIGTERM,
 * then stops the workers and frees everything.  The signal handler only
 * writes a byte to a pipe that the main thread waits on: it is safe in
 * whichever thread the kernel picks (threads made by libraries before the
 * server started cannot have their signal mask changed), and the shutdown
 * itself runs in the main thread, outside any handler.
 */
#include "cli.h"
#include "server/http.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The self-pipe written by the signal handler (async-signal-safe). */
static int stop_pipe[2] = {-1, -1};

static void restore_signals(const struct sigaction *old_int, const struct sigaction *old_term) {
    sigaction(SIGINT, old_int, NULL);
    sigaction(SIGTERM, old_term, NULL);
    close(stop_pipe[0]);
    close(stop_pipe[1]);
    stop_pipe[0] = stop_pipe[1] = -1;
}

static void on_stop(int sig) {
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    ssize_t r = write(stop_pipe[1], &b, 1);
    (void)r;
    errno = saved;
}

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

    if (pipe(stop_pipe) != 0) {
        dn_model_free(m);
        return cli_error(cmd, "cannot create a pipe: %s", strerror(errno));
    }
    fcntl(stop_pipe[0], F_SETFD, FD_CLOEXEC);
    fcntl(stop_pipe[1], F_SETFD, FD_CLOEXEC);
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    signal(SIGPIPE, SIG_IGN);

    dn_server *srv = NULL;
    dn_error err = {{0}};
    if (dn_server_start(m, &o, &srv, &err) != DN_OK) {
        restore_signals(&old_int, &old_term);
        dn_model_free(m);
        return cli_error(cmd, "%s", err.msg);
    }
    int v6 = strchr(o.host, ':') != NULL;
    printf("digitnet: serving http://%s%s%s:%d/\n", v6 ? "[" : "", o.host, v6 ? "]" : "",
           dn_server_port(srv));
    if (o.collect_dir) printf("digitnet: taught digits are saved in %s\n", o.collect_dir);
    fflush(stdout);
    fprintf(stderr, "digitnet: model %s; press Ctrl-C to stop\n", model_path);

    unsigned char sig = 0;
    while (read(stop_pipe[0], &sig, 1) < 0 && errno == EINTR) {
    }
    fprintf(stderr, "digitnet: %s received, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    dn_server_stop(srv);
    dn_model_free(m);
    restore_signals(&old_int, &old_term);
    return EXIT_OK;
}
