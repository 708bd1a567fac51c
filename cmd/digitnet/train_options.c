/*
 * train_options.c — the options of `digitnet train` (see train_cli.h): one
 * table says, for every option, its name, what it sets in train_cli, the
 * bounds of its value and whether --resume accepts it; the getopt table,
 * the checks and the --config reader all follow from it.  A few options do
 * more than store a value (an optimiser or schedule name, the thread
 * count, --augment's presets): those are the `special` ones.
 */
#include "cli.h"
#include "train_cli.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *usage_text =
    "usage: digitnet train [OPTIONS] -o MODEL\n"
    "\n"
    "Trains a network on MNIST-style data (the last --val images of the training\n"
    "set are held out for validation and best-epoch selection) and saves it.\n"
    "\n"
    "  -a, --arch ARCH        architecture (default mlp = 784-128-64-10):\n"
    "                         784-128-64-10       MLP sizes (input-hidden...-output)\n"
    "                         mlp | lenet5 | cnn  presets\n"
    "                         conv5x5x32-relu-pool2-conv5x5x64-relu-pool2-fc128-relu-drop0.5-fc10\n"
    "                         tokens: fcN convKxKxC[sS][pP|same] poolK avgpoolK dropP bn gap\n"
    "                                 flatten relu sigmoid tanh deskew\n"
    "      --act NAME         activation for the MLP form: relu (default), sigmoid, tanh\n"
    "  -e, --epochs N         epochs (default 10)\n"
    "  -b, --batch N          mini-batch size (default 64; 0 = full batch)\n"
    "      --lr X             learning rate (default 0.1 sgd, 0.05 momentum, 0.001 adam)\n"
    "      --optimizer NAME   sgd (default), momentum, nesterov, adam\n"
    "      --momentum X       momentum coefficient (default 0.9)\n"
    "      --weight-decay X   L2 weight decay (default 0)\n"
    "      --beta1 X --beta2 X  Adam's moment decay rates (default 0.9, 0.999)\n"
    "      --schedule NAME    constant (default), step, cosine (per epoch), onecycle\n"
    "                         (per step: linear rise over --warmup, linear fall to --lr-min)\n"
    "      --step-epochs N    step schedule period (default 10)\n"
    "      --gamma X          step schedule factor (default 0.1)\n"
    "      --warmup F         onecycle: fraction of all steps spent rising (default 0.3)\n"
    "      --lr-min X         cosine and onecycle: the final learning rate (default 0)\n"
    "      --label-smoothing S  train towards (1-S) on the label, S/10 spread (default 0)\n"
    "      --seed N           RNG seed for init, shuffling, dropout, augmentation (default 1)\n"
    "  -j, --threads N        worker threads (default: all cores; 1 = bit-reproducible)\n"
    "  -d, --data PATH        training data (default data/mnist): a directory of\n"
    "                         MNIST-named IDX files (raw or .gz), a folder with\n"
    "                         subfolders 0..9 of images, or a Kaggle CSV file\n"
    "      --normalize        read --data image folders of any size through the\n"
    "                         MNIST normalisation (without it: 28x28, white on black)\n"
    "      --invert           invert --data folder images as they are read\n"
    "      --test-data PATH   the test set for the end of the run (default: the\n"
    "                         test split of --data when it is an IDX directory)\n"
    "      --val N            validation images held out (default 5000)\n"
    "      --subset N         use only the first N training images (quick experiments;\n"
    "                         with --extra or --finetune, of the mixed data, whose\n"
    "                         extra digits come first)\n"
    "      --augment          shortcut for --shift 2 --rotate 10 --scale 0.1\n"
    "      --shift N --rotate DEG --scale F --elastic ALPHA   augmentation (off by default)\n"
    "      --no-test          do not evaluate on the test set at the end\n"
    "      --finetune MODEL   continue training MODEL (its architecture) on --data DIR,\n"
    "                         e.g. digits collected by 'digitnet serve --collect DIR',\n"
    "                         mixed with MNIST so it does not forget (default 3 epochs)\n"
    "      --mnist DIR        MNIST for mixing and the test set (default data/mnist)\n"
    "      --extra PATH       a new run: mix the labeled digits at PATH (read like\n"
    "                         --data, e.g. with --normalize) into the training part\n"
    "                         of --data (MNIST-named IDX files), whose last --val\n"
    "                         images stay the validation set; fewer than 6,000 are\n"
    "                         repeated to about 6,000\n"
    "  -c, --config FILE      read options from FILE: one 'option = value' per line\n"
    "                         (e.g. 'arch = lenet5'), '#' comments; the command line wins\n"
    "  -q, --quiet            no progress output\n"
    "  -o, --output MODEL     where to save the model (written atomically)\n"
    "  -h, --help             this help\n"
    "\n"
    "Live dashboard:\n"
    "      --serve            serve a page that follows the run in a browser: loss per\n"
    "                         batch, accuracy per epoch, images/s, ETA and, at the end,\n"
    "                         the test accuracy and confusion matrix (JSON at\n"
    "                         /api/train); its address is printed at once, also with -q.\n"
    "                         After training the page stays up until Ctrl-C or SIGTERM\n"
    "                         (a signal during training stops training as usual)\n"
    "      --port N           dashboard port (default 8080; 0 picks a free one)\n"
    "      --host ADDR        dashboard address (default 127.0.0.1; 0.0.0.0 opens it to\n"
    "                         the network)\n"
    "\n"
    "Crash safety: after every epoch the whole training state is written atomically\n"
    "to MODEL.ckpt (a full batch of 200 epochs or more: every hundredth of them and\n"
    "the last), which is removed once MODEL is saved. If the run is killed, the\n"
    "machine crashes or Ctrl-C stops it, continue with --resume. A run that diverges\n"
    "keeps the checkpoint of its last good epoch.\n"
    "      --resume CKPT      continue the run saved in CKPT with its stored settings,\n"
    "                         data source and thread count (only -o, -q, -j, --data,\n"
    "                         --mnist, --no-test, the checkpoint and dashboard options\n"
    "                         may be given); with the same thread count the final model\n"
    "                         is bit-identical to an uninterrupted run's\n"
    "      --checkpoint PATH  write checkpoints to PATH instead of MODEL.ckpt\n"
    "      --no-checkpoint    write no checkpoints\n";

