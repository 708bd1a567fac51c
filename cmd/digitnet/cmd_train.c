/*
 * cmd_train.c — `digitnet train`: options (command line and --config file),
 * the progress display, checkpoints and --resume, and saving the model.
 *
 * A checkpoint MODEL.ckpt is written after every epoch and removed once
 * MODEL is saved; `--resume MODEL.ckpt` rebuilds the run from it (settings,
 * data source recorded in its note, thread count) and continues it.
 *
 * --serve starts the live dashboard (dn_monitor_*, docs/dashboard.md) before
 * the data is loaded and feeds it from the same progress callback as the
 * terminal output. When training has ended (done or failed, not when a
 * signal stopped it) the dashboard keeps serving until SIGINT or SIGTERM;
 * the signal handler then writes a byte to a pipe that the main thread
 * waits on, so it works in whichever thread the kernel delivers it to (the
 * server's threads included), as in cmd_serve.c.
 *
 * Test hooks, so that tests never race the training:
 *   DIGITNET_TEST_KILL_AFTER_BATCHES=N makes the command raise SIGKILL on
 *     itself after N training batches of this process, so tests can
 *     interrupt a run at a deterministic point. (The library's
 *     DIGITNET_TEST_KILL_IN_SAVE exists only in the tests' build of the
 *     CLI, build/tests/digitnet-hooked; see src/checkpoint.h.)
 *   DIGITNET_TEST_PACE=FILE paces the run from outside: after its b-th
 *     training batch (counted over this process) the command waits until
 *     FILE holds a number greater than b; a FILE that is missing or holds
 *     anything else ("go") lets it run freely. The batch is reported (to
 *     the dashboard too) before the wait, so a test can hold a run at a
 *     known batch, look at it, and release it.
 */
#include "cli.h"
#include "datasets.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
    "                                 flatten relu sigmoid tanh\n"
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
    "      --subset N         use only the first N training images (quick experiments)\n"
    "      --augment          shortcut for --shift 2 --rotate 10 --scale 0.1\n"
    "      --shift N --rotate DEG --scale F --elastic ALPHA   augmentation (off by default)\n"
    "      --no-test          do not evaluate on the test set at the end\n"
    "      --finetune MODEL   continue training MODEL (its architecture) on --data DIR,\n"
    "                         e.g. digits collected by 'digitnet serve --collect DIR',\n"
    "                         mixed with MNIST so it does not forget (default 3 epochs)\n"
    "      --mnist DIR        MNIST for mixing and the test set (default data/mnist)\n"
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
    "to MODEL.ckpt, which is removed once MODEL is saved. If the run is killed, the\n"
    "machine crashes or Ctrl-C stops it, continue with --resume. A run that diverges\n"
    "keeps the checkpoint of its last good epoch.\n"
    "      --resume CKPT      continue the run saved in CKPT with its stored settings,\n"
    "                         data source and thread count (only -o, -q, -j, --data,\n"
    "                         --mnist, --no-test, the checkpoint and dashboard options\n"
    "                         may be given); with the same thread count the final model\n"
    "                         is bit-identical to an uninterrupted run's\n"
    "      --checkpoint PATH  write checkpoints to PATH instead of MODEL.ckpt\n"
    "      --no-checkpoint    write no checkpoints\n";

typedef struct train_cli {
    const char *arch, *act, *data, *out, *finetune, *mnist, *test_data;
    int normalize, invert;     /* how image folders given as --data are read */
    int data_is_split;         /* --data was a directory of IDX files (it has a test split) */
    const char *resume, *ckpt; /* --resume CKPT; where checkpoints go (NULL = none) */
    const char *config;        /* --config FILE */
    int epochs_set, mix;       /* mix: fine-tuning data (user digits + MNIST) */
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

static volatile sig_atomic_t interrupted;
static int stop_pipe[2] = {-1, -1}; /* written by on_signal with --serve */

static void on_signal(int sig) {
    int saved = errno;
    interrupted = 1;
    signal(sig, SIG_DFL); /* a second Ctrl-C stops at once */
    if (stop_pipe[1] >= 0) {
        unsigned char b = (unsigned char)sig;
        ssize_t r = write(stop_pipe[1], &b, 1);
        (void)r;
    }
    errno = saved;
}

/* While training, Ctrl-C and SIGTERM stop after the current batch with a
 * resume hint, unless they were ignored when the command started (nohup). */
static void catch_signals(int on) {
    static const int sigs[] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) {
        void (*old)(int) = signal(sigs[i], on ? on_signal : SIG_DFL);
        if (old == SIG_IGN) signal(sigs[i], SIG_IGN);
    }
}

/* ---------------------------------------------------------------- progress */

/* The batch count DIGITNET_TEST_PACE allows; -1 for no limit. */
static long pace_allowed(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char buf[32] = {0};
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *end;
    long v = strtol(buf, &end, 10);
    while (*end == '\n' || *end == ' ') end++;
    return end == buf || *end ? -1 : v;
}

