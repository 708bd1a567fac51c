/*
 * cmd_show.c — `digitnet show`: looks at data and models. Draws digits in
 * the terminal (Unicode half blocks, grayscale) and writes pictures: a PNG
 * grid of samples with labels, a PNG grid of a model's mistakes, the
 * confusion matrix as a PNG heatmap, and the training curves recorded in a
 * model's "history" metadata as an SVG plot.
 *
 * Pictures are drawn with draw.c and written atomically; this file picks
 * the data, runs the model and lays the pictures out.
 */
#include "cli.h"
#include "datasets.h"
#include "draw.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *usage_text =
    "usage: digitnet show [MODEL] [DATA] [options]\n"
    "\n"
    "Draws digits of DATA in the terminal, or writes pictures of them and of\n"
    "MODEL. DATA is an image folder (subfolders 0..9), an IDX file or directory,\n"
    "or a Kaggle CSV, as for 'digitnet convert' (default: data/mnist, test\n"
    "split). MODEL, recognised by its .dnm name or content, adds predictions;\n"
    "--errors, --confusion and --curves use the shipped model when it is omitted.\n"
    "\n"
    "  -n, --count N        digits to draw (default: two terminal rows, 100 for\n"
    "                       --grid, up to 400 for --errors)\n"
    "      --start I        first digit, counted from 0 (default 0)\n"
    "      --split S        train or test, for a directory of IDX files\n"
    "      --grid FILE      PNG grid of the digits with their labels\n"
    "                       (\"7>2\": labeled 7, predicted 2, when MODEL is given)\n"
    "      --errors FILE    PNG grid of the digits MODEL gets wrong, true>predicted\n"
    "      --confusion FILE PNG heatmap of MODEL's confusion matrix on DATA\n"
    "      --curves FILE    SVG plot of MODEL's training loss and accuracy per epoch\n"
    "      --cols N         digits per row in PNG grids (default 10, 20 for --errors)\n"
    "      --scale N        PNG pixels per digit pixel (default 2)\n"
    "      --color WHEN     auto, always or never, for terminal drawings\n"
    "  -j, --threads N      worker threads\n"
    "  -h, --help           this help\n"
    "\n"
    "Without --grid, --errors, --confusion or --curves the digits are drawn in\n"
    "the terminal.\n";

typedef struct show_args {
    const char *model_path, *data_path, *split;
    const char *grid, *errors, *confusion, *curves;
    long count, start, cols, scale;
    int color;
} show_args;

/* What a run works on: the data, the model, and predictions for [lo, hi). */
typedef struct show_ctx {
    const show_args *a;
    dn_model *m;
    dn_dataset ds;
    size_t lo, hi;
    int *pred;
    float *conf;
} show_ctx;

/* ======================================================================== */
/* Data, model, predictions                                                 */
/* ======================================================================== */

static int load_data(show_ctx *c) {
    const show_args *a = c->a;
    ds_format f = ds_guess_source(a->data_path);
    if (access(a->data_path, F_OK) != 0) return cli_error("show", "%s: not found", a->data_path);
    if (f == DS_AUTO)
        return cli_error("show", "%s: not a data set (folder, IDX or CSV)", a->data_path);
    ds_opts o = {.split = a->split ? a->split : "test"};
    dn_error err = {{0}};
    if (ds_load(a->data_path, f, &o, &c->ds, &err) != DN_OK)
        return cli_error("show", "%s", err.msg);
    if ((size_t)a->start >= c->ds.count)
        return cli_error("show", "--start %ld: %s holds %zu images", a->start, a->data_path,
                         c->ds.count);
    return EXIT_OK;
}

