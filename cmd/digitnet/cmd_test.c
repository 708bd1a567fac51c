/*
 * cmd_test.c — `digitnet test`: accuracy, per-class precision and recall,
 * and the confusion matrix of a model on a labeled test set.
 */
#include "cli.h"
#include "datasets.h"

#include <getopt.h>
#include <math.h>
#include <string.h>

static const char *usage_text =
    "usage: digitnet test [MODEL...] [--data PATH] [--json] [--temperature T] [--threads N]\n"
    "\n"
    "Evaluates MODEL (default: the shipped model) on labeled data: by default\n"
    "the 10,000 test images of data/mnist (t10k-images-idx3-ubyte and\n"
    "t10k-labels-idx1-ubyte, optionally .gz). Several models (up to 8) are\n"
    "evaluated as an ensemble: the mean of their probabilities answers.\n"
    "\n"
    "  -d, --data PATH    a directory of MNIST-named IDX files (its test split),\n"
    "                     a folder with subfolders 0..9 of images, a labeled\n"
    "                     Kaggle CSV (label,pixel0..pixel783) or an IDX file\n"
    "      --csv FILE     the same as --data FILE\n"
    "      --normalize    read image folders of any size through the MNIST\n"
    "                     normalisation (without it: 28x28, white ink on black)\n"
    "      --invert       invert folder images as they are read\n"
    "      --temperature T  evaluate at temperature T instead of the model's own\n"
    "                     (of every model, with several)\n"
    "                     (1 = uncalibrated; 0.05..20)\n"
    "      --json         one JSON object: accuracy, count, correct, loss,\n"
    "                     temperature (null for several models, whose own are\n"
    "                     in temperatures), ece (calibration error), unsure (answers\n"
    "                     below 80%), unsure_correct, sure_accuracy, precision,\n"
    "                     recall, confusion ([true][predicted])\n"
    "  -j, --threads N    worker threads\n"
    "  -h, --help         this help\n";

/* Accuracy over the answers given with confidence (1 when all were unsure). */
static double sure_accuracy(const dn_eval *ev) {
    size_t sure = ev->count - ev->unsure;
    return sure ? (double)(ev->correct - ev->unsure_correct) / (double)sure : 1.0;
}

/* The models evaluated: their paths and temperatures. */
typedef struct tested {
    int k;
    const char *path[DN_ENSEMBLE_MAX];
    dn_model *m[DN_ENSEMBLE_MAX];
    double temperature[DN_ENSEMBLE_MAX];
} tested;

static void print_json(const tested *t, const dn_eval *ev, const double *prec, const double *rec) {
    printf("{\"model\":");
    if (t->k == 1) {
        cli_json_string(stdout, t->path[0]);
    } else {
        printf("[");
        for (int q = 0; q < t->k; q++) {
            if (q) printf(",");
            cli_json_string(stdout, t->path[q]);
        }
        printf("]");
    }
    printf(",\"count\":%zu,\"correct\":%zu,\"accuracy\":%.6f,\"loss\":", ev->count, ev->correct,
           ev->accuracy);
    cli_json_number(stdout, ev->loss, 6);
    printf(",\"temperature\":");
    cli_json_number(stdout, t->k == 1 ? t->temperature[0] : NAN, 6);
    if (t->k > 1) {
        printf(",\"temperatures\":[");
        for (int q = 0; q < t->k; q++) {
            if (q) printf(",");
            cli_json_number(stdout, t->temperature[q], 6);
        }
        printf("]");
    }
    printf(",\"ece\":");
    cli_json_number(stdout, ev->ece, 6);
    printf(",\"unsure\":%zu,\"unsure_correct\":%zu,\"sure_accuracy\":%.6f,", ev->unsure,
           ev->unsure_correct, sure_accuracy(ev));
    printf("\"precision\":[");
    for (int i = 0; i < 10; i++) printf("%s%.6f", i ? "," : "", prec[i]);
    printf("],\"recall\":[");
    for (int i = 0; i < 10; i++) printf("%s%.6f", i ? "," : "", rec[i]);
    printf("],\"confusion\":[");
    for (int i = 0; i < 10; i++) {
        printf("%s[", i ? "," : "");
        for (int j = 0; j < 10; j++) printf("%s%zu", j ? "," : "", ev->confusion[i][j]);
        printf("]");
    }
    printf("]}\n");
}