/* Waits while the pace file holds batches_done or less (see the top). */
static void pace_wait(const train_cli *c) {
    const struct timespec tick = {0, 5 * 1000 * 1000};
    for (;;) {
        long allowed = pace_allowed(c->pace);
        if (allowed < 0 || allowed > c->batches_done || interrupted) return;
        nanosleep(&tick, NULL);
    }
}

static int on_progress(const dn_progress *p, void *user) {
    train_cli *c = user;
    if (!p->epoch_done) c->batches_done++;
    if (c->kill_after && !p->epoch_done && c->batches_done >= c->kill_after) raise(SIGKILL);
    if (c->mon) dn_monitor_progress(p, c->mon);
    if (c->pace && !p->epoch_done) pace_wait(c);
    if (interrupted) return 1;
    if (c->quiet) return 0;
    if (p->epoch_done) {
        if (c->tty) fprintf(stderr, "\r\033[K");
        fprintf(stderr, "epoch %d/%d  loss %.4f  train acc %.2f%%  ", p->epoch, p->epochs, p->loss,
                100 * p->train_accuracy);
        if (p->val_accuracy >= 0) fprintf(stderr, "val acc %.2f%%  ", 100 * p->val_accuracy);
        fprintf(stderr, "%.2fs  %.0f img/s\n", p->epoch_seconds, p->images_per_sec);
        return 0;
    }
    if (!c->tty) return 0;
    double now = p->elapsed;
    if (now - c->last_draw < 0.1 && p->batch != p->batches) return 0;
    c->last_draw = now;
    int width = 24, fill = (int)((double)width * p->batch / p->batches);
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    double left = (p->batches - p->batch) * (p->elapsed / (double)p->batch) / 1.0;
    double per_img = p->images_per_sec > 0 ? 1.0 / p->images_per_sec : 0;
    left = (double)(p->batches - p->batch) * ((double)p->images_done / p->batch) * per_img;
    fprintf(stderr, "\r\033[Kepoch %d/%d [%s] %zu/%zu  %.0f img/s  loss %.4f  ETA %.0fs", p->epoch,
            p->epochs, bar, p->batch, p->batches, p->images_per_sec, p->loss, left);
    fflush(stderr);
    return 0;
}

/* ---------------------------------------------------------------- options */

enum {
    O_ACT = 256,
    O_LR,
    O_OPT,
    O_MOM,
    O_WD,
    O_SCHED,
    O_STEP,
    O_GAMMA,
    O_BETA1,
    O_BETA2,
    O_WARMUP,
    O_LRMIN,
    O_SMOOTH,
    O_SEED,
    O_VAL,
    O_AUG,
    O_SHIFT,
    O_ROT,
    O_SCALE,
    O_ELASTIC,
    O_NOTEST,
    O_FINETUNE,
    O_MNIST,
    O_SUBSET,
    O_TESTDATA,
    O_NORMALIZE,
    O_INVERT,
    O_RESUME,
    O_CKPT,
    O_NOCKPT,
    O_SERVE,
    O_PORT,
    O_HOST
};

#define SHORT_OPTS "a:e:b:j:d:c:qo:h"

static const struct option long_opts[] = {{"arch", required_argument, 0, 'a'},
                                          {"act", required_argument, 0, O_ACT},
                                          {"epochs", required_argument, 0, 'e'},
                                          {"batch", required_argument, 0, 'b'},
                                          {"lr", required_argument, 0, O_LR},
                                          {"optimizer", required_argument, 0, O_OPT},
                                          {"momentum", required_argument, 0, O_MOM},
                                          {"weight-decay", required_argument, 0, O_WD},
                                          {"schedule", required_argument, 0, O_SCHED},
                                          {"step-epochs", required_argument, 0, O_STEP},
                                          {"gamma", required_argument, 0, O_GAMMA},
                                          {"beta1", required_argument, 0, O_BETA1},
                                          {"beta2", required_argument, 0, O_BETA2},
                                          {"warmup", required_argument, 0, O_WARMUP},
                                          {"lr-min", required_argument, 0, O_LRMIN},
                                          {"label-smoothing", required_argument, 0, O_SMOOTH},
                                          {"seed", required_argument, 0, O_SEED},
                                          {"threads", required_argument, 0, 'j'},
                                          {"data", required_argument, 0, 'd'},
                                          {"val", required_argument, 0, O_VAL},
                                          {"augment", no_argument, 0, O_AUG},
                                          {"shift", required_argument, 0, O_SHIFT},
                                          {"rotate", required_argument, 0, O_ROT},
                                          {"scale", required_argument, 0, O_SCALE},
                                          {"elastic", required_argument, 0, O_ELASTIC},
                                          {"no-test", no_argument, 0, O_NOTEST},
                                          {"finetune", required_argument, 0, O_FINETUNE},
                                          {"mnist", required_argument, 0, O_MNIST},
                                          {"subset", required_argument, 0, O_SUBSET},
                                          {"test-data", required_argument, 0, O_TESTDATA},
                                          {"normalize", no_argument, 0, O_NORMALIZE},
                                          {"invert", no_argument, 0, O_INVERT},
                                          {"config", required_argument, 0, 'c'},
                                          {"quiet", no_argument, 0, 'q'},
                                          {"output", required_argument, 0, 'o'},
                                          {"resume", required_argument, 0, O_RESUME},
                                          {"checkpoint", required_argument, 0, O_CKPT},
                                          {"no-checkpoint", no_argument, 0, O_NOCKPT},
                                          {"serve", no_argument, 0, O_SERVE},
                                          {"port", required_argument, 0, O_PORT},
                                          {"host", required_argument, 0, O_HOST},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};

