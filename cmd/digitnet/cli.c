/*
 * cli.c — helpers shared by the subcommands: error printing, strict number
 * parsing, default model lookup and model loading.
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef DN_DATADIR
#define DN_DATADIR "/usr/local/share/digitnet"
#endif

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "digitnet %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'digitnet %s --help'.\n", cmd);
    va_end(ap);
    return EXIT_USAGE;
}

int cli_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "digitnet %s: error: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_RUNTIME;
}

const char *cli_default_model(void) {
    static char buf[4096];
    const char *env = getenv("DIGITNET_MODEL");
    if (env && *env) return env;
    static const char *names[] = {"mnist-cnn.dnm", "mnist-mlp.dnm"};
    for (int i = 0; i < 2; i++) {
        snprintf(buf, sizeof buf, "models/%s", names[i]);
        if (access(buf, R_OK) == 0) return buf;
        snprintf(buf, sizeof buf, "%s/models/%s", DN_DATADIR, names[i]);
        if (access(buf, R_OK) == 0) return buf;
    }
    return "models/mnist-mlp.dnm";
}

int cli_parse_long(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        cli_usage_error(cmd, "%s: '%s' is not an integer in %ld..%ld", opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_float(const char *cmd, const char *opt, const char *s, double lo, double hi,
                    double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) {
        cli_usage_error(cmd, "%s: '%s' is not a number in %g..%g", opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

dn_model *cli_load_model(const char *cmd, const char *path) {
    dn_model *m = NULL;
    dn_error err = {{0}};
    if (dn_model_load(path, &m, &err) != DN_OK) {
        cli_error(cmd, "%s", err.msg);
        return NULL;
    }
    return m;
}

int cli_is_model_file(const char *path) {
    size_t n = strlen(path);
    if (n > 4 && !strcmp(path + n - 4, ".dnm")) return 1;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char magic[8];
    int ok = fread(magic, 1, 8, f) == 8 && !memcmp(magic, "DIGITNET", 8);
    fclose(f);
    return ok;
}
