/*
 * main.c — the digitnet command: dispatches to one subcommand per file.
 */
#include "cli.h"

#include <string.h>

static const struct {
    const char *name, *help;
    int (*fn)(int, char **);
} commands[] = {
    {"train", "train a network on MNIST-style data and save the model", cmd_train},
    {"test", "evaluate a model: accuracy, per-class precision/recall, confusion", cmd_test},
    {"info", "describe a model file", cmd_info},
    {"calibrate", "fit a model's temperature so its probabilities mean what they say",
     cmd_calibrate},
    {"predict", "classify images, folders, CSV files or standard input", cmd_predict},
    {"convert", "convert data sets between image folders, IDX and CSV", cmd_convert},
    {"show", "draw digits in the terminal; PNG grids, confusion heatmap, curves", cmd_show},
    {"serve", "serve the drawing page and the prediction API", cmd_serve},
};

static void usage(FILE *out) {
    fprintf(out, "usage: digitnet COMMAND [OPTIONS]\n\n"
                 "Handwritten digit recognition with neural networks written from scratch.\n\n"
                 "Commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(out, "\nRun 'digitnet COMMAND --help' or 'digitnet help COMMAND' for a command's "
                 "options.\n"
                 "Exit status: 0 ok, 1 runtime error, 2 usage error.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        (!strcmp(argv[1], "help") && argc == 2)) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "help")) { /* digitnet help CMD = digitnet CMD --help */
        if (argc > 3) {
            fprintf(stderr, "digitnet help: unexpected argument '%s'\n", argv[3]);
            return EXIT_USAGE;
        }
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
            if (!strcmp(argv[2], commands[i].name)) {
                char *args[] = {argv[2], "--help", NULL};
                return commands[i].fn(2, args);
            }
        fprintf(stderr, "digitnet help: unknown command '%s'\n", argv[2]);
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("digitnet %s\n", dn_version());
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "digitnet: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