/* What an option does with its value. */
typedef enum { T_STR, T_FLAG, T_INT, T_SIZE, T_U64, T_FLOAT, T_SPECIAL, T_NOARG } opt_kind;

/* Offsets into train_cli, stored plus one so that 0 means "none". */
#define AT(field) (offsetof(train_cli, field) + 1)

typedef struct opt_def {
    const char *name;
    int val;       /* the short option letter, 0 for a long option only */
    opt_kind kind; /* T_NOARG: a special option without a value */
    size_t at;     /* AT(the field set), 0 for special ones */
    double lo, hi; /* bounds of a number */
    size_t set;    /* AT(an int set to 1 when the option is given), or 0 */
    int resume_ok; /* does not change what is trained: --resume accepts it */
} opt_def;

static const opt_def defs[] = {
    {.name = "arch", .val = 'a', .kind = T_STR, .at = AT(arch)},
    {.name = "act", .kind = T_STR, .at = AT(act)},
    {.name = "epochs",
     .val = 'e',
     .kind = T_INT,
     .at = AT(o.epochs),
     .lo = 1,
     .hi = 100000,
     .set = AT(epochs_set)},
    {.name = "batch", .val = 'b', .kind = T_INT, .at = AT(o.batch), .hi = 1000000},
    {.name = "lr", .kind = T_FLOAT, .at = AT(o.lr), .lo = 1e-12, .hi = 1e6, .set = AT(lr_set)},
    {.name = "optimizer", .kind = T_SPECIAL},
    {.name = "momentum", .kind = T_FLOAT, .at = AT(o.momentum), .hi = 0.9999},
    {.name = "weight-decay", .kind = T_FLOAT, .at = AT(o.weight_decay), .hi = 1},
    {.name = "schedule", .kind = T_SPECIAL},
    {.name = "step-epochs", .kind = T_INT, .at = AT(o.step_epochs), .lo = 1, .hi = 100000},
    {.name = "gamma", .kind = T_FLOAT, .at = AT(o.gamma), .hi = 1},
    {.name = "beta1", .kind = T_FLOAT, .at = AT(o.beta1), .hi = 0.9999999},
    {.name = "beta2", .kind = T_FLOAT, .at = AT(o.beta2), .hi = 0.9999999},
    {.name = "warmup", .kind = T_FLOAT, .at = AT(o.warmup), .hi = 0.99},
    {.name = "lr-min", .kind = T_FLOAT, .at = AT(o.lr_min), .hi = 10},
    {.name = "label-smoothing", .kind = T_FLOAT, .at = AT(o.label_smoothing), .hi = 0.5},
    {.name = "seed", .kind = T_U64, .at = AT(o.seed), .hi = 0x7fffffffL},
    {.name = "threads",
     .val = 'j',
     .kind = T_SPECIAL,
     .hi = 256,
     .set = AT(threads_set),
     .resume_ok = 1},
    {.name = "data", .val = 'd', .kind = T_STR, .at = AT(data), .resume_ok = 1},
    {.name = "val", .kind = T_SIZE, .at = AT(o.val_count), .hi = 100000000},
    {.name = "augment", .kind = T_NOARG},
    {.name = "shift", .kind = T_INT, .at = AT(o.aug_shift), .hi = 10},
    {.name = "rotate", .kind = T_FLOAT, .at = AT(o.aug_rotate), .hi = 90},
    {.name = "scale", .kind = T_FLOAT, .at = AT(o.aug_scale), .hi = 0.5},
    {.name = "elastic", .kind = T_FLOAT, .at = AT(o.aug_elastic), .hi = 100},
    {.name = "no-test", .kind = T_NOARG, .set = AT(notest_set), .resume_ok = 1},
    {.name = "finetune", .kind = T_STR, .at = AT(finetune)},
    {.name = "extra", .kind = T_STR, .at = AT(extra)},
    {.name = "mnist", .kind = T_STR, .at = AT(mnist), .resume_ok = 1},
    {.name = "subset", .kind = T_SIZE, .at = AT(subset), .lo = 1, .hi = 100000000},
    {.name = "test-data", .kind = T_STR, .at = AT(test_data), .resume_ok = 1},
    {.name = "normalize", .kind = T_FLAG, .at = AT(normalize), .resume_ok = 1},
    {.name = "invert", .kind = T_FLAG, .at = AT(invert), .resume_ok = 1},
    {.name = "config", .val = 'c', .kind = T_STR, .at = AT(config), .resume_ok = 1},
    {.name = "quiet", .val = 'q', .kind = T_FLAG, .at = AT(quiet), .resume_ok = 1},
    {.name = "output", .val = 'o', .kind = T_STR, .at = AT(out), .resume_ok = 1},
    {.name = "resume", .kind = T_STR, .at = AT(resume), .resume_ok = 1},
    {.name = "checkpoint", .kind = T_STR, .at = AT(ckpt), .resume_ok = 1},
    {.name = "no-checkpoint", .kind = T_FLAG, .at = AT(no_ckpt), .resume_ok = 1},
    {.name = "serve", .kind = T_FLAG, .at = AT(serve), .resume_ok = 1},
    {.name = "port",
     .kind = T_INT,
     .at = AT(port),
     .hi = 65535,
     .set = AT(net_set),
     .resume_ok = 1},
    {.name = "host", .kind = T_SPECIAL, .set = AT(net_set), .resume_ok = 1},
    {.name = "help", .val = 'h', .kind = T_NOARG, .resume_ok = 1},
};
#define NDEFS (sizeof defs / sizeof *defs)

