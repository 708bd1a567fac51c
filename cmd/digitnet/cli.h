/*
 * cli.h — shared pieces of the digitnet command line: the subcommand entry
 * points and small helpers. cmd/ is the only place that prints and exits.
 *
 * Exit codes: 0 ok, 1 runtime error, 2 usage error.
 */
#ifndef DN_CLI_H
#define DN_CLI_H

#include "digitnet.h"
#include <getopt.h>
#include <stdio.h>

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* Each subcommand gets argv with argv[0] = subcommand name. */
int cmd_train(int argc, char **argv);
int cmd_test(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
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

/* getopt_long for every subcommand, with one convention: -h and --help are
 * answered with help (returned as 'h': shortopts and longopts must list
 * them), and an unknown option or a missing value is reported once, as
 * "digitnet CMD: unknown option '--x'" plus the --help hint, and returned
 * as '?'. Resets the parser when *first is set (clearing it). */
int cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
               const struct option *longopts, int *first);

/* 1 when escape codes may be written to out: a terminal whose TERM is set
 * and is not "dumb". */
int cli_fancy_terminal(FILE *out);

/* Writes s as a JSON string (quotes included): control characters and
 * quotes escaped, and any byte that is not part of valid UTF-8 replaced by
 * U+FFFD, so the output is valid JSON and valid UTF-8 whatever s holds. */
void cli_json_string(FILE *f, const char *s);

/* Before any work: 0 when out is not one of the n inputs in[] (NULL
 * entries skipped); otherwise says "OUT is also an input" as a usage error
 * and returns EXIT_USAGE. Files are compared by device and inode, so two
 * names of one file (a link, ./x and x) count as the same. */
int cli_output_not_input(const char *cmd, const char *out, const char *const *in, int n);

/* Writes v as a JSON number with `digits` significant digits, or null when
 * it is NaN or infinite (which JSON cannot represent). */
void cli_json_number(FILE *f, double v, int digits);

/* Writes s for a terminal: as cli_json_string without quotes or escapes,
 * every control character (ESC included) printed as '?', so that text
 * from a file (metadata, file names) cannot drive the terminal. */
void cli_print_clean(FILE *f, const char *s);

/* The model used when MODEL is omitted: $DIGITNET_MODEL, else the shipped
 * mnist-cnn.dnm, else mnist-mlp.dnm, found next to the executable: the
 * installed PREFIX/share/digitnet/models (from PREFIX/bin/digitnet) or the
 * source tree's models/ (from build/digitnet), whatever the working
 * directory. NULL, after printing why, when there is none. */
const char *cli_default_model(const char *cmd);

/* The one optional MODEL argument left after options (argv[optind]):
 * loads it, or the default model when there is none. NULL after printing
 * the error (a second argument is a usage error: *rc = EXIT_USAGE,
 * otherwise EXIT_RUNTIME). *path gets the model's path. */
dn_model *cli_model_arg(const char *cmd, int argc, char **argv, const char **path, int *rc);

/* Parses an integer/float option value strictly (whole string, range);
 * returns 0 on success, prints a usage error and returns -1 otherwise. */
int cli_parse_long(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
int cli_parse_float(const char *cmd, const char *opt, const char *s, double lo, double hi,
                    double *out);

/* Loads a model, printing a clear error on failure. NULL on failure. */
dn_model *cli_load_model(const char *cmd, const char *path);

/* Takes the output lock of a long-running writer (train): an exclusive
 * flock on PATH.lock, which holds the owner's pid, so that a second
 * writer of PATH fails at once with "PATH is being written by another
 * digitnet (pid N)" instead of both racing to replace it. While it is
 * held, temporary files PATH.tmp.* left by a killed earlier run are
 * removed. Returns the lock's descriptor, or -1 after printing the error;
 * cli_unlock_output removes the lock file and closes it. */
int cli_lock_output(const char *cmd, const char *path);
void cli_unlock_output(int fd, const char *path);

/* Removes the temporary files PATH.tmp.RANDOM that a killed writer of
 * PATH left behind; only safe while holding PATH's output lock. */
void cli_remove_stale_temps(const char *path);

/* The epochs of a stored training history (dn_history_parse) in a malloc'd
 * array; NULL with *n = 0 when there are none or memory ran out. */
dn_epoch_record *cli_history(const char *text, size_t *n);

/* Temperature scaling of m on the validation split val (dn_model_calibrate),
 * kept only when it lowers val's calibration error: a network that is
 * already calibrated by that measure keeps its temperature. *before and
 * *after (the evaluations at the old and the kept temperature), *t0 and *t
 * (the old and the kept one) are filled; *fitted is the fitted one. */
dn_status cli_calibrate(dn_model *m, const dn_dataset *val, dn_eval *before, dn_eval *after,
                        double *t0, double *t, double *fitted, dn_error *err);

/* 1 when the path names an existing model file (ends in .dnm or starts with the magic). */
int cli_is_model_file(const char *path);

#endif
