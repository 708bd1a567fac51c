/*
 * cmd_calibrate.c — `digitnet calibrate`: fits the temperature of an
 * existing model on a validation split (docs/calibration.md) and saves the
 * model with it; the weights, and so every answer, stay as they are.
 * `digitnet train` does the same at the end of every run.
 */
#include "cli.h"
#include "datasets.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char *usage_text =
    "usage: digitnet calibrate [MODEL] -o OUT [--data PATH] [--val N] [--threads N]\n"
    "\n"
    "Fits MODEL's temperature (default: the shipped model) so that its\n"
    "probabilities are calibrated, on the validation split that training held\n"
    "out: the last --val images of the training data. Prints the calibration\n"
    "error before and after, and saves the model to OUT (atomically; OUT must not\n"
    "be MODEL). The fitted temperature is kept only when it lowers that error.\n"
    "The answers do not change, only how sure they are.\n"
    "\n"
    "  -o, --output OUT   where to save the calibrated model\n"
    "  -d, --data PATH    training data whose tail is the validation split: a\n"
    "                     directory of MNIST-named IDX files (default data/mnist),\n"
    "                     a folder with subfolders 0..9 or a labeled CSV\n"
    "      --normalize    read image folders through the MNIST normalisation\n"
    "      --val N        validation images, the last N (default: as many as the\n"
    "                     model's training held out, else 5000)\n"
    "  -j, --threads N    worker threads\n"
    "  -h, --help         this help\n";

int cmd_calibrate(int argc, char **argv) {
    static const struct option opts[] = {{"output", required_argument, 0, 'o'},
                                         {"data", required_argument, 0, 'd'},
                                         {"val", required_argument, 0, 'V'},
                                         {"threads", required_argument, 0, 'j'},
                                         {"normalize", no_argument, 0, 'N'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *data = "data/mnist", *out = NULL;
    ds_opts dso = {0};
    long val = 5000, l;
    int val_set = 0;
    int opt, first = 1;
    while ((opt = cli_getopt("calibrate", argc, argv, "o:d:j:h", opts, &first)) != -1) {
        switch (opt) {
        case 'o':
            out = optarg;
            break;
        case 'd':
            data = optarg;
            break;
        case 'N':
            dso.normalize = 1;
            break;
        case 'V':
            if (cli_parse_long("calibrate", "--val", optarg, 1, 100000000, &val)) return EXIT_USAGE;
            val_set = 1;
            break;
        case 'j':
            if (cli_parse_long("calibrate", "--threads", optarg, 0, 256, &l)) return EXIT_USAGE;
            dn_set_threads((int)l);
            break;
        case 'h':
            fputs(usage_text, stdout);
            return EXIT_OK;
        default:
            return EXIT_USAGE;
        }
    }
    if (!out || !*out) return cli_usage_error("calibrate", "-o OUT is required");
    const char *path = optind < argc ? argv[optind] : NULL;
    if (optind + 1 < argc)
        return cli_usage_error("calibrate", "unexpected argument '%s'", argv[optind + 1]);
    if (!path && !(path = cli_default_model("calibrate"))) return EXIT_RUNTIME;
    const char *inputs[] = {path, data};
    if (cli_output_not_input("calibrate", out, inputs, 2)) return EXIT_USAGE;
    dn_error err = {{0}};
    if (dn_output_check(out, &err) != DN_OK) return cli_error("calibrate", "%s", err.msg);
    dn_model *m = cli_load_model("calibrate", path);
    if (!m) return EXIT_RUNTIME;
    /* the split its training held out, as recorded in its settings */
    const char *set = dn_model_get_meta(m, "train_settings"),
               *rec = set ? strstr(set, " val=") : NULL;
    long held = rec ? strtol(rec + 5, NULL, 10) : -1;
    if (!val_set && held > 0) val = held;
    if (held == 0 || (val_set && held > 0 && val > held))
        fprintf(stderr,
                "digitnet calibrate: note: %s held out %ld validation images in training; "
                "the last %ld include images it learned from\n",
                path, held, val);
    dn_dataset ds = {0};
    dn_status st = ds_load_data(data, "train", &dso, &ds, NULL, &err);
    if (st == DN_OK && (size_t)val >= ds.count)
        st = ds_fail(&err, DN_E_ARG, "--val %ld: %s has only %zu images", val, data, ds.count);
    dn_eval before, after;
    double t0 = 1, t = 1, fitted = 1;
    if (st == DN_OK) {
        dn_dataset v = ds_tail(&ds, (size_t)val);
        st = cli_calibrate(m, &v, &before, &after, &t0, &t, &fitted, &err);
    }
    dn_dataset_free(&ds);
    if (st == DN_OK) st = dn_model_save(m, out, &err);
    dn_model_free(m);
    if (st != DN_OK) return cli_error("calibrate", "%s", err.msg);
    printf("the last %ld images of %s: accuracy %.2f%%, ECE %.2f%% at temperature %.3f\n", val,
           data, 100 * before.accuracy, 100 * before.ece, t0);
    if (t == fitted)
        printf("calibrated: temperature %.3f, ECE %.2f%%\n", t, 100 * after.ece);
    else
        printf("not calibrated: temperature %.3f would not lower the ECE; kept %.3f\n", fitted, t);
    printf("saved %s\n", out);
    return EXIT_OK;
}