/* getopt's tables, made from defs: a long option's value is 256 + its index. */
static struct option long_opts[NDEFS + 1];
static char short_opts[2 * NDEFS + 1];

static int takes_value(const opt_def *d) {
    return d->kind != T_FLAG && d->kind != T_NOARG;
}

static int value_of(const opt_def *d) {
    return d->val ? d->val : 256 + (int)(d - defs);
}

static void build_options(void) {
    size_t ns = 0;
    for (size_t i = 0; i < NDEFS; i++) {
        const opt_def *d = &defs[i];
        long_opts[i] = (struct option){d->name, takes_value(d) ? required_argument : no_argument, 0,
                                       value_of(d)};
        if (d->val) {
            short_opts[ns++] = (char)d->val;
            if (takes_value(d)) short_opts[ns++] = ':';
        }
    }
    short_opts[ns] = '\0';
}

static const opt_def *find_def(int val) {
    for (size_t i = 0; i < NDEFS; i++)
        if (value_of(&defs[i]) == val) return &defs[i];
    return NULL;
}

/* The options that do more than store their value. */
static int apply_special(train_cli *c, const opt_def *d, const char *arg, const char *L) {
    long l;
    dn_train_opts *o = &c->o;
    if (!strcmp(d->name, "optimizer")) {
        if (dn_optimizer_parse(arg, &o->optimizer) != DN_OK)
            return cli_usage_error("train", "%s: unknown '%s' (sgd, momentum, nesterov, adam)", L,
                                   arg),
                   -1;
        o->nesterov = !strcmp(arg, "nesterov");
    } else if (!strcmp(d->name, "schedule")) {
        if (dn_schedule_parse(arg, &o->schedule) != DN_OK)
            return cli_usage_error("train", "%s: unknown '%s' (constant, step, cosine, onecycle)",
                                   L, arg),
                   -1;
    } else if (!strcmp(d->name, "threads")) {
        if (cli_parse_long("train", L, arg, (long)d->lo, (long)d->hi, &l)) return -1;
        dn_set_threads((int)l);
    } else if (!strcmp(d->name, "augment")) {
        o->aug_shift = 2;
        o->aug_rotate = 10;
        o->aug_scale = 0.1f;
    } else if (!strcmp(d->name, "no-test")) {
        c->test_after = 0;
    } else if (!strcmp(d->name, "host")) {
        if (!*arg) return cli_usage_error("train", "%s needs an address", L), -1;
        c->host = arg;
    } else {
        return -1; /* --help is handled by the caller */
    }
    return 0;
}