/* Classifies images [lo, hi) of the data set with one inference context. */
static int predict_range(show_ctx *c, size_t lo, size_t hi) {
    if (dn_model_input_size(c->m) != c->ds.rows * c->ds.cols)
        return cli_error("show", "%s holds %dx%d images; the model takes 784 inputs",
                         c->a->data_path, c->ds.cols, c->ds.rows);
    enum { CHUNK = 256 };
    size_t n = hi - lo;
    c->lo = lo;
    c->hi = hi;
    c->pred = malloc(n * sizeof *c->pred);
    c->conf = malloc(n * sizeof *c->conf);
    float *x = malloc(sizeof(float) * CHUNK * 784), *p = malloc(sizeof(float) * CHUNK * 10);
    dn_infer *ctx = NULL;
    dn_error err = {{0}};
    dn_status st =
        c->pred && c->conf && x && p ? dn_infer_create(c->m, CHUNK, &ctx, &err) : DN_E_NOMEM;
    for (size_t i = lo; st == DN_OK && i < hi; i += CHUNK) {
        size_t k = hi - i < CHUNK ? hi - i : CHUNK;
        dn_model_inputs_from_pixels(c->ds.images + i * 784, k * 784, x);
        st = dn_infer_run(ctx, x, k, p, &err);
        for (size_t j = 0; st == DN_OK && j < k; j++) {
            int best = 0;
            for (int d = 1; d < 10; d++)
                if (p[j * 10 + d] > p[j * 10 + best]) best = d;
            c->pred[i - lo + j] = best;
            c->conf[i - lo + j] = p[j * 10 + best];
        }
    }
    dn_infer_free(ctx);
    free(x);
    free(p);
    if (st == DN_E_NOMEM && !err.msg[0]) return cli_error("show", "out of memory");
    if (st != DN_OK) return cli_error("show", "%s", err.msg);
    return EXIT_OK;
}

/* ======================================================================== */
/* Terminal                                                                 */
/* ======================================================================== */

static int show_terminal(show_ctx *c, size_t lo, size_t n) {
    const unsigned char **imgs = malloc(n * sizeof *imgs);
    char **caps = calloc(n, sizeof *caps);
    int ok = imgs && caps;
    size_t px = (size_t)c->ds.rows * (size_t)c->ds.cols;
    for (size_t i = 0; ok && i < n; i++) {
        size_t k = lo + i;
        imgs[i] = c->ds.images + k * px;
        ok = (caps[i] = malloc(64)) != NULL;
        if (!ok) break;
        int len = snprintf(caps[i], 64, "#%zu", k);
        if (c->ds.labels) len += snprintf(caps[i] + len, 64 - (size_t)len, ": %d", c->ds.labels[k]);
        if (c->pred)
            snprintf(caps[i] + len, 64 - (size_t)len, "%s %d (%.0f%%)",
                     c->ds.labels ? ", predicted" : ": predicted", c->pred[k - c->lo],
                     100 * c->conf[k - c->lo]);
    }
    if (ok)
        draw_term_images(stdout, imgs, (const char *const *)caps, (int)n, c->ds.rows, c->ds.cols,
                         draw_use_color(stdout, c->a->color), draw_term_width(stdout));
    for (size_t i = 0; caps && i < n; i++) free(caps[i]);
    free(caps);
    free(imgs);
    return ok ? EXIT_OK : cli_error("show", "out of memory");
}

/* ======================================================================== */
/* PNG pictures                                                             */
/* ======================================================================== */

static int save_png(const char *path, const draw_canvas *cv) {
    dn_error err = {{0}};
    if (dn_png_save_gray(path, cv->px, cv->w, cv->h, &err) != DN_OK)
        return cli_error("show", "%s", err.msg);
    printf("wrote %s (%dx%d)\n", path, cv->w, cv->h);
    return EXIT_OK;
}

