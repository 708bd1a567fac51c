/*
 * cmd_predict.c — `digitnet predict`: classifies the user's own images.
 *
 * Each PATH is an image file (PNG, JPEG, PGM, PPM; detected by content), a
 * folder of images, a Kaggle CSV or an IDX file (each row a digit already in
 * MNIST form), or '-' for one image on standard input. Images go through
 * dn_image_normalize (unless --raw) and are classified in batches through one
 * dn_infer context. A file that cannot be read or has no ink gets its own
 * error line; the run goes on and exits 1 at the end.
 */
#include "cli.h"
#include "datasets.h"
#include "draw.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define BATCH 64
#define STDIN_MAX ((size_t)256 << 20)

static const char *usage_text =
    "usage: digitnet predict [MODEL...] PATH... [options]\n"
    "\n"
    "Classifies images with MODEL (default: the shipped model). Each PATH is an\n"
    "image (PNG, JPEG, PGM or PPM), a folder of images (sorted by name), a Kaggle\n"
    "CSV or an IDX images file (rows already in MNIST form), or '-' for an image\n"
    "on standard input. Images are normalised to MNIST style first\n"
    "(see docs/normalisation.md). MODEL is recognised by its .dnm name or content;\n"
    "several (up to 8) answer as an ensemble, the mean of their probabilities.\n"
    "\n"
    "  -r, --recursive        descend into subfolders of folders\n"
    "      --json             one JSON object per line: file, label, probability,\n"
    "                         unsure, runner_up, top3, probabilities (10 numbers);\n"
    "                         'index' for CSV/IDX rows; failures as {\"file\", \"error\"}\n"
    "      --raw              skip normalisation: images must be 28x28, white ink\n"
    "                         on black\n"
    "      --invert           invert pixels first (with --raw: dark ink on light)\n"
    "      --show             draw the 28x28 input the network saw (to stderr with\n"
    "                         --json)\n"
    "      --color WHEN       auto, always or never: grays for --show (default auto)\n"
    "      --save-normalized DIR  write each network input as DIR/NNNNN-NAME.png\n"
    "      --submission FILE  write a Kaggle submission (ImageId,Label), atomically;\n"
    "                         only when every image succeeded\n"
    "  -j, --threads N        worker threads\n"
    "  -h, --help             this help\n"
    "\n"
    "An answer is 'not sure' (JSON: \"unsure\": true) when its probability is below\n"
    "80%; the runner-up is then named. With a calibrated model (see 'digitnet\n"
    "calibrate') 80% means right about four times in five.\n"
    "\n"
    "Exit status: 0 all images classified, 1 some failed, 2 usage error.\n";

typedef struct pred_opts {
    int recursive, json, raw, invert, show, color;
    const char *save_dir, *submission;
} pred_opts;

typedef struct pending {
    char *name; /* file as given or found */
    size_t row; /* 1-based row of a CSV/IDX file, 0 for image files */
    size_t seq; /* 1-based position among all inputs */
    unsigned char px[784];
} pending;

typedef struct predictor {
    const pred_opts *o;
    dn_infer *ctx[DN_ENSEMBLE_MAX]; /* one per model of an ensemble */
    int k;
    pending *items;
    float *x, *probs, *part; /* part: one model's probabilities, averaged into probs */
    size_t n, seq, ok, failed;
    unsigned char *labels; /* predictions, for the submission */
    size_t nlabels, cap;
    int color, width;
} predictor;

/* ======================================================================== */
/* Output                                                                   */
/* ======================================================================== */

static void top3(const float *p, int *best) {
    best[0] = best[1] = best[2] = -1;
    for (int c = 0; c < 10; c++) {
        int k = 3;
        while (k > 0 && (best[k - 1] < 0 || p[c] > p[best[k - 1]])) k--;
        if (k < 3) {
            for (int j = 2; j > k; j--) best[j] = best[j - 1];
            best[k] = c;
        }
    }
}

