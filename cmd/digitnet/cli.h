/*
 * cli.h — shared pieces of the digitnet command line: the subcommand entry
 * points and small helpers. cmd/ is the only place that prints and exits.
 *
 * Exit codes: 0 ok, 1 runtime error, 2 usage error.
 */
#ifndef DN_CLI_H
#define DN_CLI_H

#include "digitnet.h"
#include <stdio.h>

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* Each subcommand gets argv with argv[0] = subcommand name. */
int cmd_train(int argc, char **argv);
int cmd_test(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* Prints "digitnet CMD: message" and "Try 'digitnet CMD --help'." to stderr;
 * returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prints "digitnet CMD: error: message" to stderr; returns EXIT_RUNTIME. */
int cli_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The model used when MODEL is omitted: $DIGITNET_MODEL, else
 * models/mnist-cnn.dnm, else models/mnist-mlp.dnm (current directory, then
 * the installed share directory). Returns a static string. */
const char *cli_default_model(void);

/* Parses an integer/float option value strictly (whole string, range);
 * returns 0 on success, prints a usage error and returns -1 otherwise. */
int cli_parse_long(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
int cli_parse_float(const char *cmd, const char *opt, const char *s, double lo, double hi,
                    double *out);

/* Loads a model, printing a clear error on failure. NULL on failure. */
dn_model *cli_load_model(const char *cmd, const char *path);

/* 1 when the path names an existing model file (ends in .dnm or starts with the magic). */
int cli_is_model_file(const char *path);

#endif