/* Options that do not change what is trained, so --resume accepts them. */
static int allowed_with_resume(int opt) {
    static const int ok[] = {'j',      'd',      'q',        'o',         O_MNIST,
                             O_NOTEST, O_RESUME, O_CKPT,     O_NOCKPT,    O_SERVE,
                             O_PORT,   O_HOST,   O_TESTDATA, O_NORMALIZE, O_INVERT};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (opt == ok[i]) return 1;
    return 0;
}

/* Applies one option. where is NULL on the command line, "FILE:LINE" for a
 * config file line; messages then name the option that way. */
static int apply_option(train_cli *c, int opt, const char *arg, const char *where) {
    long l;
    double d;
    const struct option *lo = long_opts;
    while (lo->name && lo->val != opt) lo++;
    char L[600];
    if (where)
        snprintf(L, sizeof L, "%s: %s", where, lo->name ? lo->name : "?");
    else
        snprintf(L, sizeof L, "--%s", lo->name ? lo->name : "?");
    dn_train_opts *o = &c->o;
    if (!allowed_with_resume(opt) && !c->setting) c->setting = opt;
    switch (opt) {
    case 'a':
        c->arch = arg;
        break;
    case O_ACT:
        c->act = arg;
        break;
    case 'e':
        if (cli_parse_long("train", L, arg, 1, 100000, &l)) return -1;
        o->epochs = (int)l;
        c->epochs_set = 1;
        break;
    case 'b':
        if (cli_parse_long("train", L, arg, 0, 1000000, &l)) return -1;
        o->batch = (int)l;
        break;
    case O_LR:
        if (cli_parse_float("train", L, arg, 1e-12, 1e6, &d)) return -1;
        o->lr = (float)d;
        c->lr_set = 1;
        break;
    case O_OPT:
        if (dn_optimizer_parse(arg, &o->optimizer) != DN_OK) {
            cli_usage_error("train", "%s: unknown '%s' (sgd, momentum, nesterov, adam)", L, arg);
            return -1;
        }
        o->nesterov = !strcmp(arg, "nesterov");
        break;
    case O_MOM:
        if (cli_parse_float("train", L, arg, 0, 0.9999, &d)) return -1;
        o->momentum = (float)d;
        break;
    case O_WD:
        if (cli_parse_float("train", L, arg, 0, 1, &d)) return -1;
        o->weight_decay = (float)d;
        break;
    case O_SCHED:
        if (dn_schedule_parse(arg, &o->schedule) != DN_OK) {
            cli_usage_error("train", "%s: unknown '%s' (constant, step, cosine, onecycle)", L, arg);
            return -1;
        }
        break;
    case O_STEP:
        if (cli_parse_long("train", L, arg, 1, 100000, &l)) return -1;
        o->step_epochs = (int)l;
        break;
    case O_GAMMA:
        if (cli_parse_float("train", L, arg, 0, 1, &d)) return -1;
        o->gamma = (float)d;
        break;
    case O_BETA1:
    case O_BETA2:
        if (cli_parse_float("train", L, arg, 0, 0.9999999, &d)) return -1;
        *(opt == O_BETA1 ? &o->beta1 : &o->beta2) = (float)d;
        break;
    case O_WARMUP:
        if (cli_parse_float("train", L, arg, 0, 0.99, &d)) return -1;
        o->warmup = (float)d;
        break;
    case O_LRMIN:
        if (cli_parse_float("train", L, arg, 0, 10, &d)) return -1;
        o->lr_min = (float)d;
        break;
    case O_SMOOTH:
        if (cli_parse_float("train", L, arg, 0, 0.5, &d)) return -1;
        o->label_smoothing = (float)d;
        break;
    case O_SEED:
        if (cli_parse_long("train", L, arg, 0, 0x7fffffffL, &l)) return -1;
        o->seed = (uint64_t)l;
        break;
    case 'j':
        if (cli_parse_long("train", L, arg, 0, 256, &l)) return -1;
        dn_set_threads((int)l);
        c->threads_set = 1;
        break;
    case 'd':
        c->data = arg;
        break;
    case O_VAL:
        if (cli_parse_long("train", L, arg, 0, 100000000, &l)) return -1;
        o->val_count = (size_t)l;
        break;
    case O_AUG:
        o->aug_shift = 2;
        o->aug_rotate = 10;
        o->aug_scale = 0.1f;
        break;
    case O_SHIFT:
        if (cli_parse_long("train", L, arg, 0, 10, &l)) return -1;
        o->aug_shift = (int)l;
        break;
    case O_ROT:
        if (cli_parse_float("train", L, arg, 0, 90, &d)) return -1;
        o->aug_rotate = (float)d;
        break;
    case O_SCALE:
        if (cli_parse_float("train", L, arg, 0, 0.5, &d)) return -1;
        o->aug_scale = (float)d;
        break;
    case O_ELASTIC:
        if (cli_parse_float("train", L, arg, 0, 100, &d)) return -1;
        o->aug_elastic = (float)d;
        break;
    case O_FINETUNE:
        c->finetune = arg;
        break;
    case O_MNIST:
        c->mnist = arg;
        break;
    case O_TESTDATA:
        c->test_data = arg;
        break;
    case O_NORMALIZE:
        c->normalize = 1;
        break;
    case O_INVERT:
        c->invert = 1;
        break;
    case O_SUBSET:
        if (cli_parse_long("train", L, arg, 1, 100000000, &l)) return -1;
        c->subset = (size_t)l;
        break;
    case O_NOTEST:
        c->test_after = 0;
        c->notest_set = 1;
        break;
    case O_RESUME:
        c->resume = arg;
        break;
    case O_CKPT:
        c->ckpt = arg;
        break;
    case O_NOCKPT:
        c->no_ckpt = 1;
        break;
    case O_SERVE:
        c->serve = 1;
        break;
    case O_PORT:
        if (cli_parse_long("train", L, arg, 0, 65535, &l)) return -1;
        c->port = (int)l;
        c->net_set = 1;
        break;
    case O_HOST:
        if (!*arg) return cli_usage_error("train", "%s needs an address", L), -1;
        c->host = arg;
        c->net_set = 1;
        break;
    case 'q':
        c->quiet = 1;
        break;
    case 'o':
        c->out = arg;
        break;
    default:
        return -1;
    }
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
        const struct option *o = long_opts;
        while (o->name && strcmp(o->name, s)) o++;
        if (!o->name || o->val == 'c' || o->val == 'h')
            return cli_usage_error("train", "%s: unknown option '%s'", where, s), -1;
        if (o->has_arg == required_argument && (!val || !*val))
            return cli_usage_error("train", "%s: option '%s' needs a value", where, s), -1;
        if (o->has_arg == no_argument && val && *val)
            return cli_usage_error("train", "%s: option '%s' takes no value", where, s), -1;
        if (apply_option(c, o->val, val, where) != 0) return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- main */

/* How --data folders are read. */
static ds_opts data_opts(const train_cli *c) {
    return (ds_opts){.normalize = c->normalize, .invert = c->invert};
}

static int evaluate_test(train_cli *c, dn_model *m) {
    dn_dataset test = {0};
    dn_error err = {{0}};
    /* the test split of the IDX directory, MNIST's when fine-tuning, or --test-data */
    const char *path = c->test_data       ? c->test_data
                       : c->mix           ? c->mnist
                       : c->data_is_split ? c->data
                                          : NULL;
    if (!path) {
        fprintf(stderr,
                "digitnet train: note: no test set evaluated: %s is not a directory of "
                "IDX files with a test split; name one with --test-data\n",
                c->data);
        return 0;
    }
    ds_opts o = data_opts(c);
    if (ds_load_data(path, "test", &o, &test, NULL, &err) != DN_OK) {
        fprintf(stderr, "digitnet train: note: no test set evaluated: %s\n", err.msg);
        return 0;
    }
    dn_eval ev;
    if (c->mon) dn_monitor_set_state(c->mon, "testing", "evaluating on the test set");
    if (dn_evaluate(m, &test, &ev, &err) == DN_OK) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.6f", ev.accuracy);
        dn_model_set_meta(m, "test_accuracy", buf);
        printf("test accuracy: %.2f%% (%zu/%zu)\n", 100 * ev.accuracy, ev.correct, ev.count);
        c->test = ev;
        c->have_test = 1;
    }
    dn_dataset_free(&test);
    return 0;
}