static void print_json(const pending *it, const float *p, const int *best) {
    printf("{\"file\":");
    cli_json_string(stdout, it->name);
    if (it->row) printf(",\"index\":%zu", it->row);
    printf(",\"label\":%d,\"probability\":", best[0]);
    cli_json_number(stdout, p[best[0]], 6);
    int unsure = dn_probs_unsure(p, NULL, NULL);
    printf(",\"unsure\":%s,\"runner_up\":{\"label\":%d,\"probability\":", unsure ? "true" : "false",
           best[1]);
    cli_json_number(stdout, p[best[1]], 6);
    printf("},\"top3\":[");
    for (int k = 0; k < 3; k++) {
        printf("%s{\"label\":%d,\"probability\":", k ? "," : "", best[k]);
        cli_json_number(stdout, p[best[k]], 6);
        putchar('}');
    }
    printf("],\"probabilities\":[");
    for (int c = 0; c < 10; c++) {
        if (c) putchar(',');
        cli_json_number(stdout, p[c], 6);
    }
    printf("]}\n");
}

static void print_text(const pending *it, const float *p, const int *best) {
    if (it->row)
        cli_print_clean(stdout, it->name), printf(":%zu", it->row);
    else
        cli_print_clean(stdout, it->name);
    printf(": %d (%.1f%%)  ", best[0], 100 * p[best[0]]);
    if (dn_probs_unsure(p, NULL, NULL))
        printf("not sure: or %d (%.1f%%)?  ", best[1], 100 * p[best[1]]);
    printf("top 3: %d %.1f%%, %d %.1f%%, %d %.1f%%\n", best[0], 100 * p[best[0]], best[1],
           100 * p[best[1]], best[2], 100 * p[best[2]]);
}

/* DIR/NNNNN-NAME.png where NAME is the file name without its extension
 * (plus -ROW for CSV/IDX rows), restricted to letters, digits, '.', '_' and
 * '-'. */
static void save_normalized(predictor *P, const pending *it) {
    char stem[96], path[4096];
    const char *b = strcmp(it->name, "-") ? strrchr(it->name, '/') : NULL;
    b = !strcmp(it->name, "-") ? "stdin" : b ? b + 1 : it->name;
    size_t k = 0;
    for (; b[k] && k + 1 < sizeof stem - 24; k++)
        stem[k] = isalnum((unsigned char)b[k]) || strchr("._-", b[k]) ? b[k] : '_';
    stem[k] = 0;
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem) *dot = 0;
    if (it->row) snprintf(stem + strlen(stem), 24, "-%zu", it->row);
    snprintf(path, sizeof path, "%s/%05zu-%s.png", P->o->save_dir, it->seq, stem);
    dn_error err = {{0}};
    if (dn_png_save_gray(path, it->px, 28, 28, &err) != DN_OK) {
        cli_error("predict", "%s", err.msg);
        P->failed++;
    }
}

static void record_label(predictor *P, int label) {
    if (!P->o->submission) return;
    if (P->nlabels == P->cap) {
        size_t cap = P->cap ? 2 * P->cap : 1024;
        unsigned char *l = realloc(P->labels, cap);
        if (!l) {
            P->failed++; /* the submission is then refused */
            cli_error("predict", "out of memory for the submission");
            return;
        }
        P->labels = l;
        P->cap = cap;
    }
    P->labels[P->nlabels++] = (unsigned char)label;
}

/* ======================================================================== */
/* Batching                                                                 */
/* ======================================================================== */