/* A grid of the images idx[0..n) with a caption above each. */
static int save_grid(show_ctx *c, const char *path, const char *title, const size_t *idx, size_t n,
                     int cols) {
    int scale = (int)c->a->scale, tw = c->ds.cols * scale, th = c->ds.rows * scale;
    int fs = scale >= 2 ? 2 : 1, band = 7 * fs + 6, gap = 8, top = 36;
    int ncols = n < (size_t)cols ? (n ? (int)n : 1) : cols,
        nrows = (int)((n + (size_t)cols - 1) / (size_t)cols);
    int w = gap + ncols * (tw + gap), h = top + nrows * (band + th + gap) + gap;
    if (w < draw_text_width(title, 2) + 2 * gap) w = draw_text_width(title, 2) + 2 * gap;
    draw_canvas cv;
    if (draw_canvas_init(&cv, w, h, 255)) return cli_error("show", "%s: picture too large", path);
    draw_text(&cv, gap, 12, title, 2, 0);
    size_t px = (size_t)c->ds.rows * (size_t)c->ds.cols;
    for (size_t i = 0; i < n; i++) {
        size_t k = idx[i];
        int x = gap + (int)(i % (size_t)cols) * (tw + gap);
        int y = top + (int)(i / (size_t)cols) * (band + th + gap);
        char cap[32] = "";
        int pred = c->pred && k >= c->lo && k < c->hi ? c->pred[k - c->lo] : -1;
        if (c->ds.labels && pred >= 0 && pred != c->ds.labels[k])
            snprintf(cap, sizeof cap, "%d>%d", c->ds.labels[k], pred);
        else if (c->ds.labels)
            snprintf(cap, sizeof cap, "%d", c->ds.labels[k]);
        else if (pred >= 0)
            snprintf(cap, sizeof cap, "%d", pred);
        else
            snprintf(cap, sizeof cap, "#%zu", k);
        int s = draw_text_width(cap, fs) <= tw ? fs : 1;
        draw_text(&cv, x + (tw - draw_text_width(cap, s)) / 2, y + 2, cap, s, 0);
        draw_image(&cv, x, y + band, c->ds.images + k * px, c->ds.rows, c->ds.cols, scale);
    }
    int rc = save_png(path, &cv);
    draw_canvas_free(&cv);
    return rc;
}

static int do_grid(show_ctx *c, size_t lo, size_t n) {
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!idx) return cli_error("show", "out of memory");
    for (size_t i = 0; i < n; i++) idx[i] = lo + i;
    char title[96];
    snprintf(title, sizeof title, "SAMPLES %zu-%zu OF %zu", lo, lo + n - 1, c->ds.count);
    int rc = save_grid(c, c->a->grid, title, idx, n, c->a->cols ? (int)c->a->cols : 10);
    free(idx);
    return rc;
}

static int do_errors(show_ctx *c) {
    size_t max = c->a->count > 0 ? (size_t)c->a->count : 400, n = 0, total = 0;
    size_t *idx = malloc(max * sizeof *idx);
    if (!idx) return cli_error("show", "out of memory");
    for (size_t k = c->lo; k < c->hi; k++) {
        if (c->pred[k - c->lo] == c->ds.labels[k]) continue;
        total++;
        if (n < max) idx[n++] = k;
    }
    char title[128];
    snprintf(title, sizeof title, "ERRORS: %zu OF %zu (TRUE>PREDICTED)%s", total, c->hi - c->lo,
             n < total ? " FIRST ONES" : "");
    int cols = c->a->cols > 0 ? (int)c->a->cols : 20;
    int rc = save_grid(c, c->a->errors, title, idx, n, cols);
    free(idx);
    return rc;
}

/* Counts [true][predicted] over the predicted range. */
static void confusion(const show_ctx *c, size_t m[10][10]) {
    memset(m, 0, sizeof(size_t) * 100);
    for (size_t k = c->lo; k < c->hi; k++) m[c->ds.labels[k]][c->pred[k - c->lo]]++;
}

static void centre_text(draw_canvas *cv, int cx, int y, const char *s, int scale, int v) {
    draw_text(cv, cx - draw_text_width(s, scale) / 2, y, s, scale, (unsigned char)v);
}

