/*
 * cmd_info.c — `digitnet info`: architecture, layer table, parameter
 * count, training settings and recorded accuracy of a model file.
 */
#include "cli.h"

#include <string.h>

int cmd_info(int argc, char **argv) {
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: digitnet info [MODEL]\n\nDescribes MODEL (default: the shipped model): "
               "architecture, layers,\nparameter count, training settings and recorded "
               "accuracy.\n");
        return EXIT_OK;
    }
    if (argc > 2) return cli_usage_error("info", "unexpected argument '%s'", argv[2]);
    if (argc == 2 && argv[1][0] == '-' && argv[1][1])
        return cli_usage_error("info", "unknown option '%s'", argv[1]);
    const char *path = argc == 2 ? argv[1] : cli_default_model();
    dn_model *m = cli_load_model("info", path);
    if (!m) return EXIT_RUNTIME;
    printf("model         %s\n", path);
    printf("architecture  %s\n", dn_model_arch(m));
    printf("parameters    %zu\n", dn_model_param_count(m));
    const char *k, *v;
    for (size_t i = 0; dn_model_meta_at(m, i, &k, &v); i++) {
        if (!strcmp(k, "history")) continue;
        printf("%-13s %s\n", k, v);
    }
    const char *hist = dn_model_get_meta(m, "history");
    if (hist) {
        printf("\nepoch  train loss  train acc  val acc\n");
        const char *p = hist;
        while (*p) {
            int e;
            double loss, acc, vacc;
            if (sscanf(p, "%d:%lf:%lf:%lf", &e, &loss, &acc, &vacc) == 4) {
                printf("%5d  %10.4f  %8.2f%%  ", e, loss, 100 * acc);
                if (vacc >= 0)
                    printf("%6.2f%%\n", 100 * vacc);
                else
                    printf("%7s\n", "-");
            }
            const char *semi = strchr(p, ';');
            if (!semi) break;
            p = semi + 1;
        }
    }
    printf("\n%s", dn_model_summary(m));
    dn_model_free(m);
    return EXIT_OK;
}
