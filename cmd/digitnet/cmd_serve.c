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
    "      --host ADDR     address to bind (default 127.0.0.1; 0.0.0.0 opens it to the\n"
    "                      network)\n"
    "      --port N        TCP port (default 8080; 0 picks a free one and prints it)\n"
    "      --collect DIR   save digits taught on the page to\n"
    "                      DIR/train-{images,labels}-idx*-ubyte (readable with --data DIR);\n"
    "                      without it teaching is disabled\n"
    "      --workers N     inference contexts: uploads decoded and run at once (default 4)\n"
    "  -h, --help          this help\n"
    "\n"
    "API: POST /api/predict (PNG/JPEG body or JSON {\"pixels\":[784]}), GET /api/model,\n"
    "     POST /api/samples?label=D (image body) or JSON {\"pixels\":[784],\"label\":D},\n"
    "     GET /healthz.\n";

int cmd_serve(int argc, char **argv) {
    static const struct option opts[] = {
        {"host", required_argument, 0, 'H'},    {"port", required_argument, 0, 'p'},
        {"workers", required_argument, 0, 'w'}, {"collect", required_argument, 0, 'C'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    const char *cmd = "serve", *model_path = NULL;
    dn_server_opts o;
    dn_server_opts_default(&o);
    int opt, first = 1;
    long n;
    while ((opt = cli_getopt(cmd, argc, argv, "h", opts, &first)) != -1) {
        switch (opt) {
        case 'H':
            if (!*optarg) return cli_usage_error(cmd, "--host needs an address");
            o.host = optarg;
            break;
        case 'p':
            if (cli_parse_long(cmd, "--port", optarg, 0, 65535, &n)) return EXIT_USAGE;
            o.port = (int)n;
            break;
        case 'w':
            if (cli_parse_long(cmd, "--workers", optarg, 1, 256, &n)) return EXIT_USAGE;
            o.workers = (int)n;
            break;
        case 'C':
            if (!*optarg) return cli_usage_error(cmd, "--collect needs a directory");
            o.collect_dir = optarg;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return EXIT_OK;
        default:
            return EXIT_USAGE; /* cli_getopt said why */
        }
    }
    int rc;
    dn_model *m = cli_model_arg(cmd, argc, argv, &model_path, &rc);
    if (!m) return rc;
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