static int do_confusion(show_ctx *c) {
    enum { CELL = 48, X0 = 70, Y0 = 96 };
    size_t m[10][10], correct = 0, total = c->hi - c->lo;
    confusion(c, m);
    for (int i = 0; i < 10; i++) correct += m[i][i];
    draw_canvas cv;
    if (draw_canvas_init(&cv, X0 + 10 * CELL + 20, Y0 + 10 * CELL + 20, 255))
        return cli_error("show", "out of memory");
    char s[64];
    snprintf(s, sizeof s, "CONFUSION  ACCURACY %.2f%%", total ? 100.0 * correct / total : 0.0);
    draw_text(&cv, 12, 12, s, 2, 0);
    centre_text(&cv, X0 + 5 * CELL, 42, "PREDICTED", 2, 0);
    for (int i = 0; i < 4; i++) {
        char ch[2] = {"TRUE"[i], 0};
        draw_text(&cv, 12, Y0 + 5 * CELL - 40 + 20 * i, ch, 2, 0);
    }
    for (int i = 0; i < 10; i++) {
        size_t row = 0;
        for (int j = 0; j < 10; j++) row += m[i][j];
        snprintf(s, sizeof s, "%d", i);
        centre_text(&cv, X0 + i * CELL + CELL / 2, Y0 - 22, s, 2, 0);
        draw_text(&cv, X0 - 22, Y0 + i * CELL + CELL / 2 - 7, s, 2, 0);
        for (int j = 0; j < 10; j++) {
            double frac = row ? (double)m[i][j] / (double)row : 0;
            int v = 255 - (int)lround(235 * sqrt(frac)), x = X0 + j * CELL, y = Y0 + i * CELL;
            draw_rect(&cv, x, y, CELL, CELL, 200);
            draw_rect(&cv, x + 1, y + 1, CELL - 1, CELL - 1, (unsigned char)v);
            snprintf(s, sizeof s, "%zu", m[i][j]);
            if (m[i][j])
                centre_text(&cv, x + CELL / 2 + 1, y + CELL / 2 - 3, s, 1, v < 128 ? 255 : 0);
        }
    }
    draw_rect(&cv, X0, Y0 + 10 * CELL, 10 * CELL + 1, 1, 200);
    draw_rect(&cv, X0 + 10 * CELL, Y0, 1, 10 * CELL, 200);
    int rc = save_png(c->a->confusion, &cv);
    draw_canvas_free(&cv);
    return rc;
}

/* ======================================================================== */
/* SVG curves                                                               */
/* ======================================================================== */

static int do_curves(show_ctx *c) {
    const char *hist = dn_model_get_meta(c->m, "history"),
               *best = dn_model_get_meta(c->m, "best_epoch");
    if (!hist || !*hist)
        return cli_error("show", "%s: the model records no training history", c->a->model_path);
    size_t n;
    dn_epoch_record *h = cli_history(hist, &n);
    if (!h)
        return cli_error("show", "%s: %s", c->a->model_path,
                         dn_history_parse(hist, NULL, 0) ? "out of memory"
                                                         : "malformed training history");
    char title[600];
    snprintf(title, sizeof title, "%s  (%s)", c->a->model_path, dn_model_arch(c->m));
    char *svg = draw_curves_svg(h, n, best ? atoi(best) : 0, title);
    free(h);
    if (!svg) return cli_error("show", "out of memory");
    dn_error err = {{0}};
    dn_status st = dn_write_atomic(c->a->curves, svg, strlen(svg), &err);
    free(svg);
    if (st != DN_OK) return cli_error("show", "%s", err.msg);
    printf("wrote %s (%zu epochs)\n", c->a->curves, n);
    return EXIT_OK;
}

/* ======================================================================== */
/* Command                                                                  */
/* ======================================================================== */

