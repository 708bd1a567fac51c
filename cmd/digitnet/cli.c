/*
 * cli.c — helpers shared by the subcommands: error printing, strict number
 * parsing, default model lookup and model loading.
 */
#include "cli.h"
#include "datasets.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static void put_text(FILE *f, const char *str, int json);

/* Messages may carry names and text from files: printed cleaned. */
static void vreport(const char *cmd, const char *kind, const char *fmt, va_list ap) {
    char msg[4096];
    vsnprintf(msg, sizeof msg, fmt, ap);
    fprintf(stderr, "digitnet %s: %s", cmd, kind);
    cli_print_clean(stderr, msg);
    fputc('\n', stderr);
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport(cmd, "", fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try 'digitnet %s --help'.\n", cmd);
    return EXIT_USAGE;
}

int cli_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport(cmd, "error: ", fmt, ap);
    va_end(ap);
    return EXIT_RUNTIME;
}

int cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
               const struct option *longopts, int *first) {
    char spec[128];
    /* a leading ':' makes getopt return ':' for a missing value */
    snprintf(spec, sizeof spec, ":%s", shortopts);
    if (*first) {
        optind = 1;
        *first = 0;
    }
    opterr = 0;
    int prev = optind;
    int opt = getopt_long(argc, argv, spec, longopts, NULL);
    if (opt != '?' && opt != ':') return opt;
    const char *arg = optind > prev && optind - 1 < argc ? argv[optind - 1] : argv[prev];
    char shortname[3] = {'-', (char)optopt, 0};
    /* a short option inside a group (-qx): name the letter */
    if (optopt && arg[0] == '-' && arg[1] != '-') arg = shortname;
    if (opt == ':')
        cli_usage_error(cmd, "option '%s' needs a value", arg);
    else
        cli_usage_error(cmd, "unknown option '%s'", arg);
    return '?';
}

/* The length of the valid UTF-8 sequence at s (1..4), 0 when invalid. */
static int utf8_len(const unsigned char *s) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    int n = c >= 0xC2 && c <= 0xDF   ? 2
            : c >= 0xE0 && c <= 0xEF ? 3
            : c >= 0xF0 && c <= 0xF4 ? 4
                                     : 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (n == 3 && ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F))) return 0;
    if (n == 4 && ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))) return 0;
    return n;
}

/* The common walk of cli_json_string and cli_print_clean. */
static void put_text(FILE *f, const char *str, int json) {
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        int n = utf8_len(s);
        if (!n) {
            fputs("\xEF\xBF\xBD", f); /* U+FFFD */
            s++;
        } else if (n > 1) {
            fwrite(s, 1, (size_t)n, f);
            s += n;
        } else {
            unsigned char c = *s++;
            if (json && (c == '"' || c == '\\'))
                fprintf(f, "\\%c", c);
            else if (c < 0x20 || c == 0x7f)
                json ? fprintf(f, "\\u%04x", c) : fputc('?', f);
            else
                fputc(c, f);
        }
    }
}

