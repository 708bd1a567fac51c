/*
 * train_cli.h — the state of one `digitnet train` run, shared by
 * cmd_train.c (the run: data, progress, checkpoints and --resume, the
 * dashboard, saving) and train_options.c (its options, from the command
 * line and from a --config file).
 */
#ifndef DN_CMD_TRAIN_CLI_H
#define DN_CMD_TRAIN_CLI_H

#include "digitnet.h"

typedef struct train_cli {
    const char *arch, *act, *data, *out, *finetune, *mnist, *test_data;
    const char *extra;         /* --extra: digits mixed into a new run's MNIST */
    int normalize, invert;     /* how image folders given as --data are read */
    int data_is_split;         /* --data was a directory of IDX files (it has a test split) */
    const char *resume, *ckpt; /* --resume CKPT; where checkpoints go (NULL = none) */
    const char *config;        /* --config FILE */
    int epochs_set, mix;       /* mix: user digits + MNIST (--finetune or --extra) */
    size_t subset;
    int lr_set, quiet, test_after, tty, threads_set, no_ckpt, notest_set;
    int setting;                   /* an option that --resume does not accept, 0 = none */
    long kill_after, batches_done; /* the test hooks, see the top of the file */
    const char *pace;              /* DIGITNET_TEST_PACE */
    int lock_fd;                   /* the output lock (cli_lock_output), -1 = none */
    dn_train_opts o;
    double last_draw;
    char *config_text; /* --config file contents; option values point into it */
    char *ckpt_buf, *note_buf, *resume_text;
    /* --serve */
    int serve, port, net_set; /* net_set: --port or --host was given */
    const char *host;
    dn_monitor *mon;
    char url[300];
    char why[1024]; /* the last error message, for the dashboard */
    dn_eval test;   /* the test set evaluation, when have_test */
    int have_test;
} train_cli;

/* Parses the command line (after `train`) into c, a --config file first so
 * that the command line overrides it.  EXIT_OK, EXIT_USAGE after a message,
 * or -1 when --help was printed. */
int train_parse_args(train_cli *c, int argc, char **argv);

#endif
