/*
 * cmd_info.c — `digitnet info`: architecture, layer table, parameter
 * count, training settings and recorded accuracy of a model file, as text
 * or (--json) as one JSON object. Text that came from the file is printed
 * cleaned of control characters.
 */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *usage_text =
    "usage: digitnet info [MODEL] [--json]\n"
    "\n"
    "Describes MODEL (default: the shipped model): architecture, layers,\n"
    "parameter count, training settings and recorded accuracy per epoch.\n"
    "\n"
    "      --json         one JSON object: model, architecture, parameters,\n"
    "                     meta (the stored settings), history (per epoch)\n"
    "  -h, --help         this help\n";

static void print_text(const char *path, dn_model *m) {
    printf("model         ");
    cli_print_clean(stdout, path);
    printf("\narchitecture  %s\n", dn_model_arch(m));
    printf("parameters    %zu\n", dn_model_param_count(m));
    const char *k, *v;
    for (size_t i = 0; dn_model_meta_at(m, i, &k, &v); i++) {
        if (!strcmp(k, "history")) continue;
        cli_print_clean(stdout, k);
        for (size_t n = strlen(k); n < 14; n++) putchar(' ');
        if (strlen(k) >= 14) putchar(' '); /* a long key never runs into its value */
        cli_print_clean(stdout, v);
        putchar('\n');
    }
    size_t n;
    dn_epoch_record *h = cli_history(dn_model_get_meta(m, "history"), &n);
    if (n) printf("\nepoch  train loss  train acc  val acc\n");
    for (size_t i = 0; i < n; i++) {
        printf("%5d  %10.4f  %8.2f%%  ", h[i].epoch, h[i].train_loss, 100 * h[i].train_accuracy);
        if (h[i].val_accuracy >= 0)
            printf("%6.2f%%\n", 100 * h[i].val_accuracy);
        else
            printf("%7s\n", "-");
    }
    free(h);
    printf("\n%s", dn_model_summary(m));
}

static void print_json(const char *path, dn_model *m) {
    printf("{\"model\":");
    cli_json_string(stdout, path);
    printf(",\"architecture\":");
    cli_json_string(stdout, dn_model_arch(m));
    printf(",\"parameters\":%zu,\"meta\":{", dn_model_param_count(m));
    const char *k, *v;
    int n = 0;
    for (size_t i = 0; dn_model_meta_at(m, i, &k, &v); i++) {
        if (!strcmp(k, "history")) continue;
        printf("%s", n++ ? "," : "");
        cli_json_string(stdout, k);
        putchar(':');
        cli_json_string(stdout, v);
    }
    printf("},\"history\":[");
    size_t count;
    dn_epoch_record *h = cli_history(dn_model_get_meta(m, "history"), &count);
    for (size_t i = 0; i < count; i++) {
        printf("%s{\"epoch\":%d,\"train_loss\":%.6g,\"train_accuracy\":%.6g,\"val_accuracy\":",
               i ? "," : "", h[i].epoch, h[i].train_loss, h[i].train_accuracy);
        if (h[i].val_accuracy >= 0)
            printf("%.6g}", h[i].val_accuracy);
        else
            printf("null}");
    }
    free(h);
    printf("]}\n");
}

int cmd_info(int argc, char **argv) {
    static const struct option opts[] = {
        {"json", no_argument, 0, 'J'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int opt, first = 1, json = 0;
    while ((opt = cli_getopt("info", argc, argv, "h", opts, &first)) != -1) {
        switch (opt) {
        case 'J':
            json = 1;
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
    dn_model *m = cli_model_arg("info", argc, argv, &path, &rc);
    if (!m) return rc;
    (json ? print_json : print_text)(path, m);
    dn_model_free(m);
    return EXIT_OK;
}