static void flush(predictor *P) {
    if (!P->n) return;
    for (size_t i = 0; i < P->n; i++)
        dn_model_inputs_from_pixels(P->items[i].px, 784, P->x + i * 784);
    dn_error err = {{0}};
    dn_status st = dn_infer_run(P->ctx[0], P->x, P->n, P->probs, &err);
    for (int q = 1; q < P->k && st == DN_OK; q++) { /* an ensemble: the mean */
        st = dn_infer_run(P->ctx[q], P->x, P->n, P->part, &err);
        for (size_t j = 0; j < P->n * 10; j++) P->probs[j] += P->part[j];
    }
    if (P->k > 1)
        for (size_t j = 0; j < P->n * 10; j++) P->probs[j] /= (float)P->k;
    for (size_t i = 0; i < P->n; i++) {
        pending *it = &P->items[i];
        if (st != DN_OK) {
            cli_error("predict", "%s: %s", it->name, err.msg);
            P->failed++;
        } else {
            const float *p = P->probs + i * 10;
            int best[3];
            top3(p, best);
            (P->o->json ? print_json : print_text)(it, p, best);
            record_label(P, best[0]);
            P->ok++;
            if (P->o->show) {
                const unsigned char *img = it->px;
                FILE *out = P->o->json ? stderr : stdout;
                draw_term_images(out, &img, NULL, 1, 28, 28, P->color, P->width);
            }
            if (P->o->save_dir) save_normalized(P, it);
        }
        free(it->name);
        it->name = NULL;
    }
    P->n = 0;
}

static void add(predictor *P, const char *name, size_t row, const unsigned char *px) {
    pending *it = &P->items[P->n];
    it->name = strdup(name);
    if (!it->name) {
        cli_error("predict", "out of memory");
        P->failed++;
        return;
    }
    it->row = row;
    it->seq = ++P->seq;
    memcpy(it->px, px, 784);
    if (++P->n == BATCH) flush(P);
}

static void fail(predictor *P, const char *name, size_t row, const char *msg) {
    flush(P); /* keep the output in input order */
    P->seq++;
    P->failed++;
    if (row)
        cli_error("predict", "%s:%zu: %s", name, row, msg);
    else if (!strcmp(name, "-"))
        cli_error("predict", "standard input: %s", msg);
    else
        cli_error("predict", "%s", msg);
    if (P->o->json) {
        printf("{\"file\":");
        cli_json_string(stdout, name);
        if (row) printf(",\"index\":%zu", row);
        printf(",\"error\":");
        cli_json_string(stdout, msg);
        printf("}\n");
    }
}

/* ======================================================================== */
/* Inputs                                                                   */
/* ======================================================================== */

/* Decoded image -> network input; name is used for messages. */
static void classify_image(predictor *P, const char *name, const dn_image *img) {
    unsigned char px[784];
    dn_error err = {{0}};
    dn_status st = ds_image_digit(img, !P->o->raw, P->o->invert, px, &err);
    if (st == DN_OK) {
        add(P, name, 0, px);
        return;
    }
    char msg[700];
    snprintf(msg, sizeof msg, "%s%s%s%s", strcmp(name, "-") ? name : "",
             strcmp(name, "-") ? ": " : "", err.msg,
             st == DN_E_ARG && P->o->raw ? " (--raw needs 28x28 images)" : "");
    fail(P, name, 0, msg);
}

static void do_file(predictor *P, const char *path) {
    dn_image img;
    dn_error err = {{0}};
    if (dn_image_load(path, &img, &err) != DN_OK) {
        fail(P, path, 0, err.msg);
        return;
    }
    classify_image(P, path, &img);
    dn_image_free(&img);
}

static void do_stdin(predictor *P) {
    size_t size = 0, cap = 0;
    unsigned char *buf = NULL;
    const char *problem = NULL;
    for (;;) {
        if (size == cap) {
            size_t c = cap ? 2 * cap : 65536;
            unsigned char *b = c <= STDIN_MAX + 1 ? realloc(buf, c) : NULL;
            if (!b) {
                problem = c > STDIN_MAX + 1 ? "larger than 256 MiB" : "out of memory";
                break;
            }
            buf = b;
            cap = c;
        }
        size_t k = fread(buf + size, 1, cap - size, stdin);
        size += k;
        if (k == 0) break;
    }
    if (!problem && ferror(stdin)) problem = strerror(errno);
    if (!problem && size > STDIN_MAX) problem = "larger than 256 MiB";
    dn_image img;
    dn_error err = {{0}};
    if (problem) {
        fail(P, "-", 0, problem);
    } else if (dn_image_decode(buf, size, &img, &err) != DN_OK) {
        fail(P, "-", 0, err.msg);
    } else {
        classify_image(P, "-", &img);
        dn_image_free(&img);
    }
    free(buf);
}