int cli_output_not_input(const char *cmd, const char *out, const char *const *in, int n) {
    struct stat so, si;
    if (!out || stat(out, &so) != 0) return 0; /* a new file is nobody's input */
    for (int i = 0; i < n; i++)
        if (in[i] && stat(in[i], &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
            return cli_usage_error(cmd, "%s is also an input (%s): writing it would destroy it",
                                   out, in[i]);
    return 0;
}

void cli_json_number(FILE *f, double v, int digits) {
    if (isfinite(v))
        fprintf(f, "%.*g", digits, v);
    else
        fputs("null", f);
}

void cli_json_string(FILE *f, const char *s) {
    fputc('"', f);
    put_text(f, s, 1);
    fputc('"', f);
}

void cli_print_clean(FILE *f, const char *s) {
    put_text(f, s, 0);
}

int cli_fancy_terminal(FILE *out) {
    const char *term = getenv("TERM");
    return term && *term && strcmp(term, "dumb") != 0 && isatty(fileno(out));
}

/* The folder of the running executable (resolved, no trailing '/'). */
static int exe_dir(char *buf, size_t n) {
    ssize_t r = readlink("/proc/self/exe", buf, n - 1);
    if (r <= 0 || (size_t)r >= n - 1) return -1;
    buf[r] = 0;
    char *slash = strrchr(buf, '/');
    if (!slash) return -1;
    *slash = 0;
    return 0;
}

const char *cli_default_model(const char *cmd) {
    static char buf[PATH_MAX + 1];
    const char *env = getenv("DIGITNET_MODEL");
    if (env && *env) return env;
    char dir[4096];
    if (exe_dir(dir, sizeof dir) != 0)
        return cli_error(cmd, "no MODEL given, and the shipped models cannot be located; "
                              "name a model file or set DIGITNET_MODEL"),
               NULL;
    /* installed: PREFIX/bin/digitnet and PREFIX/share/digitnet/models;
     * in the source tree: build/digitnet and models/ */
    static const char *const where[] = {"%s/../share/digitnet/models/%s", "%s/../models/%s"};
    static const char *const names[] = {"mnist-cnn.dnm", "mnist-mlp.dnm"};
    for (int w = 0; w < 2; w++)
        for (int i = 0; i < 2; i++) {
            char cand[sizeof buf];
            snprintf(cand, sizeof cand, where[w], dir, names[i]);
            if (access(cand, R_OK) == 0 && realpath(cand, buf)) return buf;
        }
    cli_error(cmd,
              "no MODEL given, and no shipped model in %s/../share/digitnet/models or "
              "%s/../models; name a model file or set DIGITNET_MODEL",
              dir, dir);
    return NULL;
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

dn_model *cli_model_arg(const char *cmd, int argc, char **argv, const char **path, int *rc) {
    *rc = EXIT_RUNTIME;
    if (argc - optind > 1) {
        *rc = cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
        return NULL;
    }
    *path = optind < argc ? argv[optind] : cli_default_model(cmd);
    return *path ? cli_load_model(cmd, *path) : NULL;
}

dn_status cli_calibrate(dn_model *m, const dn_dataset *val, dn_eval *before, dn_eval *after,
                        double *t0, double *t, double *fitted, dn_error *err) {
    *t0 = dn_model_temperature(m);
    char old[32];
    snprintf(old, sizeof old, "%.6f", *t0);
    dn_status st = dn_model_evaluate(m, val, before, err);
    if (st != DN_OK) return st;
    st = dn_model_calibrate(m, val, fitted, err);
    if (st == DN_OK) st = dn_model_evaluate(m, val, after, err);
    *t = *fitted;
    if (st == DN_OK && after->ece < before->ece) return DN_OK;
    /* not better, or not measured: the model keeps what it had */
    if (dn_model_set_meta(m, "temperature", old) != DN_OK && st == DN_OK)
        st = ds_fail(err, DN_E_NOMEM, "out of memory");
    *t = *t0;
    *after = *before;
    return st;
}

int cli_is_model_file(const char *path) {
    size_t n = strlen(path);
    if (n > 4 && !strcmp(path + n - 4, ".dnm")) return 1;
    FILE *f = ds_fopen_regular(path);
    if (!f) return 0;
    char magic[8];
    int ok = fread(magic, 1, 8, f) == 8 && !memcmp(magic, "DIGITNET", 8);
    fclose(f);
    return ok;
}

/* PATH.lock in a malloc'd string; NULL when out of memory. */
static char *lock_name(const char *path) {
    size_t n = strlen(path) + 6;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s.lock", path);
    return s;
}

int cli_lock_output(const char *cmd, const char *path) {
    char *lock = lock_name(path);
    if (!lock) return cli_error(cmd, "out of memory"), -1;
    for (int tries = 0; tries < 100; tries++) {
        int fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
        struct stat a, b;
        if (fd < 0 || fstat(fd, &a) != 0 || !S_ISREG(a.st_mode)) {
            int e = fd < 0 ? errno : EINVAL;
            if (fd >= 0) close(fd);
            free(lock);
            return cli_error(cmd, "%s: cannot write: %s", path,
                             e == ELOOP ? "its lock file is a link" : strerror(e)),
                   -1;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            char pid[32] = {0};
            ssize_t r = read(fd, pid, sizeof pid - 1);
            close(fd);
            free(lock);
            long who = r > 0 ? strtol(pid, NULL, 10) : 0;
            if (who > 0)
                return cli_error(cmd, "%s is being written by another digitnet (pid %ld)", path,
                                 who),
                       -1;
            return cli_error(cmd, "%s is being written by another digitnet", path), -1;
        }
        /* the lock file may have been removed by its previous owner between
         * our open and our flock: then lock the new one */
        if (stat(lock, &b) != 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
            close(fd);
            continue;
        }
        char pid[32];
        int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
        if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
            /* the pid is only for the message; the lock holds anyway */
        }
        free(lock);
        cli_remove_stale_temps(path);
        return fd;
    }
    free(lock);
    return cli_error(cmd, "%s: cannot take its lock", path), -1;
}

void cli_unlock_output(int fd, const char *path) {
    if (fd < 0) return;
    char *lock = lock_name(path);
    if (lock) unlink(lock); /* while still holding it: a waiter then retries */
    free(lock);
    close(fd);
}

void cli_remove_stale_temps(const char *path) {
    char *copy = strdup(path), *copy2 = strdup(path);
    if (!copy || !copy2) {
        free(copy);
        free(copy2);
        return;
    }
    const char *dir = dirname(copy), *base = basename(copy2);
    size_t nb = strlen(base);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        const char *name = e->d_name;
        /* BASE.tmp. followed by the 12 random characters of dn_atomic_open */
        if (strncmp(name, base, nb) || strncmp(name + nb, ".tmp.", 5) ||
            strlen(name + nb + 5) != 12)
            continue;
        char full[4096];
        if (snprintf(full, sizeof full, "%s/%s", dir, name) >= (int)sizeof full) continue;
        struct stat st;
        if (lstat(full, &st) == 0 && (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))) unlink(full);
    }
    if (d) closedir(d);
    free(copy);
    free(copy2);
}

dn_epoch_record *cli_history(const char *text, size_t *n) {
    *n = dn_history_parse(text, NULL, 0);
    dn_epoch_record *h = *n ? calloc(*n, sizeof *h) : NULL;
    if (h) dn_history_parse(text, h, *n);
    if (!h) *n = 0;
    return h;
}