/* Fine-tuning data: the user's digits first, repeated so they make up about
 * a tenth of an epoch, then all of MNIST's training set, whose tail stays
 * the validation set. */
static dn_status load_finetune_data(const train_cli *c, dn_dataset *out, dn_error *err) {
    dn_dataset user = {0}, mnist = {0};
    ds_opts o = data_opts(c);
    dn_status st = ds_load_data(c->data, "train", &o, &user, NULL, err);
    if (st == DN_OK) st = dn_mnist_load(c->mnist, "train", &mnist, err);
    if (st == DN_OK && (user.rows != 28 || user.cols != 28 || !user.labels))
        st = DN_E_ARG,
        snprintf(err->msg, sizeof err->msg, "%s: need labeled 28x28 images", c->data);
    size_t reps = user.count ? (6000 + user.count - 1) / user.count : 0;
    if (reps > 1000) reps = 1000;
    size_t total = user.count * reps + mnist.count;
    if (st == DN_OK) {
        *out = (dn_dataset){total, 28, 28, malloc(total * 784), malloc(total)};
        if (!out->images || !out->labels) {
            dn_dataset_free(out);
            st = DN_E_NOMEM, snprintf(err->msg, sizeof err->msg, "out of memory");
        }
    }
    if (st == DN_OK) {
        for (size_t r = 0; r < reps; r++) {
            memcpy(out->images + r * user.count * 784, user.images, user.count * 784);
            memcpy(out->labels + r * user.count, user.labels, user.count);
        }
        memcpy(out->images + reps * user.count * 784, mnist.images, mnist.count * 784);
        memcpy(out->labels + reps * user.count, mnist.labels, mnist.count);
        fprintf(stderr, "fine-tuning on %zu of your digits (x%zu) mixed with %zu MNIST digits\n",
                user.count, reps, mnist.count);
    }
    dn_dataset_free(&user);
    dn_dataset_free(&mnist);
    return st;
}