static void do_dataset(predictor *P, const char *path, ds_format f) {
    dn_dataset ds = {0};
    dn_error err = {{0}};
    ds_opts dso = {0};
    if (ds_load(path, f, &dso, &ds, &err) != DN_OK) {
        fail(P, path, 0, err.msg);
        return;
    }
    if (ds.rows != 28 || ds.cols != 28) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s: holds %dx%d images, not 28x28", path, ds.cols, ds.rows);
        fail(P, path, 0, msg);
    }
    for (size_t i = 0; ds.rows == 28 && ds.cols == 28 && i < ds.count; i++) {
        unsigned char px[784];
        const unsigned char *src = ds.images + i * 784;
        for (int k = 0; k < 784; k++) px[k] = P->o->invert ? 255 - src[k] : src[k];
        add(P, path, i + 1, px);
    }
    dn_dataset_free(&ds);
}

static void do_folder(predictor *P, const char *dir) {
    ds_paths files = {0};
    dn_error err = {{0}};
    if (ds_list_images(dir, P->o->recursive, &files, &err) != DN_OK)
        fail(P, dir, 0, err.msg);
    else if (files.n == 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s: no images in this folder%s", dir,
                 P->o->recursive ? "" : " (use -r for subfolders)");
        fail(P, dir, 0, msg);
    }
    for (size_t i = 0; i < files.n; i++) do_file(P, files.v[i]);
    ds_paths_free(&files);
}

static void do_path(predictor *P, const char *path) {
    size_t n = strlen(path);
    if (!strcmp(path, "-"))
        do_stdin(P);
    else if (ds_is_dir(path))
        do_folder(P, path);
    else if (n > 4 && !strcasecmp(path + n - 4, ".csv"))
        do_dataset(P, path, DS_CSV);
    else if (ds_is_idx_file(path))
        do_dataset(P, path, DS_IDX);
    else
        do_file(P, path);
}

/* ======================================================================== */
/* Command                                                                  */
/* ======================================================================== */

