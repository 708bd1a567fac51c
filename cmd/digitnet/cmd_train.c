/*
 * cmd_train.c — `digitnet train`: the run itself (its options are read by
 * train_options.c into the train_cli of train_cli.h): loading the data, the
 * progress display, checkpoints and --resume, and saving the model.
 *
 * A checkpoint MODEL.ckpt is written after every epoch (a long full-batch
 * run: every hundredth, see train_loop) and removed once
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
#include "train_cli.h"

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
                       : c->mix           ? (c->extra ? c->data : c->mnist)
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
    if (dn_model_evaluate(m, &test, &ev, &err) == DN_OK) {
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

/* Fine-tuning: --data's digits mixed into --mnist; --extra: the extra
 * digits mixed into --data. */
static dn_status load_mixed_data(const train_cli *c, dn_dataset *out, dn_error *err) {
    ds_opts o = data_opts(c);
    size_t mine = 0, reps = 0;
    const char *user = c->extra ? c->extra : c->data, *mnist = c->extra ? c->data : c->mnist;
    dn_status st = ds_load_finetune(user, mnist, &o, out, &mine, &reps, err);
    if (st == DN_OK && !c->quiet)
        fprintf(stderr, "%s %zu digits of %s (x%zu) mixed with %zu of %s\n",
                c->extra ? "training on" : "fine-tuning on", mine, user, reps,
                out->count - mine * reps, mnist);
    return st;
}

/* ---------------------------------------------------------------- resume */

/* The note stored in every checkpoint: where the data came from, so that
 * --resume can load the same data again. One "key=value" per line. */
static int build_note(train_cli *c) {
    const char *td = c->test_data ? c->test_data : "";
    const char *ex = c->extra ? c->extra : "";
    size_t n = strlen(c->data) + strlen(c->mnist) + strlen(td) + strlen(ex) + 170;
    if (!(c->note_buf = malloc(n))) return -1;
    snprintf(c->note_buf, n,
             "data=%s\nmnist=%s\nmix=%d\nsubset=%zu\ntest=%d\nnormalize=%d\ninvert=%d\n"
             "test-data=%s\nextra=%s\n",
             c->data, c->mnist, c->mix, c->subset, c->test_after, c->normalize, c->invert, td, ex);
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
        else if (!strcmp(s, "extra") && *v)
            c->extra = v;
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
        if (load_mixed_data(c, train, &err) != DN_OK) return cli_error("train", "%s", err.msg);
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
    if (c->finetune && c->extra)
        return cli_usage_error("train",
                               "--extra mixes digits into a new run; to fine-tune on them, "
                               "give them as --data");
    c->mix = c->finetune != NULL || c->extra != NULL;
    if (c->finetune) {
        if (!c->epochs_set) c->o.epochs = 3;
        if (!c->lr_set) c->o.lr /= 5; /* gentle: keep what the model knows */
        if (!(*m = cli_load_model("train", c->finetune))) return EXIT_RUNTIME;
        /* new weights, new calibration: validation runs at T = 1 */
        dn_model_set_meta(*m, "temperature", "1");
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

/* Temperature scaling on the validation split (the last val_count images,
 * which training never learned from): the test set is never used. */
static void calibrate(train_cli *c, dn_model *m, const dn_dataset *train) {
    size_t n = c->o.val_count;
    if (n == 0 || n >= train->count) return;
    dn_dataset val = ds_tail(train, n);
    dn_eval before, after;
    double t0, t, fitted;
    dn_error err = {{0}};
    if (cli_calibrate(m, &val, &before, &after, &t0, &t, &fitted, &err) != DN_OK) {
        fprintf(stderr, "digitnet train: note: not calibrated: %s\n", err.msg);
        return;
    }
    if (c->quiet) return;
    if (t == fitted)
        printf("calibrated: temperature %.3f, validation ECE %.2f%% -> %.2f%%\n", t,
               100 * before.ece, 100 * after.ece);
    else
        printf("not calibrated: temperature %.3f would not lower the validation ECE "
               "(%.2f%%); kept %.3f\n",
               fitted, 100 * before.ece, t);
}

/* Reports how training ended; on success calibrates, tests and saves the
 * model. */
static int finish(train_cli *c, dn_model *m, const dn_dataset *train, dn_status st,
                  const dn_train_result *res, int resumed_epoch, const dn_error *err) {
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
    calibrate(c, m, train);
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

/* The finished epochs of a resumed run, on the dashboard. */
static void seed_dashboard(train_cli *c, const dn_checkpoint *ck) {
    dn_checkpoint_info info;
    dn_checkpoint_describe(ck, &info);
    size_t n;
    dn_epoch_record *e = cli_history(info.history, &n);
    dn_monitor_past past = {
        e, n, info.epoch, info.opts.epochs, info.best_epoch, info.best_accuracy, info.seconds};
    dn_monitor_seed(c->mon, &past);
    free(e);
}

/* The dashboard's heading and settings line once the run is set up; for a
 * resumed run also the epochs already done. */
static void describe_run(train_cli *c, const dn_model *m, const dn_dataset *train,
                         const dn_checkpoint *ck, int resumed_epoch) {
    const dn_train_opts *o = &c->o;
    const char *opt = o->optimizer == DN_OPT_MOMENTUM && o->nesterov
                          ? "nesterov"
                          : dn_optimizer_name(o->optimizer);
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
             dn_schedule_name(o->schedule), batch, train->count - nval, nval, dn_get_threads());
    dn_monitor_describe(c->mon, title, detail);
    if (ck) seed_dashboard(c, ck);
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

/* Before any work: the model and checkpoint paths can be written, and no
 * other digitnet is writing the model (its lock is then held to the end). */
static int check_outputs(train_cli *c) {
    /* the checkpoint may be the one resumed from: it is last in the list */
    const char *inputs[] = {c->data,  c->test_data, c->finetune, c->mnist,
                            c->extra, c->config,    c->resume};
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
    int rc = train_parse_args(c, argc, argv);
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
    rc = finish(c, m, &train, st, &res, resumed_epoch, &err);
    dn_dataset_free(&train);
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