/* ---------------------------------------------------------------- resume */

/* The note stored in every checkpoint: where the data came from, so that
 * --resume can load the same data again. One "key=value" per line. */
static int build_note(train_cli *c) {
    const char *td = c->test_data ? c->test_data : "";
    size_t n = strlen(c->data) + strlen(c->mnist) + strlen(td) + 160;
    if (!(c->note_buf = malloc(n))) return -1;
    snprintf(c->note_buf, n,
             "data=%s\nmnist=%s\nmix=%d\nsubset=%zu\ntest=%d\nnormalize=%d\ninvert=%d\n"
             "test-data=%s\n",
             c->data, c->mnist, c->mix, c->subset, c->test_after, c->normalize, c->invert, td);
    return 0;
}

/* Applies a checkpoint's note; --data, --mnist and --no-test given on the
 * command line win. Values point into c->resume_text. */
static int apply_note(train_cli *c, const char *note) {
    if (!(c->resume_text = strdup(note))) return -1;
    for (char *save = NULL, *s = strtok_r(c->resume_text, "\n", &save); s;
         s = strtok_r(NULL, "\n", &save)) {
        char *v = strchr(s, '=');
        if (!v) continue;
        *v++ = 0;
        if (!strcmp(s, "data") && !c->data)
            c->data = v;
        else if (!strcmp(s, "mnist") && !c->mnist)
            c->mnist = v;
        else if (!strcmp(s, "mix"))
            c->mix = atoi(v) != 0;
        else if (!strcmp(s, "test-data") && !c->test_data && *v)
            c->test_data = v;
        else if (!strcmp(s, "normalize") && !c->normalize)
            c->normalize = atoi(v) != 0;
        else if (!strcmp(s, "invert") && !c->invert)
            c->invert = atoi(v) != 0;
        else if (!strcmp(s, "subset"))
            c->subset = (size_t)strtoull(v, NULL, 10);
        else if (!strcmp(s, "test") && !c->notest_set)
            c->test_after = atoi(v) != 0;
    }
    return 0;
}

static int load_data(train_cli *c, dn_dataset *train) {
    dn_error err = {{0}};
    if (c->mix) {
        if (load_finetune_data(c, train, &err) != DN_OK) return cli_error("train", "%s", err.msg);
    } else {
        ds_opts o = data_opts(c);
        if (ds_load_data(c->data, "train", &o, train, &c->data_is_split, &err) != DN_OK)
            return cli_error(
                "train", "%s%s", err.msg,
                strcmp(c->data, "data/mnist") ? "" : " (run 'make data' to download MNIST)");
    }
    if (c->subset && c->subset < train->count) train->count = c->subset;
    return EXIT_OK;
}

/* A new run: the model (created or loaded for fine-tuning) and its data. */
static int prepare_new(train_cli *c, dn_model **m, dn_dataset *train) {
    dn_error err = {{0}};
    if (!c->lr_set)
        c->o.lr = c->o.optimizer == DN_OPT_ADAM       ? 0.001f
                  : c->o.optimizer == DN_OPT_MOMENTUM ? 0.05f
                                                      : 0.1f;
    c->mix = c->finetune != NULL;
    if (c->finetune) {
        if (!c->epochs_set) c->o.epochs = 3;
        if (!c->lr_set) c->o.lr /= 5; /* gentle: keep what the model knows */
        if (!(*m = cli_load_model("train", c->finetune))) return EXIT_RUNTIME;
    } else if (dn_model_create(c->arch, c->act, c->o.seed, m, &err) != DN_OK) {
        return cli_usage_error("train", "%s", err.msg);
    }
    int rc = load_data(c, train);
    if (rc != EXIT_OK) {
        dn_model_free(*m);
        *m = NULL;
        return rc;
    }
    if (!c->quiet && c->ckpt && access(c->ckpt, F_OK) == 0)
        fprintf(stderr,
                "digitnet train: note: %s from an earlier run will be replaced after the first "
                "epoch (stop now and use --resume %s to continue that run instead)\n",
                c->ckpt, c->ckpt);
    if (!c->quiet)
        fprintf(stderr, "training %s (%zu parameters) on %zu images, %d threads\n",
                dn_model_arch(*m), dn_model_param_count(*m), train->count - c->o.val_count,
                dn_get_threads());
    return EXIT_OK;
}