/* Applies one option. where is NULL on the command line, "FILE:LINE" for a
 * config file line; messages then name the option that way. */
static int apply_option(train_cli *c, const opt_def *d, const char *arg, const char *where) {
    if (!d) return -1;
    char L[600];
    if (where)
        snprintf(L, sizeof L, "%s: %s", where, d->name);
    else
        snprintf(L, sizeof L, "--%s", d->name);
    if (!d->resume_ok && !c->setting) c->setting = value_of(d);
    char *field = d->at ? (char *)c + d->at - 1 : NULL;
    long l = 0;
    double v = 0;
    switch (d->kind) {
    case T_STR:
        *(const char **)field = arg;
        break;
    case T_FLAG:
        *(int *)field = 1;
        break;
    case T_INT:
    case T_SIZE:
    case T_U64:
        if (cli_parse_long("train", L, arg, (long)d->lo, (long)d->hi, &l)) return -1;
        if (d->kind == T_INT)
            *(int *)field = (int)l;
        else if (d->kind == T_SIZE)
            *(size_t *)field = (size_t)l;
        else
            *(uint64_t *)field = (uint64_t)l;
        break;
    case T_FLOAT:
        if (cli_parse_float("train", L, arg, d->lo, d->hi, &v)) return -1;
        *(float *)field = (float)v;
        break;
    case T_SPECIAL:
    case T_NOARG:
        if (apply_special(c, d, arg, L)) return -1;
        break;
    }
    if (d->set) *(int *)((char *)c + d->set - 1) = 1;
    return 0;
}

/* Applies "option = value" lines of a config file. The file's text is kept
 * in c->config_text because option values point into it. */