static int parse_args(int argc, char **argv, show_args *a) {
    static const struct option opts[] = {{"count", required_argument, 0, 'n'},
                                         {"start", required_argument, 0, 'S'},
                                         {"split", required_argument, 0, 's'},
                                         {"grid", required_argument, 0, 'G'},
                                         {"errors", required_argument, 0, 'E'},
                                         {"confusion", required_argument, 0, 'C'},
                                         {"curves", required_argument, 0, 'V'},
                                         {"cols", required_argument, 0, 'c'},
                                         {"scale", required_argument, 0, 'x'},
                                         {"color", required_argument, 0, 'K'},
                                         {"threads", required_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int opt;
    long l;
    int first = 1;
    while ((opt = cli_getopt("show", argc, argv, "n:j:h", opts, &first)) != -1) {
        int bad = 0;
        switch (opt) {
        case 'n':
            bad = cli_parse_long("show", "--count", optarg, 1, 100000, &a->count);
            break;
        case 'S':
            bad = cli_parse_long("show", "--start", optarg, 0, 100000000, &a->start);
            break;
        case 'c':
            bad = cli_parse_long("show", "--cols", optarg, 1, 100, &a->cols);
            break;
        case 'x':
            bad = cli_parse_long("show", "--scale", optarg, 1, 16, &a->scale);
            break;
        case 'G':
            a->grid = optarg;
            break;
        case 'E':
            a->errors = optarg;
            break;
        case 'C':
            a->confusion = optarg;
            break;
        case 'V':
            a->curves = optarg;
            break;
        case 's':
            if (strcmp(optarg, "train") && strcmp(optarg, "test"))
                return cli_usage_error("show", "--split: expected train or test");
            a->split = optarg;
            break;
        case 'K':
            if ((a->color = draw_color_parse(optarg)) < 0)
                return cli_usage_error("show", "--color: expected auto, always or never");
            break;
        case 'j':
            bad = cli_parse_long("show", "--threads", optarg, 0, 256, &l);
            if (!bad) dn_set_threads((int)l);
            break;
        case 'h':
            fputs(usage_text, stdout);
            return -1;
        default:
            return EXIT_USAGE; /* cli_getopt said why */
        }
        if (bad) return EXIT_USAGE;
    }
    int i = optind;
    if (i < argc && cli_is_model_file(argv[i])) a->model_path = argv[i++];
    if (i < argc) a->data_path = argv[i++];
    if (i < argc) return cli_usage_error("show", "unexpected argument '%s'", argv[i]);
    return EXIT_OK;
}

static int run(show_ctx *c, show_args *a) {
    int terminal = !a->grid && !a->errors && !a->confusion && !a->curves;
    int per = (draw_term_width(stdout) + 2) / 30;
    long dflt = terminal ? (per > 1 ? 2 * per : 2) : 100;
    int rc = EXIT_OK;
    if ((a->errors || a->confusion || a->curves) && !a->model_path)
        if (!(a->model_path = cli_default_model("show"))) return EXIT_RUNTIME;
    if (a->model_path && !(c->m = cli_load_model("show", a->model_path))) return EXIT_RUNTIME;
    if (terminal || a->grid || a->errors || a->confusion) rc = load_data(c);
    if (rc) return rc;
    size_t lo = (size_t)a->start, n = (size_t)(a->count ? a->count : dflt);
    if (n > c->ds.count - lo) n = c->ds.count - lo;
    if ((a->errors || a->confusion) && !c->ds.labels)
        return cli_error("show", "%s: has no labels; --errors and --confusion need them",
                         a->data_path);
    if (c->m && (a->errors || a->confusion))
        rc = predict_range(c, 0, c->ds.count);
    else if (c->m && (terminal || a->grid))
        rc = predict_range(c, lo, lo + n);
    if (!rc && terminal) rc = show_terminal(c, lo, n);
    if (!rc && a->grid) rc = do_grid(c, lo, n);
    if (!rc && a->errors) rc = do_errors(c);
    if (!rc && a->confusion) rc = do_confusion(c);
    if (!rc && a->curves) rc = do_curves(c);
    return rc;
}

int cmd_show(int argc, char **argv) {
    show_args a = {.data_path = "data/mnist", .scale = 2};
    int rc = parse_args(argc, argv, &a);
    if (rc < 0) return EXIT_OK;
    if (rc) return rc;
    show_ctx c = {.a = &a};
    rc = run(&c, &a);
    dn_dataset_free(&c.ds);
    dn_model_free(c.m);
    free(c.pred);
    free(c.conf);
    return rc;
}