/* A resumed run: settings, data source and thread count from the checkpoint. */
static int prepare_resume(train_cli *c, dn_checkpoint **ck, dn_model **m, dn_dataset *train) {
    dn_error err = {{0}};
    if (dn_checkpoint_load(c->resume, ck, &err) != DN_OK) return cli_error("train", "%s", err.msg);
    dn_checkpoint_info info;
    dn_checkpoint_describe(*ck, &info);
    if (apply_note(c, info.note)) return cli_error("train", "out of memory");
    if (!c->data) c->data = "data/mnist";
    if (!c->mnist) c->mnist = "data/mnist";
    if (!c->threads_set)
        dn_set_threads(info.threads);
    else if (dn_get_threads() != info.threads && !c->quiet)
        fprintf(stderr,
                "digitnet train: note: the run used %d threads, this one %d: the result will "
                "differ slightly from an uninterrupted run\n",
                info.threads, dn_get_threads());
    c->o = info.opts;
    int rc = load_data(c, train);
    if (rc != EXIT_OK) return rc;
    if (dn_model_create(info.arch, NULL, 0, m, &err) != DN_OK)
        return cli_error("train", "%s: %s", c->resume, err.msg);
    if (!c->quiet)
        fprintf(stderr, "resuming %s after epoch %d of %d: %s on %zu images, %d threads\n",
                c->resume, info.epoch, info.opts.epochs, info.arch, train->count - c->o.val_count,
                dn_get_threads());
    return EXIT_OK;
}

/* The newest checkpoint on disk and its epoch, for messages; NULL when none. */
static const char *last_checkpoint(const train_cli *c, int resumed_epoch, int epochs_run,
                                   int *epoch) {
    *epoch = epochs_run;
    if (c->ckpt && epochs_run > resumed_epoch) return c->ckpt;
    *epoch = resumed_epoch;
    return c->resume;
}

/* Prints "digitnet train: error: ..." and keeps the message for the
 * dashboard. Returns EXIT_RUNTIME. */