static int write_submission(const predictor *P) {
    if (P->failed)
        return cli_error("predict", "%s: not written: %zu input(s) failed", P->o->submission,
                         P->failed);
    size_t cap = 16 + P->nlabels * 24, len = 0;
    char *buf = malloc(cap);
    if (!buf) return cli_error("predict", "out of memory");
    len += (size_t)snprintf(buf, cap, "ImageId,Label\n");
    for (size_t i = 0; i < P->nlabels; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%zu,%d\n", i + 1, P->labels[i]);
    dn_error err = {{0}};
    dn_status st = dn_write_atomic(P->o->submission, buf, len, &err);
    free(buf);
    if (st != DN_OK) return cli_error("predict", "%s", err.msg);
    return EXIT_OK;
}

static int parse_args(int argc, char **argv, pred_opts *o) {
    static const struct option opts[] = {{"recursive", no_argument, 0, 'r'},
                                         {"json", no_argument, 0, 'J'},
                                         {"raw", no_argument, 0, 'R'},
                                         {"invert", no_argument, 0, 'I'},
                                         {"show", no_argument, 0, 'S'},
                                         {"color", required_argument, 0, 'c'},
                                         {"save-normalized", required_argument, 0, 'N'},
                                         {"submission", required_argument, 0, 'U'},
                                         {"threads", required_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int opt;
    long l;
    int first = 1;
    while ((opt = cli_getopt("predict", argc, argv, "rj:h", opts, &first)) != -1) {
        switch (opt) {
        case 'r':
            o->recursive = 1;
            break;
        case 'J':
            o->json = 1;
            break;
        case 'R':
            o->raw = 1;
            break;
        case 'I':
            o->invert = 1;
            break;
        case 'S':
            o->show = 1;
            break;
        case 'N':
            o->save_dir = optarg;
            break;
        case 'U':
            o->submission = optarg;
            break;
        case 'c':
            if ((o->color = draw_color_parse(optarg)) < 0)
                return cli_usage_error("predict", "--color: expected auto, always or never");
            break;
        case 'j':
            if (cli_parse_long("predict", "--threads", optarg, 0, 256, &l)) return EXIT_USAGE;
            dn_set_threads((int)l);
            break;
        case 'h':
            fputs(usage_text, stdout);
            return -1;
        default:
            return EXIT_USAGE; /* cli_getopt said why */
        }
    }
    return EXIT_OK;
}

static int check_save_dir(const char *dir) {
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return cli_error("predict", "%s: cannot create: %s", dir, strerror(errno));
    if (!ds_is_dir(dir)) return cli_error("predict", "%s: is not a folder", dir);
    return EXIT_OK;
}

static int run(predictor *P, const char *const *models, int k, char **paths, int npaths) {
    dn_model *m[DN_ENSEMBLE_MAX] = {0};
    int rc = EXIT_OK;
    for (int q = 0; q < k && rc == EXIT_OK; q++)
        if (!(m[q] = cli_load_model("predict", models[q]))) rc = EXIT_RUNTIME;
    dn_error err = {{0}};
    P->k = k;
    P->items = calloc(BATCH, sizeof *P->items);
    P->x = malloc(sizeof(float) * BATCH * 784);
    P->probs = malloc(sizeof(float) * BATCH * 10);
    P->part = malloc(sizeof(float) * BATCH * 10);
    if (rc == EXIT_OK && (!P->items || !P->x || !P->probs || !P->part))
        rc = cli_error("predict", "out of memory");
    for (int q = 0; q < k && rc == EXIT_OK; q++)
        if (dn_infer_create(m[q], BATCH, &P->ctx[q], &err) != DN_OK)
            rc = cli_error("predict", "%s", err.msg);
    for (int i = 0; rc == EXIT_OK && i < npaths; i++) do_path(P, paths[i]);
    if (rc == EXIT_OK) flush(P);
    fflush(stdout);
    if (rc == EXIT_OK && P->failed)
        fprintf(stderr, "digitnet predict: %zu of %zu input(s) failed\n", P->failed,
                P->failed + P->ok);
    if (rc == EXIT_OK && P->o->submission) rc = write_submission(P);
    if (rc == EXIT_OK && P->failed) rc = EXIT_RUNTIME;
    for (int q = 0; q < k; q++) {
        dn_infer_free(P->ctx[q]);
        dn_model_free(m[q]);
    }
    free(P->items);
    free(P->x);
    free(P->probs);
    free(P->part);
    free(P->labels);
    return rc;
}

int cmd_predict(int argc, char **argv) {
    pred_opts o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc < 0) return EXIT_OK;
    if (rc) return rc;
    int first = optind;
    const char *model[DN_ENSEMBLE_MAX + 1];
    int k = 0; /* leading model files: one model, or an ensemble */
    while (first < argc && strcmp(argv[first], "-") && cli_is_model_file(argv[first])) {
        if (k == DN_ENSEMBLE_MAX)
            return cli_usage_error("predict", "at most %d models", DN_ENSEMBLE_MAX);
        model[k++] = argv[first++];
    }
    if (first >= argc) return cli_usage_error("predict", "no image given (PATH...)");
    if (!k && !(model[k++] = cli_default_model("predict"))) return EXIT_RUNTIME;
    if (o.save_dir && (rc = check_save_dir(o.save_dir))) return rc;
    if (o.submission) {
        if (cli_output_not_input("predict", o.submission, (const char *const *)argv + first,
                                 argc - first) ||
            cli_output_not_input("predict", o.submission, model, k))
            return EXIT_USAGE;
        dn_error err = {{0}};
        dn_status st = dn_output_check(o.submission, &err);
        if (st != DN_OK)
            return st == DN_E_ARG ? cli_usage_error("predict", "%s", err.msg)
                                  : cli_error("predict", "%s", err.msg);
    }
    predictor P = {.o = &o};
    P.color = o.show && draw_use_color(o.json ? stderr : stdout, o.color);
    P.width = draw_term_width(stdout);
    return run(&P, model, k, argv + first, argc - first);
}