static void print_text(const tested *t, const dn_eval *ev, const double *prec, const double *rec) {
    if (t->k == 1) {
        printf("model     %s\n", t->path[0]);
    } else {
        printf("models    %d, their probabilities averaged:\n", t->k);
        for (int q = 0; q < t->k; q++)
            printf("          %s (temperature %.3f)\n", t->path[q], t->temperature[q]);
    }
    printf("accuracy  %.2f%% (%zu/%zu), mean loss %.4f\n", 100 * ev->accuracy, ev->correct,
           ev->count, ev->loss);
    if (t->k == 1)
        printf("calibration error %.2f%% (temperature %.3f%s)\n", 100 * ev->ece, t->temperature[0],
               t->temperature[0] == 1.0 ? ", not calibrated" : "");
    else
        printf("calibration error %.2f%%\n", 100 * ev->ece);
    printf("not sure  %zu (%.2f%%), %zu of them right; %.2f%% right when sure\n\n", ev->unsure,
           ev->count ? 100.0 * (double)ev->unsure / (double)ev->count : 0.0, ev->unsure_correct,
           100 * sure_accuracy(ev));
    printf("digit  precision  recall\n");
    for (int i = 0; i < 10; i++) printf("%5d  %8.2f%%  %6.2f%%\n", i, 100 * prec[i], 100 * rec[i]);
    printf("\nconfusion matrix (rows: true digit, columns: predicted)\n     ");
    for (int j = 0; j < 10; j++) printf("%6d", j);
    printf("\n");
    for (int i = 0; i < 10; i++) {
        printf("%5d", i);
        for (int j = 0; j < 10; j++) printf("%6zu", ev->confusion[i][j]);
        printf("\n");
    }
}

int cmd_test(int argc, char **argv) {
    static const struct option opts[] = {{"data", required_argument, 0, 'd'},
                                         {"csv", required_argument, 0, 'C'},
                                         {"json", no_argument, 0, 'J'},
                                         {"threads", required_argument, 0, 'j'},
                                         {"normalize", no_argument, 0, 'N'},
                                         {"invert", no_argument, 0, 'I'},
                                         {"temperature", required_argument, 0, 'T'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *temp = NULL;
    const char *data = "data/mnist";
    ds_opts dso = {0};
    int json = 0, opt;
    long l;
    int first = 1;
    while ((opt = cli_getopt("test", argc, argv, "d:j:h", opts, &first)) != -1) {
        switch (opt) {
        case 'd':
            data = optarg;
            break;
        case 'C':
            data = optarg;
            break;
        case 'N':
            dso.normalize = 1;
            break;
        case 'I':
            dso.invert = 1;
            break;
        case 'J':
            json = 1;
            break;
        case 'T':
            temp = optarg;
            break;
        case 'j':
            if (cli_parse_long("test", "--threads", optarg, 0, 256, &l)) return EXIT_USAGE;
            dn_set_threads((int)l);
            break;
        case 'h':
            fputs(usage_text, stdout);
            return EXIT_OK;
        default:
            return EXIT_USAGE; /* cli_getopt said why */
        }
    }
    tested t = {0};
    int rc = EXIT_OK;
    if (argc - optind > DN_ENSEMBLE_MAX)
        return cli_usage_error("test", "at most %d models, not %d", DN_ENSEMBLE_MAX, argc - optind);
    if (optind == argc) {
        t.path[t.k++] = cli_default_model("test");
        if (!t.path[0]) return EXIT_RUNTIME; /* cli_default_model said why */
    }
    while (optind < argc) t.path[t.k++] = argv[optind++];
    for (int q = 0; q < t.k && rc == EXIT_OK; q++) {
        if (!(t.m[q] = cli_load_model("test", t.path[q])))
            rc = EXIT_RUNTIME;
        else if (temp && dn_model_set_meta(t.m[q], "temperature", temp) != DN_OK)
            rc = cli_usage_error("test", "--temperature: '%s' is not a number in %g..%g", temp,
                                 DN_TEMPERATURE_MIN, DN_TEMPERATURE_MAX);
        else
            t.temperature[q] = dn_model_temperature(t.m[q]);
    }
    dn_dataset ds = {0};
    dn_error err = {{0}};
    dn_status st = DN_OK;
    if (rc == EXIT_OK) {
        st = ds_load_data(data, "test", &dso, &ds, NULL, &err);
        if (st == DN_E_ARG && strstr(err.msg, "has no labels"))
            snprintf(err.msg, sizeof err.msg, "%s: has no labels; use 'digitnet predict' instead",
                     data);
    }
    dn_eval ev;
    if (rc == EXIT_OK && st == DN_OK)
        st = dn_models_evaluate((const dn_model *const *)t.m, t.k, &ds, &ev, &err);
    dn_dataset_free(&ds);
    for (int q = 0; q < t.k; q++) dn_model_free(t.m[q]);
    if (rc != EXIT_OK) return rc;
    if (st != DN_OK) return cli_error("test", "%s", err.msg);
    double prec[10], rec[10];
    for (int c = 0; c < 10; c++) {
        size_t tp = ev.confusion[c][c], predicted = 0, actual = 0;
        for (int k = 0; k < 10; k++) {
            predicted += ev.confusion[k][c];
            actual += ev.confusion[c][k];
        }
        prec[c] = predicted ? (double)tp / (double)predicted : 0.0;
        rec[c] = actual ? (double)tp / (double)actual : 0.0;
    }
    if (json)
        print_json(&t, &ev, prec, rec);
    else
        print_text(&t, &ev, prec, rec);
    return EXIT_OK;
}