static int train_error(train_cli *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static int train_error(train_cli *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
    return cli_error("train", "%s", c->why);
}

/* Reports how training ended; on success tests and saves the model. */
static int finish(train_cli *c, dn_model *m, dn_status st, const dn_train_result *res,
                  int resumed_epoch, const dn_error *err) {
    int epoch;
    const char *ck = last_checkpoint(c, resumed_epoch, res->epochs_run, &epoch);
    const char *none = c->ckpt ? "no epoch finished, so no model or checkpoint was saved"
                               : "no model saved (checkpoints were off)";
    if (st == DN_E_DIVERGED) {
        if (ck)
            return train_error(c, "%s; the last good checkpoint (epoch %d) is in %s", err->msg,
                               epoch, ck);
        return train_error(c, "%s; %s", err->msg, none);
    }
    if (st == DN_E_CANCELLED) {
        if (ck)
            return train_error(c,
                               "interrupted; epoch %d is saved in %s; continue with "
                               "'digitnet train --resume %s -o %s'",
                               epoch, ck, ck, c->out);
        return train_error(c, "interrupted; %s", none);
    }
    if (st == DN_E_IO && c->ckpt) /* the only writes during training are checkpoints */
        return train_error(c,
                           "%s; training stopped after epoch %d: its checkpoint could not "
                           "be written",
                           err->msg, res->epochs_run);
    if (st != DN_OK) return train_error(c, "%s", err->msg);
    if (res->best_epoch)
        printf("best validation accuracy %.2f%% at epoch %d; %.1fs\n", 100 * res->best_val_accuracy,
               res->best_epoch, res->seconds);
    if (c->test_after) evaluate_test(c, m);
    dn_error serr = {{0}};
    if (dn_model_save(m, c->out, &serr) != DN_OK) {
        if (ck && epoch == res->epochs_run)
            return train_error(c,
                               "%s; the trained state is kept in %s: once the model can be "
                               "written, save it with 'digitnet train --resume %s -o %s'",
                               serr.msg, ck, ck, c->out);
        return train_error(c, "%s", serr.msg);
    }
    if (c->ckpt && unlink(c->ckpt) != 0 && errno != ENOENT)
        fprintf(stderr, "digitnet train: note: cannot remove %s: %s\n", c->ckpt, strerror(errno));
    if (!c->quiet) printf("saved %s\n", c->out);
    return EXIT_OK;
}

/* ---------------------------------------------------------------- dashboard */

/* Starts the dashboard (--serve) and prints its address, also with -q. */
static int start_dashboard(train_cli *c) {
    if (pipe(stop_pipe) != 0)
        return cli_error("train", "cannot create a pipe: %s", strerror(errno));
    fcntl(stop_pipe[0], F_SETFD, FD_CLOEXEC);
    fcntl(stop_pipe[1], F_SETFD, FD_CLOEXEC);
    signal(SIGPIPE, SIG_IGN); /* a browser that goes away is no reason to die */
    dn_monitor_opts o;
    dn_monitor_opts_default(&o);
    if (c->host) o.host = c->host;
    o.port = c->port;
    o.title = c->resume ? c->resume : c->finetune ? c->finetune : c->arch;
    dn_error err = {{0}};
    if (dn_monitor_start(&o, &c->mon, &err) != DN_OK) return cli_error("train", "%s", err.msg);
    dn_monitor_set_state(c->mon, "starting", "loading the data");
    int v6 = strchr(o.host, ':') != NULL;
    snprintf(c->url, sizeof c->url, "http://%s%s%s:%d/", v6 ? "[" : "", o.host, v6 ? "]" : "",
             dn_monitor_port(c->mon));
    fprintf(stderr, "dashboard: %s\n", c->url);
    return EXIT_OK;
}

/* The dashboard's heading and settings line once the run is set up; for a
 * resumed run also the epochs already done. */
static void describe_run(train_cli *c, const dn_model *m, const dn_dataset *train,
                         const dn_checkpoint *ck, int resumed_epoch) {
    const dn_train_opts *o = &c->o;
    static const char *const sched[] = {"constant", "step", "cosine", "onecycle"};
    const char *opt = o->optimizer == DN_OPT_ADAM       ? "adam"
                      : o->optimizer == DN_OPT_MOMENTUM ? (o->nesterov ? "nesterov" : "momentum")
                                                        : "sgd";
    size_t nval = o->val_count < train->count ? o->val_count : train->count;
    char batch[32], title[512], detail[1024];
    if (o->batch)
        snprintf(batch, sizeof batch, "batch %d", o->batch);
    else
        snprintf(batch, sizeof batch, "full batch");
    if (c->resume)
        snprintf(title, sizeof title, "%s (resumed after epoch %d)", dn_model_arch(m),
                 resumed_epoch);
    else if (c->finetune)
        snprintf(title, sizeof title, "fine-tuning %s", c->finetune);
    else
        snprintf(title, sizeof title, "%s", c->arch);
    snprintf(detail, sizeof detail,
             "%s, %zu parameters; %s, lr %g, %s schedule, %s; %zu training and %zu validation "
             "images; %d threads",
             dn_model_arch(m), dn_model_param_count(m), opt, (double)o->lr,
             sched[o->schedule <= DN_SCHED_ONECYCLE ? o->schedule : 0], batch, train->count - nval,
             nval, dn_get_threads());
    dn_monitor_describe(c->mon, title, detail);
    if (ck) dn_monitor_seed(c->mon, ck);
}

/* Shows how the run ended and, unless a signal stopped it, keeps the
 * dashboard up until SIGINT or SIGTERM. Returns the run's exit status. */
static int end_dashboard(train_cli *c, dn_status st, int rc) {
    char msg[1200];
    if (rc == EXIT_OK)
        snprintf(msg, sizeof msg, "saved %s", c->out);
    else
        snprintf(msg, sizeof msg, "%s", c->why);
    const char *state = rc == EXIT_OK ? "done" : st == DN_E_CANCELLED ? "cancelled" : "failed";
    dn_monitor_finish(c->mon, c->have_test ? &c->test : NULL, state, msg);
    fflush(stdout);
    if (interrupted) return rc;
    fprintf(stderr, "training %s; the dashboard is still at %s (Ctrl-C to quit)\n",
            rc == EXIT_OK ? "finished" : "failed", c->url);
    unsigned char sig = 0;
    while (read(stop_pipe[0], &sig, 1) < 0 && errno == EINTR) {
    }
    return rc;
}

/* ---------------------------------------------------------------- main */

static int parse_args(train_cli *c, int argc, char **argv) {
    int opt, first = 1;
    /* the config file is read first so the command line can override it;
     * a first pass finds it (and --help) */
    const char *config = NULL;
    while ((opt = cli_getopt("train", argc, argv, SHORT_OPTS, long_opts, &first)) != -1) {
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
    while ((opt = cli_getopt("train", argc, argv, SHORT_OPTS, long_opts, &first)) != -1) {
        if (opt == 'c') continue;
        if (apply_option(c, opt, optarg, NULL)) return EXIT_USAGE;
    }
    if (optind < argc) return cli_usage_error("train", "unexpected argument '%s'", argv[optind]);
    if (!c->out) return cli_usage_error("train", "missing -o MODEL (where to save the model)");
    if (!*c->out) return cli_usage_error("train", "-o needs a file name");
    if (c->resume && c->setting) {
        const struct option *o = long_opts;
        while (o->name && o->val != c->setting) o++;
        return cli_usage_error("train",
                               "--resume continues with the settings stored in the checkpoint; "
                               "--%s cannot be changed",
                               o->name ? o->name : "?");
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

/* Before any work: the model and checkpoint paths can be written, and no
 * other digitnet is writing the model (its lock is then held to the end). */
static int check_outputs(train_cli *c) {
    /* the checkpoint may be the one resumed from: it is last in the list */
    const char *inputs[] = {c->data, c->test_data, c->finetune, c->mnist, c->config, c->resume};
    int nin = (int)(sizeof inputs / sizeof inputs[0]);
    if (cli_output_not_input("train", c->out, inputs, nin) ||
        cli_output_not_input("train", c->ckpt, inputs, nin - 1))
        return EXIT_USAGE;
    const char *paths[] = {c->out, c->ckpt};
    for (int i = 0; i < 2; i++) {
        dn_error err = {{0}};
        dn_status st = paths[i] ? dn_output_check(paths[i], &err) : DN_OK;
        if (st == DN_E_ARG) return cli_usage_error("train", "%s", err.msg);
        if (st != DN_OK) return cli_error("train", "%s", err.msg);
    }
    if ((c->lock_fd = cli_lock_output("train", c->out)) < 0) return EXIT_RUNTIME;
    if (c->ckpt) cli_remove_stale_temps(c->ckpt);
    return EXIT_OK;
}

static int train_main(train_cli *c, int argc, char **argv) {
    dn_train_opts_default(&c->o);
    c->tty = cli_fancy_terminal(stderr); /* the in-place progress line uses escape codes */
    int rc = parse_args(c, argc, argv);
    if (rc != EXIT_OK) return rc < 0 ? EXIT_OK : rc;
    if ((rc = check_outputs(c)) != EXIT_OK) return rc;
    const char *hook = getenv("DIGITNET_TEST_KILL_AFTER_BATCHES");
    c->kill_after = hook ? atol(hook) : 0;
    c->pace = getenv("DIGITNET_TEST_PACE");
    if (c->pace && !*c->pace) c->pace = NULL;
    /* a full disk or `ulimit -f` must end in an error message, not a signal */
    signal(SIGXFSZ, SIG_IGN);
    if (c->serve && (rc = start_dashboard(c)) != EXIT_OK) return rc;

    dn_model *m = NULL;
    dn_dataset train = {0};
    dn_checkpoint *ck = NULL;
    if (c->resume) {
        rc = prepare_resume(c, &ck, &m, &train);
    } else {
        if (!c->data) c->data = "data/mnist";
        if (!c->mnist) c->mnist = "data/mnist";
        rc = prepare_new(c, &m, &train);
    }
    if (rc == EXIT_OK && build_note(c)) rc = cli_error("train", "out of memory");
    int resumed_epoch = 0;
    if (rc == EXIT_OK && ck) {
        dn_checkpoint_info info;
        dn_checkpoint_describe(ck, &info);
        resumed_epoch = info.epoch;
    }
    if (rc == EXIT_OK && c->mon) describe_run(c, m, &train, ck, resumed_epoch);
    if (rc != EXIT_OK) {
        dn_checkpoint_free(ck);
        dn_model_free(m);
        dn_dataset_free(&train);
        return rc;
    }
    c->o.progress = on_progress;
    c->o.progress_user = c;
    c->o.checkpoint = c->ckpt;
    c->o.checkpoint_note = c->note_buf;
    catch_signals(1);
    dn_error err = {{0}};
    dn_train_result res = {0};
    dn_status st;
    if (ck)
        st = dn_train_resume(m, &train, ck, &c->o, &res, &err);
    else
        st = dn_train(m, &train, &c->o, &res, &err);
    /* with --serve the handlers stay until the dashboard is stopped */
    if (!c->mon) catch_signals(0);
    dn_checkpoint_free(ck);
    dn_dataset_free(&train);
    rc = finish(c, m, st, &res, resumed_epoch, &err);
    dn_model_free(m);
    if (c->mon) {
        rc = end_dashboard(c, st, rc);
        dn_monitor_stop(c->mon); /* before the handlers go: no signal may kill it midway */
        c->mon = NULL;
        catch_signals(0);
    }
    return rc;
}

int cmd_train(int argc, char **argv) {
    train_cli c = {.arch = "mlp", .test_after = 1, .port = 8080, .lock_fd = -1};
    int rc = train_main(&c, argc, argv);
    cli_unlock_output(c.lock_fd, c.out);
    dn_monitor_stop(c.mon);
    if (stop_pipe[0] >= 0) {
        close(stop_pipe[0]);
        close(stop_pipe[1]);
        stop_pipe[0] = stop_pipe[1] = -1;
    }
    free(c.config_text);
    free(c.ckpt_buf);
    free(c.note_buf);
    free(c.resume_text);
    return rc;
}
