/*
 * cmd_test.c — `digitnet test`: accuracy, per-class precision and recall,
 * and the confusion matrix of a model on a labeled test set.
 */
#include "cli.h"
#include "datasets.h"

#include <getopt.h>
#include <string.h>

static const char *usage_text =
    "usage: digitnet test [MODEL] [--data PATH] [--json] [--temperature T] [--threads N]\n"
    "\n"
    "Evaluates MODEL (default: the shipped model) on labeled data: by default\n"
    "the 10,000 test images of data/mnist (t10k-images-idx3-ubyte and\n"
    "t10k-labels-idx1-ubyte, optionally .gz).\n"
    "\n"
    "  -d, --data PATH    a directory of MNIST-named IDX files (its test split),\n"
    "                     a folder with subfolders 0..9 of images, a labeled\n"
    "                     Kaggle CSV (label,pixel0..pixel783) or an IDX file\n"
    "      --csv FILE     the same as --data FILE\n"
    "      --normalize    read image folders of any size through the MNIST\n"
    "                     normalisation (without it: 28x28, white ink on black)\n"
    "      --invert       invert folder images as they are read\n"
    "      --temperature T  evaluate at temperature T instead of the model's own\n"
    "                     (1 = uncalibrated; 0.05..20)\n"
    "      --json         one JSON object: accuracy, count, correct, loss,\n"
    "                     temperature, ece (calibration error), unsure (answers\n"
    "                     below 80%), unsure_correct, sure_accuracy, precision,\n"
    "                     recall, confusion ([true][predicted])\n"
    "  -j, --threads N    worker threads\n"
    "  -h, --help         this help\n";

/* Accuracy over the answers given with confidence (1 when all were unsure). */
static double sure_accuracy(const dn_eval *ev) {
    size_t sure = ev->count - ev->unsure;
    return sure ? (double)(ev->correct - ev->unsure_correct) / (double)sure : 1.0;
}

static void print_json(const char *model, double temperature, const dn_eval *ev, const double *prec,
                       const double *rec) {
    printf("{\"model\":\"");
    for (const char *p = model; *p; p++) {
        if (*p == '"' || *p == '\\') putchar('\\');
        if ((unsigned char)*p >= 0x20) putchar(*p);
    }
    printf("\",\"count\":%zu,\"correct\":%zu,\"accuracy\":%.6f,\"loss\":", ev->count, ev->correct,
           ev->accuracy);
    cli_json_number(stdout, ev->loss, 6);
    printf(",\"temperature\":");
    cli_json_number(stdout, temperature, 6);
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

static void print_text(const char *model, double temperature, const dn_eval *ev, const double *prec,
                       const double *rec) {
    printf("model     %s\n", model);
    printf("accuracy  %.2f%% (%zu/%zu), mean loss %.4f\n", 100 * ev->accuracy, ev->correct,
           ev->count, ev->loss);
    printf("calibration error %.2f%% (temperature %.3f%s)\n", 100 * ev->ece, temperature,
           temperature == 1.0 ? ", not calibrated" : "");
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
    const char *path;
    int rc;
    dn_model *m = cli_model_arg("test", argc, argv, &path, &rc);
    if (!m) return rc;
    if (temp && dn_model_set_meta(m, "temperature", temp) != DN_OK) {
        dn_model_free(m);
        return cli_usage_error("test", "--temperature: '%s' is not a number in %g..%g", temp,
                               DN_TEMPERATURE_MIN, DN_TEMPERATURE_MAX);
    }
    dn_dataset ds = {0};
    dn_error err = {{0}};
    dn_status st = ds_load_data(data, "test", &dso, &ds, NULL, &err);
    if (st == DN_E_ARG && strstr(err.msg, "has no labels"))
        snprintf(err.msg, sizeof err.msg, "%s: has no labels; use 'digitnet predict' instead",
                 data);
    dn_eval ev;
    double temperature = dn_model_temperature(m);
    if (st == DN_OK) st = dn_model_evaluate(m, &ds, &ev, &err);
    dn_dataset_free(&ds);
    dn_model_free(m);
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
        print_json(path, temperature, &ev, prec, rec);
    else
        print_text(path, temperature, &ev, prec, rec);
    return EXIT_OK;
}