static int apply_config(train_cli *c, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return cli_error("train", "%s: cannot open config file: %s", path, strerror(errno)), -1;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return cli_usage_error("train", "%s: is %s, not a config file", path,
                               S_ISDIR(st.st_mode) ? "a directory" : "not a regular file"),
               -1;
    }
    free(c->config_text);
    c->config_text = calloc(1, 65537);
    size_t n = c->config_text ? fread(c->config_text, 1, 65536, f) : 0;
    int too_big = n == 65536 && fgetc(f) != EOF;
    fclose(f);
    if (!c->config_text) return cli_error("train", "out of memory"), -1;
    if (too_big) return cli_usage_error("train", "%s: config file over 64 KiB", path), -1;
    char *text = c->config_text;
    if (!memcmp(text, "\xEF\xBB\xBF", 3)) text += 3; /* a UTF-8 byte order mark */
    int lineno = 0;
    for (char *s = text, *next; s; s = next) {
        lineno++;
        next = strchr(s, '\n');
        if (next) *next++ = 0;
        char *hash = strchr(s, '#');
        if (hash) *hash = 0;
        while (*s == ' ' || *s == '\t') s++;
        size_t len = strlen(s);
        while (len && (s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t')) s[--len] = 0;
        if (!*s) continue;
        char *eq = strpbrk(s, "= \t"), *val = NULL;
        if (eq) {
            *eq = 0;
            val = eq + 1;
            while (*val == ' ' || *val == '\t' || *val == '=') val++;
        }
        char where[512];
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        const opt_def *d = defs;
        while (d < defs + NDEFS && strcmp(d->name, s)) d++;
        if (d == defs + NDEFS || d->val == 'c' || d->val == 'h')
            return cli_usage_error("train", "%s: unknown option '%s'", where, s), -1;
        int takes = takes_value(d);
        if (takes && (!val || !*val))
            return cli_usage_error("train", "%s: option '%s' needs a value", where, s), -1;
        if (!takes && val && *val)
            return cli_usage_error("train", "%s: option '%s' takes no value", where, s), -1;
        if (apply_option(c, d, val, where) != 0) return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- arguments */

int train_parse_args(train_cli *c, int argc, char **argv) {
    int opt, first = 1;
    build_options();
    /* the config file is read first so the command line can override it;
     * a first pass finds it (and --help) */
    const char *config = NULL;
    while ((opt = cli_getopt("train", argc, argv, short_opts, long_opts, &first)) != -1) {
        if (opt == 'h') {
            fputs(usage_text, stdout);
            return -1;
        }
        if (opt == '?') return EXIT_USAGE;
        if (opt == 'c') config = optarg;
    }
    c->config = config;
    if (config && apply_config(c, config)) return EXIT_USAGE;
    first = 1;
    while ((opt = cli_getopt("train", argc, argv, short_opts, long_opts, &first)) != -1) {
        if (opt == 'c') continue;
        if (apply_option(c, find_def(opt), optarg, NULL)) return EXIT_USAGE;
    }
    if (optind < argc) return cli_usage_error("train", "unexpected argument '%s'", argv[optind]);
    if (!c->out) return cli_usage_error("train", "missing -o MODEL (where to save the model)");
    if (!*c->out) return cli_usage_error("train", "-o needs a file name");
    if (c->resume && c->setting) {
        return cli_usage_error("train",
                               "--resume continues with the settings stored in the checkpoint; "
                               "--%s cannot be changed",
                               find_def(c->setting)->name);
    }
    if (c->no_ckpt && c->ckpt)
        return cli_usage_error("train", "--checkpoint and --no-checkpoint exclude each other");
    if (!c->no_ckpt && !c->ckpt) {
        size_t n = strlen(c->out) + 6;
        if (!(c->ckpt_buf = malloc(n))) return cli_error("train", "out of memory");
        snprintf(c->ckpt_buf, n, "%s.ckpt", c->out);
        c->ckpt = c->ckpt_buf;
    }
    if (c->ckpt && !strcmp(c->ckpt, c->out))
        return cli_usage_error("train", "the checkpoint cannot be the model file itself");
    if (c->net_set && !c->serve)
        return cli_usage_error("train", "--port and --host are for the dashboard: add --serve");
    return EXIT_OK;
}
